// The client's OpenTelemetry, seen through the SDK's in-memory exporter: a CLIENT span per attempt,
// the child of the caller's active span, named and attributed by the HTTP semantic conventions, and
// a W3C traceparent upstream that names that span, in both modes and both APIs.
import { createClient, Tracing, ZeroHashClient } from "@mta/client"
import { context, propagation, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api"
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks"
import { W3CTraceContextPropagator } from "@opentelemetry/core"
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor
} from "@opentelemetry/sdk-trace-base"
import { Effect } from "effect"
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest"
import { scripted } from "./support.js"

const ZRN = "zrn:zh:us:accounts:customer:c761fc96-5c44-40d4-8eb2-3fcd5d06754e"
const ACCOUNT = { message: { zrn: ZRN, participant_code: "CUST01", status: "open" } }
const SIGNED = { apiKey: "key", apiSecret: "c2VjcmV0", passphrase: "pass" }
const BEARER = { bearerToken: "token" }

const exporter = new InMemorySpanExporter()
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] })
const tracer = provider.getTracer("test")

beforeAll(() => {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable())
  trace.setGlobalTracerProvider(provider)
})
afterAll(() => {
  trace.disable()
  context.disable()
  propagation.disable()
})
beforeEach(() => exporter.reset())

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-0[01]$/

const clientSpans = (): Array<ReadableSpan> =>
  exporter.getFinishedSpans().filter((s) => s.instrumentationScope.name === Tracing.TRACER_NAME)

describe.each([
  ["signed", SIGNED],
  ["bearer", BEARER]
] as const)("%s mode", (_, credentials) => {
  it("sends the traceparent of its CLIENT span, the child of the caller's active span", async () => {
    const fake = scripted([{ status: 200, body: ACCOUNT }])
    const client = createClient({
      baseUrl: "http://upstream.test/v1",
      credentials,
      transport: fake.transport
    })
    const caller = await tracer.startActiveSpan("caller", async (span) => {
      await client.getAccount(ZRN)
      span.end()
      return span.spanContext()
    })
    const [, traceId, parentId] = TRACEPARENT.exec(fake.calls[0]!.headers.traceparent ?? "") ?? []
    expect(traceId).toBe(caller.traceId)
    const [attempt] = clientSpans()
    expect(attempt).toBeDefined()
    expect(parentId).toBe(attempt!.spanContext().spanId)
    expect(attempt!.parentSpanContext?.spanId).toBe(caller.spanId)
    expect(attempt!.kind).toBe(SpanKind.CLIENT)
    expect(attempt!.name).toBe("GET /v1/accounts/{zrn}/details")
    expect(attempt!.attributes).toMatchObject({
      "http.request.method": "GET",
      "server.address": "upstream.test",
      "server.port": 80,
      "url.full": `http://upstream.test/v1/accounts/${ZRN}/details`,
      "url.template": "/v1/accounts/{zrn}/details",
      "http.response.status_code": 200,
      "mta.operation": "getAccount"
    })
    expect(attempt!.attributes["error.type"]).toBeUndefined()
  })
})

