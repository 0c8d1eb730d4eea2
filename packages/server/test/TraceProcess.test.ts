/**
 * The proxy as a process on a real port, with no OpenTelemetry SDK registered (the default
 * deployment), in front of the standalone simulator: a caller's `traceparent` still reaches zerohash
 * (the simulator's journal) and the proxy's access log line; a request without one, or with a
 * malformed one, carries none. Then with the README's SDK registration (`examples/tracing.mjs`,
 * loaded with `--import`): the proxy's own spans, exported, in the caller's trace. The span tree in
 * detail, in process: `Tracing.test.ts`.
 */
import { readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { Callers } from "@mta/server"
import { type Server as SimServer, startSimulatorServer } from "@mta/testkit"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { createBody, freePort, type ProxyProcess, startProxyProcess, upstreamEnv } from "./support.js"

const TOKEN = "trace-process-token"
const CALLER_TRACE = "0af7651916cd43dd8448eb211c80319c"
const CALLER_SPAN = "b7ad6b7169203331"
const TRACEPARENT = `00-${CALLER_TRACE}-${CALLER_SPAN}-01`

const TOKEN_SCOPES = () =>
  JSON.stringify([{ name: "tracer", token_sha256: Callers.hashToken(TOKEN), scopes: Callers.allScopes }])

describe("traces through the proxy process without an SDK", () => {
  let sim: SimServer.SimulatorServer
  let proxy: ProxyProcess
  beforeAll(async () => {
    const port = await freePort()
    sim = await startSimulatorServer({
      seedDemo: true,
      asyncDelayMs: 0,
      webhook: { url: `http://127.0.0.1:${port}/webhooks/zerohash`, secret: "whsec-trace" }
    })
    proxy = await startProxyProcess(
      {
        ...upstreamEnv(sim),
        ZH_WEBHOOK_SECRET: "whsec-trace",
        MTA_STORE: "memory",
        MTA_CALLERS: TOKEN_SCOPES(),
        LOG_LEVEL: "info"
      },
      port
    )
  }, 60_000)
  afterAll(async () => {
    await proxy?.stop()
    await sim?.close()
  })

  const create = (label: string, headers: Record<string, string>) =>
    fetch(`${proxy.url}/accounts`, {
      method: "POST",
      headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json", ...headers },
      body: JSON.stringify(createBody(label))
    })

  /** The upstream create the simulator journalled for this request id. */
  const upstreamOf = (requestId: string) => {
    const entries = sim.simulator
      .journal()
      .filter((e) => e.endpoint === "createAccount" && e.headers["x-request-id"] === requestId)
    expect(entries, `the upstream create of ${requestId}`).toHaveLength(1)
    return entries[0]!
  }

  /** The proxy's access line for this request id (log lines are written asynchronously). */
  const accessLine = async (requestId: string): Promise<Record<string, unknown>> => {
    const deadline = Date.now() + 10_000
    for (;;) {
      const line = proxy
        .stdout()
        .split("\n")
        .filter((l) => l.startsWith("{"))
        .map((l) => JSON.parse(l) as Record<string, unknown>)
        .find((l) => l.msg === "request" && l.request_id === requestId)
      if (line !== undefined) return line
      if (Date.now() > deadline) throw new Error(`no access line for ${requestId} in:\n${proxy.stdout()}`)
      await new Promise((r) => setTimeout(r, 50))
    }
  }

  it("the caller's traceparent and tracestate reach the simulator unchanged, and the log line names the trace", async () => {
    const r = await create(`trace-proc-${Date.now()}`, {
      traceparent: TRACEPARENT,
      tracestate: "congo=t61rcWkgMzE",
      "x-request-id": "trace-process-1"
    })
    expect(r.status).toBe(202)
    const upstream = upstreamOf("trace-process-1")
    // No SDK: the proxy records no span of its own, so the caller's span stays the parent.
    expect(upstream.headers.traceparent).toBe(TRACEPARENT)
    expect(upstream.headers.tracestate).toBe("congo=t61rcWkgMzE")
    expect(await accessLine("trace-process-1")).toMatchObject({
      route: "/accounts",
      status: 202,
      caller: "tracer",
      trace_id: CALLER_TRACE,
      span_id: CALLER_SPAN
    })
  })

  it("without a traceparent, or with a malformed one, nothing is invented", async () => {
    const cases: ReadonlyArray<[string, Record<string, string>]> = [
      ["trace-process-none", {}],
      // Upper-case hex, an all-zero trace id, and version ff are invalid (W3C Trace Context).
      ["trace-process-upper", { traceparent: `00-${CALLER_TRACE.toUpperCase()}-${CALLER_SPAN}-01` }],
      ["trace-process-zero", { traceparent: `00-${"0".repeat(32)}-${CALLER_SPAN}-01` }],
      ["trace-process-ff", { traceparent: `ff-${CALLER_TRACE}-${CALLER_SPAN}-01` }]
    ]
    for (const [id, headers] of cases) {
      const r = await create(`${id}-${Date.now()}`, { ...headers, "x-request-id": id })
      expect(r.status, id).toBe(202)
      expect(upstreamOf(id).headers.traceparent, id).toBeUndefined()
      const line = await accessLine(id)
      expect(line.trace_id, id).toBeUndefined()
      expect(line.span_id, id).toBeUndefined()
    }
  })

  it("/metrics: the stock process metrics without a prefix, and mta_build_info with the package's version", async () => {
    const text = await (await fetch(`${proxy.url}/metrics`)).text()
    const { version } = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as {
      version: string
    }
    expect(text).toMatch(/^process_cpu_seconds_total \d/m)
    expect(text).toMatch(/^process_resident_memory_bytes \d/m)
    expect(text).toMatch(/^nodejs_eventloop_lag_seconds \d/m)
    expect(text).not.toMatch(/^mta_(process|nodejs)_/m)
    expect(text).toContain(`mta_build_info{version="${version}",node_version="${process.versions.node}"} 1`)
  })
})

describe("traces through the proxy process with the README's SDK registration (examples/tracing.mjs)", () => {
  let sim: SimServer.SimulatorServer
  let proxy: ProxyProcess
  beforeAll(async () => {
    sim = await startSimulatorServer({ seedDemo: true, asyncDelayMs: 0 })
    proxy = await startProxyProcess(
      {
        ...upstreamEnv(sim),
        ZH_WEBHOOK_SECRET: "whsec-trace",
        MTA_STORE: "memory",
        MTA_CALLERS: TOKEN_SCOPES(),
        LOG_LEVEL: "info",
        NODE_OPTIONS: `--import ${fileURLToPath(new URL("../examples/tracing.mjs", import.meta.url))}`
      },
      await freePort()
    )
  }, 60_000)
  afterAll(async () => {
    await proxy?.stop()
    await sim?.close()
  })

  it("the proxy's spans are exported in the caller's trace; zerohash sees the proxy's CLIENT span as the parent", async () => {
    const r = await fetch(`${proxy.url}/accounts`, {
      method: "POST",
      headers: {
        authorization: `Bearer ${TOKEN}`,
        "content-type": "application/json",
        traceparent: TRACEPARENT,
        "x-request-id": "trace-sdk-1"
      },
      body: JSON.stringify(createBody(`trace-sdk-${Date.now()}`))
    })
    expect(r.status).toBe(202)
    const upstream = sim.simulator
      .journal()
      .find((e) => e.endpoint === "createAccount" && e.headers["x-request-id"] === "trace-sdk-1")
    const sent = /^00-([0-9a-f]{32})-([0-9a-f]{16})-01$/.exec(upstream?.headers.traceparent ?? "")
    expect(sent?.[1]).toBe(CALLER_TRACE)
    // Not the caller's span any more: the proxy's own CLIENT span.
    expect(sent?.[2]).not.toBe(CALLER_SPAN)
    const clientSpan = sent![2]!
    // ConsoleSpanExporter prints each span as it ends; log lines are written asynchronously.
    const accessLine = () =>
      proxy
        .stdout()
        .split("\n")
        .filter((l) => l.startsWith('{"'))
        .map((l) => JSON.parse(l) as Record<string, unknown>)
        .find((l) => l.msg === "request" && l.request_id === "trace-sdk-1")
    const deadline = Date.now() + 10_000
    while (!proxy.stdout().includes("name: 'POST /accounts'") || accessLine() === undefined) {
      if (Date.now() > deadline) throw new Error(`no exported span or access line in:\n${proxy.stdout()}`)
      await new Promise((r) => setTimeout(r, 50))
    }
    const out = proxy.stdout()
    expect(out).toContain(`traceId: '${CALLER_TRACE}'`)
    expect(out).toContain(`id: '${clientSpan}'`)
    expect(out).toContain("'http.route': '/accounts'")
    const line = accessLine()!
    expect(line.trace_id).toBe(CALLER_TRACE)
    // The access line names the proxy's SERVER span (exported, the CLIENT span's parent), not the caller's.
    expect(line.span_id).not.toBe(CALLER_SPAN)
    expect(out).toContain(`id: '${String(line.span_id)}'`)
  })
})
