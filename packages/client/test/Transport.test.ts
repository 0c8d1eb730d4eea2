import { getEventListeners } from "node:events"
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"
import {
  createClient,
  ErrorMapping,
  exchange,
  fetchTransport,
  NetworkError,
  nodeTransport,
  OutcomeUnknown,
  Timeout,
  type Transport,
  type TransportRequest,
  TransportTimeout
} from "@mta/client"
import { startSimulatorServer } from "@mta/testkit"
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest"
import { rejection } from "./scenarios.js"

/** A loopback server whose handler each test sets; it records the socket of every request. */
let handler: (req: IncomingMessage, res: ServerResponse, body: string) => void = (_, res) => res.end()
const sockets: Array<unknown> = []
let server: Server
let base: string

beforeAll(async () => {
  server = createServer({ keepAlive: true }, (req, res) => {
    sockets.push(req.socket)
    const chunks: Array<Buffer> = []
    req.on("data", (c: Buffer) => chunks.push(c))
    req.on("end", () => handler(req, res, Buffer.concat(chunks).toString("utf8")))
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())))
afterEach(() => {
  sockets.length = 0
})

const request = (overrides: Partial<TransportRequest> = {}): TransportRequest => ({
  method: "POST",
  url: `${base}/accounts?x=1`,
  headers: { "content-type": "application/json", "x-request-id": "r1" },
  body: '{"note":"naïve ✓"}',
  signal: new AbortController().signal,
  ...overrides
})

/**
 * A loopback port nothing listens on. (Not port 1: `fetch` refuses it as a "bad port" without trying
 * to connect, which is not the refusal meant here.)
 */
const closedPort = (): Promise<number> =>
  new Promise((resolve) => {
    const probe = createServer()
    probe.listen(0, "127.0.0.1", () => {
      const { port } = probe.address() as AddressInfo
      probe.close(() => resolve(port))
    })
  })

/** Node's error code of a rejection, on the error or its cause (`fetch` wraps it in a `TypeError`). */
const codeOf = (error: unknown): unknown =>
  (error as { code?: unknown }).code ?? (error as { cause?: { code?: unknown } }).cause?.code

describe.each([
  [
    "nodeTransport",
    () => nodeTransport(),
    // Node's own AbortError, carrying the reason.
    (reason: Error) => expect.objectContaining({ name: "AbortError", code: "ABORT_ERR", cause: reason })
  ],
  ["fetchTransport", () => fetchTransport(), (reason: Error) => reason]
])("%s", (_, make, abortedWith) => {
  it("sends the method, path with query, headers and the exact body bytes; reads status, headers and body", async () => {
    let seen: Record<string, unknown> = {}
    handler = (req, res, body) => {
      seen = {
        method: req.method,
        url: req.url,
        body,
        id: req.headers["x-request-id"],
        length: req.headers["content-length"]
      }
      res.writeHead(202, { "content-type": "application/json", "zh-allow-retry": "true" })
      res.end('{"ok":"✓"}')
    }
    const transport = make()
    const response = await transport(request())
    expect(seen).toEqual({
      method: "POST",
      url: "/accounts?x=1",
      body: '{"note":"naïve ✓"}',
      id: "r1",
      length: String(Buffer.byteLength('{"note":"naïve ✓"}'))
    })
    expect(response.status).toBe(202)
    expect(response.headers.get("ZH-Allow-Retry")).toBe("true")
    expect(await response.text()).toBe('{"ok":"✓"}')
  })

  it("rejects when the signal aborts, and when the connection is refused", async () => {
    handler = () => {
      // never answers
    }
    const transport = make()
    const controller = new AbortController()
    const pending = transport(request({ signal: controller.signal }))
    const reason = new Error("gave up")
    controller.abort(reason)
    await expect(pending).rejects.toEqual(abortedWith(reason))
    // Refused: Node's ECONNREFUSED, which the error mapping reads as "never sent" (so a plain,
    // retryable NetworkError even for a mutation).
    const refused = await rejection(
      transport(request({ url: `http://127.0.0.1:${await closedPort()}/accounts` }))
    )
    expect(codeOf(refused)).toBe("ECONNREFUSED")
    expect(ErrorMapping.neverSent(refused)).toBe(true)
    expect(
      ErrorMapping.fromTransportFailure(
        { operation: "lock", method: "POST", path: "/accounts", requestId: "r1", idempotencyKey: undefined },
        refused
      )
    ).toBeInstanceOf(NetworkError)
  })
})

describe("nodeTransport", () => {
  it("keeps connections alive: sequential requests share one socket", async () => {
    handler = (_, res) => res.end("{}")
    const transport = nodeTransport()
    for (let i = 0; i < 5; i++) await (await transport(request({ method: "GET", body: undefined }))).text()
    expect(new Set(sockets).size).toBe(1)
    transport.close()
  })

  it("maps a dropped connection on a mutation to OutcomeUnknown, and a refused one to NetworkError", async () => {
    handler = (req) => req.socket.destroy()
    const client = createClient({
      baseUrl: base,
      credentials: { bearerToken: "t" },
      transport: nodeTransport(),
      maxRetries: 0
    })
    const dropped = (await rejection(
      client.lock("customer:c761fc96-5c44-40d4-8eb2-3fcd5d06754e")
    )) as OutcomeUnknown
    expect(dropped).toBeInstanceOf(OutcomeUnknown)
    expect(dropped.reason).toBe("ConnectionLost")
    const refused = createClient({
      baseUrl: "http://127.0.0.1:1",
      credentials: { bearerToken: "t" },
      maxRetries: 0,
      transport: nodeTransport()
    })
    const error = (await rejection(
      refused.lock("customer:c761fc96-5c44-40d4-8eb2-3fcd5d06754e")
    )) as NetworkError
    // Nothing reached a server, so even a mutation is a plain (retryable) NetworkError.
    expect(error).toBeInstanceOf(NetworkError)
    expect(error.detail).toContain("ECONNREFUSED")
  })

  it("drives the testkit's standalone simulator server over a real loopback port", async () => {
    const simulatorServer = await startSimulatorServer({ seedDemo: true })
    const transport = nodeTransport()
    try {
      const client = createClient({
        baseUrl: simulatorServer.url,
        credentials: simulatorServer.simulator.credentials,
        transport
      })
      const created = await client.createAccount({
        participant_code: "CUST01",
        account_label: "over-tcp",
        type: "individual",
        tier: "gold",
        prefunded: true
      })
      const reached = await client.waitForStatus(created.zrn, "open", { timeoutMs: 5_000, intervalMs: 5 })
      expect(reached.account?.tier).toBe("gold")
    } finally {
      transport.close()
      await simulatorServer.close()
    }
  })
})

/** Abort listeners a signal still holds. */
const listeners = (signal: AbortSignal): number => getEventListeners(signal, "abort").length

/** A body of `size` bytes or more, multi-byte characters throughout (so a chunk boundary cuts one). */
const bigBody = (size: number): string => "é✓x".repeat(Math.ceil(size / 6))

/** Writes `parts` one after another, each in its own turn, then ends. */
const writeInParts = (res: ServerResponse, parts: ReadonlyArray<Buffer>) => {
  res.writeHead(200, { "content-type": "application/json" })
  let i = 0
  const next = () => {
    if (i === parts.length - 1) res.end(parts[i])
    else {
      res.write(parts[i++])
      setTimeout(next, 5)
    }
  }
  next()
}

describe("nodeTransport: bodies", () => {
  const get = (signal = new AbortController().signal) => request({ method: "GET", body: undefined, signal })

  it("decodes a one-chunk body without Buffer.concat", async () => {
    handler = (_, res) => res.end('{"ok":"✓"}')
    const transport = nodeTransport()
    try {
      const concat = vi.spyOn(Buffer, "concat")
      const viaTransport = await (await transport(get())).text()
      const viaExchange = (await transport.exchange(get())).text
      // (The test server concatenates the empty request bodies itself.)
      expect(concat.mock.calls.filter(([list]) => list.length > 0)).toEqual([])
      expect([viaTransport, viaExchange]).toEqual(['{"ok":"✓"}', '{"ok":"✓"}'])
    } finally {
      vi.restoreAllMocks()
      transport.close()
    }
  })

  it("puts a body sent in several chunks together, a character split between two chunks included", async () => {
    const text = '{"note":"naïve ✓"}'
    const bytes = Buffer.from(text)
    const cut = bytes.indexOf(Buffer.from("✓")) + 1 // inside the three bytes of ✓
    handler = (_, res) => writeInParts(res, [bytes.subarray(0, cut), bytes.subarray(cut)])
    const transport = nodeTransport()
    try {
      const concat = vi.spyOn(Buffer, "concat")
      expect(await (await transport(get())).text()).toBe(text)
      expect((await transport.exchange(get())).text).toBe(text)
      expect(concat.mock.calls.filter(([list]) => list.length > 1).length).toBeGreaterThan(0)
    } finally {
      vi.restoreAllMocks()
      transport.close()
    }
  })

  it("reads a body much larger than one chunk", async () => {
    const text = bigBody(1 << 20)
    handler = (_, res) => res.end(text)
    const transport = nodeTransport()
    try {
      const read = await (await transport(get())).text()
      expect(read.length).toBe(text.length)
      expect(read).toBe(text)
      expect((await transport.exchange(get())).text).toBe(text)
    } finally {
      transport.close()
    }
  })

  it("answers an empty body as an empty text, and text() twice with the same promise", async () => {
    handler = (_, res) => res.writeHead(204).end()
    const transport = nodeTransport()
    try {
      const response = await transport(get())
      expect(response.status).toBe(204)
      const first = response.text()
      expect(response.text()).toBe(first)
      expect(await first).toBe("")
      expect((await transport.exchange(get())).text).toBe("")
    } finally {
      transport.close()
    }
  })

  it("rejects text() when the body is cut short, even when it is read only afterwards", async () => {
    handler = (req, res) => {
      res.writeHead(200, { "content-length": "1000" })
      res.write("{")
      setTimeout(() => req.socket.destroy(), 5)
    }
    const transport = nodeTransport()
    try {
      const response = await transport(get())
      expect(response.status).toBe(200)
      // Not read until the connection is gone: no unhandled rejection in between, then a rejection.
      await new Promise((resolve) => setTimeout(resolve, 50))
      await expect(response.text()).rejects.toThrow()
      await expect(transport.exchange(get())).rejects.toThrow()
    } finally {
      transport.close()
    }
  })

  it("reads a repeated header joined, and a header by any case", async () => {
    handler = (_, res) => {
      res.setHeader("set-cookie", ["a=1", "b=2"])
      res.setHeader("Retry-After", "3")
      res.end("{}")
    }
    const transport = nodeTransport()
    try {
      const response = await transport.exchange(get())
      expect(response.headers.get("Set-Cookie")).toBe("a=1, b=2")
      expect(response.headers.get("retry-after")).toBe("3")
      expect(response.headers.get("x-absent")).toBeNull()
    } finally {
      transport.close()
    }
  })
})

describe("nodeTransport: URLs", () => {
  it("sends the path as new URL would, whatever the URL looks like, to the right origin", async () => {
    const paths: Array<string> = []
    handler = (req, res) => {
      paths.push(`${req.headers.host} ${req.url}`)
      res.end("{}")
    }
    const port = (server.address() as AddressInfo).port
    const transport = nodeTransport()
    try {
      const urls = [
        `${base}/accounts?x=1`,
        base,
        `${base}?q=1`,
        `${base}/a/../b?x=1#fragment`,
        `${base}/a/%2e%2E/c`,
        `${base}/a b`,
        `http://localhost:${port}/other-origin`,
        `${base}/back-again`
      ]
      for (const url of urls) {
        const response = await transport(request({ method: "GET", body: undefined, url }))
        await response.text()
      }
      expect(paths).toEqual([
        `127.0.0.1:${port} /accounts?x=1`,
        `127.0.0.1:${port} /`,
        `127.0.0.1:${port} /?q=1`,
        `127.0.0.1:${port} /b?x=1`,
        `127.0.0.1:${port} /c`,
        `127.0.0.1:${port} /a%20b`,
        `localhost:${port} /other-origin`,
        `127.0.0.1:${port} /back-again`
      ])
    } finally {
      transport.close()
    }
  })

  it("rejects a URL it cannot use, as before: not a URL, not http(s)", async () => {
    const transport = nodeTransport()
    await expect(transport(request({ url: "not a url" }))).rejects.toMatchObject({ code: "ERR_INVALID_URL" })
    await expect(transport(request({ url: "ftp://127.0.0.1/x" }))).rejects.toMatchObject({
      code: "ERR_INVALID_PROTOCOL"
    })
    await expect(transport.exchange(request({ url: "not a url" }))).rejects.toMatchObject({
      code: "ERR_INVALID_URL"
    })
    transport.close()
  })
})

describe("nodeTransport: the abort signal", () => {
  it("holds one listener while a call runs, and none once it has ended, whichever way", async () => {
    const transport = nodeTransport()
    try {
      const signal = new AbortController().signal
      // Answered: the listener goes when the body has ended (it still guards the body until then).
      let finish: () => void = () => {}
      handler = (_, res) => {
        res.writeHead(200)
        res.write("{")
        finish = () => res.end("}")
      }
      const response = await transport(request({ method: "GET", body: undefined, signal }))
      expect(listeners(signal)).toBe(1)
      finish()
      expect(await response.text()).toBe("{}")
      expect(listeners(signal)).toBe(0)
      // Whole exchanges, several at once on one signal: one listener each, none afterwards.
      handler = (_, res) => res.end("{}")
      const calls = Array.from({ length: 8 }, () =>
        transport.exchange(request({ method: "GET", body: undefined, signal }))
      )
      expect(listeners(signal)).toBe(8)
      await Promise.all(calls)
      expect(listeners(signal)).toBe(0)
      // Refused, dropped and timed out.
      await expect(transport(request({ url: "http://127.0.0.1:1/x", signal }))).rejects.toMatchObject({
        code: "ECONNREFUSED"
      })
      handler = (req) => req.socket.destroy()
      await expect(transport(request({ signal }))).rejects.toMatchObject({
        code: "ECONNRESET",
        message: "socket hang up"
      })
      handler = () => {}
      await expect(transport.exchange({ ...request({ signal }), timeoutMs: 20 })).rejects.toBeInstanceOf(
        TransportTimeout
      )
      expect(listeners(signal)).toBe(0)
    } finally {
      transport.close()
    }
  })

  it("rejects an aborted call with Node's AbortError carrying the reason; an aborted signal with the reason", async () => {
    handler = () => {}
    const transport = nodeTransport()
    try {
      const controller = new AbortController()
      const pending = transport(request({ signal: controller.signal }))
      const reason = new Error("gave up")
      setTimeout(() => controller.abort(reason), 10)
      const error = (await rejection(pending)) as Error & { code?: string }
      expect(error).toMatchObject({ name: "AbortError", code: "ABORT_ERR", cause: reason })
      expect(listeners(controller.signal)).toBe(0)
      // Already aborted: nothing is sent, and the reason itself is the rejection.
      await expect(transport(request({ signal: controller.signal }))).rejects.toBe(reason)
      await expect(transport.exchange(request({ signal: controller.signal }))).rejects.toBe(reason)
    } finally {
      transport.close()
    }
  })

  it("stops a body still arriving when the signal aborts: text() rejects with the AbortError", async () => {
    handler = (_, res) => {
      res.writeHead(200)
      res.write("{")
    }
    const transport = nodeTransport()
    try {
      const controller = new AbortController()
      const response = await transport(request({ method: "GET", body: undefined, signal: controller.signal }))
      const reason = new Error("gave up")
      controller.abort(reason)
      await expect(response.text()).rejects.toMatchObject({ name: "AbortError", cause: reason })
    } finally {
      transport.close()
    }
  })
})

describe("exchange", () => {
  const withDeadline = (timeoutMs: number, url = `${base}/x`) => ({
    method: "GET",
    url,
    headers: {},
    body: undefined,
    timeoutMs
  })

  it("nodeTransport: rejects with TransportTimeout when the deadline passes before the head or the body's end", async () => {
    const transport = nodeTransport()
    try {
      handler = () => {} // no answer at all
      const started = Date.now()
      const none = await rejection(transport.exchange(withDeadline(40)))
      expect(none).toBeInstanceOf(TransportTimeout)
      expect((none as TransportTimeout).timeoutMs).toBe(40)
      expect(Date.now() - started).toBeGreaterThanOrEqual(35)
      handler = (_, res) => {
        res.writeHead(200)
        res.write("{") // the head, then the body stalls
      }
      await expect(transport.exchange(withDeadline(40))).rejects.toBeInstanceOf(TransportTimeout)
      // Through the free function too (it asks the transport's own exchange).
      await expect(exchange(transport, withDeadline(40))).rejects.toBeInstanceOf(TransportTimeout)
      // An answer in time clears its deadline's timer.
      handler = (_, res) => res.end("{}")
      const set = vi.spyOn(globalThis, "setTimeout")
      const cleared = vi.spyOn(globalThis, "clearTimeout")
      const answered = await transport.exchange(withDeadline(12_345))
      expect(answered).toMatchObject({ status: 200, text: "{}" })
      const deadline = set.mock.results[set.mock.calls.findIndex(([, ms]) => ms === 12_345)]
      expect(deadline?.value).toBeDefined()
      expect(cleared).toHaveBeenCalledWith(deadline?.value)
    } finally {
      vi.restoreAllMocks()
      transport.close()
    }
  })

  it("any other transport: the whole body, the deadline and the signal", async () => {
    const fetching = fetchTransport()
    handler = (_, res) => res.writeHead(201, { "x-id": "7" }).end('{"ok":"✓"}')
    const answered = await exchange(fetching, withDeadline(1_000))
    expect([answered.status, answered.headers.get("X-Id"), answered.text]).toEqual([201, "7", '{"ok":"✓"}'])
    handler = () => {}
    await expect(exchange(fetching, withDeadline(40))).rejects.toBeInstanceOf(TransportTimeout)
    const controller = new AbortController()
    const reason = new Error("gave up")
    const pending = exchange(fetching, { ...withDeadline(0), signal: controller.signal })
    controller.abort(reason)
    await expect(pending).rejects.toBe(reason)
    // A transport that never notices the abort still rejects at the deadline.
    const deaf: Transport = () => new Promise(() => {})
    await expect(exchange(deaf, withDeadline(20))).rejects.toBeInstanceOf(TransportTimeout)
  })
})

describe("ErrorMapping.fromExchangeFailure", () => {
  const info = (method: string) => ({
    operation: "lock",
    method,
    path: "/x",
    requestId: "r1",
    idempotencyKey: undefined
  })
  const code = (c: string) => Object.assign(new Error(c), { code: c })

  it("maps a deadline like fromTimeout, anything else like fromTransportFailure", () => {
    const read = ErrorMapping.fromExchangeFailure(info("GET"), new TransportTimeout(50))
    expect(read).toBeInstanceOf(Timeout)
    expect(read).toEqual(ErrorMapping.fromTimeout(info("GET"), 50))
    expect(ErrorMapping.fromExchangeFailure(info("POST"), new TransportTimeout(50))).toMatchObject({
      _tag: "OutcomeUnknown",
      reason: "Timeout"
    })
    for (const method of ["GET", "POST"]) {
      for (const cause of [code("ECONNRESET"), code("ECONNREFUSED"), code("ABORT_ERR"), "odd"]) {
        expect(ErrorMapping.fromExchangeFailure(info(method), cause)).toEqual(
          ErrorMapping.fromTransportFailure(info(method), cause)
        )
      }
    }
    expect(ErrorMapping.fromExchangeFailure(info("POST"), code("ECONNRESET"))).toMatchObject({
      _tag: "OutcomeUnknown",
      reason: "ConnectionLost"
    })
  })
})