describe("spans and headers", () => {
  it("one span per attempt: a retried read has two, the second with http.request.resend_count", async () => {
    const fake = scripted([
      { status: 503, body: { error: "Service Unavailable" } },
      { status: 200, body: ACCOUNT }
    ])
    const client = createClient({
      baseUrl: "https://upstream.test",
      credentials: SIGNED,
      retry: { baseDelayMs: 1, maxDelayMs: 1 },
      transport: fake.transport
    })
    await tracer.startActiveSpan("caller", async (span) => {
      await client.getAccount(ZRN)
      span.end()
    })
    const spans = clientSpans()
    expect(spans.map((s) => s.attributes["http.response.status_code"])).toEqual([503, 200])
    expect(spans[0]!.attributes["error.type"]).toBe("503")
    expect(spans[0]!.status.code).toBe(SpanStatusCode.ERROR)
    expect(spans[0]!.attributes["server.port"]).toBe(443)
    expect(spans[1]!.attributes["http.request.resend_count"]).toBe(1)
    // Each attempt's traceparent names its own span; both are in the caller's trace.
    const sent = fake.calls.map((c) => TRACEPARENT.exec(c.headers.traceparent ?? "")?.[2])
    expect(sent).toEqual(spans.map((s) => s.spanContext().spanId))
    expect(new Set(spans.map((s) => s.spanContext().traceId)).size).toBe(1)
  })

  it("a failure without a response: error.type names it (a mutation's timeout)", async () => {
    const fake = scripted([{ hang: true }])
    const client = createClient({
      baseUrl: "http://upstream.test",
      credentials: SIGNED,
      timeoutMs: 20,
      transport: fake.transport
    })
    await expect(client.lock(ZRN)).rejects.toMatchObject({ _tag: "OutcomeUnknown" })
    const [span] = clientSpans()
    expect(span!.name).toBe("POST /accounts/{zrn}/lock")
    expect(span!.attributes["error.type"]).toBe("timeout")
    expect(span!.attributes["http.response.status_code"]).toBeUndefined()
  })

  it("the Effect API takes the context active when the call runs", async () => {
    const fake = scripted([{ status: 202, body: {} }])
    const service = Effect.runSync(
      Effect.provide(
        ZeroHashClient,
        ZeroHashClient.layer({ baseUrl: "http://proxy.test", credentials: BEARER, transport: fake.transport })
      )
    )
    const caller = tracer.startSpan("caller")
    await context.with(trace.setSpan(context.active(), caller), () => Effect.runPromise(service.unlock(ZRN)))
    caller.end()
    const header = fake.calls[0]!.headers.traceparent ?? ""
    expect(TRACEPARENT.exec(header)?.[1]).toBe(caller.spanContext().traceId)
    expect(clientSpans()[0]!.parentSpanContext?.spanId).toBe(caller.spanContext().spanId)
  })

  it("with the W3C propagator registered: traceparent and tracestate from it", async () => {
    propagation.setGlobalPropagator(new W3CTraceContextPropagator())
    try {
      const fake = scripted([{ status: 200, body: ACCOUNT }])
      const client = createClient({
        baseUrl: "http://upstream.test",
        credentials: BEARER,
        transport: fake.transport
      })
      // A remote parent with a tracestate (as the proxy would receive it from its caller).
      const remote = propagation.extract(context.active(), {
        traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        tracestate: "vendor=abc"
      })
      await context.with(remote, () => client.getAccount(ZRN))
      const headers = fake.calls[0]!.headers
      expect(headers.traceparent).toMatch(/^00-0af7651916cd43dd8448eb211c80319c-[0-9a-f]{16}-01$/)
      expect(headers.traceparent).not.toContain("b7ad6b7169203331")
      expect(headers.tracestate).toBe("vendor=abc")
    } finally {
      propagation.disable()
    }
  })

  it("no active span: a new trace starts at the client's span; the signature is unaffected", async () => {
    const fake = scripted([{ status: 200, body: ACCOUNT }])
    const client = createClient({
      baseUrl: "http://upstream.test",
      credentials: SIGNED,
      transport: fake.transport
    })
    await client.getAccount(ZRN)
    const [span] = clientSpans()
    expect(span!.parentSpanContext).toBeUndefined()
    expect(fake.calls[0]!.headers.traceparent).toBe(Tracing.traceparentOf(span!.spanContext()))
    expect(fake.calls[0]!.headers["X-SCX-SIGNED"]).toBeDefined()
  })

  it("traceHeaders: nothing without a valid span context", () => {
    expect(Tracing.traceHeaders(context.active())).toEqual({})
  })
})

