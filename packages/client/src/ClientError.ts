/**
 * The client's errors, one class per cause. Every error carries the HTTP status (when a response
 * arrived), the upstream's own messages, the request id sent as `X-Request-Id`, and the client
 * method that failed. They are values in the Effect API and thrown by the Promise API; each is an
 * `Error` subclass, so `err instanceof NotFound` works. An error that came from a response carries it
 * as `response` (status, headers, request id: `ResponseInfo`), a non-enumerable property.
 *
 * Which response becomes which error is decided in one place (`internal/errors.ts`). No error holds a
 * header, a credential or a request body, so printing one never leaks a secret.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"
import type { ResponseInfo } from "./ResponseInfo.js"

const common = {
  message: Schema.String,
  /** The HTTP status, when a response arrived. */
  status: Schema.optional(Schema.Number),
  /** The upstream's messages (`errors[]`, `message` or `error` of the body). */
  messages: Schema.Array(Schema.String),
  /** The `X-Request-Id` of the logical call (the same on every retry). */
  requestId: Schema.String,
  /** The client method that failed, e.g. `lock`. */
  operation: Schema.String,
  /** The `code` field of a proxy error body, when present. */
  code: Schema.optional(Schema.String)
}

/** 400: the request broke a validation or business rule; `messages` lists each one. */
export class ValidationError extends Schema.TaggedError<ValidationError>()("ValidationError", common) {
  /** The response this error came from (non-enumerable; `undefined` when none arrived). */
  declare readonly response?: ResponseInfo
}

/** 401: the credentials were missing or not accepted (the proxy's bearer check). */
export class AuthenticationError extends Schema.TaggedError<AuthenticationError>()(
  "AuthenticationError",
  common
) {
  /** The response this error came from (non-enumerable; `undefined` when none arrived). */
  declare readonly response?: ResponseInfo
}

/**
 * 403: refused. zerohash answers 403 for every authentication failure too (missing key, bad
 * signature, stale timestamp) and for a disabled feature; `messages` says which.
 */
export class PermissionDenied extends Schema.TaggedError<PermissionDenied>()("PermissionDenied", common) {
  /** The response this error came from (non-enumerable; `undefined` when none arrived). */
  declare readonly response?: ResponseInfo
}

/** 404: no such account (or path). */
export class NotFound extends Schema.TaggedError<NotFound>()("NotFound", common) {
  /** The response this error came from (non-enumerable; `undefined` when none arrived). */
  declare readonly response?: ResponseInfo
}

/** 409: a duplicate (account label, tenant, advisor) or, at the proxy, the same idempotency key in flight. */
export class Conflict extends Schema.TaggedError<Conflict>()("Conflict", common) {
  /** The response this error came from (non-enumerable; `undefined` when none arrived). */
  declare readonly response?: ResponseInfo
}

/** 422 from the proxy: the idempotency key was used before with a different request. */
export class IdempotencyMismatch extends Schema.TaggedError<IdempotencyMismatch>()(
  "IdempotencyMismatch",
  common
) {
  /** The response this error came from (non-enumerable; `undefined` when none arrived). */
  declare readonly response?: ResponseInfo
}

/** 429: over the rate limit. `retryAfterMs` is how long the lock-out lasts. */
export class RateLimited extends Schema.TaggedError<RateLimited>()("RateLimited", {
  ...common,
  retryAfterMs: Schema.Number
}) {
  /** The response this error came from (non-enumerable; `undefined` when none arrived). */
  declare readonly response?: ResponseInfo
}

/** 503: the service is unavailable; `retryAllowed` reflects `zh-allow-retry: true`. */
export class Unavailable extends Schema.TaggedError<Unavailable>()("Unavailable", {
  ...common,
  retryAllowed: Schema.Boolean
}) {
  /** The response this error came from (non-enumerable; `undefined` when none arrived). */
  declare readonly response?: ResponseInfo
}

/** Another 5xx, for a call whose outcome is known (a read, or a status that is not ambiguous). */
export class ServerError extends Schema.TaggedError<ServerError>()("ServerError", common) {
  /** The response this error came from (non-enumerable; `undefined` when none arrived). */
  declare readonly response?: ResponseInfo
}

