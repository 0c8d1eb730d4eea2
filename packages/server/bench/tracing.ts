/**
 * What the proxy's OpenTelemetry costs per request with no SDK registered (the default deployment):
 * the request's span (`internal/tracing.ts`: extract, start, end, the ids for the access line), the
 * upstream call's span and headers (`@mta/client`'s `Tracing`), and the store wrapper (one store step
 * outside any recording span), each without and with a caller's `traceparent`. Prints µs per
 * operation (median of MICRO_ROUNDS rounds, default 7). Run from `packages/server`:
 * `tsx --conditions=@mta/source bench/tracing.ts` (a few seconds).
 */
import { Tracing as ClientTracing } from "@mta/client"
import { ROOT_CONTEXT } from "@opentelemetry/api"
import type { Context as HonoContext } from "hono"
import type { HonoEnv } from "../src/internal/context.js"
import * as Tracing from "../src/internal/tracing.js"
import type { Store } from "../src/Store.js"

const ROUNDS = Number(process.env.MICRO_ROUNDS ?? 7)
const N = 200_000
const median = (xs: ReadonlyArray<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

const measure = async (run: () => unknown): Promise<number> => {
  const round = async () => {
    const start = performance.now()
    for (let i = 0; i < N; i++) await run()
    return ((performance.now() - start) * 1000) / N
  }
  await round()
  const xs: Array<number> = []
  for (let i = 0; i < ROUNDS; i++) xs.push(await round())
  return median(xs)
}

const TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
const contextOf = (headers: Record<string, string>) =>
  ({
    env: { incoming: { headers, httpVersion: "1.1", socket: {} } },
    req: {
      method: "GET",
      url: "http://proxy/accounts/x/details",
      header: (n: string) => headers[n],
      raw: { headers: new Headers(headers) }
    }
  }) as unknown as HonoContext<HonoEnv>

const request = (c: HonoContext<HonoEnv>) => () => {
  const r = Tracing.startRequest(c, "/accounts/x/details")
  const ids = Tracing.idsOf(r.span)
  Tracing.endRequest(r.span, {
    method: "GET",
    route: "/accounts/:zrn/details",
    status: 200,
    caller: "ci",
    requestId: "r"
  })
  return ids
}

const info = {
  method: "GET",
  url: "http://upstream/accounts/x/details",
  template: "/accounts/{zrn}/details",
  attempt: 1,
  operation: "getAccount",
  requestId: "r"
}
const upstream = (parent: ReturnType<typeof Tracing.startRequest>["context"]) => () => {
  const { span, context } = ClientTracing.startAttempt(parent, info)
  const headers = ClientTracing.traceHeaders(context)
  ClientTracing.endAttempt(span, { status: 200 })
  return headers
}

const bare = { kind: "memory", status: async () => undefined } as unknown as Store
const wrapped = Tracing.traced(bare)

const traced = Tracing.startRequest(contextOf({ traceparent: TRACEPARENT }), "/accounts/x/details").context
const rows: Array<[string, number]> = [
  ["request span, no traceparent", await measure(request(contextOf({ "user-agent": "bench" })))],
  ["request span, with traceparent", await measure(request(contextOf({ traceparent: TRACEPARENT })))],
  ["upstream span + headers, no trace", await measure(upstream(ROOT_CONTEXT))],
  ["upstream span + headers, caller's trace", await measure(upstream(traced))],
  ["store step, unwrapped", await measure(() => bare.status("z"))],
  ["store step, wrapped (no recording span)", await measure(() => wrapped.status("z"))]
]
console.log(`no SDK registered; median of ${ROUNDS} rounds of ${N}`)
for (const [name, us] of rows) console.log(`${name.padEnd(42)} ${us.toFixed(3)} µs`)
