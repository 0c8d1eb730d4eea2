/**
 * Micro-benchmarks behind the server's library-or-hand decisions (README, Decisions): each pits the
 * proxy's own code, where it kept some, against the library feature it could use instead.
 *
 * - **SSE writes**: one chunk to each of 1,000 streams, consumed as `@hono/node-server` consumes a
 *   response body (read, write, read again): through a `ReadableStream` controller (what
 *   `routes/events.ts` returns) or through Hono's `streamSSE` stream (`SSEStreamingApi.write`, a
 *   `TransformStream` behind a second `ReadableStream`).
 * - **SSE framing**: one event to 1,000 streams, formatted once and shared (`routes/events.ts`) or with
 *   `writeSSE` per stream (which splits, joins and encodes the data on every call).
 * - **Access line**: `Logger.requestLine` (formatted by hand exactly as pino formats it) or
 *   `logger.info(...)`, both to the proxy's destination on `/dev/null`.
 * - **Log destination**: pino's destination asynchronous (what the proxy uses: sonic-boom's buffer,
 *   written through libuv's thread pool) or synchronous (one `write(2)` a line), ten lines a turn.
 * - **Metrics**: prom-client's counter and histogram updated with their labels (what the proxy does) or
 *   plain numbers per label set found with one `Map` lookup (the proxy's former hand-kept series).
 *
 * Writes `bench/MICRO-RESULTS.md`. Rerun from `packages/server`: `tsx --conditions=@mta/source
 * bench/micro.ts` (about 30 s; MICRO_ROUNDS rounds, default 7, the median is reported).
 */
import { openSync, writeFileSync } from "node:fs"
import { cpus, loadavg } from "node:os"
import { fileURLToPath } from "node:url"
import { Logger } from "@mta/server"
import { SSEStreamingApi } from "hono/streaming"
import { pino } from "pino"
import { Counter, Histogram, Registry } from "prom-client"

const ROUNDS = Number(process.env.MICRO_ROUNDS ?? 7)
const STREAMS = 1_000
const median = (xs: ReadonlyArray<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
const turn = () => new Promise((resolve) => setImmediate(resolve))

/** Median over the rounds of `run()` (µs per unit), after one warm-up round. */
const measure = async (run: () => Promise<number> | number): Promise<number> => {
  await run()
  const xs: Array<number> = []
  for (let i = 0; i < ROUNDS; i++) xs.push(await run())
  return median(xs)
}

// ---------------------------------------------------------------------------------------------
// SSE
// ---------------------------------------------------------------------------------------------

const account = {
  zrn: "zrn:zh:us:accounts:customer:c761fc96-5c44-40d4-8eb2-3fcd5d06754e",
  participant_code: "CUST01",
  account_label: "fanout-1",
  type: "individual",
  tier: "pro",
  prefunded: false,
  status: "locked"
}
const data = JSON.stringify({
  id: 1,
  type: "customer_account_status_changed",
  zrn: account.zrn,
  status: "locked",
  occurred_at: new Date(0).toISOString(),
  received_at: new Date(0).toISOString(),
  notification_id: "c761fc96-5c44-40d4-8eb2-3fcd5d06754e",
  account
})
const encoder = new TextEncoder()
const frame = encoder.encode(`id: 1\nevent: customer_account_status_changed\ndata: ${data}\n\n`)

/** Reads a body as the Node adapter does; calls `onChunk` for each chunk. */
const consume = (body: ReadableStream<Uint8Array>, onChunk: () => void) => {
  const reader = body.getReader()
  const flow = ({ done }: { readonly done: boolean }): unknown => {
    if (done) return
    onChunk()
    return reader.read().then(flow)
  }
  void reader.read().then(flow)
}

/** µs per stream to deliver one chunk to each of STREAMS streams, from the first write to the last read. */
const sseWrites = async (via: "controller" | "hono", framing: "shared" | "writeSSE") => {
  let got = 0
  let resolve = () => {}
  const all = new Promise<void>((r) => {
    resolve = r
  })
  const onChunk = () => {
    if (++got === STREAMS) resolve()
  }
  const sinks: Array<() => void> = []
  for (let i = 0; i < STREAMS; i++) {
    if (via === "controller") {
      let controller: ReadableStreamDefaultController<Uint8Array> | undefined
      const body = new ReadableStream<Uint8Array>({
        start: (c) => {
          controller = c
        }
      })
      consume(body, onChunk)
      sinks.push(() => controller!.enqueue(frame))
    } else {
      const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>()
      const stream = new SSEStreamingApi(writable, readable)
      consume(stream.responseReadable, onChunk)
      sinks.push(
        framing === "shared"
          ? () => void stream.write(frame)
          : () => void stream.writeSSE({ id: "1", event: "customer_account_status_changed", data })
      )
    }
  }
  await turn()
  const start = performance.now()
  for (const sink of sinks) sink()
  await all
  return ((performance.now() - start) * 1000) / STREAMS
}

// ---------------------------------------------------------------------------------------------
// Logs and metrics
// ---------------------------------------------------------------------------------------------

const LINES = 100_000
const PER_TURN = 10

/** CPU µs (every thread) per access line, PER_TURN lines a turn. */
const accessLines = async (how: "hand" | "pino", sync = false) => {
  const destination = pino.destination({ dest: openSync("/dev/null", "w"), sync })
  const logger = Logger.make({ level: "info", destination })
  const line = Logger.requestLine(logger)
  const cpu = process.cpuUsage()
  for (let i = 0; i < LINES; i++) {
    if (how === "pino") {
      logger.info(
        {
          request_id: `r-${i}`,
          caller: "bench",
          method: "GET",
          route: "/accounts/:zrn/details",
          status: 200,
          duration_ms: 1.25
        },
        "request"
      )
    } else line(`r-${i}`, "bench", "GET", "/accounts/:zrn/details", 200, 1.25)
    if (i % PER_TURN === PER_TURN - 1) await turn()
  }
  await new Promise<void>((resolve) => destination.flush(() => resolve()))
  const used = process.cpuUsage(cpu)
  return (used.user + used.system) / LINES
}

const UPDATES = 300_000
const BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]
const routes = ["/accounts/:zrn/details", "/accounts/:zrn/status", "/healthz"]
const callers = ["bench", "admin", "-"]

