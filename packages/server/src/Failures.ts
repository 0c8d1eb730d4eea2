/**
 * The failure table: one row for every error the proxy can meet (its own, `Errors.ts`; the client's,
 * `ClientError`; the domain's), saying what the proxy answers and whether the upstream call was
 * carried out. `Errors.toResponse` answers from it and the idempotency middleware decides a claimed
 * key from it; nothing else classifies errors.
 *
 * The table is typed over the union of the errors' `_tag`s, so an error without a row (a new
 * `ClientError` variant, say) does not compile. An error with no row at run time (anything that is
 * not one of these classes: a bug) is a 500 `internal_error` whose body says nothing about the cause.
 *
 * @since 0.1.0
 */
import type { ClientError, OutcomeUnknown } from "@mta/client"
import type { Composition, Lifecycle, Zrn } from "@mta/domain"
import type { ProxyError, WebhookRejected } from "./Errors.js"

/** The domain's errors that reach the proxy's answers (`MemberChangeError` is never raised by it). */
export type DomainError = Zrn.ZrnParseError | Composition.CompositionError | Lifecycle.TransitionRejected

/** Every error the proxy can meet. */
export type AnyError = ProxyError | ClientError | DomainError

/** The `_tag` of every error the proxy can meet. */
export type Tag = AnyError["_tag"]

/**
 * Whether the upstream call was carried out when this error is answered: `no` (refused before it was
 * sent, or by the upstream without effect: a retry may run it), `yes` (the upstream answered for good:
 * the answer is final) or `unknown` (it may have been applied).
 */
export type CarriedOut = "no" | "yes" | "unknown"

/** An error body, in the upstream's shape for its status (upstream-api.md, "Error bodies"). */
export type Body =
  /** 400, 409, 413, 422: every problem. */
  | { readonly errors: ReadonlyArray<string> }
  /** 401, 403. */
  | { readonly error: true; readonly message: string }
  /** 404, 405, 429, 5xx: the reason phrase, and a message when there is one. */
  | { readonly error: string; readonly message?: string }

/** What the proxy answers for one kind of error `E`, and what it knows about the upstream call. */
export interface Row<E> {
  readonly status: number | ((e: E) => number)
  /** The body's `code`: a stable, machine-readable name. */
  readonly code: string | ((e: E) => string)
  /** The body without `code` and `request_id`. */
  readonly body: (e: E) => Body
  readonly headers?: (e: E) => Readonly<Record<string, string>>
  readonly carriedOut: CarriedOut
}

/** One row per `_tag`: a missing row does not compile. */
export type Table = { readonly [T in Tag]: Row<Extract<AnyError, { readonly _tag: T }>> }

const retryAfter = (ms: number): Record<string, string> => ({
  "retry-after": String(Math.max(1, Math.ceil(ms / 1000)))
})

/** The error's messages, or its one `message` when it has none. */
const listOf = (e: { readonly message: string; readonly messages: ReadonlyArray<string> }) =>
  e.messages.length > 0 ? e.messages : [e.message]

/** The upstream's first message, or the error's own. */
const firstOf = (e: { readonly message: string; readonly messages: ReadonlyArray<string> }) =>
  e.messages[0] ?? e.message

const phrase = (status: number): string =>
  status === 500 ? "Internal Server Error" : status === 504 ? "Gateway Timeout" : "Bad Gateway"

/** A webhook refused for its form (400), not its signature or freshness (401). */
const isMalformed = (e: WebhookRejected): boolean =>
  e.reason === "InvalidPayload" || e.reason === "InvalidNotificationId"

const outcomeUnknownStatus = (e: OutcomeUnknown): number =>
  e.reason === "Timeout" ? 504 : e.status !== undefined && e.status >= 500 ? e.status : 502

const UNKNOWN_OUTCOME =
  "the upstream outcome of this mutation is unknown: read the account before repeating it"

