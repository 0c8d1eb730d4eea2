import { describe, expect, it } from "@effect/vitest"
import { verifyWebhook, Webhook, WebhookVerificationError } from "@mta/client"
import { Clock, Effect, Either, Redacted, TestClock } from "effect"
import { vectors } from "./vectors.js"

const { secret, vectors: hooks } = vectors.webhook_signing
const hook = hooks[0]!
const sentAt = Number(hook.timestamp)

const headersOf = (overrides: Record<string, string | undefined> = {}): Record<string, string> => {
  const all: Record<string, string | undefined> = {
    "x-zh-hook-payload-type": "customer_account_status_changed",
    "x-zh-hook-notification-id": hook.notification_id,
    "x-zh-hook-timestamp": hook.timestamp,
    "x-zh-hook-signature": hook.signature,
    "x-zh-hook-signature-256": hook.legacy_signature_256,
    ...overrides
  }
  return Object.fromEntries(Object.entries(all).filter((e): e is [string, string] => e[1] !== undefined))
}

const reasonOf = (params: Webhook.VerifyWebhookParams) => {
  const result = Webhook.verifyEither(params)
  return Either.isLeft(result) ? result.left.reason : "ok"
}

describe("verifyWebhook", () => {
  it("accepts the vector and returns the decoded event", () => {
    const event = verifyWebhook({ secret, headers: headersOf(), rawBody: hook.raw_body, now: sentAt + 1_000 })
    expect(event.scheme).toBe("current")
    expect(event.notificationId).toBe(hook.notification_id)
    expect(event.timestamp).toBe(sentAt)
    expect(String(event.payload.zrn)).toBe("zrn:zh:us:accounts:customer:c761fc96-5c44-40d4-8eb2-3fcd5d06754e")
    expect(event.payload.status).toBe("open")
    expect(event.payload.tenants).toEqual(["CUST02"])
  })

  it("verifies raw bytes (a Buffer) and a fetch Headers object", () => {
    const event = verifyWebhook({
      secret: Redacted.make(secret),
      headers: new Headers(headersOf()),
      rawBody: Buffer.from(hook.raw_body, "utf8"),
      now: sentAt
    })
    expect(event.payload.participant_code).toBe("CUST01")
  })

  it("reproduces the vector's signatures", () => {
    expect(Webhook.sign({ secret, rawBody: hook.raw_body, timestamp: hook.timestamp })).toEqual({
      signature: hook.signature,
      legacySignature: hook.legacy_signature_256
    })
  })

  it("accepts the legacy signature alone, and refuses it when legacy is disallowed", () => {
    const headers = headersOf({ "x-zh-hook-signature": undefined })
    const event = verifyWebhook({ secret, headers, rawBody: hook.raw_body, now: sentAt })
    expect(event.scheme).toBe("legacy")
    expect(reasonOf({ secret, headers, rawBody: hook.raw_body, now: sentAt, allowLegacy: false })).toBe(
      "LegacyNotAllowed"
    )
  })

  it("rejects a tampered body, naming the failed check", () => {
    const tampered = hook.raw_body.replace('"status":"open"', '"status":"closed"')
    expect(() => verifyWebhook({ secret, headers: headersOf(), rawBody: tampered, now: sentAt })).toThrow(
      WebhookVerificationError
    )
    expect(reasonOf({ secret, headers: headersOf(), rawBody: tampered, now: sentAt })).toBe(
      "SignatureMismatch"
    )
    // Re-serialising the parsed body changes no field but is not the raw bytes that were signed.
    const reserialised = `${hook.raw_body} `
    expect(reasonOf({ secret, headers: headersOf(), rawBody: reserialised, now: sentAt })).toBe(
      "SignatureMismatch"
    )
  })

  it("rejects the wrong secret", () => {
    expect(
      reasonOf({ secret: "whsec_other", headers: headersOf(), rawBody: hook.raw_body, now: sentAt })
    ).toBe("SignatureMismatch")
  })

  it("does not fall back to a valid legacy signature when the current one is wrong", () => {
    const headers = headersOf({ "x-zh-hook-signature": "0".repeat(64) })
    expect(reasonOf({ secret, headers, rawBody: hook.raw_body, now: sentAt })).toBe("SignatureMismatch")
  })

  it("rejects a timestamp that is not the signed one", () => {
    const headers = headersOf({ "x-zh-hook-timestamp": String(sentAt + 1) })
    expect(reasonOf({ secret, headers, rawBody: hook.raw_body, now: sentAt })).toBe("SignatureMismatch")
  })

  it("accepts any of several secrets during a rotation", () => {
    const event = verifyWebhook({
      secret: ["whsec_new", secret],
      headers: headersOf(),
      rawBody: hook.raw_body,
      now: sentAt
    })
    expect(event.scheme).toBe("current")
  })

  it.each([
    ["exactly 5 minutes old", -300_000, "ok"],
    ["5 minutes and 1 ms old", -300_001, "TimestampTooOld"],
    ["exactly 5 minutes ahead", 300_000, "ok"],
    ["5 minutes and 1 ms ahead", 300_001, "TimestampInFuture"]
  ] as const)("replay window: a webhook %s is %s", (_, offset, expected) => {
    // The webhook was sent at `sentAt`; move "now" so the webhook is `offset` from it.
    expect(reasonOf({ secret, headers: headersOf(), rawBody: hook.raw_body, now: sentAt - offset })).toBe(
      expected
    )
  })

  it("accepts a 10-digit (seconds) timestamp", () => {
    const seconds = String(Math.floor(sentAt / 1000))
    const { signature } = Webhook.sign({ secret, rawBody: hook.raw_body, timestamp: seconds })
    const headers = headersOf({ "x-zh-hook-timestamp": seconds, "x-zh-hook-signature": signature })
    const event = verifyWebhook({ secret, headers, rawBody: hook.raw_body, now: sentAt + 2_000 })
    expect(event.timestamp).toBe(Number(seconds) * 1000)
    expect(reasonOf({ secret, headers, rawBody: hook.raw_body, now: sentAt + 400_000 })).toBe(
      "TimestampTooOld"
    )
  })

  it.each([
    [
      "no signature",
      { "x-zh-hook-signature": undefined, "x-zh-hook-signature-256": undefined },
      "MissingSignature"
    ],
    ["no timestamp", { "x-zh-hook-timestamp": undefined }, "MissingTimestamp"],
    [
      "a timestamp that is not a number",
      { "x-zh-hook-timestamp": "2025-06-15T00:00:00Z" },
      "InvalidTimestamp"
    ],
    ["a signature that is not hex", { "x-zh-hook-signature": "not-hex" }, "SignatureMismatch"],
    ["an unknown payload type", { "x-zh-hook-payload-type": "trade_settled" }, "WrongPayloadType"],
    // The account body under the participant type does not decode as a participant payload.
    [
      "an account body sent as a participant one",
      { "x-zh-hook-payload-type": "participant_status_changed" },
      "InvalidPayload"
    ]
  ] as const)("rejects %s", (_, overrides, expected) => {
    expect(reasonOf({ secret, headers: headersOf(overrides), rawBody: hook.raw_body, now: sentAt })).toBe(
      expected
    )
  })

  it("rejects a correctly signed body that is not a status change payload", () => {
    const rawBody = JSON.stringify({ hello: "world" })
    const { signature } = Webhook.sign({ secret, rawBody, timestamp: hook.timestamp })
    const headers = headersOf({ "x-zh-hook-signature": signature, "x-zh-hook-signature-256": undefined })
    expect(reasonOf({ secret, headers, rawBody, now: sentAt })).toBe("InvalidPayload")
  })

  it("keeps an unknown status and reads `zrn` in place of `urn`", () => {
    const rawBody = JSON.stringify({
      zrn: "zrn:zh:us:accounts:customer:c761fc96-5c44-40d4-8eb2-3fcd5d06754e",
      status: "frozen_by_vendor"
    })
    const { signature } = Webhook.sign({ secret, rawBody, timestamp: hook.timestamp })
    const headers = headersOf({ "x-zh-hook-signature": signature, "x-zh-hook-signature-256": undefined })
    expect(verifyWebhook({ secret, headers, rawBody, now: sentAt }).payload.status).toBe("frozen_by_vendor")
  })

  it("decodes participant_status_changed into the participant side of the union", () => {
    const rawBody = JSON.stringify({
      participant_code: "CUST01",
      participant_status: "rejected",
      timestamp: sentAt,
      reason_code: "id_mismatch",
      reject_reasons: ["id_mismatch"],
      kyc_attempts: 1
    })
    const { signature } = Webhook.sign({ secret, rawBody, timestamp: hook.timestamp })
    const headers = headersOf({
      "x-zh-hook-payload-type": "participant_status_changed",
      "x-zh-hook-signature": signature,
      "x-zh-hook-signature-256": undefined
    })
    const event = verifyWebhook({ secret, headers, rawBody, now: sentAt })
    expect(event.type).toBe("participant_status_changed")
    if (event.type !== "participant_status_changed") throw new Error("narrowing")
    expect(event.payload.participant_status).toBe("rejected")
    expect(event.payload.reject_reasons).toEqual(["id_mismatch"])
    const missing = JSON.stringify({ participant_code: "CUST01" })
    const signed = Webhook.sign({ secret, rawBody: missing, timestamp: hook.timestamp })
    const result = Webhook.verifyEither({
      secret,
      headers: { ...headers, "x-zh-hook-signature": signed.signature },
      rawBody: missing,
      now: sentAt
    })
    expect(Either.isLeft(result) && result.left.message).toMatch(
      /not a participant status change payload: participant_status: is required; timestamp: is required/
    )
  })

  it("never shows the secret in the error", () => {
    const result = Webhook.verifyEither({ secret, headers: headersOf(), rawBody: "{}", now: sentAt })
    expect(Either.isLeft(result)).toBe(true)
    if (Either.isLeft(result)) expect(JSON.stringify(result.left) + String(result.left)).not.toContain(secret)
  })
})

describe("Webhook.verify (Effect API)", () => {
  it.effect("reads now from the Clock, so a TestClock drives the replay window", () =>
    Effect.gen(function* () {
      yield* TestClock.setTime(sentAt + 60_000)
      const event = yield* Webhook.verify({ secret, headers: headersOf(), rawBody: hook.raw_body })
      expect(event.timestamp).toBe(sentAt)
      yield* TestClock.adjust("5 minutes")
      expect(yield* Clock.currentTimeMillis).toBe(sentAt + 360_000)
      const error = yield* Effect.flip(
        Webhook.verify({ secret, headers: headersOf(), rawBody: hook.raw_body })
      )
      expect(error).toBeInstanceOf(WebhookVerificationError)
      expect(error.reason).toBe("TimestampTooOld")
    })
  )
})
