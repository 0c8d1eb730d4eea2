/**
 * The one place where errors become HTTP responses.
 *
 * Domain errors (`ZrnParseError`, `CompositionError`, `TransitionRejected`, ...) and the client's
 * errors carry no HTTP status; the proxy's own errors are declared here. `toResponse` answers each
 * from its row of the failure table (`Failures.ts`): a status, a body in the upstream's shape for that
 * status (upstream-api.md, "Error bodies") and two more fields on every body: `code` (a stable,
 * machine-readable name) and `request_id`. Anything else is a 500 whose body says nothing about the
 * cause.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"
import { answerOf, rowOf } from "./Failures.js"

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

/**
 * The final answer of a create whose outcome stayed unknown past `MTA_IDEMPOTENCY_PENDING_MAX_MS`
 * (production.md §5): it landed but no webhook named its account (`landed`: 502), or zerohash answered
 * none of its re-sends (`unanswered`: 504). The message says which, and what the caller can do.
 */
export class CreateUnresolved extends Schema.TaggedError<CreateUnresolved>()("CreateUnresolved", {
  message: Schema.String,
  reason: Schema.Literal("landed", "unanswered")
}) {}

/** The proxy's own errors. */
export type ProxyError =
  | Unauthorized
  | Forbidden
  | InvalidRequest
  | RouteNotFound
  | MethodNotAllowed
  | RateLimitExceeded
  | PayloadTooLarge
  | WebhookRejected
  | IdempotencyConflict
  | IdempotencyKeyReused
  | NotReady
  | CreateUnresolved

/** An HTTP answer: what `toResponse` gives. */
export interface ErrorResponse {
  readonly status: number
  readonly headers: Readonly<Record<string, string>>
  readonly body: Record<string, unknown>
}

/** Maps any error to the proxy's HTTP answer; the body carries `code` and `request_id`. */
export const toResponse = (error: unknown, requestId: string): ErrorResponse => {
  const r = answerOf(error)
  return { status: r.status, headers: r.headers, body: { ...r.body, request_id: requestId } }
}

/** Whether an error is one `toResponse` knows (anything else is logged as a bug). */
export const isExpected = (error: unknown): boolean => rowOf(error) !== undefined
