/**
 * The retry rules of `upstream-api.md`, as one pure function: given a failed attempt, retry after how
 * long, or not at all.
 *
 * - A read (GET) is retried on transient failures: 429, 500, 502, 503, 504, a timeout, a network error.
 * - Any method is retried on a 503 carrying `zh-allow-retry: true`, on a 429 (after the lock-out),
 *   and when the connection was refused (the request never left the machine).
 * - A mutation met by a 500, 502, 504, a timeout or a dropped connection is never retried: the error
 *   mapping has already made it an `OutcomeUnknown`, which is not retryable.
 *
 * Through the proxy with an `Idempotency-Key` (bearer mode; `delayFor`'s `idempotent`), a retry is
 * safe whatever happened: the proxy answers a stored outcome, or runs a call that was not carried out.
 * So there an `OutcomeUnknown` is retried too, and the proxy's 409 `idempotency_in_flight` /
 * `idempotency_outcome_pending` ("not yet") are waited out (`pollDelay`): after its `Retry-After`,
 * within the call's deadline, without using up a retry. Against zerohash (signed mode) none of this
 * applies.
 *
 * Waits are exponential with full jitter (a uniform draw in `[0, min(cap, base * 2^n)]`), as AWS and
 * stripe-node do, so many clients failing together do not retry together. A 429 waits at least its
 * lock-out.
 *
 * @since 0.1.0
 */
import type { ClientError } from "./ClientError.js"
import { isMutation } from "./internal/errors.js"

/** How a client retries. */
export interface RetryPolicy {
  /** Retries after the first attempt; 0 disables retrying. */
  readonly maxRetries: number
  /** The first backoff step, in milliseconds. */
  readonly baseDelayMs: number
  /** The largest backoff step, in milliseconds (a 429 lock-out may be longer). */
  readonly maxDelayMs: number
  /** Draw each wait uniformly below its step (`true`, the default) or wait the whole step. */
  readonly jitter: boolean
}

/** Two retries, 500 ms doubling up to 8 s, with full jitter. */
export const defaultPolicy: RetryPolicy = {
  maxRetries: 2,
  baseDelayMs: 500,
  maxDelayMs: 8_000,
  jitter: true
}

const TRANSIENT_READ_STATUSES: ReadonlySet<number> = new Set([500, 502, 503, 504])

/** Whether the rules allow another attempt after this error (ignoring the count and the deadline). */
export const isRetryable = (error: ClientError, method: string): boolean => {
  switch (error._tag) {
    case "RateLimited":
      return true
    case "Unavailable":
      return error.retryAllowed || !isMutation(method)
    case "ServerError":
      return !isMutation(method) && error.status !== undefined && TRANSIENT_READ_STATUSES.has(error.status)
    case "Timeout":
    case "NetworkError":
      // A mutation only gets these when nothing was sent (otherwise it is an OutcomeUnknown).
      return true
    default:
      return false
  }
}

/** The proxy's 409 `code`s that mean "the first call with this key is still running": ask again. */
export const IDEMPOTENCY_WAIT_CODES: ReadonlySet<string> = new Set([
  "idempotency_in_flight",
  "idempotency_outcome_pending"
])

/** Whether an error is the proxy's "same key still in flight / outcome pending" 409. */
export const isIdempotencyWait = (error: ClientError): boolean =>
  error._tag === "Conflict" && error.code !== undefined && IDEMPOTENCY_WAIT_CODES.has(error.code)

/** What else decides a retry: whether the call is idempotent through the proxy (a bearer call with a key). */
export interface RetryContext {
  /** A call through the proxy with an `Idempotency-Key`: an `OutcomeUnknown` may be retried. */
  readonly idempotent?: boolean | undefined
}

/** The backoff step before retry number `retry` (0 for the first retry), before jitter. */
export const backoffStep = (policy: RetryPolicy, retry: number): number =>
  Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** retry)

/**
 * How long to wait before retry number `retry` (0-based) after `error`, or `undefined` when the call
 * must fail now. `random` is a uniform draw in `[0, 1)`.
 */
export const delayFor = (
  policy: RetryPolicy,
  error: ClientError,
  method: string,
  retry: number,
  random: number,
  context: RetryContext = {}
): number | undefined => {
  if (retry >= policy.maxRetries) return undefined
  const idempotentRetry = context.idempotent === true && error._tag === "OutcomeUnknown"
  if (!idempotentRetry && !isRetryable(error, method)) return undefined
  const step = backoffStep(policy, retry)
  const wait = policy.jitter ? Math.floor(random * (step + 1)) : step
  return error._tag === "RateLimited" ? Math.max(error.retryAfterMs, wait) : wait
}

/**
 * How long to wait before asking the proxy again after its 409 `idempotency_in_flight` /
 * `idempotency_outcome_pending` (poll number `poll`, 0-based): its `Retry-After` (`retryAfterMs`; at
 * least half the base delay, so `Retry-After: 0` cannot make a busy loop), else the backoff step (drawn
 * in its upper half with jitter); `undefined` when the policy allows no retries at all. These waits do
 * not count as retries: the call's deadline bounds them.
 */
export const pollDelay = (
  policy: RetryPolicy,
  poll: number,
  random: number,
  retryAfterMs: number | undefined
): number | undefined => {
  if (policy.maxRetries === 0) return undefined
  if (retryAfterMs !== undefined) return Math.max(retryAfterMs, Math.ceil(policy.baseDelayMs / 2))
  const step = backoffStep(policy, poll)
  return policy.jitter ? Math.floor(step / 2 + (random * (step + 1)) / 2) : step
}
