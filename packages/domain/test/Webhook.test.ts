import { Api, Webhook, Zrn } from "@mta/domain"
import { Arbitrary, Either, FastCheck as fc, Schema } from "effect"
import { describe, expect, it } from "vitest"

const UUID = "c761fc96-5c44-40d4-8eb2-3fcd5d06754e"
const CANONICAL = `zrn:zh:us:accounts:customer:${UUID}`

// The payload of the webhook guide (its closing curly quote after the urn fixed to a straight one).
const guide = {
  urn: `urn:zh:us:accounts:customer:${UUID}`,
  participant_code: "CUST01",
  prefunded: true,
  account_label: "U12345678",
  tier: "pro",
  account_group: "IBKR01",
  type: "jtic",
  tenants: ["CUST02"],
  financial_advisors: ["ADVSR1"],
  status: "open"
}

const decode = Schema.decodeUnknownSync(Webhook.StatusChangedPayload)
const encode = Schema.encodeSync(Webhook.StatusChangedPayload)

const problems = (input: unknown): Array<string> => {
  const r = Schema.decodeUnknownEither(Webhook.StatusChangedPayload)(input)
  if (Either.isRight(r)) throw new Error("expected a refusal")
  return Api.formatErrors(r.left)
}

describe("Webhook constants", () => {
  it("names the headers and the payload type as the vendor sends them", () => {
    expect(Webhook.headers).toEqual({
      payloadType: "x-zh-hook-payload-type",
      notificationId: "x-zh-hook-notification-id",
      timestamp: "x-zh-hook-timestamp",
      signature: "x-zh-hook-signature",
      signature256: "x-zh-hook-signature-256"
    })
    expect(Webhook.payloadType).toBe("customer_account_status_changed")
    expect(Schema.is(Webhook.PayloadType)("customer_account_status_changed")).toBe(true)
    expect(Schema.is(Webhook.PayloadType)("participant_status_changed")).toBe(false)
  })
})

describe("StatusChangedPayload", () => {
  it("reads the guide's payload: urn decoded to a canonical zrn", () => {
    const event = decode(guide)
    expect(event.zrn).toEqual(Zrn.unsafeParse(CANONICAL))
    expect(event.status).toBe("open")
    expect(event.tenants).toEqual(["CUST02"])
  })

  it("encodes urn (the documented key) with the canonical ZRN", () => {
    expect(encode(decode(guide))).toEqual({ ...guide, urn: CANONICAL })
  })

  it("reads zrn in place of urn", () => {
    const { urn: _, ...rest } = guide
    expect(decode({ ...rest, zrn: CANONICAL }).zrn.toString()).toBe(CANONICAL)
  })

  it("reads withdraw_locked, which the guide's list omits", () => {
    expect(decode({ ...guide, status: "withdraw_locked" }).status).toBe("withdraw_locked")
  })

  it("keeps an unknown status rather than failing, for the receiver to narrow", () => {
    const event = decode({ ...guide, status: "suspended" })
    expect(event.status).toBe("suspended")
    expect(Api.isKnownStatus(event.status)).toBe(false)
  })

  it("keeps an unknown tier rather than failing (the vendor: tiers depend on the platform)", () => {
    const event = decode({ ...guide, tier: "platinum" })
    expect(event.tier).toBe("platinum")
    expect(Api.isKnownTier(event.tier!)).toBe(false)
  })

  it("ignores extra keys and reads null fields as absent", () => {
    const event = decode({ ...guide, account_group: null, sequence: 7 })
    expect(event).not.toHaveProperty("account_group")
    expect(event).not.toHaveProperty("sequence")
  })

  it("needs an identifier and a status", () => {
    const { urn: _, status: __, ...rest } = guide
    expect(problems(rest)).toEqual(["urn: is required (as urn or zrn)", "status: is required"])
    expect(problems({ ...guide, urn: "c761fc96" })).toEqual([
      'urn: invalid ZRN "c761fc96": id "c761fc96" is not a UUID (expected 8-4-4-4-12 hexadecimal digits)'
    ])
  })

  it("round-trips every payload, through JSON text too (property)", () => {
    fc.assert(
      fc.property(Arbitrary.make(Webhook.StatusChangedPayload), (event) => {
        const json = JSON.parse(JSON.stringify(encode(event)))
        expect(json).toHaveProperty("urn")
        expect(decode(json)).toEqual(event)
      }),
      { numRuns: 300 }
    )
  })
})
