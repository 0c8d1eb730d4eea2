/**
 * The `customer_account_status_changed` webhook: its header names, its payload type and the payload
 * Schema. Signing and verification are not here (the domain is pure); they live in the client and the
 * testkit, over the raw bytes, before this Schema sees the parsed body.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"
import { AccountTypeOrUnknown, CustomerZrn, StatusOrUnknown, TierOrUnknown } from "./Api.js"
import { required, tolerantObject } from "./internal/wire.js"

/** Names of the webhook's headers (lower case, as HTTP/2 and `Headers` give them). */
export const headers = {
  /** The payload type, `customer_account_status_changed` for this payload. */
  payloadType: "x-zh-hook-payload-type",
  /** Unique per notification: the dedupe key. */
  notificationId: "x-zh-hook-notification-id",
  /** Unix time in milliseconds when the request was made (10-digit seconds are accepted too). */
  timestamp: "x-zh-hook-timestamp",
  /** `hex(HMAC-SHA256(secret, raw_body + timestamp))`. */
  signature: "x-zh-hook-signature",
  /** Legacy `hex(HMAC-SHA256(secret, raw_body))`, sent in parallel during a migration period. */
  signature256: "x-zh-hook-signature-256"
} as const

/** The value of `x-zh-hook-payload-type` for a customer account status change. */
export const payloadType = "customer_account_status_changed" as const

/** The payload type literal. */
export const PayloadType = Schema.Literal(payloadType).annotations({ identifier: "PayloadType" })
/** The payload type literal. */
export type PayloadType = typeof PayloadType.Type

const opt = <S extends Schema.Schema.AnyNoContext>(schema: S) => Schema.optionalWith(schema, { exact: true })

const Fields = Schema.Struct({
  zrn: Schema.propertySignature(CustomerZrn)
    .annotations({ missingMessage: required("as urn or zrn") })
    .pipe(Schema.fromKey("urn")),
  status: Schema.propertySignature(StatusOrUnknown).annotations({ missingMessage: required() }),
  participant_code: opt(Schema.String),
  prefunded: opt(Schema.Boolean),
  account_label: opt(Schema.String),
  account_group: opt(Schema.String),
  tier: opt(TierOrUnknown),
  type: opt(AccountTypeOrUnknown),
  tenants: opt(Schema.Array(Schema.String)),
  financial_advisors: opt(Schema.Array(Schema.String))
})

/**
 * Payload of `customer_account_status_changed`. The account's ZRN is read from `urn` (what the vendor
 * documents) or `zrn`, decoded as `zrn`, and encoded as `urn` with the canonical value. An unknown
 * `status` or `tier` is kept (`Api.isKnownStatus`, `Api.isKnownTier` narrow them); extra keys are
 * ignored.
 */
export const StatusChangedPayload = tolerantObject(Fields, {
  what: "a webhook payload object",
  alias: ["zrn", "urn"]
}).annotations({
  identifier: "StatusChangedPayload"
})
/** Payload of `customer_account_status_changed`. */
export type StatusChangedPayload = typeof StatusChangedPayload.Type
