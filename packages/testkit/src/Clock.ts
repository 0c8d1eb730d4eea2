/**
 * The clock the simulator runs on: the signature window, the asynchronous steps, webhook retries,
 * latency faults and the rate limiter all read it, so a test that controls it controls all of them.
 *
 * @since 0.1.0
 */

/** What the simulator needs of a clock. */
export interface Clock {
  /** Epoch milliseconds. */
  now(): number
  setTimeout(callback: () => void, ms: number): unknown
  clearTimeout(handle: unknown): void
}

/**
 * The real clock. Each call goes through `globalThis` at call time, so `vi.useFakeTimers()` applies
 * even when it is installed after the simulator was created.
 */
export const system: Clock = {
  now: () => Date.now(),
  setTimeout: (callback, ms) => globalThis.setTimeout(callback, ms),
  clearTimeout: (handle) => globalThis.clearTimeout(handle as ReturnType<typeof globalThis.setTimeout>)
}

/** A clock that only moves when told to; for tests that want time without timers. */
export interface ManualClock extends Clock {
  /** Moves time forward, firing every timer that falls due, in order. */
  advance(ms: number): void
  /** Sets the time (never backwards past pending timers' order). */
  set(epochMs: number): void
}

/** A manual clock starting at `epochMs` (default: now). */
export const manual = (epochMs: number = Date.now()): ManualClock => {
  let now = epochMs
  let seq = 0
  const timers = new Map<number, { at: number; callback: () => void }>()
  const fireDue = () => {
    for (;;) {
      let next: [number, { at: number; callback: () => void }] | undefined
      for (const entry of timers) {
        if (entry[1].at <= now && (next === undefined || entry[1].at < next[1].at)) next = entry
      }
      if (next === undefined) return
      timers.delete(next[0])
      next[1].callback()
    }
  }
  return {
    now: () => now,
    setTimeout: (callback, ms) => {
      const id = ++seq
      timers.set(id, { at: now + Math.max(0, ms), callback })
      return id
    },
    clearTimeout: (handle) => {
      timers.delete(handle as number)
    },
    advance: (ms) => {
      const target = now + ms
      // Step through due times so callbacks see the time they were due at.
      for (;;) {
        let at = Number.POSITIVE_INFINITY
        for (const t of timers.values()) if (t.at < at) at = t.at
        if (at > target) break
        now = Math.max(now, at)
        fireDue()
      }
      now = target
    },
    set: (epochMs) => {
      now = epochMs
      fireDue()
    }
  }
}