/** The failure table: every error the proxy can meet, by `_tag`. */
export const table: Table = {
  // The proxy's own: refused before anything went upstream (or, for the webhook route and the
  // idempotency middleware's refusals, instead of it).
  Unauthorized: {
    status: 401,
    code: "unauthorized",
    headers: () => ({ "www-authenticate": 'Bearer realm="mta"' }),
    body: (e) => ({ error: true, message: e.message }),
    carriedOut: "no"
  },
  Forbidden: {
    status: 403,
    code: "forbidden",
    body: (e) => ({ error: true, message: e.message }),
    carriedOut: "no"
  },
  InvalidRequest: {
    status: 400,
    code: (e) => e.code ?? "invalid_request",
    body: (e) => ({ errors: listOf(e) }),
    carriedOut: "no"
  },
  RouteNotFound: {
    status: 404,
    code: "not_found",
    body: (e) => ({ error: "Not Found", message: e.message }),
    carriedOut: "no"
  },
  MethodNotAllowed: {
    status: 405,
    code: "method_not_allowed",
    headers: (e) => ({ allow: e.allow.join(", ") }),
    body: (e) => ({ error: "Method Not Allowed", message: e.message }),
    carriedOut: "no"
  },
  RateLimitExceeded: {
    status: 429,
    code: (e) => (e.limit === "upstream" ? "upstream_rate_limited" : "rate_limited"),
    headers: (e) => retryAfter(e.retryAfterMs),
    body: (e) => ({ error: "Too Many Requests", message: e.message }),
    carriedOut: "no"
  },
  PayloadTooLarge: {
    status: 413,
    code: "payload_too_large",
    body: (e) => ({ errors: [e.message] }),
    carriedOut: "no"
  },
  // A 400 has the upstream's 400 shape, a 401 its 401 shape. (Webhooks call nothing upstream.)
  WebhookRejected: {
    status: (e) => (isMalformed(e) ? 400 : 401),
    code: "webhook_rejected",
    body: (e) => (isMalformed(e) ? { errors: [e.message] } : { error: true, message: e.message }),
    carriedOut: "no"
  },
  IdempotencyConflict: {
    status: 409,
    code: (e) => (e.reason === "outcome_pending" ? "idempotency_outcome_pending" : "idempotency_in_flight"),
    headers: () => ({ "retry-after": "1" }),
    body: (e) => ({ errors: [e.message] }),
    carriedOut: "no"
  },
  IdempotencyKeyReused: {
    status: 422,
    code: "idempotency_mismatch",
    body: (e) => ({ errors: [e.message] }),
    carriedOut: "no"
  },
  // Draining, or the store failed before the call. (When it fails after the call, the key cannot be
  // resolved either: its message says the call may have been carried out.)
  NotReady: {
    status: 503,
    code: "not_ready",
    headers: () => ({ "retry-after": "1" }),
    body: (e) => ({ error: "Service Unavailable", message: e.message }),
    carriedOut: "no"
  },

  // The final answer of a create pending too long (idempotency.ts): its cause is in the message.
  CreateUnresolved: {
    status: (e) => (e.reason === "landed" ? 502 : 504),
    code: (e) => (e.reason === "landed" ? "create_account_unreported" : "create_outcome_unresolved"),
    body: (e) => ({ error: e.reason === "landed" ? "Bad Gateway" : "Gateway Timeout", message: e.message }),
    carriedOut: "unknown"
  },

  // The domain's: refused before anything goes upstream, in the shape upstream would answer.
  ZrnParseError: {
    status: 400,
    code: "invalid_zrn",
    body: (e) => ({ errors: [e.message] }),
    carriedOut: "no"
  },
  CompositionError: {
    status: 400,
    code: "invalid_composition",
    body: (e) => ({ errors: e.problems.map((p) => p.message) }),
    carriedOut: "no"
  },
  TransitionRejected: {
    status: 400,
    code: "transition_rejected",
    body: (e) => ({ errors: [e.message] }),
    carriedOut: "no"
  },

  // The client's: upstream answers passed through in the upstream's shapes.
  ValidationError: {
    status: 400,
    code: "upstream_validation_failed",
    body: (e) => ({ errors: listOf(e) }),
    carriedOut: "yes"
  },
  AuthenticationError: {
    status: 403,
    code: "upstream_forbidden",
    body: (e) => ({ error: true, message: firstOf(e) }),
    carriedOut: "no"
  },
  PermissionDenied: {
    status: 403,
    code: "upstream_forbidden",
    body: (e) => ({ error: true, message: firstOf(e) }),
    carriedOut: "no"
  },
  // The documented 404 shape, with the upstream's own words (e.g. "customer account not found").
  NotFound: {
    status: 404,
    code: "upstream_not_found",
    body: (e) =>
      e.messages.length > 0 ? { error: "Not Found", message: e.messages.join("; ") } : { error: "Not Found" },
    carriedOut: "yes"
  },
  Conflict: {
    status: 409,
    code: "upstream_conflict",
    body: (e) => ({ errors: listOf(e) }),
    carriedOut: "yes"
  },
  IdempotencyMismatch: {
    status: 422,
    code: "idempotency_mismatch",
    body: (e) => ({ errors: listOf(e) }),
    carriedOut: "yes"
  },
  RateLimited: {
    status: 429,
    code: "upstream_rate_limited",
    headers: (e) => retryAfter(e.retryAfterMs),
    body: () => ({ error: "Too Many Requests" }),
    carriedOut: "no"
  },
  Unavailable: {
    status: 503,
    code: "upstream_unavailable",
    headers: (e): Record<string, string> => (e.retryAllowed ? { "zh-allow-retry": "true" } : {}),
    body: () => ({ error: "Service Unavailable" }),
    carriedOut: "no"
  },
  // A 5xx the client does not take for an unknown outcome (a read's, or a mutation's 501, 505, ...).
  ServerError: {
    status: (e) => (e.status !== undefined && e.status >= 500 && e.status <= 599 ? e.status : 502),
    code: "upstream_error",
    body: () => ({ error: "Internal Server Error" }),
    carriedOut: "unknown"
  },
  Timeout: {
    status: 504,
    code: "upstream_timeout",
    body: () => ({ error: "Gateway Timeout" }),
    carriedOut: "unknown"
  },
  // For a mutation the client answers `NetworkError` only when the connection was never made
  // (refused, no route, no such host); anything that may have been sent is `OutcomeUnknown`.
  NetworkError: {
    status: 502,
    code: "upstream_unreachable",
    body: () => ({ error: "Bad Gateway" }),
    carriedOut: "no"
  },
  OutcomeUnknown: {
    status: outcomeUnknownStatus,
    code: "upstream_outcome_unknown",
    body: (e) => ({ error: phrase(outcomeUnknownStatus(e)), message: UNKNOWN_OUTCOME }),
    carriedOut: "unknown"
  },
  DecodeError: {
    status: 502,
    code: "upstream_bad_response",
    body: () => ({ error: "Bad Gateway" }),
    carriedOut: "unknown"
  },
  InvalidInput: {
    status: 400,
    code: "invalid_request",
    body: (e) => ({ errors: listOf(e) }),
    carriedOut: "no"
  }
}

