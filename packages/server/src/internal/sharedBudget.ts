/**
 * The vendor's budget shared by every replica on one PostgreSQL (`production.md` §6): the total of
 * upstream calls of all replicas in any rolling window stays within `ZH_RATE_LIMIT`.
 *
 * Each replica leases blocks of slots (grants) from the database (`mta_budget_lease`, migration 6),
 * one caller's at a time, and spends them locally: an upstream call takes a slot with no round trip.
 * When a caller's slots run low the next block is asked for in the background, so callers do not wait
 * for it (only the first call of a caller, or one after its slots ran out, waits for one round trip):
 * "low" is half a block, or what the caller spends in four times the slowest recent round trip (a
 * peak that halves every 10 s) when it is busier; then it asks for twice that, up to a twentieth of
 * the budget. Near the limit the database grants smaller
 * blocks, down to 1.
 *
 * A grant counts in every window its calls may have reached the upstream in: from its grant until
 * the last answer of its calls. The database holds its end open (`hold`: the lease plus the longest
 * a call may take) until the replica reports the grant finished (with the next lease, or by the
 * sweep): then only the slots used count, until the last answer. A grant's unused slots are given
 * back when its lease (`leaseMs`) ends; a replica that dies holds its grants until `hold` and a window
 * pass.
 *
 * The per-caller share is global (**Decision**): a caller's grants, on every replica, stay within
 * `ceil(limit × share)` per window. When PostgreSQL does not answer, calls that need a new block are
 * refused (`unavailable`: 503), fail closed (**Decision**); slots already leased are still spent.
 */
import type { Egress, EgressRefusal } from "./rateLimit.js"

/** One finished grant, reported with a lease: the slots used, and ms since the last answer. */
export interface Finished {
  readonly id: number
  readonly used: number
  readonly ago: number
}

/** One round trip to the budget's table (`mta_budget_lease`). */
export interface LeaseRequest {
  readonly caller: string
  /** Slots wanted; 0 only reports `finish`. */
  readonly want: number
  readonly limit: number
  /** The caller's share of `limit`, in slots. */
  readonly cap: number
  readonly windowMs: number
  /** How long the grant is held at most when it is not reported finished (a dead replica). */
  readonly holdMs: number
  readonly finish: ReadonlyArray<Finished>
}

export interface LeaseAnswer {
  readonly id: number | null
  readonly granted: number
  /** When nothing was granted: ms until a counted grant leaves the window. */
  readonly wait: number
  readonly reason: "budget" | "share" | null
}

export type Lease = (request: LeaseRequest) => Promise<LeaseAnswer>

export interface SharedBudgetOptions {
  /** The vendor's limit per window, shared by every replica (all configured alike). */
  readonly requests: number
  readonly windowMs: number
  /** The most slots asked for at once (`MTA_BUDGET_BLOCK`). */
  readonly block: number
  /** How long a grant's slots may be spent before the rest are given back (`MTA_BUDGET_LEASE_MS`). */
  readonly leaseMs: number
  /** The longest an upstream call may take (its deadline), so a grant's calls all arrived by then. */
  readonly callMs: number
  readonly lease: Lease
  /** The clock, epoch ms (the same as the `at` passed to a slot's release). */
  readonly now?: (() => number) | undefined
  /** Longest wait for a lease before the call is refused as unavailable. Default 2 000 ms. */
  readonly leaseTimeoutMs?: number | undefined
}

/** What the budget did: for the benchmark and the tests. */
export interface SharedBudgetStats {
  /** Round trips to the database (leases and finish reports). */
  readonly leases: number
  /** Slots taken (upstream calls admitted). */
  readonly admitted: number
  /** Admissions that waited for a lease (the others took a leased slot at once). */
  readonly waited: number
  /** Refusals: budget or share spent, or the database unavailable. */
  readonly refused: number
  /** Leases that failed (the database unreachable or too slow). */
  readonly failures: number
}

export interface SharedBudget extends Egress {
  /** Gives back unused slots of grants whose lease ended, and reports finished grants. */
  readonly sweep: () => void
  readonly stats: () => SharedBudgetStats
  /** Stops the sweep and reports what is finished (best effort). */
  readonly close: () => Promise<void>
}

