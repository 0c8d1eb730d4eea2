/**
 * The read path as the benchmark drives it: reads answered with the upstream's own bytes (checked with
 * the response Schema, a text that decoded once not decoded again), the proxy's `node:http` transport
 * (deadline, lost connections, abort), the hand-formatted access line and the batched stdout writer.
 */
import { closeSync, openSync, readFileSync, rmSync } from "node:fs"
import { createServer, type Server } from "node:http"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Protocol } from "@mta/client"
import { Endpoint } from "@mta/domain"
import { Logger, Upstream } from "@mta/server"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { createBody, harness } from "./support.js"

describe("reads through the proxy", () => {
  const h = harness()

  const created = async (label: string): Promise<string> => {
    const r = await h.request("/accounts", { method: "POST", json: createBody(label) })
    expect(r.status).toBe(202)
    return ((await r.json()) as { message: { zrn: string } }).message.zrn
  }

  it("answers the upstream's own bytes, with X-Request-Id and the JSON content type", async () => {
    const zrn = await created("bytes")
    const upstream = { message: { zrn, participant_code: "CUST01", type: "jtic", new_field: { kept: true } } }
    h.simulator.injectFault({ endpoint: "getAccount", status: 200, body: upstream, times: 1 })
    const r = await h.request(`/accounts/${zrn}/details`, { headers: { "x-request-id": "bytes-1" } })
    expect(r.status).toBe(200)
    expect(r.headers.get("x-request-id")).toBe("bytes-1")
    expect(r.headers.get("content-type")).toBe("application/json")
    // A field this version does not know reaches the caller (it used to be dropped by the re-encode).
    expect(await r.json()).toEqual(upstream)
  })

  it("still refuses an answer that does not have the documented shape, however often it comes", async () => {
    const zrn = await created("bad-shape")
    for (let i = 0; i < 2; i++) {
      h.simulator.injectFault({
        endpoint: "getAccount",
        status: 200,
        body: { message: { zrn: 42 } },
        times: 1
      })
      const r = await h.request(`/accounts/${zrn}/details`)
      expect(r.status).toBe(502)
      expect(await r.json()).toMatchObject({ code: "upstream_bad_response" })
    }
    h.simulator.injectFault({ endpoint: "getAccount", status: 200, body: "not json", times: 1 })
    expect((await h.request(`/accounts/${zrn}/details`)).status).toBe(502)
  })

  it("checks a repeated answer text once, and a different text again", async () => {
    const zrn = await created("repeat")
    const good = { message: { zrn, status: "open" } }
    for (let i = 0; i < 3; i++) {
      h.simulator.injectFault({ endpoint: "getAccount", status: 200, body: good, times: 1 })
      expect((await h.request(`/accounts/${zrn}/details`)).status).toBe(200)
    }
    // Same account, a different (malformed) text: decoded, refused.
    h.simulator.injectFault({
      endpoint: "getAccount",
      status: 200,
      body: { message: { zrn, status: 7 } },
      times: 1
    })
    expect((await h.request(`/accounts/${zrn}/details`)).status).toBe(502)
  })

  it("passes the status reason and ledger pages through, and still validates their requests first", async () => {
    const before = h.upstreamCount()
    expect((await h.request("/accounts?page=zero")).status).toBe(400)
    expect((await h.request("/account/not-a-zrn/status_reason")).status).toBe(400)
    expect(h.upstreamCount()).toBe(before)
    const page = await h.request("/accounts")
    expect(page.status).toBe(200)
    expect(page.headers.get("content-type")).toBe("application/json")
  })
})

describe("CheckedTexts", () => {
  it("remembers at most its limit, first in first out, and never a long text", () => {
    const checked = new Upstream.CheckedTexts(2, 10)
    checked.add("a")
    checked.add("b")
    checked.add("c")
    expect([checked.has("a"), checked.has("b"), checked.has("c")]).toEqual([false, true, true])
    checked.add("x".repeat(11))
    expect(checked.has("x".repeat(11))).toBe(false)
  })
})

