/**
 * Verifying zerohash webhooks before anything trusts them: `customer_account_status_changed` and
 * `participant_status_changed` (`participants.md`), one tagged union on `type`.
 *
 * Checks, in order, each failing with a `WebhookVerificationError` whose `reason` names it:
 * a signature header is present; the timestamp is present and numeric (13-digit milliseconds or
 * 10-digit seconds); the signature matches the raw bytes (current scheme
 * `hex(HMAC-SHA256(secret, raw_body + timestamp))`, or, only when the current header is absent, the
 * legacy `hex(HMAC-SHA256(secret, raw_body))`); the timestamp is within ±5 minutes of now; the payload
 * type is one of the two (absent reads as `customer_account_status_changed`, as the first guides sent
 * it); the body decodes with that type's Schema from the domain.
 *
 * The signature is checked before the clock, so a forger learns nothing about the time window, and
 * always over the raw bytes received (a re-serialised body would not match). Comparisons are
 * constant-time. When the current signature is present but wrong, the legacy one is not consulted:
 * falling back would let an attacker strip the stronger signature.
 *
 * @since 0.1.0
 */
import { createHmac, timingSafeEqual } from "node:crypto"
import { Api, Webhook as DomainWebhook, Limits, Participants } from "@mta/domain"
import { Clock, Effect, Either, Redacted, Schema } from "effect"

/** The webhook's header names (re-exported from the domain). */
export const headers = DomainWebhook.headers

/** How far a webhook's timestamp may be from now: 5 minutes. */
export const DEFAULT_TOLERANCE_MS = 5 * 60 * 1000

/** A header collection: a fetch `Headers`, or Node's `IncomingHttpHeaders`-like record. */
export type HeadersInput =
  | { get(name: string): string | null }
  | Readonly<Record<string, string | ReadonlyArray<string> | undefined>>

/** Inputs of a verification. */
export interface VerifyWebhookParams {
  /** The webhook secret (several during a rotation: any one may match). */
  readonly secret: string | Redacted.Redacted<string> | ReadonlyArray<string | Redacted.Redacted<string>>
  readonly headers: HeadersInput
  /** The body exactly as received, before any parsing. */
  readonly rawBody: string | Uint8Array
  /** Now, in epoch milliseconds. Default: the clock (`Date.now()`; the Effect `Clock` in `verify`). */
  readonly now?: number | undefined
  /** The replay window either side of now, in milliseconds. Default 5 minutes. */
  readonly toleranceMs?: number | undefined
  /** Accept a request signed only with the legacy scheme. Default `true` (the vendor still sends it). */
  readonly allowLegacy?: boolean | undefined
}

/** Which check a webhook failed. */
export const WebhookFailure = Schema.Literal(
  "MissingSignature",
  "MissingTimestamp",
  "InvalidTimestamp",
  "SignatureMismatch",
  "LegacyNotAllowed",
  "TimestampTooOld",
  "TimestampInFuture",
  "WrongPayloadType",
  "InvalidPayload"
)
/** Which check a webhook failed. */
export type WebhookFailure = typeof WebhookFailure.Type

/** A webhook that must not be trusted; `reason` names the failed check. */
export class WebhookVerificationError extends Schema.TaggedError<WebhookVerificationError>()(
  "WebhookVerificationError",
  {
    reason: WebhookFailure,
    message: Schema.String,
    /** The notification id header, when present (for logs; it is not authenticated). */
    notificationId: Schema.optional(Schema.String)
  }
) {}

/** What every verified webhook carries. */
interface VerifiedHeaders {
  /** The `x-zh-hook-notification-id` header: the dedupe key (absent if the sender omitted it). */
  readonly notificationId: string | undefined
  /** When the sender made the request, in epoch milliseconds; order events by it. */
  readonly timestamp: number
  /** Which signature was verified. */
  readonly scheme: "current" | "legacy"
}

/** A verified `customer_account_status_changed`. */
export interface AccountWebhookEvent extends VerifiedHeaders {
  readonly type: DomainWebhook.PayloadType
  readonly payload: DomainWebhook.StatusChangedPayload
}

/** A verified `participant_status_changed`. */
export interface ParticipantWebhookEvent extends VerifiedHeaders {
  readonly type: typeof Participants.payloadType
  readonly payload: Participants.StatusChangedPayload
}