interface Grant {
  readonly id: number
  left: number
  used: number
  inFlight: number
  lastAnswer: number
  /** Local time after which no slot of it is taken (its lease, counted from the request's send). */
  readonly deadline: number
}

interface Pool {
  readonly caller: string
  grants: Array<Grant>
  available: number
  pending: Promise<void> | undefined
  /** Slots taken per ms, recently (a moving average), and the takes counted since `rateSince`. */
  rate: number
  takes: number
  rateSince: number
  /** Refused by the database until then (local time), with this answer. */
  refusedUntil: number
  refusal: { readonly reason: "budget" | "share"; readonly until: number } | undefined
}

/** How long a refusal from the database is believed before it is asked again: a share of the window. */
const recheckMs = (windowMs: number) => Math.max(5, Math.min(200, Math.floor(windowMs / 50)))

/** How long an unreachable database refuses calls before it is tried again. */
const UNAVAILABLE_MS = 500

export const sharedBudget = (options: SharedBudgetOptions): SharedBudget => {
  const now = options.now ?? Date.now
  const { requests, windowMs, block, leaseMs } = options
  const holdMs = leaseMs + options.callMs
  const leaseTimeoutMs = options.leaseTimeoutMs ?? 2_000
  const halfBlock = Math.ceil(block / 2)
  // A busy caller asks for more than a block, so one block lasts several round trips; never more than
  // a twentieth of the budget at once (and the database shrinks it near the limit).
  const maxWant = Math.max(block, Math.floor(requests / 20))
  /** The lease round trip, ms: the peak, halving every 10 s (measured at `roundTripAt`). */
  let roundTripMs = 0
  let roundTripAt = now()
  const recheck = recheckMs(windowMs)
  const pools = new Map<string, Pool>()
  let finished: Array<{ readonly id: number; readonly used: number; readonly lastAnswer: number }> = []
  let unavailableUntil = Number.NEGATIVE_INFINITY
  let flushing: Promise<void> | undefined
  let closed = false
  const stats = { leases: 0, admitted: 0, waited: 0, refused: 0, failures: 0 }

  const poolOf = (caller: string): Pool => {
    let pool = pools.get(caller)
    if (pool === undefined) {
      pool = {
        caller,
        grants: [],
        available: 0,
        pending: undefined,
        rate: 0,
        takes: 0,
        rateSince: now(),
        refusedUntil: Number.NEGATIVE_INFINITY,
        refusal: undefined
      }
      pools.set(caller, pool)
    }
    return pool
  }

  /**
   * Slots the caller spends during four times the slowest recent round trip: the next block is asked
   * for before that (a commit's fsync on a busy server varies by tens of ms).
   */
  const lowWaterOf = (pool: Pool) => Math.max(halfBlock, Math.ceil(pool.rate * roundTripMs * 4))
  const wantOf = (pool: Pool) => Math.min(maxWant, Math.max(block, 2 * lowWaterOf(pool)))

  const observeRate = (pool: Pool, at: number) => {
    pool.takes++
    const elapsed = at - pool.rateSince
    if (elapsed >= 50) {
      const recent = pool.takes / elapsed
      pool.rate = pool.rate === 0 ? recent : (pool.rate + recent) / 2
      pool.takes = 0
      pool.rateSince = at
    }
  }

  const retire = (pool: Pool, grant: Grant) => {
    pool.grants = pool.grants.filter((g) => g !== grant)
    finished.push({ id: grant.id, used: grant.used, lastAnswer: grant.lastAnswer })
  }

  /** Ends the lease of grants past their deadline: their unused slots go back. */
  const expire = (pool: Pool, at: number) => {
    for (const grant of pool.grants) {
      if (at >= grant.deadline && grant.left > 0) {
        pool.available -= grant.left
        grant.left = 0
      }
    }
    for (const grant of [...pool.grants]) {
      if (grant.left === 0 && grant.inFlight === 0) retire(pool, grant)
    }
  }

  const takeReports = (at: number): Array<Finished> => {
    const reports = finished.map((f) => ({
      id: f.id,
      used: f.used,
      ago: f.used === 0 ? 0 : Math.max(0, at - f.lastAnswer)
    }))
    finished = []
    return reports
  }

  const withTimeout = <A>(promise: Promise<A>): Promise<A> =>
    new Promise<A>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`no answer from the budget's database in ${leaseTimeoutMs} ms`)),
        leaseTimeoutMs
      )
      timer.unref?.()
      promise.then(
        (a) => {
          clearTimeout(timer)
          resolve(a)
        },
        (e: unknown) => {
          clearTimeout(timer)
          reject(e)
        }
      )
    })

  /** One round trip: reports the finished grants and asks for a block for `pool`'s caller. */
  const ask = (pool: Pool, cap: number): Promise<void> => {
    const sentAt = now()
    const finish = takeReports(sentAt)
    stats.leases++
    const request: LeaseRequest = {
      caller: pool.caller,
      want: wantOf(pool),
      limit: requests,
      cap,
      windowMs,
      holdMs,
      finish
    }
    const done = withTimeout(options.lease(request)).then(
      (answer) => {
        const at = now()
        // The slow round trips decide whether a call waits: hold the peak, halving every 10 s.
        roundTripMs = Math.max(at - sentAt, roundTripMs * 0.5 ** ((at - roundTripAt) / 10_000))
        roundTripAt = at
        if (answer.granted > 0 && answer.id !== null) {
          pool.grants.push({
            id: answer.id,
            left: answer.granted,
            used: 0,
            inFlight: 0,
            lastAnswer: sentAt,
            deadline: sentAt + leaseMs
          })
          pool.available += answer.granted
          pool.refusal = undefined
          pool.refusedUntil = Number.NEGATIVE_INFINITY
          // A lease that came back after its deadline has nothing to spend: give it back at once.
          expire(pool, at)
        } else {
          const wait = Math.max(1, answer.wait)
          pool.refusal = { reason: answer.reason === "share" ? "share" : "budget", until: at + wait }
          pool.refusedUntil = at + Math.min(wait, recheck)
        }
      },
      () => {
        stats.failures++
        // The reports were not applied (or we cannot know): send them again; finishing twice is harmless.
        finished.push(...finish.map((f) => ({ id: f.id, used: f.used, lastAnswer: sentAt - f.ago })))
        unavailableUntil = now() + UNAVAILABLE_MS
      }
    )
    pool.pending = done.finally(() => {
      pool.pending = undefined
    })
    return pool.pending
  }

  const capOf = (share: number) => (share >= 1 ? requests : Math.max(1, Math.ceil(requests * share)))

  /** Takes a slot of a live grant of `pool`, or `undefined` when it has none. */
  const take = (pool: Pool, at: number): ((at: number) => void) | undefined => {
    const grant = pool.grants.find((g) => g.left > 0)
    if (grant === undefined) return undefined
    observeRate(pool, at)
    grant.left--
    grant.used++
    grant.inFlight++
    pool.available--
    stats.admitted++
    let released = false
    return (at) => {
      if (released) return
      released = true
      grant.inFlight--
      if (at > grant.lastAnswer) grant.lastAnswer = at
      if (grant.left === 0 && grant.inFlight === 0 && pool.grants.includes(grant)) retire(pool, grant)
    }
  }

  const refusal = (pool: Pool, cap: number, at: number): EgressRefusal | undefined => {
    if (at < unavailableUntil) {
      return { waitMs: Math.max(1, unavailableUntil - at), reason: "unavailable", share: cap }
    }
    if (pool.refusal !== undefined && at < pool.refusedUntil) {
      return { waitMs: Math.max(1, pool.refusal.until - at), reason: pool.refusal.reason, share: cap }
    }
    return undefined
  }

  const prefetch = (pool: Pool, cap: number, at: number) => {
    if (
      pool.available <= lowWaterOf(pool) &&
      pool.pending === undefined &&
      refusal(pool, cap, at) === undefined
    ) {
      void ask(pool, cap)
    }
  }

  /** Waits for a lease (at most a few, when others took the block first), then takes a slot. */
  const admitLater = async (pool: Pool, cap: number): Promise<((at: number) => void) | EgressRefusal> => {
    stats.waited++
    for (let attempt = 0; attempt < 4; attempt++) {
      await (pool.pending ?? ask(pool, cap))
      const at = now()
      expire(pool, at)
      const slot = take(pool, at)
      if (slot !== undefined) {
        prefetch(pool, cap, at)
        return slot
      }
      const refused = refusal(pool, cap, at)
      if (refused !== undefined) {
        stats.refused++
        return refused
      }
    }
    stats.refused++
    return { waitMs: recheck, reason: "budget", share: cap }
  }

  const admit: Egress["admit"] = (caller, share, at) => {
    const pool = poolOf(caller)
    const cap = capOf(share)
    expire(pool, at)
    const slot = take(pool, at)
    if (slot !== undefined) {
      prefetch(pool, cap, at)
      return slot
    }
    const refused = refusal(pool, cap, at)
    if (refused !== undefined) {
      stats.refused++
      return refused
    }
    return admitLater(pool, cap)
  }

  const sweep = () => {
    const at = now()
    for (const pool of pools.values()) {
      expire(pool, at)
      if (pool.grants.length === 0 && pool.pending === undefined && at >= pool.refusedUntil) {
        pools.delete(pool.caller)
      }
    }
    if (finished.length > 0 && flushing === undefined) {
      const reports = takeReports(at)
      stats.leases++
      const request: LeaseRequest = {
        caller: "-",
        want: 0,
        limit: requests,
        cap: requests,
        windowMs,
        holdMs,
        finish: reports
      }
      flushing = withTimeout(options.lease(request))
        .then(
          () => {},
          () => {
            stats.failures++
            finished.push(...reports.map((f) => ({ id: f.id, used: f.used, lastAnswer: at - f.ago })))
          }
        )
        .finally(() => {
          flushing = undefined
        })
    }
  }

  const timer = setInterval(sweep, Math.max(10, Math.min(leaseMs, windowMs) / 2))
  timer.unref?.()

  return {
    admit,
    sweep,
    stats: () => ({ ...stats }),
    close: async () => {
      if (closed) return
      closed = true
      clearInterval(timer)
      await Promise.all([...pools.values()].map((p) => p.pending))
      // Every slot not in flight is given back; in-flight grants are held until their end.
      for (const pool of pools.values()) {
        for (const grant of pool.grants) {
          pool.available -= grant.left
          grant.left = 0
        }
        expire(pool, Number.POSITIVE_INFINITY)
      }
      sweep()
      await flushing
    }
  }
}

