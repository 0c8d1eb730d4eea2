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

/**
 * A rolling-window budget counted as the vendor counts: a request counts from the moment it may arrive
 * at the upstream. A slot is taken at admission and held, counted as "now" for as long as the call is
 * in flight, and ends at the moment its answer came (`release`): the upstream received it no later.
 * So a call admitted in one window that arrives in the next is still counted there, and the count at
 * the upstream never exceeds `requests` in any window (`production.md` §6).
 *
 * The ring holds the last `requests` slots in order of admission; a new one is admitted when the
 * oldest has ended at least a window ago (an in-flight slot has not ended: `+Infinity`). Slots taken
 * since then may have ended earlier, so this is conservative, never over.
 */
export interface HeldLimiter {
  /** How many ms until a slot could be taken at `now`; 0 when one can. */
  readonly wait: (now: number) => number
  /** Takes a slot (after `wait(now)` said 0); `release(at)` when the call's answer came. */
  readonly take: () => (at: number) => void
}

/** When the oldest slot is still in flight, the wait to report (its end is not known yet). */
const IN_FLIGHT_WAIT_MS = 1_000

export const heldLimiter = (requests: number, windowMs: number): HeldLimiter => {
  const ring = new Float64Array(Math.max(requests, 1)).fill(Number.NEGATIVE_INFINITY)
  let next = 0
  return {
    wait: (now) => {
      if (requests === 0) return windowMs
      const oldest = ring[next]!
      if (oldest === Number.POSITIVE_INFINITY) return IN_FLIGHT_WAIT_MS
      return Math.max(0, oldest + windowMs - now)
    },
    take: () => {
      const slot = next
      ring[slot] = Number.POSITIVE_INFINITY
      next = next + 1 === requests ? 0 : next + 1
      // The slot cannot be taken again while in flight (`wait` refuses it), so it is still this call's.
      return (at) => {
        if (ring[slot] === Number.POSITIVE_INFINITY) ring[slot] = at
      }
    }
  }
}

/** Why an upstream call was not admitted, and for how long. */
export interface EgressRefusal {
  readonly waitMs: number
  /**
   * `budget`: the vendor's budget is spent; `share`: this caller's share of it is; `unavailable`: the
   * shared budget's database does not answer (`sharedBudget.ts`: fail closed, 503).
   */
  readonly reason: "budget" | "share" | "unavailable"
  /** The caller's share, in requests per window (for the message). */
  readonly share: number
}

/**
 * The vendor's budget, shared by every caller, with a share per caller (`production.md` §6): a caller
 * may hold at most `ceil(requests × share)` of the budget's slots in any window, so one runaway loop
 * cannot block another team's lock. `shareOf(caller)` is the caller's fraction (0, 1].
 */
export interface Egress {
  /**
   * A slot for one upstream call of `caller` (its `release`), or why not. The shared budget
   * (`sharedBudget.ts`) answers later when it must first lease slots from the database.
   */
  readonly admit: (
    caller: string,
    share: number,
    now: number
  ) => EgressSlot | EgressRefusal | Promise<EgressSlot | EgressRefusal>
}

/** A taken slot: call it with the moment the call's answer came. */
export type EgressSlot = (at: number) => void

export const egress = (requests: number, windowMs: number): Egress => {
  const budget = heldLimiter(requests, windowMs)
  const shares = new Map<string, { readonly size: number; readonly limiter: HeldLimiter }>()
  const shareLimiter = (caller: string, share: number) => {
    const size = Math.max(1, Math.ceil(requests * share))
    if (size >= requests) return undefined
    let entry = shares.get(caller)
    if (entry === undefined || entry.size !== size) {
      entry = { size, limiter: heldLimiter(size, windowMs) }
      shares.set(caller, entry)
    }
    return entry
  }
  return {
    admit: (caller, share, now) => {
      const own = shareLimiter(caller, share)
      const shareWait = own === undefined ? 0 : own.limiter.wait(now)
      if (shareWait > 0) return { waitMs: shareWait, reason: "share", share: own!.size }
      const budgetWait = budget.wait(now)
      if (budgetWait > 0) return { waitMs: budgetWait, reason: "budget", share: own?.size ?? requests }
      const releaseBudget = budget.take()
      const releaseShare = own?.limiter.take()
      return (at) => {
        releaseBudget(at)
        releaseShare?.(at)
      }
    }
  }
}
