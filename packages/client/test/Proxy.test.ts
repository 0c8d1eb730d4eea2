// The Promise API against a stub on a real port that answers as the proxy does for an
// Idempotency-Key (409 idempotency_in_flight while the first request runs, then the stored answer
// with Idempotent-Replayed: true): a create whose first attempt times out is retried with the same
// key and ends with the replay, applied once; the hooks see every attempt in order; every attempt
// carries a traceparent in the caller's trace; errors carry their response.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"
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

const ZRN = "zrn:zh:us:accounts:customer:c761fc96-5c44-40d4-8eb2-3fcd5d06754e"
const CREATE = {
  participant_code: "CUST01",
  account_label: "joint",
  type: "jtic",
  tier: "pro",
  prefunded: false,
  tenants: ["CUST02"]
} as const

interface Seen {
  readonly method: string
  readonly url: string
  readonly key: string | undefined
  readonly requestId: string | undefined
  readonly traceparent: string | undefined
}

/** A stub of the proxy's idempotency for `POST /accounts`; the first request of a key is held. */
const startStub = async () => {
  const seen: Array<Seen> = []
  const records = new Map<string, { done: boolean; body?: string }>()
  let applied = 0
  let held: (() => void) | undefined
  const send = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    res.writeHead(status, { "content-type": "application/json", ...headers })
    res.end(typeof body === "string" ? body : JSON.stringify(body))
  }
  const server: Server = createServer((req: IncomingMessage, res) => {
    req.resume()
    req.on("end", () => {
      const header = (name: string) => req.headers[name] as string | undefined
      seen.push({
        method: req.method ?? "",
        url: req.url ?? "",
        key: header("idempotency-key"),
        requestId: header("x-request-id"),
        traceparent: header("traceparent")
      })
      const echo = { "x-request-id": `proxy-${seen.length}` }
      if (req.method !== "POST") return send(res, 404, { error: "Not Found", code: "not_found" }, echo)
      const key = header("idempotency-key") ?? ""
      const record = records.get(key)
      if (record === undefined) {
        // The first request of the key: applied once, answered only when released (after the
        // client has given up on it and its retry has met the 409).
        records.set(key, { done: false })
        applied++
        held = () => {
          const body = JSON.stringify({ message: { zrn: ZRN, participant_code: "CUST01", status: null } })
          records.set(key, { done: true, body })
          if (!res.destroyed) send(res, 202, body, echo)
        }
        return
      }
      if (!record.done) {
        send(
          res,
          409,
          { errors: ["a request with this Idempotency-Key is in flight"], code: "idempotency_in_flight" },
          { ...echo, "retry-after": "1" }
        )
        held?.()
        return
      }
      send(res, 202, record.body!, { ...echo, "idempotent-replayed": "true" })
    })
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    applied: () => applied,
    close: () => new Promise<void>((resolve) => server.close(() => resolve()))
  }
}

const exporter = new InMemorySpanExporter()
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] })
let stub: Awaited<ReturnType<typeof startStub>>
beforeAll(async () => {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable())
  trace.setGlobalTracerProvider(provider)
  stub = await startStub()
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