/** No answer in time: an attempt of a read, the call's total deadline, or `waitForStatus`. */
export class Timeout extends Schema.TaggedError<Timeout>()("Timeout", {
  ...common,
  timeoutMs: Schema.Number
}) {
  /** The response this error came from (non-enumerable; `undefined` when none arrived). */
  declare readonly response?: ResponseInfo
}

/** The request could not be sent or no response came back (for a read, or a request never sent). */
export class NetworkError extends Schema.TaggedError<NetworkError>()("NetworkError", {
  ...common,
  detail: Schema.String
}) {
  /** The response this error came from (non-enumerable; `undefined` when none arrived). */
  declare readonly response?: ResponseInfo
}

/** What left a mutation's outcome unknown. */
export const OutcomeUnknownReason = Schema.Literal("ServerError", "Timeout", "ConnectionLost")
/** What left a mutation's outcome unknown. */
export type OutcomeUnknownReason = typeof OutcomeUnknownReason.Type

/**
 * A mutation was sent and then met a 500, 502, 504, a timeout or a dropped connection: it may or may
 * not have been applied. It is never retried blindly; the message says how to find out.
 */
export class OutcomeUnknown extends Schema.TaggedError<OutcomeUnknown>()("OutcomeUnknown", {
  ...common,
  reason: OutcomeUnknownReason,
  /** The `Idempotency-Key` sent, if any: repeating the call with it at the proxy is safe. */
  idempotencyKey: Schema.optional(Schema.String)
}) {
  /** The response this error came from (non-enumerable; `undefined` when none arrived). */
  declare readonly response?: ResponseInfo
}

/** Why a response could not be used. */
export const DecodeErrorReason = Schema.Literal("InvalidJson", "SchemaMismatch", "UnexpectedStatus")
/** Why a response could not be used. */
export type DecodeErrorReason = typeof DecodeErrorReason.Type

/** The response was not one the API documents: not JSON, not the expected shape, or a stray status. */
export class DecodeError extends Schema.TaggedError<DecodeError>()("DecodeError", {
  ...common,
  reason: DecodeErrorReason,
  detail: Schema.String
}) {
  /** The response this error came from (non-enumerable; `undefined` when none arrived). */
  declare readonly response?: ResponseInfo
}

/** An argument was rejected before anything was sent (e.g. a ZRN in no accepted form). */
export class InvalidInput extends Schema.TaggedError<InvalidInput>()("InvalidInput", {
  ...common,
  /** The argument at fault, e.g. `zrn` or `body`. */
  field: Schema.String
}) {
  /** The response this error came from (non-enumerable; `undefined` when none arrived). */
  declare readonly response?: ResponseInfo
}

/** Every error a client method can fail with. */
export type ClientError =
  | ValidationError
  | AuthenticationError
  | PermissionDenied
  | NotFound
  | Conflict
  | IdempotencyMismatch
  | RateLimited
  | Unavailable
  | ServerError
  | Timeout
  | NetworkError
  | OutcomeUnknown
  | DecodeError
  | InvalidInput

/** The `_tag` of every `ClientError`. */
export const clientErrorTags: ReadonlyArray<ClientError["_tag"]> = [
  "ValidationError",
  "AuthenticationError",
  "PermissionDenied",
  "NotFound",
  "Conflict",
  "IdempotencyMismatch",
  "RateLimited",
  "Unavailable",
  "ServerError",
  "Timeout",
  "NetworkError",
  "OutcomeUnknown",
  "DecodeError",
  "InvalidInput"
]

const tagSet: ReadonlySet<string> = new Set(clientErrorTags)

/** Whether a value is one of the client's errors (for a `catch` block in the Promise API). */
export const isClientError = (u: unknown): u is ClientError => {
  const tag = u instanceof Error ? (u as unknown as { readonly _tag?: unknown })._tag : undefined
  return typeof tag === "string" && tagSet.has(tag)
}
