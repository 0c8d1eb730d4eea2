import { createClient, makeSigner, Signing, signRequest } from "@mta/client"
import { describe, expect, it } from "vitest"
import { scripted } from "./support.js"
import { vectors } from "./vectors.js"

const { api_secret_base64: apiSecret, vectors: requestVectors } = vectors.request_signing

describe("signRequest", () => {
  it.each(requestVectors.map((v, i) => [i + 1, v] as const))("reproduces vector %i", (_, v) => {
    expect(
      signRequest({ apiSecret, timestamp: v.timestamp, method: v.method, path: v.path, body: v.body })
    ).toBe(v.signature)
  })

  it("keys the HMAC with the decoded secret, not its text", () => {
    const v = requestVectors[0]!
    // vectors.json records what the raw text would wrongly give.
    const wrong = "7KN/E0TcSVDKVyy7PSnU9UQ766tSAqcXR4TJ1XyslsA="
    const right = signRequest({
      apiSecret,
      timestamp: v.timestamp,
      method: v.method,
      path: v.path,
      body: v.body
    })
    expect(right).not.toBe(wrong)
    const rawKey = Buffer.from(apiSecret, "utf8").toString("base64")
    expect(
      signRequest({ apiSecret: rawKey, timestamp: v.timestamp, method: v.method, path: v.path, body: v.body })
    ).toBe(wrong)
  })

  it("signs `{}` for a request without a body, and upper-cases the method", () => {
    const v = requestVectors[0]!
    expect(signRequest({ apiSecret, timestamp: Number(v.timestamp), method: "get", path: v.path })).toBe(
      v.signature
    )
    expect(signRequest({ apiSecret, timestamp: v.timestamp, method: "GET", path: v.path, body: "" })).toBe(
      v.signature
    )
  })

  it("covers the query string: another query gives another signature", () => {
    const v = requestVectors[0]!
    const other = signRequest({
      apiSecret,
      timestamp: v.timestamp,
      method: v.method,
      path: "/accounts?account_owner=00SCXM"
    })
    expect(other).not.toBe(v.signature)
  })

  it("gives the same answer from a bound signer (the client's hot path)", () => {
    const sign = makeSigner(apiSecret)
    for (const v of requestVectors) expect(sign(v.timestamp, v.method, v.path, v.body)).toBe(v.signature)
  })

  it("formats the timestamp in whole seconds", () => {
    expect(Signing.timestampSeconds(1_714_445_421_999)).toBe("1714445421")
  })
})

describe("what the client sends", () => {
  it("signs exactly the bytes it sends: the path with its query, the serialised body, seconds", async () => {
    const fake = scripted([
      { status: 200, body: { message: [], page: 1, total_pages: 1 } },
      { status: 202, body: {} }
    ])
    const client = createClient({
      baseUrl: "https://api.cert.zerohash.com",
      credentials: { apiKey: "key", apiSecret, passphrase: "pass" },
      transport: fake.transport
    })
    await client.getLedgerPage({ account_owner: "00SCXM", account_group: "BBLGTW" })
    await client.addTenant("customer:c761fc96-5c44-40d4-8eb2-3fcd5d06754e", "CUST03")
    for (const call of fake.calls) {
      const url = new URL(call.url)
      const timestamp = call.headers["X-SCX-TIMESTAMP"]!
      expect(timestamp).toMatch(/^\d{10}$/)
      expect(call.headers["X-SCX-SIGNED"]).toBe(
        signRequest({
          apiSecret,
          timestamp,
          method: call.method,
          path: `${url.pathname}${url.search}`,
          body: call.body
        })
      )
      expect(call.headers["X-SCX-API-KEY"]).toBe("key")
      expect(call.headers["X-SCX-PASSPHRASE"]).toBe("pass")
    }
    // The same path and query as vector 1.
    expect(fake.calls[0]!.url).toBe(`https://api.cert.zerohash.com${requestVectors[0]!.path}`)
    expect(fake.calls[0]!.body).toBeUndefined()
    expect(fake.calls[1]!.url).toBe(
      "https://api.cert.zerohash.com/accounts/zrn:zh:us:accounts:customer:c761fc96-5c44-40d4-8eb2-3fcd5d06754e/tenants"
    )
    expect(fake.calls[1]!.body).toBe('{"participant_code":"CUST03"}')
  })

  it("sends a bearer token, and no X-SCX headers, to the proxy", async () => {
    const fake = scripted([{ status: 202, body: {} }])
    const client = createClient({
      baseUrl: "http://proxy.internal",
      credentials: { bearerToken: "caller-token" },
      transport: fake.transport
    })
    await client.lock("customer:c761fc96-5c44-40d4-8eb2-3fcd5d06754e")
    const headers = fake.calls[0]!.headers
    expect(headers.authorization).toBe("Bearer caller-token")
    expect(Object.keys(headers).filter((h) => h.toLowerCase().startsWith("x-scx"))).toEqual([])
  })
})