/** A verified webhook: narrow on `type`. */
export type WebhookEvent = AccountWebhookEvent | ParticipantWebhookEvent

/** The payload types this version decodes. */
export const payloadTypes = [DomainWebhook.payloadType, Participants.payloadType] as const

const HEX_SHA256 = /^[0-9a-fA-F]{64}$/
const DIGITS = /^[0-9]{1,16}$/
// Below this a timestamp is read as seconds: 10^11 ms is 1973, 10^11 s is the year 5138.
const SECONDS_BELOW = 100_000_000_000

const headerOf = (input: HeadersInput, name: string): string | undefined => {
  if (typeof (input as { get?: unknown }).get === "function") {
    return (input as { get(name: string): string | null }).get(name) ?? undefined
  }
  const record = input as Readonly<Record<string, string | ReadonlyArray<string> | undefined>>
  let value = record[name]
  if (value === undefined) {
    for (const key of Object.keys(record)) {
      if (key.toLowerCase() === name) {
        value = record[key]
        break
      }
    }
  }
  return typeof value === "string" ? value : value?.[0]
}

const secretsOf = (secret: VerifyWebhookParams["secret"]): ReadonlyArray<string> =>
  (Array.isArray(secret)
    ? (secret as ReadonlyArray<string | Redacted.Redacted<string>>)
    : [secret as string]
  ).map((s) => (Redacted.isRedacted(s) ? Redacted.value(s) : s))

const hmac = (secret: string, rawBody: string | Uint8Array, suffix: string | undefined): Buffer => {
  const h = createHmac("sha256", secret).update(rawBody)
  if (suffix !== undefined) h.update(suffix)
  return h.digest()
}

const matches = (
  secrets: ReadonlyArray<string>,
  rawBody: string | Uint8Array,
  suffix: string | undefined,
  given: string
): boolean => {
  if (!HEX_SHA256.test(given)) return false
  const givenBytes = Buffer.from(given, "hex")
  let ok = false
  // Every secret is tried (no early exit), so the time taken does not say which one matched.
  for (const secret of secrets) ok = timingSafeEqual(hmac(secret, rawBody, suffix), givenBytes) || ok
  return ok
}

const decoders = {
  [DomainWebhook.payloadType]: Schema.decodeUnknownEither(DomainWebhook.StatusChangedPayload, {
    errors: "all"
  }),
  [Participants.payloadType]: Schema.decodeUnknownEither(Participants.StatusChangedPayload, { errors: "all" })
} as const

/**
 * The payload from the body text: JSON, nested at most `Limits.defaults.maxDepth` levels (checked
 * iteratively first: a deeper value could overflow the stack of the Schema's error formatting), then
 * the payload Schema; a refusal is the domain's `path: message` lines. Strings and arrays are not held
 * to the request limits: the vendor's payload is bounded by the body limit of whoever receives it.
 */
const decodePayload = (type: (typeof payloadTypes)[number], text: string): Either.Either<unknown, string> => {
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    return Either.left("the body is not valid JSON")
  }
  const problem = Limits.checkJson(json, {
    stringMaxLength: Number.POSITIVE_INFINITY,
    arrayMaxItems: Number.POSITIVE_INFINITY
  })
  // Valid Unicode and U+0000 are for the receiver to judge (it knows what it can store).
  if (problem?.includes("nested at most") === true) return Either.left(problem)
  return Either.mapLeft(decoders[type](json) as Either.Either<unknown, never>, (error) =>
    Api.formatErrors(error).join("; ")
  )
}

const fail = (reason: WebhookFailure, message: string, notificationId: string | undefined) =>
  Either.left(
    new WebhookVerificationError({
      reason,
      message: `webhook rejected (${reason}): ${message}`,
      ...(notificationId === undefined ? {} : { notificationId })
    })
  )