describe("extractContext and parseTraceparent: the receiving side (the proxy's)", () => {
  const TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
  const SPAN = "00f067aa0ba902b7"

  it.each([
    ["version 00, sampled", `00-${TRACE}-${SPAN}-01`, { traceId: TRACE, spanId: SPAN, traceFlags: 1 }],
    ["version 00, not sampled", `00-${TRACE}-${SPAN}-00`, { traceId: TRACE, spanId: SPAN, traceFlags: 0 }],
    [
      "unknown flag bits are not carried on",
      `00-${TRACE}-${SPAN}-ff`,
      { traceId: TRACE, spanId: SPAN, traceFlags: 1 }
    ],
    [
      "a later version with more fields",
      `01-${TRACE}-${SPAN}-01-future`,
      { traceId: TRACE, spanId: SPAN, traceFlags: 1 }
    ]
  ])("parses %s", (_, header, expected) => {
    expect(Tracing.parseTraceparent(header)).toEqual({ ...expected, isRemote: true })
  })

  it.each([
    ["absent", undefined],
    ["version ff", `ff-${TRACE}-${SPAN}-01`],
    ["version 00 with more fields", `00-${TRACE}-${SPAN}-01-extra`],
    ["upper-case hex", `00-${TRACE.toUpperCase()}-${SPAN}-01`],
    ["an all-zero trace id", `00-${"0".repeat(32)}-${SPAN}-01`],
    ["an all-zero span id", `00-${TRACE}-${"0".repeat(16)}-01`],
    ["a short trace id", `00-${TRACE.slice(1)}-${SPAN}-01`],
    ["two headers joined", `00-${TRACE}-${SPAN}-01, 00-${TRACE}-${SPAN}-01`]
  ])("refuses %s", (_, header) => {
    expect(Tracing.parseTraceparent(header)).toBeUndefined()
  })

  it("keeps the tracestate", () => {
    const parsed = Tracing.parseTraceparent(
      `00-${TRACE}-${SPAN}-01`,
      "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7"
    )
    expect(parsed?.traceState?.get("congo")).toBe("t61rcWkgMzE")
    expect(parsed?.traceState?.serialize()).toBe("congo=t61rcWkgMzE,rojo=00f067aa0ba902b7")
  })

  it("without a propagator: reads W3C headers from Node's headers or a fetch Headers", () => {
    for (const headers of [
      { traceparent: `00-${TRACE}-${SPAN}-01`, tracestate: "a=b" },
      new Headers({ traceparent: `00-${TRACE}-${SPAN}-01`, tracestate: "a=b" })
    ]) {
      const sc = trace.getSpanContext(Tracing.extractContext(headers))
      expect(sc).toMatchObject({ traceId: TRACE, spanId: SPAN, traceFlags: 1, isRemote: true })
      expect(sc?.traceState?.serialize()).toBe("a=b")
    }
    expect(trace.getSpanContext(Tracing.extractContext({}))).toBeUndefined()
    expect(trace.getSpanContext(Tracing.extractContext({ traceparent: "garbage" }))).toBeUndefined()
  })

  it("with the W3C propagator registered: its extraction, and a span started in it is the caller's child", () => {
    propagation.setGlobalPropagator(new W3CTraceContextPropagator())
    try {
      const ctx = Tracing.extractContext({ traceparent: `00-${TRACE}-${SPAN}-01` })
      expect(trace.getSpanContext(ctx)).toMatchObject({ traceId: TRACE, spanId: SPAN, isRemote: true })
      const span = tracer.startSpan("child", {}, ctx)
      span.end()
      expect(span.spanContext().traceId).toBe(TRACE)
      // Round trip: the headers written for the child name it as the parent, in the caller's trace.
      expect(Tracing.traceHeaders(trace.setSpan(ctx, span)).traceparent).toBe(
        `00-${TRACE}-${span.spanContext().spanId}-01`
      )
    } finally {
      propagation.disable()
    }
  })
})
