/**
 * The vendor's rate limit: at most `limit` requests per rolling window per source; the request that
 * goes over it starts a lock-out during which every request is refused (and not counted).
 */

export interface RateLimitConfig {
  /** Requests allowed per rolling window. */
  readonly limit: number
  readonly windowMs: number
  /** How long everything is refused once the limit is crossed. */
  readonly lockoutMs: number
}

interface Bucket {
  // Ring buffer of the last `limit` request times: the window is full when the oldest is recent.
  readonly times: Float64Array
  next: number
  count: number
  lockedUntil: number
}

export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>()

  constructor(private readonly config: RateLimitConfig | undefined) {}

  /** Counts a request; `false` when it must be refused with 429. */
  admit(source: string, now: number): boolean {
    const config = this.config
    if (config === undefined) return true
    let bucket = this.buckets.get(source)
    if (bucket === undefined) {
      bucket = { times: new Float64Array(config.limit), next: 0, count: 0, lockedUntil: 0 }
      this.buckets.set(source, bucket)
    }
    if (now < bucket.lockedUntil) return false
    if (bucket.count === config.limit) {
      const oldest = bucket.times[bucket.next]!
      if (now - oldest < config.windowMs) {
        bucket.lockedUntil = now + config.lockoutMs
        return false
      }
    } else {
      bucket.count++
    }
    bucket.times[bucket.next] = now
    bucket.next = (bucket.next + 1) % config.limit
    return true
  }

  /** Forgets every count and lock-out. */
  reset(): void {
    this.buckets.clear()
  }
}
