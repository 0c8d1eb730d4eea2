/**
 * The proxy's OpenTelemetry, with the SDK registered as a deployer would (a tracer provider with the
 * in-memory exporter, the AsyncLocalStorage context manager, the W3C propagator): one trace from the
 * caller's `traceparent` through the `SERVER` span, the store steps and the upstream `CLIENT` span to
 * the `traceparent` the simulator received (its journal), and the ids in the access log line; the
 * attributes of the HTTP semantic conventions; 5xx as errors; the webhook receiver and the background
 * passes as root spans. Without an SDK: `TraceProcess.test.ts`.
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Tracing } from "@mta/client"
import { Store } from "@mta/server"
import { context, propagation, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api"
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks"
import { W3CTraceContextPropagator } from "@opentelemetry/core"
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor
} from "@opentelemetry/sdk-trace-base"
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest"
import { createBody, harness, signWebhook } from "./support.js"

const exporter = new InMemorySpanExporter()
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] })

beforeAll(() => {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable())
  propagation.setGlobalPropagator(new W3CTraceContextPropagator())
  trace.setGlobalTracerProvider(provider)
})
afterAll(() => {
  trace.disable()
  context.disable()
  propagation.disable()
})
beforeEach(() => exporter.reset())

const CALLER_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
const CALLER_SPAN = "00f067aa0ba902b7"
const TRACEPARENT = `00-${CALLER_TRACE}-${CALLER_SPAN}-01`

const spans = (): Array<ReadableSpan> => exporter.getFinishedSpans()
/** The one finished span of this name (and kind: the SERVER and CLIENT spans of a call share a name). */
const byName = (name: string, kind: SpanKind = SpanKind.INTERNAL): ReadableSpan => {
  const found = spans().filter((s) => s.name === name && s.kind === kind)
  expect(found, `${name} (kind ${kind}) among ${spans().map((s) => `${s.name} (${s.kind})`)}`).toHaveLength(1)
  return found[0]!
}
const parentOf = (s: ReadableSpan): string | undefined => s.parentSpanContext?.spanId
const logLine = (h: ReturnType<typeof harness>, requestId: string) => {
  const line = h.logs
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .find((l) => l.request_id === requestId)
  expect(line, `the access line of ${requestId}`).toBeDefined()
  return line!
}

