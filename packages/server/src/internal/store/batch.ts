/**
 * Group commit for the SQL stores: every step that arrives while a batch is being written (webhook
 * ingests, observations, idempotency claims, finished calls) waits for the next batch, and a batch is
 * ONE call of `mta_batch` (migration 2): one statement, one transaction, one round trip and one
 * commit, whatever mix of steps it carries. Projection reads are batched the same way in a lane of
 * their own (one `= ANY` query per batch), so a read never waits behind a write's commit.
 *
 * An idle store writes a batch of one at once, so batching adds no latency; under load it divides
 * what a round trip, a statement and a commit cost (PostgreSQL's wake-ups and WAL flush, PGlite's
 * per-query overhead) by the batch size. Every caller still waits for its own batch to commit.
 *
 * A batch is all or nothing, so one bad step (a value the database refuses) would fail its
 * neighbours: when a batch of several fails with a data error, each step is written again alone,
 * and only the faulty one fails. A deadlock (two replicas' batches locking the same keys in another
 * order: rare, as keys are sorted) runs the batch again; connection trouble fails the batch.
 */
import type { ClaimInput, ClaimOutcome, FinishInput, StoredResponse } from "../../Store.js"

/** A projection row as the database returns it. */
export interface ProjectionRow {
  readonly zrn: string
  readonly status: string | null
  readonly updated_at: number
  readonly source: string
  readonly confirmed_at: number
}

/** A webhook notification, as `mta_ingest` takes it. */
export interface IngestIn {
  readonly notification_id: string
  readonly zrn: string
  readonly status: string
  readonly occurred_at: number
  readonly received_at: number
  readonly participant_code: string | null
  readonly account_label: string | null
  readonly payload: unknown
  /** The content dedupe key (`Store.contentKey`), the raw body's SHA-256, legacy-signed or not (migration 4). */
  readonly content_key?: string
  readonly body_sha256?: string | null
  readonly legacy?: boolean
}

/** What `mta_ingest` did (`current`: the record after a confirmation, or the newer one held). */
export interface IngestRow {
  readonly outcome: "applied" | "confirmed" | "stale" | "duplicate"
  /** Of a duplicate: what it duplicates (`id`, `content`, `body`; migration 4). */
  readonly by?: string
  readonly id?: number
  readonly current?: ProjectionRow
}

/** An observation, as `mta_observe` takes it. */
export interface ObserveIn {
  readonly zrn: string
  readonly status: string | null
  readonly source: string
  readonly at: number
}

/** What `mta_observe` did. */
export interface ObserveRow {
  readonly changed: boolean
  readonly record: ProjectionRow
}

interface ClaimRow {
  readonly outcome:
    | "claimed"
    | "replay"
    | "in_flight"
    | "mismatch"
    | "reconciling"
    | "conflict"
    | "resend"
    | "pending"
    | "expired"
  readonly response?: StoredResponse
  readonly zrn?: string
  readonly payload?: unknown
  readonly own_conflict?: boolean
  readonly body?: string
  readonly landed?: boolean
  readonly since?: number | string
}

interface BatchResult {
  readonly ingest: ReadonlyArray<IngestRow>
  readonly observe: ReadonlyArray<ObserveRow>
  /** Audit ids, ascending (assigned in `ord` order). */
  readonly finish: ReadonlyArray<number | string>
  /** The `ord`s of the claims that inserted a new key, ascending. */
  readonly fresh: ReadonlyArray<number>
  /** The outcomes of the other claims, in `ord` order. */
  readonly claim: ReadonlyArray<ClaimRow>
}

/**
 * A finished call; `claimed` is set when its key was claimed in this process only (the embedded
 * store's new keys): the finish then writes the whole record, not just its resolution.
 */
export interface LocalFinish extends FinishInput {
  readonly claimed?: ClaimInput | undefined
}

/** What each kind of step takes. */
interface Inputs {
  readonly ingest: IngestIn
  readonly observe: ObserveIn
  readonly finish: LocalFinish
  readonly claim: ClaimInput
}

type Step = { readonly [K in keyof Inputs]: { readonly _tag: K; readonly input: Inputs[K] } }[keyof Inputs]

/** The steps a batch can carry; each resolves once its batch has committed. */
export interface GroupCommit {
  readonly ingest: (input: IngestIn) => Promise<IngestRow>
  readonly observe: (input: ObserveIn) => Promise<ObserveRow>
  /** Resolves to the audit entry's id. */
  readonly finish: (input: LocalFinish) => Promise<number>
  readonly claim: (input: ClaimInput) => Promise<ClaimOutcome>
  readonly status: (zrn: string) => Promise<ProjectionRow | undefined>
  /** Whether `caller`'s `key` has an idempotency record (needs `readKeys`). */
  readonly hasKey: (caller: string, key: string) => Promise<boolean>
}