/**
 * The PostgreSQL side: a small pool of its own (2 connections), so a lease never queues behind the
 * store's batches; a lease that waits over 2 s for a connection or an answer fails (fail closed).
 */
export interface PostgresLease {
  readonly lease: Lease
  readonly close: () => Promise<void>
}

export const postgresLease = async (url: string): Promise<PostgresLease> => {
  // Loaded only with the PostgreSQL store, like its driver (`Store.postgres`).
  const { default: pg } = await import("pg")
  const pool = new pg.Pool({
    connectionString: url,
    max: 2,
    application_name: "mta-server-budget",
    connectionTimeoutMillis: 2_000,
    query_timeout: 2_000
  })
  pool.on("error", () => {})
  const text = "SELECT mta_budget_lease($1, $2, $3, $4, $5, $6, $7) AS r"
  return {
    lease: async (r) => {
      const result = await pool.query<{ r: LeaseAnswer }>({
        name: "mta_budget_lease",
        text,
        values: [r.caller, r.want, r.limit, r.cap, r.windowMs, r.holdMs, JSON.stringify(r.finish)]
      })
      const answer = result.rows[0]?.r
      if (answer === undefined) throw new Error("mta_budget_lease answered no row")
      return {
        id: answer.id === null ? null : Number(answer.id),
        granted: Number(answer.granted),
        wait: Number(answer.wait),
        reason: answer.reason
      }
    },
    close: () => pool.end()
  }
}
