import { createHmac } from "node:crypto"
import { describe, expect, it } from "vitest"
import { Signing } from "../src/index.js"
import { loadVectors, vectorsUrl } from "./vectors.js"

const vectors = loadVectors()
if (vectors === undefined) console.warn(`Signing vectors skipped: ${vectorsUrl.pathname} is absent`)
// The skipped suites below are still collected: without the file they read no cases instead of throwing.
const { request_signing, webhook_signing } = vectors ?? {
  request_signing: { api_secret_base64: "", vectors: [] },
  webhook_signing: { secret: "", vectors: [] }
}

describe.skipIf(vectors === undefined)("request signatures (vectors.json)", () => {
  const { api_secret_base64: secret, vectors: cases } = request_signing

  it.each(cases.map((v) => [`${v.method} ${v.path}`, v] as const))("signs %s as the vendor does", (_, v) => {
    expect(Signing.signRequest(secret, v)).toBe(v.signature)
    expect(Signing.verifyRequest(secret, v, v.signature)).toBe(true)
  })

  it("keys the HMAC with the decoded secret, not its text", () => {
    const v = cases[0]!
    const withText = createHmac("sha256", secret).update(Signing.signedMessage(v)).digest("base64")
    expect(withText).toBe("7KN/E0TcSVDKVyy7PSnU9UQ766tSAqcXR4TJ1XyslsA=")
    expect(Signing.verifyRequest(secret, v, withText)).toBe(false)
  })

  it("signs {} for a request without a body", () => {
    const v = cases[0]!
    expect(Signing.signRequest(secret, { ...v, body: undefined })).toBe(v.signature)
    expect(Signing.signRequest(secret, { ...v, body: "" })).toBe(v.signature)
  })

  it("rejects a signature over other bytes, a truncated one and garbage", () => {
    const v = cases[2]!
    expect(Signing.verifyRequest(secret, { ...v, body: `${v.body} ` }, v.signature)).toBe(false)
    expect(Signing.verifyRequest(secret, v, v.signature.slice(0, 20))).toBe(false)
    expect(Signing.verifyRequest(secret, v, "not base64 at all!")).toBe(false)
  })
})

describe.skipIf(vectors === undefined)("webhook signatures (vectors.json)", () => {
  const { secret, vectors: cases } = webhook_signing

  it.each(cases.map((v) => [v.notification_id, v] as const))(
    "signs notification %s as the vendor does",
    (_, v) => {
      expect(Signing.signWebhook(secret, v.raw_body, v.timestamp)).toBe(v.signature)
      expect(Signing.signWebhookLegacy(secret, v.raw_body)).toBe(v.legacy_signature_256)
      expect(
        Signing.hexEquals(Signing.signWebhook(secret, v.raw_body, Number(v.timestamp)), v.signature)
      ).toBe(true)
    }
  )

  it("changes with the timestamp, the body and the secret", () => {
    const v = cases[0]!
    expect(Signing.signWebhook(secret, v.raw_body, "1750000000001")).not.toBe(v.signature)
    expect(Signing.signWebhook(secret, `${v.raw_body}\n`, v.timestamp)).not.toBe(v.signature)
    expect(Signing.signWebhook(`${secret}x`, v.raw_body, v.timestamp)).not.toBe(v.signature)
  })
})

describe("signedHeaders", () => {
  it("produces the four X-SCX headers, with a signature the verifier accepts", () => {
    const credentials = { apiKey: "k", apiSecret: Buffer.from("secret").toString("base64"), passphrase: "p" }
    const h = Signing.signedHeaders(credentials, {
      method: "post",
      path: "/accounts/x/lock",
      body: "{}",
      timestamp: 1700000000
    })
    expect(Object.keys(h).sort()).toEqual([
      "X-SCX-API-KEY",
      "X-SCX-PASSPHRASE",
      "X-SCX-SIGNED",
      "X-SCX-TIMESTAMP"
    ])
    expect(h["X-SCX-TIMESTAMP"]).toBe("1700000000")
    expect(
      Signing.verifyRequest(
        credentials.apiSecret,
        { timestamp: 1700000000, method: "POST", path: "/accounts/x/lock", body: "{}" },
        h["X-SCX-SIGNED"]!
      )
    ).toBe(true)
  })
})