export interface GroupCommitOptions {
  /** Calls `mta_batch` with the batch (JSON) and returns its result. */
  readonly run: (batch: string) => Promise<unknown>
  /** Reads the projection rows of these ZRNs (those that have one). */
  readonly read: (zrns: ReadonlyArray<string>) => Promise<ReadonlyArray<ProjectionRow>>
  /** Those of these (caller, key) pairs that have an idempotency record. */
  readonly readKeys?: (keys: ReadonlyArray<KeyRef>) => Promise<ReadonlyArray<KeyRef>>
  /** Batches written at once (1 for PGlite, which runs one query at a time). */
  readonly concurrency: number
  /**
   * Gather the steps of one turn of the event loop before writing, rather than sending the first at
   * once (for a database whose every call costs much whatever it carries: PGlite).
   */
  readonly deferred: boolean
  /** Steps per batch at most. Default 256. */
  readonly max?: number
}

/** A caller's idempotency key. */
export interface KeyRef {
  readonly caller: string
  readonly key: string
}

/** One string per (caller, key), for maps and sets. */
export const keyId = (k: KeyRef): string => `${k.caller}\u0000${k.key}`

const byKey = (a: KeyRef, b: KeyRef) =>
  a.caller < b.caller ? -1 : a.caller > b.caller ? 1 : a.key < b.key ? -1 : a.key > b.key ? 1 : 0

/** PostgreSQL's SQLSTATE of an error, when it has one. */
const sqlState = (error: unknown): string | undefined => {
  const code = (error as { code?: unknown } | null)?.code
  return typeof code === "string" && /^[0-9A-Z]{5}$/.test(code) ? code : undefined
}

/** Deadlock detected: the batch was rolled back and can run again. */
export const isDeadlock = (error: unknown) => sqlState(error) === "40P01"

/**
 * An error one step's data may have caused (a value refused, a constraint), as opposed to the
 * connection, the server or the transaction failing, which writing each step alone would not mend.
 */
const isDataError = (error: unknown): boolean => {
  const code = sqlState(error)
  return code !== undefined && !/^(08|40|53|57|58|XX)/.test(code)
}

const toClaim = (r: ClaimRow): ClaimOutcome => {
  switch (r.outcome) {
    case "claimed":
      return r.own_conflict === undefined
        ? { _tag: "claimed" }
        : { _tag: "claimed", ownConflict: r.own_conflict }
    case "replay":
      return { _tag: "replay", response: r.response! }
    case "in_flight":
      return { _tag: "in_flight" }
    case "mismatch":
      return { _tag: "mismatch" }
    case "reconciling":
      return { _tag: "reconciling", account: { zrn: r.zrn!, payload: r.payload } }
    case "conflict":
      return { _tag: "conflict" }
    case "resend":
      return { _tag: "resend", body: r.body!, ownConflict: r.own_conflict === true, since: Number(r.since) }
    case "pending":
      return { _tag: "pending", landed: r.landed === true, since: Number(r.since) }
    case "expired":
      return { _tag: "expired", landed: r.landed === true, since: Number(r.since) }
  }
}

/** Builds the batch for `mta_batch`, runs it, and answers each step in the order given. */
const writeBatch = async (
  run: GroupCommitOptions["run"],
  steps: ReadonlyArray<Step>
): Promise<Array<unknown>> => {
  const at: { readonly [T in keyof Inputs]: Array<number> } = {
    ingest: [],
    observe: [],
    finish: [],
    claim: []
  }
  steps.forEach((step, i) => {
    at[step._tag].push(i)
  })
  const { ingest, observe, finish, claim } = at
  const input = <T extends keyof Inputs>(i: number): Inputs[T] => steps[i]!.input as Inputs[T]
  // Keys in one order in every batch, so concurrent batches lock them in one order.
  finish.sort((a, b) => {
    const x = input<"finish">(a).idempotency
    const y = input<"finish">(b).idempotency
    if (x === undefined || y === undefined) return x === undefined ? (y === undefined ? 0 : -1) : 1
    return byKey(x, y)
  })
  claim.sort((a, b) => byKey(input<"claim">(a), input<"claim">(b)))
  const batch: Record<string, ReadonlyArray<unknown>> = {}
  if (ingest.length > 0) batch.ingest = ingest.map((i) => input<"ingest">(i))
  if (observe.length > 0) batch.observe = observe.map((i) => input<"observe">(i))
  if (finish.length > 0) {
    batch.finish = finish.map((i, ord) => {
      const { idempotency: k, audit: a, claimed } = input<"finish">(i)
      return {
        ord,
        key_caller: k?.caller ?? null,
        key: k?.key ?? null,
        resolution: k?.resolution._tag ?? null,
        response: k?.resolution._tag === "complete" ? k.resolution.response : null,
        // A pending create's times (`mta_batch_resolving`, migration 5).
        resolution_at:
          k?.resolution._tag === "reconcile" || k?.resolution._tag === "landed"
            ? (k.resolution.at ?? null)
            : null,
        retry_at: k?.resolution._tag === "reconcile" ? (k.resolution.retryAt ?? null) : null,
        // A key claimed in this process only: the record to write whole.
        fingerprint: claimed?.fingerprint ?? null,
        created_at: claimed?.now ?? null,
        expires_at: claimed?.expiresAt ?? null,
        at: a.at,
        caller: a.caller,
        action: a.action,
        target: a.target,
        summary: a.summary,
        outcome: a.outcome,
        status: a.status,
        request_id: a.requestId
      }
    })
  }
  if (claim.length > 0) {
    batch.claim = claim.map((i, ord) => {
      const c = input<"claim">(i)
      return {
        ord,
        caller: c.caller,
        key: c.key,
        fingerprint: c.fingerprint,
        now: c.now,
        expires_at: c.expiresAt,
        lease_until: c.leaseUntil,
        participant_code: c.create?.participantCode ?? null,
        account_label: c.create?.accountLabel ?? null,
        create_body: c.create === undefined ? null : (c.createBody ?? null),
        pending_limit_ms: c.pendingLimitMs ?? null
      }
    })
  }

  const text = JSON.stringify(batch)
  let r: BatchResult | undefined
  for (let attempt = 1; r === undefined; attempt++) {
    try {
      r = (await run(text)) as BatchResult
    } catch (error) {
      if (!isDeadlock(error) || attempt >= 3) throw error
    }
  }

  const out: Array<unknown> = new Array(steps.length)
  ingest.forEach((i, j) => {
    out[i] = r.ingest[j]
  })
  observe.forEach((i, j) => {
    out[i] = r.observe[j]
  })
  // One statement assigns the audit ids in `ord` order, so the ascending ids follow `finish`.
  finish.forEach((i, ord) => {
    out[i] = Number(r.finish[ord])
  })
  const fresh = new Set(r.fresh.map(Number))
  let rest = 0
  claim.forEach((i, ord) => {
    out[i] = fresh.has(ord) ? { _tag: "claimed" } : toClaim(r.claim[rest++]!)
  })
  return out
}

