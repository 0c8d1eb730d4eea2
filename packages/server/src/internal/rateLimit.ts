/**
 * Rolling-window rate limits: at most `requests` in any window of `windowMs`.
 *
 * A ring of the last `requests` admission times: a request is admitted when the oldest of them is
 * at least a window old. O(1) per request and exact (a rolling window, as the vendor counts), at the
 * cost of one number per admitted request of budget.
 */
export interface RollingLimiter {
  /** Admits one request at `now` (0), or says how many ms until one would be admitted. */
  readonly acquire: (now: number) => number
}

export const rollingLimiter = (requests: number, windowMs: number): RollingLimiter => {
  const ring = new Float64Array(requests).fill(Number.NEGATIVE_INFINITY)
  let next = 0
  return {
    acquire: (now) => {
      if (requests === 0) return windowMs
      const oldest = ring[next]!
      const wait = oldest + windowMs - now
      if (wait > 0) return wait
      ring[next] = now
      next = next + 1 === requests ? 0 : next + 1
      return 0
    }
  }
}

/** One rolling limiter per key (caller name), made on first use. */
export const keyedLimiter = (requests: number, windowMs: number) => {
  const limiters = new Map<string, RollingLimiter>()
  return (key: string, now: number): number => {
    let limiter = limiters.get(key)
    if (limiter === undefined) {
      limiter = rollingLimiter(requests, windowMs)
      limiters.set(key, limiter)
    }
    return limiter.acquire(now)
  }
}
