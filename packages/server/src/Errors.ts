/**
 * The one place where errors become HTTP responses.
 *
 * Domain errors (`ZrnParseError`, `CompositionError`, `TransitionRejected`, ...) and the client's
 * errors carry no HTTP status; the proxy's own errors are declared here. `toResponse` maps every
 * error tag to a status, a body in the upstream's shape for that status (upstream-api.md, "Error
 * bodies") and two more fields on every body: `code` (a stable, machine-readable name) and
 * `request_id`. Anything unrecognised is a 500 whose body says nothing about the cause.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"

/** 401: no bearer token, or one no caller holds. */
export class Unauthorized extends Schema.TaggedError<Unauthorized>()("Unauthorized", {
  message: Schema.String
}) {}

/** 403: the caller is known but lacks the scope the route requires. */
export class Forbidden extends Schema.TaggedError<Forbidden>()("Forbidden", {
  message: Schema.String,
  scope: Schema.String
}) {}

/** 400: the request is malformed (body, query, path); `messages` lists every problem. */
export class InvalidRequest extends Schema.TaggedError<InvalidRequest>()("InvalidRequest", {
  messages: Schema.Array(Schema.String),
  /** Overrides the code `invalid_request`, e.g. `invalid_zrn`. */
  code: Schema.optional(Schema.String)
}) {}

/** 404: no such route, or nothing known for the resource. */
export class RouteNotFound extends Schema.TaggedError<RouteNotFound>()("RouteNotFound", {
  message: Schema.String
}) {}

/** 405: the path is an endpoint, the method is not one of its. */
export class MethodNotAllowed extends Schema.TaggedError<MethodNotAllowed>()("MethodNotAllowed", {
  message: Schema.String,
  allow: Schema.Array(Schema.String)
}) {}

/** 429: over a budget: the caller's own (`caller`) or the vendor's, shared by all (`upstream`). */
export class RateLimitExceeded extends Schema.TaggedError<RateLimitExceeded>()("RateLimitExceeded", {
  message: Schema.String,
  retryAfterMs: Schema.Number,
  limit: Schema.Literal("caller", "upstream")
}) {}

/** 413: the request body is over the route's limit (`production.md` §1); the connection is closed. */
export class PayloadTooLarge extends Schema.TaggedError<PayloadTooLarge>()("PayloadTooLarge", {
  message: Schema.String,
  maxBytes: Schema.Number
}) {}

/** A webhook notification that failed verification or decoding. */
export class WebhookRejected extends Schema.TaggedError<WebhookRejected>()("WebhookRejected", {
  message: Schema.String,
  reason: Schema.String
}) {}

/**
 * 409: the `Idempotency-Key` is busy: its first request is still in flight (`in_flight`), or it was a
 * create whose outcome is unknown and no webhook has named the account yet (`outcome_pending`).
 * Retry later with the same key.
 */
export class IdempotencyConflict extends Schema.TaggedError<IdempotencyConflict>()("IdempotencyConflict", {
  message: Schema.String,
  reason: Schema.Literal("in_flight", "outcome_pending")
}) {}

/** 422: the `Idempotency-Key` was used before, by this caller, for a different request. */
export class IdempotencyKeyReused extends Schema.TaggedError<IdempotencyKeyReused>()("IdempotencyKeyReused", {
  message: Schema.String
}) {}

/** 503: the proxy is shutting down or a dependency is not ready. */
export class NotReady extends Schema.TaggedError<NotReady>()("NotReady", { message: Schema.String }) {}

/** An HTTP answer: what `toResponse` gives. */
export interface ErrorResponse {
  readonly status: number
  readonly headers: Readonly<Record<string, string>>
  readonly body: Record<string, unknown>
}

interface Tagged {
  readonly _tag: string
  readonly message?: string
  readonly status?: number
  readonly messages?: ReadonlyArray<string>
  readonly retryAfterMs?: number
  readonly retryAllowed?: boolean
  readonly reason?: string
  readonly problems?: ReadonlyArray<{ readonly message: string }>
  readonly code?: string
  readonly scope?: string
  readonly limit?: string
  readonly allow?: ReadonlyArray<string>
}

const isTagged = (u: unknown): u is Tagged =>
  typeof u === "object" && u !== null && typeof (u as { _tag?: unknown })._tag === "string"

const retryAfter = (ms: number): Record<string, string> => ({
  "retry-after": String(Math.max(1, Math.ceil(ms / 1000)))
})

const first = (messages: ReadonlyArray<string> | undefined, fallback: string): string =>
  messages !== undefined && messages.length > 0 ? messages[0]! : fallback

const listOf = (e: Tagged): ReadonlyArray<string> =>
  e.messages !== undefined && e.messages.length > 0 ? e.messages : [e.message ?? "invalid request"]