/**
 * A queue that writes what arrives while a batch is running as the next batch (`concurrency`
 * batches at once). When a batch of several fails with a data error, each item is written again
 * alone, in order, so only the faulty one fails.
 */
export const lane = <I>(
  write: (items: ReadonlyArray<I>) => Promise<ReadonlyArray<unknown>>,
  concurrency: number,
  deferred: boolean,
  max: number
): ((item: I) => Promise<unknown>) => {
  interface Pending {
    readonly item: I
    readonly resolve: (o: unknown) => void
    readonly reject: (e: unknown) => void
  }
  const queue: Array<Pending> = []
  let running = 0

  const settle = async (batch: ReadonlyArray<Pending>) => {
    try {
      const outs = await write(batch.map((p) => p.item))
      batch.forEach((p, i) => {
        p.resolve(outs[i])
      })
    } catch (error) {
      if (batch.length === 1 || !isDataError(error)) {
        for (const p of batch) p.reject(error)
        return
      }
      for (const p of batch) {
        try {
          p.resolve((await write([p.item]))[0])
        } catch (alone) {
          p.reject(alone)
        }
      }
    }
  }

  const flush = () => {
    while (running < concurrency && queue.length > 0) {
      const batch = queue.splice(0, max)
      running++
      void settle(batch).finally(() => {
        running--
        flush()
      })
    }
  }

  let scheduled = false
  return (item) =>
    new Promise((resolve, reject) => {
      queue.push({ item, resolve, reject })
      if (!deferred) return flush()
      if (!scheduled) {
        scheduled = true
        setImmediate(() => {
          scheduled = false
          flush()
        })
      }
    })
}

/**
 * Group commit over `run` (the writes, one `mta_batch` call per batch) and `read` (projection reads,
 * batched on their own: a read never waits for a write batch's commit).
 */
export const groupCommit = (options: GroupCommitOptions): GroupCommit => {
  const max = options.max ?? 256
  const write = lane<Step>(
    (steps) => writeBatch(options.run, steps),
    options.concurrency,
    options.deferred,
    max
  )
  const read = lane<string>(
    async (zrns) => {
      const rows = new Map((await options.read([...new Set(zrns)])).map((row) => [row.zrn, row]))
      return zrns.map((zrn) => rows.get(zrn))
    },
    options.concurrency,
    options.deferred,
    max
  )
  const readKeys = options.readKeys
  const keys = lane<KeyRef>(
    async (pairs) => {
      if (readKeys === undefined) throw new Error("this store reads no keys")
      const found = new Set((await readKeys(pairs)).map(keyId))
      return pairs.map((p) => found.has(keyId(p)))
    },
    options.concurrency,
    options.deferred,
    max
  )
  return {
    hasKey: (caller, key) => keys({ caller, key }) as Promise<boolean>,
    ingest: (input) => write({ _tag: "ingest", input }) as Promise<IngestRow>,
    observe: (input) => write({ _tag: "observe", input }) as Promise<ObserveRow>,
    finish: (input) => write({ _tag: "finish", input }) as Promise<number>,
    claim: (input) => write({ _tag: "claim", input }) as Promise<ClaimOutcome>,
    status: (zrn) => read(zrn) as Promise<ProjectionRow | undefined>
  }
}