describe("one trace from the caller to zerohash (SDK registered)", () => {
  it("a create: SERVER span → store steps and CLIENT span → the traceparent the simulator received", async () => {
    const h = harness({ webhooks: false })
    const r = await h.request("/accounts", {
      method: "POST",
      json: createBody("traced-create"),
      headers: {
        traceparent: TRACEPARENT,
        tracestate: "vendor=abc",
        "user-agent": "trace-test/1.0",
        "x-request-id": "trace-create-1",
        "idempotency-key": "trace-key-1"
      }
    })
    expect(r.status).toBe(202)

    const server = byName("POST /accounts", SpanKind.SERVER)
    expect(server.instrumentationScope.name).toBe("@mta/server")
    expect(server.spanContext().traceId).toBe(CALLER_TRACE)
    expect(parentOf(server)).toBe(CALLER_SPAN)
    expect(server.parentSpanContext?.isRemote).toBe(true)
    expect(server.attributes).toMatchObject({
      "http.request.method": "POST",
      "http.route": "/accounts",
      "url.path": "/accounts",
      "url.scheme": "http",
      "server.address": "proxy.test",
      "server.port": 80,
      "user_agent.original": "trace-test/1.0",
      "http.response.status_code": 202,
      "mta.caller": "admin",
      "mta.request_id": "trace-create-1"
    })
    expect(server.attributes["error.type"]).toBeUndefined()
    expect(server.status.code).toBe(SpanStatusCode.UNSET)

    // The upstream call: the client's CLIENT span, the SERVER span's child.
    const upstream = byName("POST /accounts", SpanKind.CLIENT)
    expect(upstream.instrumentationScope.name).toBe(Tracing.TRACER_NAME)
    expect(upstream.spanContext().traceId).toBe(CALLER_TRACE)
    expect(parentOf(upstream)).toBe(server.spanContext().spanId)
    expect(upstream.attributes).toMatchObject({
      "http.request.method": "POST",
      "url.full": "http://simulator.test/accounts",
      "url.template": "/accounts",
      "server.address": "simulator.test",
      "server.port": 80,
      "http.response.status_code": 202,
      "mta.request_id": "trace-create-1"
    })

    // What zerohash (the simulator) received: the same trace, the CLIENT span as the parent, the
    // caller's tracestate carried on.
    const received = h.simulator.journal().filter((e) => e.endpoint === "createAccount")
    expect(received).toHaveLength(1)
    expect(received[0]!.headers.traceparent).toBe(`00-${CALLER_TRACE}-${upstream.spanContext().spanId}-01`)
    expect(received[0]!.headers.tracestate).toBe("vendor=abc")

    // The store steps of the create: the key's claim and the call's finish, children of the request.
    for (const name of ["store claimIdempotencyKey", "store finishCall"]) {
      const step = byName(name)
      expect(step.kind).toBe(SpanKind.INTERNAL)
      expect(step.spanContext().traceId).toBe(CALLER_TRACE)
      expect(parentOf(step)).toBe(server.spanContext().spanId)
      expect(step.attributes["mta.store.kind"]).toBe("memory")
      expect(step.attributes["db.operation.name"]).toBe(name.slice("store ".length))
      // The memory store is no database system.
      expect(step.attributes["db.system.name"]).toBeUndefined()
    }

    // The access line names the trace and the request's span.
    expect(logLine(h, "trace-create-1")).toMatchObject({
      trace_id: CALLER_TRACE,
      span_id: server.spanContext().spanId,
      status: 202
    })
  })

  it("a read: GET /accounts/{zrn}/details, a 4xx is not the server's error, a 5xx is", async () => {
    const h = harness({ webhooks: false })
    const created = await h.request("/accounts", { method: "POST", json: createBody("traced-read") })
    const zrn = ((await created.json()) as { message: { zrn: string } }).message.zrn
    exporter.reset()

    const ok = await h.request(`/accounts/${zrn}/details`, { headers: { traceparent: TRACEPARENT } })
    expect(ok.status).toBe(200)
    const read = byName("GET /accounts/{zrn}/details", SpanKind.SERVER)
    expect(read.attributes).toMatchObject({
      "http.route": "/accounts/{zrn}/details",
      "url.path": `/accounts/${zrn}/details`,
      "http.response.status_code": 200
    })
    const client = byName("GET /accounts/{zrn}/details", SpanKind.CLIENT)
    expect(client.attributes["url.template"]).toBe("/accounts/{zrn}/details")
    expect(parentOf(client)).toBe(read.spanContext().spanId)

    // 404 from zerohash: the CLIENT span is an error (HTTP client conventions), the SERVER span not.
    exporter.reset()
    const missing = await h.request(
      "/accounts/zrn:zh:us:accounts:customer:c761fc96-5c44-40d4-8eb2-3fcd5d06754e/details"
    )
    expect(missing.status).toBe(404)
    const notFound = spans().find((s) => s.kind === SpanKind.SERVER)!
    expect(notFound.status.code).toBe(SpanStatusCode.UNSET)
    expect(notFound.attributes["http.response.status_code"]).toBe(404)
    const notFoundUpstream = spans().find((s) => s.kind === SpanKind.CLIENT)!
    expect(notFoundUpstream.status.code).toBe(SpanStatusCode.ERROR)
    expect(notFoundUpstream.attributes["error.type"]).toBe("404")

    // A 500 from zerohash: a 5xx at the proxy too (the failure table's), an error on both spans.
    exporter.reset()
    const fault = h.simulator.injectFault({ endpoint: "getAccount", status: 500, times: 1 })
    const failed = await h.request(`/accounts/${zrn}/details`)
    fault.remove()
    expect(failed.status).toBeGreaterThanOrEqual(500)
    const failedServer = spans().find((s) => s.kind === SpanKind.SERVER)!
    expect(failedServer.status.code).toBe(SpanStatusCode.ERROR)
    expect(failedServer.attributes).toMatchObject({
      "error.type": String(failed.status),
      "http.response.status_code": failed.status
    })
    const failedClient = spans().find((s) => s.kind === SpanKind.CLIENT)!
    expect(failedClient.attributes).toMatchObject({ "error.type": "500", "http.response.status_code": 500 })
    // Without a traceparent the proxy starts the trace; the log line names it.
    expect(failedClient.spanContext().traceId).toBe(failedServer.spanContext().traceId)
    expect(parentOf(failedServer)).toBeUndefined()
  })

  it("an unmatched path: the span is named by the method alone, without http.route", async () => {
    const h = harness({ webhooks: false })
    const r = await h.request("/no/such/path", { headers: { traceparent: TRACEPARENT } })
    expect(r.status).toBe(404)
    const server = spans().find((s) => s.kind === SpanKind.SERVER)!
    expect(server.name).toBe("GET")
    expect(server.attributes["http.route"]).toBeUndefined()
    expect(server.attributes["url.path"]).toBe("/no/such/path")
  })

  it("probes and scrapes make no trace of their own, but are traced inside a caller's trace", async () => {
    const h = harness({ webhooks: false })
    for (const path of ["/healthz", "/readyz", "/metrics"]) {
      expect((await h.request(path, { token: null })).status).toBe(200)
    }
    expect(spans()).toEqual([])
    expect((await h.request("/healthz", { token: null, headers: { traceparent: TRACEPARENT } })).status).toBe(
      200
    )
    const probe = byName("GET /healthz", SpanKind.SERVER)
    expect(probe.spanContext().traceId).toBe(CALLER_TRACE)
    // The method and path were there from the start (a sampler sees them).
    expect(probe.attributes).toMatchObject({ "http.request.method": "GET", "url.path": "/healthz" })
  })

  it("the webhook receiver starts its own trace, linked to the sender's span", async () => {
    const h = harness({ webhooks: false })
    const body = JSON.stringify({
      urn: "urn:zh:us:accounts:customer:0b6f4a57-3c1e-4d0e-9a51-7f0e2d9c4b11",
      participant_code: "CUST01",
      status: "locked",
      type: "jtic"
    })
    const r = await h.request("/webhooks/zerohash", {
      method: "POST",
      token: null,
      body,
      headers: { ...signWebhook(body), traceparent: TRACEPARENT }
    })
    expect(r.status).toBe(200)
    const server = byName("POST /webhooks/zerohash", SpanKind.SERVER)
    expect(server.spanContext().traceId).not.toBe(CALLER_TRACE)
    expect(server.parentSpanContext).toBeUndefined()
    expect(server.links.map((l) => l.context.traceId)).toEqual([CALLER_TRACE])
    expect(server.links.map((l) => l.context.spanId)).toEqual([CALLER_SPAN])
    // The ingest is a step of that trace.
    const ingest = byName("store ingest")
    expect(ingest.spanContext().traceId).toBe(server.spanContext().traceId)
    expect(parentOf(ingest)).toBe(server.spanContext().spanId)
  })

  it("a reconciliation pass with work is a root span; its re-reads and store steps are its children", async () => {
    const clock = { t: Date.now() }
    const h = harness({ webhooks: false, now: () => clock.t, reconcileProvisioningMs: 30_000 })
    const created = await h.request("/accounts", { method: "POST", json: createBody("traced-reconcile") })
    expect(created.status).toBe(202)
    // A pass with nothing due records nothing.
    exporter.reset()
    expect(await h.app.reconciler.pass()).toBe(0)
    expect(spans()).toEqual([])
    // Still provisioning 31 s later (its webhook never came): due.
    clock.t += 31_000
    expect(await h.app.reconciler.pass()).toBe(1)
    const pass = byName("reconcile pass")
    expect(pass.kind).toBe(SpanKind.INTERNAL)
    expect(pass.parentSpanContext).toBeUndefined()
    expect(pass.attributes["mta.reconcile.accounts"]).toBe(1)
    const read = spans().find((s) => s.kind === SpanKind.CLIENT)!
    expect(read.name).toBe("GET /accounts/{zrn}/details")
    expect(parentOf(read)).toBe(pass.spanContext().spanId)
    expect(parentOf(byName("store reconcile"))).toBe(pass.spanContext().spanId)
    expect(spans().every((s) => s.spanContext().traceId === pass.spanContext().traceId)).toBe(true)
  })

  it("on PGlite the store steps carry db.system.name postgresql", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "mta-trace-"))
    const store = await Store.embedded({ dataDir })
    try {
      const h = harness({ webhooks: false, store })
      const r = await h.request("/accounts", {
        method: "POST",
        json: createBody("traced-pglite"),
        headers: { traceparent: TRACEPARENT, "idempotency-key": "trace-pglite-1" }
      })
      expect(r.status).toBe(202)
      const server = byName("POST /accounts", SpanKind.SERVER)
      const claim = byName("store claimIdempotencyKey")
      expect(claim.attributes).toMatchObject({
        "db.system.name": "postgresql",
        "db.operation.name": "claimIdempotencyKey",
        "mta.store.kind": "embedded"
      })
      expect(parentOf(claim)).toBe(server.spanContext().spanId)
      expect(claim.spanContext().traceId).toBe(CALLER_TRACE)
    } finally {
      await store.close()
      rmSync(dataDir, { recursive: true, force: true })
    }
    // Opening PGlite and migrating takes seconds, more under load.
  }, 120_000)
})