/** The row of an error the table knows (by its `_tag`), or `undefined` for anything else (a bug). */
export const rowOf = (error: unknown): Row<AnyError> | undefined => {
  if (!(error instanceof Error)) return undefined
  const tag = (error as { readonly _tag?: unknown })._tag
  return typeof tag === "string" && Object.hasOwn(table, tag)
    ? (table[tag as Tag] as unknown as Row<AnyError>)
    : undefined
}

/** An HTTP answer without `request_id`. */
export interface Answer {
  readonly status: number
  readonly headers: Readonly<Record<string, string>>
  readonly body: Body & { readonly code: string }
}

const INTERNAL: Answer = {
  status: 500,
  headers: {},
  body: { error: "Internal Server Error", code: "internal_error" }
}

/** The answer to an error: its row's, or a 500 `internal_error` that says nothing about the cause. */
export const answerOf = (error: unknown): Answer => {
  const row = rowOf(error)
  if (row === undefined) return INTERNAL
  const e = error as AnyError
  return {
    status: typeof row.status === "number" ? row.status : row.status(e),
    headers: row.headers?.(e) ?? {},
    body: { ...row.body(e), code: typeof row.code === "string" ? row.code : row.code(e) }
  }
}

/** Whether the upstream call was carried out, for an error the table knows. */
export const carriedOutOf = (error: unknown): CarriedOut | undefined => rowOf(error)?.carriedOut
