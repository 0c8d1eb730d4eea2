import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"
import {
  createClient,
  fetchTransport,
  NetworkError,
  nodeTransport,
  OutcomeUnknown,
  type TransportRequest
} from "@mta/client"
import { startSimulatorServer } from "@mta/testkit"
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest"
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

describe.each([
  ["nodeTransport", () => nodeTransport()],
  ["fetchTransport", () => fetchTransport()]
])("%s", (_, make) => {
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
    controller.abort(new Error("gave up"))
    await expect(pending).rejects.toBeDefined()
    await expect(transport(request({ url: "http://127.0.0.1:1/accounts" }))).rejects.toBeDefined()
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