describe("Upstream.nodeTransport", () => {
  let server: Server
  let base = ""
  const credentials = {
    apiKey: "k",
    apiSecret: Buffer.from("transport-test-secret").toString("base64"),
    passphrase: "p"
  }
  const account = JSON.stringify({
    message: { zrn: "zrn:zh:us:accounts:customer:c761fc96-5c44-40d4-8eb2-3fcd5d06754e", status: "open" }
  })
  const seen: Array<{ url: string; headers: Record<string, unknown>; body: string }> = []

  beforeAll(async () => {
    server = createServer((req, res) => {
      const chunks: Array<Buffer> = []
      req.on("data", (c: Buffer) => chunks.push(c))
      req.on("end", () => {
        seen.push({ url: req.url ?? "", headers: req.headers, body: Buffer.concat(chunks).toString() })
        if (req.url?.includes("/hang")) return // never answers
        if (req.url?.includes("/drop")) {
          req.socket.destroy()
          return
        }
        if (req.url?.includes("/half")) {
          res.writeHead(200, { "content-type": "application/json", "content-length": "1000" })
          res.write("{")
          setImmediate(() => req.socket.destroy())
          return
        }
        if (req.method === "POST") {
          res.writeHead(202, { "content-type": "application/json" })
          res.end("{}")
          return
        }
        // Sent in two chunks, so the body is put together from both.
        res.writeHead(200, { "content-type": "application/json", "retry-after": "3" })
        res.write(account.slice(0, 10))
        setImmediate(() => res.end(account.slice(10)))
      })
    })
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
    const address = server.address()
    base = `http://127.0.0.1:${typeof address === "object" && address !== null ? address.port : 0}`
  })
  afterAll(async () => {
    server.closeAllConnections()
    await new Promise<void>((resolve) => server.close(() => resolve()))
  })

  const zrn = "zrn:zh:us:accounts:customer:c761fc96-5c44-40d4-8eb2-3fcd5d06754e"

  it("signs and sends a read, and answers its text and its decoded value", async () => {
    const transport = Upstream.nodeTransport()
    try {
      const upstream = Upstream.make({ baseUrl: base, credentials, transport })
      const raw = await upstream.raw!.getAccount(zrn, { requestId: "t-1" })
      expect(raw.text).toBe(account)
      const typed = await upstream.getAccount(zrn, { requestId: "t-2" })
      expect(typed.status).toBe("open")
      const sent = seen.find((s) => s.headers["x-request-id"] === "t-1")!
      expect(sent.url).toBe(Endpoint.pathFor("getAccount", { zrn }))
      expect(sent.headers["x-scx-api-key"]).toBe("k")
      expect(sent.headers["x-scx-signed"]).toEqual(expect.any(String))
      // A body goes with its length.
      await upstream.lock(zrn, { requestId: "t-3" })
      const lock = seen.find((s) => s.headers["x-request-id"] === "t-3")!
      expect(lock.body).toBe("{}")
      expect(lock.headers["content-length"]).toBe("2")
    } finally {
      transport.close()
    }
  })

  it("sends the ledger query as the client does: its wire order, ZRN colons unencoded", async () => {
    const transport = Upstream.nodeTransport()
    try {
      const upstream = Upstream.make({ baseUrl: base, credentials, transport })
      await upstream
        .getLedgerPage({ zrn, account_group: "G 1", account_owner: "CUST01", page: 2 }, { requestId: "t-q" })
        .catch(() => undefined) // the test server answers an account, not a page
      const sent = seen.find((s) => s.headers["x-request-id"] === "t-q")!
      expect(sent.url).toBe(
        Protocol.request(
          Endpoint.table.listLedgerAccounts,
          [{ page: 2, account_owner: "CUST01", account_group: "G 1", zrn }],
          { requestId: "t-q" }
        ).path
      )
      expect(sent.url).toBe(`/accounts?page=2&account_owner=CUST01&account_group=G%201&zrn=${zrn}`)
    } finally {
      transport.close()
    }
  })

  it("is a plain Transport too: status, headers and text", async () => {
    const transport = Upstream.nodeTransport()
    try {
      const response = await transport({
        method: "GET",
        url: `${base}/accounts/x/details`,
        headers: { accept: "application/json" },
        body: undefined,
        signal: new AbortController().signal
      })
      expect(response.status).toBe(200)
      expect(response.headers.get("Retry-After")).toBe("3")
      expect(await response.text()).toBe(account)
    } finally {
      transport.close()
    }
  })

  it("turns a missed deadline into Timeout (a read) or OutcomeUnknown (a mutation)", async () => {
    const transport = Upstream.nodeTransport()
    try {
      const upstream = Upstream.make({ baseUrl: `${base}/hang`, credentials, transport, timeoutMs: 50 })
      await expect(upstream.getAccount(zrn)).rejects.toMatchObject({ _tag: "Timeout" })
      await expect(upstream.lock(zrn)).rejects.toMatchObject({ _tag: "OutcomeUnknown", reason: "Timeout" })
    } finally {
      transport.close()
    }
  })

  it("turns a lost connection into NetworkError (a read) or OutcomeUnknown (a mutation)", async () => {
    const transport = Upstream.nodeTransport()
    try {
      const dropped = Upstream.make({ baseUrl: `${base}/drop`, credentials, transport })
      await expect(dropped.getAccount(zrn)).rejects.toMatchObject({ _tag: "NetworkError" })
      await expect(dropped.lock(zrn)).rejects.toMatchObject({
        _tag: "OutcomeUnknown",
        reason: "ConnectionLost"
      })
      const half = Upstream.make({ baseUrl: `${base}/half`, credentials, transport })
      await expect(half.getAccount(zrn)).rejects.toMatchObject({ _tag: "NetworkError" })
    } finally {
      transport.close()
    }
  })

  it("stops when the caller's signal aborts", async () => {
    const transport = Upstream.nodeTransport()
    try {
      const upstream = Upstream.make({ baseUrl: `${base}/hang`, credentials, transport })
      const controller = new AbortController()
      const pending = upstream.getAccount(zrn, { signal: controller.signal })
      controller.abort(new Error("caller went away"))
      await expect(pending).rejects.toMatchObject({ _tag: "NetworkError" })
    } finally {
      transport.close()
    }
  })
})

