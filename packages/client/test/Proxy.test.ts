// The Promise API against a stub on a real port that answers as the proxy does for an
// Idempotency-Key (409 idempotency_in_flight while the first request runs, then the stored answer
// with Idempotent-Replayed: true): a create whose first attempt times out is retried with the same
// key and ends with the replay, applied once; the hooks see every attempt in order; every attempt
// carries a traceparent in the caller's trace; errors carry their response.
import {
  type Client,
  createClient,
  fetchTransport,
  NotFound,
  nodeTransport,
  type RequestEvent,
  type ResponseEvent,
  type RetryEvent,
  type Transport
} from "@mta/client"
import { context, propagation, trace } from "@opentelemetry/api"
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks"
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { startProxyStub } from "./proxyStub.js"

const ZRN = "zrn:zh:us:accounts:customer:c761fc96-5c44-40d4-8eb2-3fcd5d06754e"
const CREATE = {
  participant_code: "CUST01",
  account_label: "joint",
  type: "jtic",
  tier: "pro",
  prefunded: false,
  tenants: ["CUST02"]
} as const

const exporter = new InMemorySpanExporter()
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] })
let stub: Awaited<ReturnType<typeof startProxyStub>>
beforeAll(async () => {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable())
  trace.setGlobalTracerProvider(provider)
  stub = await startProxyStub({ holdFirst: true })
})
afterAll(async () => {
  await stub.close()
  trace.disable()
  context.disable()
  propagation.disable()
})

const transports: ReadonlyArray<[string, () => Transport & { close?: () => void }]> = [
  ["fetch", () => fetchTransport()],
  ["nodeTransport", () => nodeTransport()]
]

describe.each(transports)("through the proxy (%s)", (_, makeTransport) => {
  it("a create that timed out is retried with its key, waits out the 409, and ends with the replay", async () => {
    const transport = makeTransport()
    const events: Array<string> = []
    const client: Client = createClient({
      baseUrl: stub.url,
      credentials: { bearerToken: "token" },
      timeoutMs: 200,
      deadlineMs: 10_000,
      retry: { baseDelayMs: 20, maxDelayMs: 20 },
      transport,
      hooks: { request: (e: RequestEvent) => events.push(`request ${e.attempt}`) }
    })
      .on("response", (e: ResponseEvent) => events.push(`response ${e.attempt} ${e.status}`))
      .on("retry", (e: RetryEvent) => events.push(`retry ${e.attempt} ${e.error._tag} ${e.waitMs >= 1_000}`))
    const before = stub.seen.length
    const appliedBefore = stub.applied()
    const tracer = provider.getTracer("test")
    const { result, traceId } = await tracer.startActiveSpan("caller", async (span) => {
      const result = await client.withResponse.createAccount(CREATE)
      span.end()
      return { result, traceId: span.spanContext().traceId }
    })
    transport.close?.()

    expect(String(result.data.zrn)).toBe(ZRN)
    expect(result.response.replayed).toBe(true)
    expect(result.response.status).toBe(202)
    expect(result.response.attempt).toBe(3)
    expect(result.response.requestId).toBe(`proxy-${before + 3}`)
    expect(stub.applied() - appliedBefore).toBe(1)

    const attempts = stub.seen.slice(before)
    expect(attempts).toHaveLength(3)
    expect(new Set(attempts.map((a) => a.key)).size).toBe(1)
    expect(attempts[0]!.key).toMatch(/^[0-9a-f-]{36}$/)
    expect(new Set(attempts.map((a) => a.requestId)).size).toBe(1)
    for (const a of attempts) expect(a.traceparent?.split("-")[1]).toBe(traceId)

    expect(events).toEqual([
      "request 1",
      "retry 1 OutcomeUnknown false",
      "request 2",
      "response 2 409",
      "retry 2 Conflict true",
      "request 3",
      "response 3 202"
    ])
  })

  it("an error carries its response (status, headers, the proxy's request id), not enumerable", async () => {
    const transport = makeTransport()
    const client = createClient({ baseUrl: stub.url, credentials: { bearerToken: "token" }, transport })
    const error = await client.getAccount(ZRN).catch((e: unknown) => e)
    transport.close?.()
    expect(error).toBeInstanceOf(NotFound)
    const notFound = error as NotFound
    expect(notFound.response?.status).toBe(404)
    expect(notFound.response?.requestId).toMatch(/^proxy-\d+$/)
    expect(notFound.response?.headers.get("content-type")).toBe("application/json")
    expect(notFound.code).toBe("not_found")
    expect(Object.keys(notFound)).not.toContain("response")
    expect(JSON.stringify(notFound)).not.toContain("proxy-")
  })
})

describe("hooks", () => {
  it("a throwing hook changes nothing about the call; off() removes a handler", async () => {
    const transport = nodeTransport()
    const calls: Array<string> = []
    const boom = () => {
      throw new Error("hook bug")
    }
    const count = () => calls.push("counted")
    const client = createClient({ baseUrl: stub.url, credentials: { bearerToken: "token" }, transport })
      .on("request", boom)
      .on("response", count)
    await expect(client.getAccount(ZRN)).rejects.toBeInstanceOf(NotFound)
    client.off("response", count)
    await expect(client.getAccount(ZRN)).rejects.toBeInstanceOf(NotFound)
    transport.close()
    expect(calls).toEqual(["counted"])
  })
})