/** Verifies a webhook; the event, or the error naming the failed check. Never throws. */
export const verifyEither = (
  params: VerifyWebhookParams
): Either.Either<WebhookEvent, WebhookVerificationError> => {
  const notificationId = headerOf(params.headers, headers.notificationId)
  const signature = headerOf(params.headers, headers.signature)?.trim()
  const legacy = headerOf(params.headers, headers.signature256)?.trim()
  if (signature === undefined && legacy === undefined) {
    return fail(
      "MissingSignature",
      `no ${headers.signature} (or legacy ${headers.signature256}) header`,
      notificationId
    )
  }
  const timestampText = headerOf(params.headers, headers.timestamp)?.trim()
  if (timestampText === undefined || timestampText === "") {
    return fail("MissingTimestamp", `no ${headers.timestamp} header`, notificationId)
  }
  if (!DIGITS.test(timestampText)) {
    return fail(
      "InvalidTimestamp",
      `${headers.timestamp} must be Unix time in milliseconds (or seconds), got ${JSON.stringify(timestampText.slice(0, 20))}`,
      notificationId
    )
  }
  const secrets = secretsOf(params.secret)
  let scheme: WebhookEvent["scheme"]
  if (signature !== undefined) {
    if (!matches(secrets, params.rawBody, timestampText, signature)) {
      return fail(
        "SignatureMismatch",
        `${headers.signature} does not match the body and timestamp`,
        notificationId
      )
    }
    scheme = "current"
  } else {
    if (params.allowLegacy === false) {
      return fail("LegacyNotAllowed", `only the legacy ${headers.signature256} was sent`, notificationId)
    }
    if (!matches(secrets, params.rawBody, undefined, legacy!)) {
      return fail("SignatureMismatch", `${headers.signature256} does not match the body`, notificationId)
    }
    scheme = "legacy"
  }
  const raw = Number(timestampText)
  const timestamp = raw < SECONDS_BELOW ? raw * 1000 : raw
  const now = params.now ?? Date.now()
  const tolerance = params.toleranceMs ?? DEFAULT_TOLERANCE_MS
  if (timestamp < now - tolerance) {
    return fail(
      "TimestampTooOld",
      `sent ${now - timestamp} ms ago, more than ${tolerance} ms (a replay?)`,
      notificationId
    )
  }
  if (timestamp > now + tolerance) {
    return fail(
      "TimestampInFuture",
      `dated ${timestamp - now} ms ahead, more than ${tolerance} ms`,
      notificationId
    )
  }
  const sent = headerOf(params.headers, headers.payloadType)?.trim()
  const type = sent === undefined ? DomainWebhook.payloadType : payloadTypes.find((t) => t === sent)
  if (type === undefined) {
    return fail(
      "WrongPayloadType",
      `${headers.payloadType} is ${JSON.stringify(sent!.slice(0, 60))}, expected ${payloadTypes.join(" or ")}`,
      notificationId
    )
  }
  const text =
    typeof params.rawBody === "string" ? params.rawBody : Buffer.from(params.rawBody).toString("utf8")
  const payload = decodePayload(type, text)
  if (Either.isLeft(payload)) {
    const what =
      type === DomainWebhook.payloadType ? "a status change payload" : "a participant status change payload"
    return fail("InvalidPayload", `the body is not ${what}: ${payload.left}`, notificationId)
  }
  return Either.right({ type, notificationId, timestamp, scheme, payload: payload.right } as WebhookEvent)
}

/** Verifies a webhook in the Effect API; `now` defaults to the Effect `Clock` (a `TestClock` in tests). */
export const verify = (params: VerifyWebhookParams): Effect.Effect<WebhookEvent, WebhookVerificationError> =>
  params.now !== undefined
    ? Effect.suspend(() => verifyEither(params))
    : Effect.flatMap(Clock.currentTimeMillis, (now) => verifyEither({ ...params, now }))

/** Verifies a webhook and returns the event; throws a `WebhookVerificationError` naming the failed check. */
export const verifyWebhook = (params: VerifyWebhookParams): WebhookEvent => {
  const result = verifyEither(params)
  if (Either.isLeft(result)) throw result.left
  return result.right
}

/** The signature headers a sender computes (for tests of a webhook receiver, and for re-signing). */
export const sign = (params: {
  readonly secret: string | Redacted.Redacted<string>
  readonly rawBody: string | Uint8Array
  readonly timestamp: number | string
}): { readonly signature: string; readonly legacySignature: string } => {
  const secret = Redacted.isRedacted(params.secret) ? Redacted.value(params.secret) : params.secret
  return {
    signature: hmac(secret, params.rawBody, String(params.timestamp)).toString("hex"),
    legacySignature: hmac(secret, params.rawBody, undefined).toString("hex")
  }
}