/** The shape-only part of the mapping (status, headers, body without `request_id`). */
const map = (error: unknown): ErrorResponse => {
  if (!isTagged(error)) return internal()
  const e = error
  switch (e._tag) {
    // The proxy's own.
    case "Unauthorized":
      return {
        status: 401,
        headers: { "www-authenticate": 'Bearer realm="mta"' },
        body: { error: true, message: e.message, code: "unauthorized" }
      }
    case "Forbidden":
      return { status: 403, headers: {}, body: { error: true, message: e.message, code: "forbidden" } }
    case "InvalidRequest":
      return { status: 400, headers: {}, body: { errors: listOf(e), code: e.code ?? "invalid_request" } }
    case "RouteNotFound":
      return { status: 404, headers: {}, body: { error: "Not Found", message: e.message, code: "not_found" } }
    case "MethodNotAllowed":
      return {
        status: 405,
        headers: { allow: (e.allow ?? []).join(", ") },
        body: { error: "Method Not Allowed", message: e.message, code: "method_not_allowed" }
      }
    case "RateLimitExceeded":
      return {
        status: 429,
        headers: retryAfter(e.retryAfterMs ?? 1000),
        body: {
          error: "Too Many Requests",
          message: e.message,
          code: e.limit === "upstream" ? "upstream_rate_limited" : "rate_limited"
        }
      }
    case "PayloadTooLarge":
      return { status: 413, headers: {}, body: { errors: [e.message], code: "payload_too_large" } }
    case "WebhookRejected":
      // A 400 has the upstream's 400 shape (`{"errors": [...]}`), a 401 its 401 shape.
      return e.reason === "InvalidPayload" || e.reason === "InvalidNotificationId"
        ? { status: 400, headers: {}, body: { errors: [e.message], code: "webhook_rejected" } }
        : { status: 401, headers: {}, body: { error: true, message: e.message, code: "webhook_rejected" } }
    case "IdempotencyConflict":
      return {
        status: 409,
        headers: { "retry-after": "1" },
        body: {
          errors: [e.message ?? "idempotency key in use"],
          code: e.reason === "outcome_pending" ? "idempotency_outcome_pending" : "idempotency_in_flight"
        }
      }
    case "IdempotencyKeyReused":
      return {
        status: 422,
        headers: {},
        body: { errors: [e.message ?? "idempotency key reused"], code: "idempotency_mismatch" }
      }
    case "NotReady":
      return {
        status: 503,
        headers: { "retry-after": "1" },
        body: { error: "Service Unavailable", message: e.message, code: "not_ready" }
      }

    // The domain's: refused before anything goes upstream, in the shape upstream would answer.
    case "ZrnParseError":
      return { status: 400, headers: {}, body: { errors: [e.message ?? "invalid ZRN"], code: "invalid_zrn" } }
    case "CompositionError":
      return {
        status: 400,
        headers: {},
        body: {
          errors:
            e.problems !== undefined
              ? e.problems.map((p) => p.message)
              : [e.message ?? "invalid composition"],
          code: "invalid_composition"
        }
      }
    case "TransitionRejected":
      return {
        status: 400,
        headers: {},
        body: { errors: [e.message ?? "transition rejected"], code: "transition_rejected" }
      }

    // The client's: upstream answers passed through in the upstream shapes.
    case "ValidationError":
      return { status: 400, headers: {}, body: { errors: listOf(e), code: "upstream_validation_failed" } }
    case "AuthenticationError":
    case "PermissionDenied":
      return {
        status: 403,
        headers: {},
        body: {
          error: true,
          message: first(e.messages, e.message ?? "forbidden"),
          code: "upstream_forbidden"
        }
      }
    case "NotFound":
      return {
        status: 404,
        headers: {},
        // The documented 404 shape, with the upstream's own words (e.g. "customer account not found").
        body: {
          error: "Not Found",
          ...(e.messages !== undefined && e.messages.length > 0 ? { message: e.messages.join("; ") } : {}),
          code: "upstream_not_found"
        }
      }
    case "Conflict":
      return { status: 409, headers: {}, body: { errors: listOf(e), code: "upstream_conflict" } }
    case "IdempotencyMismatch":
      return { status: 422, headers: {}, body: { errors: listOf(e), code: "idempotency_mismatch" } }
    case "RateLimited":
      return {
        status: 429,
        headers: retryAfter(e.retryAfterMs ?? 10_000),
        body: { error: "Too Many Requests", code: "upstream_rate_limited" }
      }
    case "Unavailable":
      return {
        status: 503,
        headers: e.retryAllowed === true ? { "zh-allow-retry": "true" } : {},
        body: { error: "Service Unavailable", code: "upstream_unavailable" }
      }
    case "ServerError":
      return {
        status: e.status !== undefined && e.status >= 500 && e.status <= 599 ? e.status : 502,
        headers: {},
        body: { error: "Internal Server Error", code: "upstream_error" }
      }
    case "Timeout":
      return { status: 504, headers: {}, body: { error: "Gateway Timeout", code: "upstream_timeout" } }
    case "NetworkError":
      return { status: 502, headers: {}, body: { error: "Bad Gateway", code: "upstream_unreachable" } }
    case "OutcomeUnknown": {
      const status = e.reason === "Timeout" ? 504 : e.status !== undefined && e.status >= 500 ? e.status : 502
      return {
        status,
        headers: {},
        body: {
          error:
            status === 500 ? "Internal Server Error" : status === 504 ? "Gateway Timeout" : "Bad Gateway",
          message: "the upstream outcome of this mutation is unknown: read the account before repeating it",
          code: "upstream_outcome_unknown"
        }
      }
    }
    case "DecodeError":
      return { status: 502, headers: {}, body: { error: "Bad Gateway", code: "upstream_bad_response" } }
    case "InvalidInput":
      return { status: 400, headers: {}, body: { errors: listOf(e), code: "invalid_request" } }
    default:
      return internal()
  }
}

const internal = (): ErrorResponse => ({
  status: 500,
  headers: {},
  body: { error: "Internal Server Error", code: "internal_error" }
})

/** Maps any error to the proxy's HTTP answer; the body carries `code` and `request_id`. */
export const toResponse = (error: unknown, requestId: string): ErrorResponse => {
  const r = map(error)
  return { status: r.status, headers: r.headers, body: { ...r.body, request_id: requestId } }
}

/** Whether an error is one `toResponse` knows (anything else is logged as a bug). */
export const isExpected = (error: unknown): boolean => map(error).body.code !== "internal_error"
