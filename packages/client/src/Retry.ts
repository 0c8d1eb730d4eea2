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
  random: number
): number | undefined => {
  if (retry >= policy.maxRetries || !isRetryable(error, method)) return undefined
  const step = backoffStep(policy, retry)
  const wait = policy.jitter ? Math.floor(random * (step + 1)) : step
  return error._tag === "RateLimited" ? Math.max(error.retryAfterMs, wait) : wait
}