/** ns per request (one counter and one histogram update). */
const metrics = (how: "prom-client" | "plain") => {
  const registry = new Registry()
  const counter = new Counter({
    name: "c",
    help: "c",
    labelNames: ["route", "method", "status", "caller"] as const,
    registers: [registry]
  })
  const histogram = new Histogram({
    name: "h",
    help: "h",
    labelNames: ["route", "method"] as const,
    buckets: BUCKETS,
    registers: [registry]
  })
  const counts = new Map<string, { n: number }>()
  const series = new Map<string, { count: number; sum: number; buckets: Float64Array }>()
  const start = performance.now()
  for (let i = 0; i < UPDATES; i++) {
    const route = routes[i % 3]!
    const caller = callers[i % 3]!
    const seconds = 0.001 * (i % 50)
    if (how === "prom-client") {
      counter.inc({ route, method: "GET", status: 200, caller })
      histogram.observe({ route, method: "GET" }, seconds)
      continue
    }
    const key = `${route} GET`
    const countKey = `${key} 200 ${caller}`
    let c = counts.get(countKey)
    if (c === undefined) {
      c = { n: 0 }
      counts.set(countKey, c)
    }
    c.n++
    let s = series.get(key)
    if (s === undefined) {
      s = { count: 0, sum: 0, buckets: new Float64Array(BUCKETS.length + 1) }
      series.set(key, s)
    }
    s.count++
    s.sum += seconds
    let b = 0
    while (b < BUCKETS.length && seconds > BUCKETS[b]!) b++
    s.buckets[b]!++
  }
  return ((performance.now() - start) * 1e6) / UPDATES
}

// ---------------------------------------------------------------------------------------------
// The run
// ---------------------------------------------------------------------------------------------

const main = async () => {
  const load = loadavg()[0]!
  const rows: Array<[string, string, number, string]> = []
  const add = (group: string, name: string, value: number, unit: string) => {
    rows.push([group, name, value, unit])
    process.stdout.write(`${group}: ${name}: ${value.toFixed(2)} ${unit}\n`)
  }
  const per = "µs per stream"
  add(
    "SSE writes",
    "ReadableStream controller (routes/events.ts)",
    await measure(() => sseWrites("controller", "shared")),
    per
  )
  add("SSE writes", "Hono streamSSE stream, write()", await measure(() => sseWrites("hono", "shared")), per)
  add(
    "SSE framing",
    "Hono streamSSE stream, writeSSE() per stream",
    await measure(() => sseWrites("hono", "writeSSE")),
    per
  )
  const line = "CPU µs per line"
  add(
    "access line",
    "Logger.requestLine, by hand (the proxy)",
    await measure(() => accessLines("hand")),
    line
  )
  add("access line", "logger.info(...)", await measure(() => accessLines("pino")), line)
  add(
    "log destination",
    "pino.destination, asynchronous (the proxy)",
    await measure(() => accessLines("hand")),
    line
  )
  add(
    "log destination",
    "pino.destination, synchronous",
    await measure(() => accessLines("hand", true)),
    line
  )
  const ns = "ns per request"
  add(
    "metrics",
    "prom-client inc/observe with labels (the proxy)",
    await measure(() => metrics("prom-client")),
    ns
  )
  add(
    "metrics",
    "plain numbers per label set (former hand-kept series)",
    await measure(() => metrics("plain")),
    ns
  )

  const md = `# @mta/server micro-benchmarks

${cpus().length} × ${cpus()[0]?.model ?? "CPU"}, Node.js ${process.version}, ${new Date().toISOString().slice(0, 10)}; load average
${load.toFixed(1)} at the start (the machine is shared: compare rows within a group, measured minutes apart). Each
figure is the median of ${ROUNDS} rounds after a warm-up round.

| what | how | figure | unit |
|---|---|---:|---|
${rows.map(([g, n, v, u]) => `| ${g} | ${n} | ${v.toFixed(2)} | ${u} |`).join("\n")}

- **SSE writes**: one chunk to each of ${STREAMS.toLocaleString("en-US")} streams, read back as \`@hono/node-server\` reads a
  body (the socket write itself is left out: the same for both).
- **SSE framing**: the same, each stream formatting the event with \`writeSSE\`; the proxy formats it once.
- **Access line** and **log destination**: ${LINES.toLocaleString("en-US")} lines, ${PER_TURN} a turn of the event loop, to
  \`/dev/null\`; CPU time of every thread (sonic-boom's asynchronous mode writes from libuv's pool).
- **Metrics**: ${UPDATES.toLocaleString("en-US")} requests over 3 routes and 3 callers.

Rerun from \`packages/server\`: \`tsx --conditions=@mta/source bench/micro.ts\` (MICRO_ROUNDS changes the rounds).
`
  writeFileSync(fileURLToPath(new URL("MICRO-RESULTS.md", import.meta.url)), md)
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`micro bench failed: ${error instanceof Error ? error.stack : String(error)}\n`)
    process.exit(1)
  }
)