describe("the access line", () => {
  it("is formatted exactly as pino formats the same fields", () => {
    const lines: Array<string> = []
    const logger = Logger.make({ level: "info", destination: { write: (s: string) => void lines.push(s) } })
    const fields = ["req-1", 'we"ird', "GET", "/accounts/:zrn/details", 200, 1.25] as const
    logger.info(
      {
        request_id: fields[0],
        caller: fields[1],
        method: fields[2],
        route: fields[3],
        status: fields[4],
        duration_ms: fields[5]
      },
      "request"
    )
    Logger.requestLine(logger)(...fields)
    Logger.requestLine(logger)("has space", "-", "GET", "unmatched", 404, 0.5)
    const withoutTime = (line: string) => line.replace(/"time":"[^"]+"/, '"time":"T"')
    expect(withoutTime(lines[1]!)).toBe(withoutTime(lines[0]!))
    expect(JSON.parse(lines[2]!)).toMatchObject({ request_id: "has space", caller: "-", status: 404 })
  })

  it("with a trace: trace_id and span_id after duration_ms, exactly as pino formats them", () => {
    const lines: Array<string> = []
    const logger = Logger.make({ level: "info", destination: { write: (s: string) => void lines.push(s) } })
    const trace = { traceId: "4bf92f3577b34da6a3ce929d0e0e4736", spanId: "00f067aa0ba902b7" }
    logger.info(
      {
        request_id: "req-2",
        caller: "ci",
        method: "POST",
        route: "/accounts",
        status: 202,
        duration_ms: 3.5,
        trace_id: trace.traceId,
        span_id: trace.spanId
      },
      "request"
    )
    Logger.requestLine(logger)("req-2", "ci", "POST", "/accounts", 202, 3.5, trace)
    const withoutTime = (line: string) => line.replace(/"time":"[^"]+"/, '"time":"T"')
    expect(withoutTime(lines[1]!)).toBe(withoutTime(lines[0]!))
    expect(JSON.parse(lines[1]!)).toMatchObject({ trace_id: trace.traceId, span_id: trace.spanId })
  })

  it("is skipped below info, and goes through logger.info for a logger made elsewhere", () => {
    const lines: Array<string> = []
    const silent = Logger.make({ level: "warn", destination: { write: (s: string) => void lines.push(s) } })
    Logger.requestLine(silent)("a", "b", "GET", "/x", 200, 1)
    expect(lines).toEqual([])
  })
})

describe("the log destination", () => {
  it("writes the lines in order without holding the caller, and flushSync writes what is left", async () => {
    const file = join(tmpdir(), `mta-destination-${process.pid}-${Date.now()}.log`)
    const fd = openSync(file, "w")
    const written = async (text: string) => {
      for (let i = 0; i < 400 && readFileSync(file, "utf8") !== text; i++) {
        await new Promise((resolve) => setTimeout(resolve, 5))
      }
      return readFileSync(file, "utf8")
    }
    try {
      const writer = Logger.destination(fd)
      writer.write("one\n")
      writer.write("two\n")
      writer.write("three\n")
      expect(await written("one\ntwo\nthree\n")).toBe("one\ntwo\nthree\n")
      writer.write("four\n")
      await written("one\ntwo\nthree\nfour\n")
      writer.write("five\n")
      writer.flushSync()
      expect(await written("one\ntwo\nthree\nfour\nfive\n")).toBe("one\ntwo\nthree\nfour\nfive\n")
    } finally {
      closeSync(fd)
      rmSync(file, { force: true })
    }
  })
})
