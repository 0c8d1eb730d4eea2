import { describe, expect, it } from "vitest"
import { Clock, Signing } from "../src/index.js"
import { call, signed, simulator } from "./support.js"

const T0 = Date.UTC(2026, 0, 1)

const setup = () => simulator({ clock: Clock.manual(T0) })

/** A signed request with one header replaced or removed. */
const tampered = (
  sim: ReturnType<typeof setup>,
  header: string,
  value: string | undefined,
  path = "/accounts"
) => {
  const request = signed(sim, "GET", path)
  const headers = new Headers(request.headers)
  if (value === undefined) headers.delete(header)
  else headers.set(header, value)
  return new Request(request.url, { method: "GET", headers })
}

const answer = async (sim: ReturnType<typeof setup>, request: Request) => {
  const response = await sim.fetch(request)
  return { status: response.status, body: (await response.json()) as { error: boolean; message: string } }
}

describe("authentication", () => {
  it("accepts a correctly signed request", async () => {
    const sim = setup()
    expect((await call(sim, "GET", "/accounts")).status).toBe(200)
  })

  it.each([
    ["X-SCX-API-KEY", undefined, "missing X-SCX-API-KEY header"],
    ["X-SCX-API-KEY", "someone-else", "unknown API key"],
    ["X-SCX-PASSPHRASE", undefined, "missing X-SCX-PASSPHRASE header"],
    ["X-SCX-PASSPHRASE", "wrong-passphrase", "wrong passphrase"],
    ["X-SCX-TIMESTAMP", undefined, "missing X-SCX-TIMESTAMP header"],
    ["X-SCX-TIMESTAMP", "yesterday", "not a Unix time in seconds"],
    ["X-SCX-TIMESTAMP", String(T0), "looks like milliseconds"],
    ["X-SCX-SIGNED", undefined, "missing X-SCX-SIGNED header"],
    ["X-SCX-SIGNED", "AAAA", "invalid signature"]
  ])("refuses %s = %s with 403 saying which check failed", async (header, value, message) => {
    const sim = setup()
    const { status, body } = await answer(sim, tampered(sim, header, value))
    expect(status).toBe(403)
    expect(body.error).toBe(true)
    expect(body.message).toContain(message)
  })

  it("never echoes a secret in a refusal", async () => {
    const sim = setup()
    for (const [header, value] of [
      ["X-SCX-PASSPHRASE", "wrong-passphrase"],
      ["X-SCX-SIGNED", "AAAA"]
    ] as const) {
      const text = JSON.stringify((await answer(sim, tampered(sim, header, value))).body)
      expect(text).not.toContain(sim.credentials.passphrase)
      expect(text).not.toContain(sim.credentials.apiSecret)
      expect(text).not.toContain("wrong-passphrase")
    }
    const journal = JSON.stringify(sim.journal())
    expect(journal).not.toContain(sim.credentials.passphrase)
    expect(journal).not.toContain("wrong-passphrase")
  })

  it("journals the W3C traceparent and tracestate each request arrived with (and none when absent)", async () => {
    const sim = setup()
    const traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    await call(sim, "GET", "/accounts", { headers: { traceparent, tracestate: "congo=t61rcWkgMzE" } })
    await call(sim, "GET", "/accounts")
    const [traced, plain] = sim.journal().slice(-2)
    expect(traced!.headers).toMatchObject({ traceparent, tracestate: "congo=t61rcWkgMzE" })
    expect(plain!.headers.traceparent).toBeUndefined()
    expect(plain!.headers.tracestate).toBeUndefined()
  })

  it("accepts timestamps up to 60 s away from its clock and refuses 61 s", async () => {
    const sim = setup()
    const now = T0 / 1000
    for (const ts of [now - 60, now + 60])
      expect((await call(sim, "GET", "/accounts", { timestamp: ts })).status).toBe(200)
    for (const ts of [now - 61, now + 61]) {
      const res = await call(sim, "GET", "/accounts", { timestamp: ts })
      expect(res.status).toBe(403)
      expect(res.body.message).toContain("61 s away from the server's time")
    }
  })

  it("checks the timestamp against its own clock, which a test moves", async () => {
    const clock = Clock.manual(T0)
    const sim = simulator({ clock })
    const request = signed(sim, "GET", "/accounts")
    clock.advance(61_000)
    expect((await sim.fetch(request)).status).toBe(403)
  })

  it("verifies over the exact body bytes received", async () => {
    const sim = setup()
    const body = JSON.stringify({
      participant_code: "CUST01",
      account_label: "x",
      type: "individual",
      tier: "pro",
      prefunded: false
    })
    const good = signed(sim, "POST", "/accounts", { raw: body })
    const headers = Object.fromEntries(good.headers)
    // Same JSON value, different bytes: the signature no longer matches.
    const respaced = new Request(good.url, { method: "POST", headers, body: body.replace(/,/g, ", ") })
    expect((await sim.fetch(respaced)).status).toBe(403)
    expect((await sim.fetch(good)).status).toBe(202)
  })

  it("signs the path with its query string, exactly as sent", async () => {
    const sim = setup()
    const request = signed(sim, "GET", "/accounts?asset=BTC")
    const headers = Object.fromEntries(request.headers)
    expect(
      (await sim.fetch(new Request("http://zerohash.test/accounts?asset=ETH", { headers }))).status
    ).toBe(403)
    expect((await sim.fetch(request)).status).toBe(200)
  })

  it("accepts a percent-encoded ZRN path signed as sent, and refuses it signed unencoded", async () => {
    const sim = setup()
    const zrn = "zrn:zh:us:accounts:customer:c761fc96-5c44-40d4-8eb2-3fcd5d06754e"
    const encoded = `/accounts/${zrn.replaceAll(":", "%3A")}/details`
    // Signed as sent: authenticated, then routed with the ZRN decoded (no such account here: 404).
    expect((await call(sim, "GET", encoded)).status).toBe(404)
    const headers = Signing.signedHeaders(sim.credentials, {
      method: "GET",
      path: `/accounts/${zrn}/details`,
      timestamp: T0 / 1000
    })
    expect((await sim.fetch(new Request(`http://zerohash.test${encoded}`, { headers }))).status).toBe(403)
  })

  it("accepts any of several API keys", async () => {
    const other = {
      apiKey: "second",
      apiSecret: Buffer.from("another secret").toString("base64"),
      passphrase: "pp"
    }
    const first = {
      apiKey: "first",
      apiSecret: Buffer.from("first secret").toString("base64"),
      passphrase: "p1"
    }
    const sim = simulator({ clock: Clock.manual(T0), credentials: [first, other] })
    expect(sim.credentials).toEqual(first)
    expect((await call(sim, "GET", "/accounts", { credentials: other })).status).toBe(200)
    expect((await call(sim, "GET", "/accounts", { credentials: first })).status).toBe(200)
    // One key's secret does not sign for the other.
    const mixed = { ...other, apiSecret: first.apiSecret }
    expect((await call(sim, "GET", "/accounts", { credentials: mixed })).status).toBe(403)
  })

  it("serves GET /time without authentication", async () => {
    const sim = setup()
    const res = await sim.fetch(new Request("http://zerohash.test/time"))
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({ epoch: T0 / 1000 })
  })

  it("authenticates before routing: an unknown path is 403 unsigned and 404 signed", async () => {
    const sim = setup()
    expect((await sim.fetch(new Request("http://zerohash.test/nope"))).status).toBe(403)
    expect((await call(sim, "GET", "/nope")).status).toBe(404)
  })
})
