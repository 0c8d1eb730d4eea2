/**
 * The SQL store: one implementation of `Store` over a small driver, shared by the embedded store
 * (PGlite) and the PostgreSQL store. Each deciding step is one call of a PL/pgSQL function defined by
 * the migrations, so it is one transaction and one round trip.
 *
 * Group commit: idempotency claims and finished calls (key resolution + audit entry) that arrive
 * while a batch is being written are queued and written together in the next batch, one transaction
 * for all of them. An idle store writes a batch of one at once, so batching adds no latency; under
 * load it divides the per-transaction cost (PGlite's query overhead, PostgreSQL's commit flush) by the
 * batch size. Every caller still waits for its own batch to commit before it answers.
 *
 * The change feed delivers events in id order: a local commit whose id follows the last delivered
 * is delivered at once; anything else (a gap, a notification from another replica) makes the store
 * read the events after the last delivered one and deliver those.
 */
import { randomUUID } from "node:crypto"
import type {
  AccountEvent,
  AuditEntry,
  Change,
  ClaimInput,
  ClaimOutcome,
  FinishInput,
  IngestOutcome,
  StatusRecord,
  StatusSource,
  Store,
  StoredResponse,
  StoreKind
} from "../../Store.js"
import { identityOf } from "../../Store.js"
import { MIGRATION_LOCK, type Migration, migrations } from "./migrations.js"

/** Runs one statement; rows as plain objects. */
export type Query = <R = Record<string, unknown>>(
  sql: string,
  params?: ReadonlyArray<unknown>
) => Promise<ReadonlyArray<R>>

/** What the SQL store needs of a database. */
export interface Driver {
  readonly kind: Exclude<StoreKind, "memory">
  /** One statement, in its own transaction. */
  readonly query: Query
  /** Several statements in one transaction on one connection. */
  readonly transaction: <A>(f: (query: Query) => Promise<A>) => Promise<A>
  /** Batches of one kind written at once (1 for PGlite, which runs one query at a time). */
  readonly concurrency: number
  /**
   * Subscribes to `NOTIFY` on a channel (PostgreSQL); `onReconnect` is called after a lost listening
   * connection is back, since notifications may have been missed meanwhile.
   */
  readonly listen?: (
    channel: string,
    onMessage: (payload: string) => void,
    onReconnect: () => void
  ) => Promise<() => Promise<void>>
  readonly close: () => Promise<void>
}

/** Applies the migrations not applied yet, under the advisory lock. Returns the versions applied. */
export const migrate = async (
  driver: Driver,
  list: ReadonlyArray<Migration> = migrations
): Promise<ReadonlyArray<number>> =>
  driver.transaction(async (query) => {
    await query("SELECT pg_advisory_xact_lock($1)", [MIGRATION_LOCK])
    await query(
      `CREATE TABLE IF NOT EXISTS mta_schema_migrations (
         version integer PRIMARY KEY,
         name text NOT NULL,
         applied_at timestamptz NOT NULL DEFAULT now()
       )`
    )
    const rows = await query<{ version: number }>("SELECT version FROM mta_schema_migrations")
    const applied = new Set(rows.map((r) => Number(r.version)))
    const newest = list.reduce((max, m) => Math.max(max, m.version), 0)
    const unknown = [...applied].filter((v) => v > newest)
    if (unknown.length > 0) {
      throw new Error(
        `the database schema is newer than this proxy (versions ${unknown.join(", ")}); upgrade the proxy`
      )
    }
    const done: Array<number> = []
    for (const m of [...list].sort((a, b) => a.version - b.version)) {
      if (applied.has(m.version)) continue
      await query(m.sql)
      await query("INSERT INTO mta_schema_migrations (version, name) VALUES ($1, $2)", [m.version, m.name])
      done.push(m.version)
    }
    return done
  })

/** Collects items while a batch is written, then writes them together (group commit). */
const batcher = <I, O>(
  concurrency: number,
  deferred: boolean,
  write: (items: ReadonlyArray<I>) => Promise<ReadonlyArray<O>>
): ((item: I) => Promise<O>) => {
  interface Pending {
    readonly item: I
    readonly resolve: (o: O) => void
    readonly reject: (e: unknown) => void
  }
  const MAX = 256
  const queue: Array<Pending> = []
  let running = 0
  const flush = () => {
    while (running < concurrency && queue.length > 0) {
      const batch = queue.splice(0, MAX)
      running++
      write(batch.map((p) => p.item)).then(
        (outs) => {
          running--
          flush()
          batch.forEach((p, i) => {
            p.resolve(outs[i] as O)
          })
        },
        (error: unknown) => {
          running--
          flush()
          for (const p of batch) p.reject(error)
        }
      )
    }
  }
  let scheduled = false
  return (item) =>
    new Promise<O>((resolve, reject) => {
      queue.push({ item, resolve, reject })
      if (!deferred) return flush()
      // An in-process database (PGlite) blocks the thread while it writes, so nothing could join a
      // batch during a write: wait for the current turn's I/O instead, which gathers every request
      // that arrived together.
      if (!scheduled) {
        scheduled = true
        setImmediate(() => {
          scheduled = false
          flush()
        })
      }
    })
}

const CLAIM_NEW = `
INSERT INTO mta_idempotency AS k (caller, key, fingerprint, state, participant_code, account_label,
                                  created_at, expires_at, lease_until)
SELECT caller, key, fingerprint, 'in_flight', participant_code, account_label, now, expires_at, lease_until
FROM jsonb_to_recordset($1::jsonb) AS x(ord int, caller text, key text, fingerprint text,
  participant_code text, account_label text, now bigint, expires_at bigint, lease_until bigint)
ORDER BY ord
ON CONFLICT (caller, key) DO NOTHING
RETURNING caller, key`

const FINISH = `
WITH x AS (
  SELECT * FROM jsonb_to_recordset($1::jsonb) AS x(ord int, key_caller text, key text, resolution text,
    response jsonb, at bigint, caller text, action text, target text, summary jsonb, outcome text,
    status int, request_id text)
), completed AS (
  UPDATE mta_idempotency k SET state = 'completed', response = x.response
  FROM x WHERE x.resolution = 'complete' AND k.caller = x.key_caller AND k.key = x.key
), reconciling AS (
  UPDATE mta_idempotency k SET state = 'reconciling'
  FROM x WHERE x.resolution = 'reconcile' AND k.caller = x.key_caller AND k.key = x.key
    AND k.state <> 'completed'
), released AS (
  DELETE FROM mta_idempotency k USING x
  WHERE x.resolution = 'release' AND k.caller = x.key_caller AND k.key = x.key AND k.state <> 'completed'
)
INSERT INTO mta_audit (at, caller, action, target, summary, outcome, status, request_id)
SELECT at, caller, action, target, summary, outcome, status, request_id FROM x ORDER BY ord
RETURNING id`

/**
 * Runs a batch again when PostgreSQL broke a deadlock by aborting it (two batches locking the same
 * keys in another order: rare, and each batch is one transaction, so it is safe to run again).
 */
const retryDeadlock = async <A>(f: () => Promise<A>): Promise<A> => {
  for (let attempt = 1; ; attempt++) {
    try {
      return await f()
    } catch (error) {
      if ((error as { code?: unknown }).code !== "40P01" || attempt >= 3) throw error
    }
  }
}

const byKey = (a: { caller: string; key: string }, b: { caller: string; key: string }) =>
  a.caller < b.caller ? -1 : a.caller > b.caller ? 1 : a.key < b.key ? -1 : a.key > b.key ? 1 : 0

interface EventRow {
  readonly id: number
  readonly notification_id: string
  readonly zrn: string
  readonly status: string
  readonly occurred_at: number
  readonly received_at: number
  readonly payload: unknown
}

interface ProjectionRow {
  readonly zrn: string
  readonly status: string | null
  readonly updated_at: number
  readonly source: string
}

interface AuditRow {
  readonly id: number
  readonly at: number
  readonly caller: string
  readonly action: string
  readonly target: string | null
  readonly summary: Readonly<Record<string, unknown>>
  readonly outcome: string
  readonly status: number
  readonly request_id: string
}

const toEvent = (r: EventRow): AccountEvent => ({
  id: Number(r.id),
  type: "customer_account_status_changed",
  notificationId: r.notification_id,
  zrn: r.zrn,
  status: r.status,
  occurredAt: Number(r.occurred_at),
  receivedAt: Number(r.received_at),
  payload: r.payload
})

const toRecord = (r: ProjectionRow): StatusRecord => ({
  zrn: r.zrn,
  status: r.status,
  updatedAt: Number(r.updated_at),
  source: r.source as StatusSource
})

const toAudit = (r: AuditRow): AuditEntry => ({
  id: Number(r.id),
  at: Number(r.at),
  caller: r.caller,
  action: r.action,
  target: r.target,
  summary: r.summary,
  outcome: r.outcome,
  status: Number(r.status),
  requestId: r.request_id
})

const EVENT_COLUMNS = "to_jsonb(e) AS row"
const PAGE = 500

/** Options of the SQL store beyond its driver. */
export interface SqlStoreOptions {
  /** How often expired idempotency records are deleted. Default 10 minutes. */
  readonly sweepIntervalMs?: number
  /**
   * How often the change feed reads the event log even without a notification (a safety net for
   * notifications lost while a listening connection was down). Default 2 s with `listen`, else off.
   */
  readonly pollIntervalMs?: number
  /** Called after the store is closed (e.g. to release a data directory lock). */
  readonly onClose?: () => Promise<void> | void
  /**
   * Keep the projection in memory too (read-through, written on every change). Only for a database
   * this process alone writes (the embedded store, whose directory is locked to it).
   */
  readonly cacheProjection?: boolean
}

/** Opens the SQL store over a driver: runs the migrations, then serves. */
export const open = async (driver: Driver, options: SqlStoreOptions = {}): Promise<Store> => {
  await migrate(driver)
  const origin = randomUUID()
  const listeners = new Set<(change: Change) => void>()
  let closed = false
  const { query } = driver

  const one = async <R>(sql: string, params: ReadonlyArray<unknown>): Promise<R> => {
    const rows = await query<Record<string, R>>(sql, params)
    return Object.values(rows[0] ?? {})[0] as R
  }

  const deliver = (change: Change) => {
    for (const listener of listeners) {
      try {
        listener(change)
      } catch {
        // A failing listener must not stop the others.
      }
    }
  }

  const readEvents = async (after: number, zrn: string | undefined, limit: number) => {
    const rows =
      zrn === undefined
        ? await query<{ row: EventRow }>(
            `SELECT ${EVENT_COLUMNS} FROM mta_events e WHERE id > $1 ORDER BY id LIMIT $2`,
            [after, limit]
          )
        : await query<{ row: EventRow }>(
            `SELECT ${EVENT_COLUMNS} FROM mta_events e WHERE zrn = $1 AND id > $2 ORDER BY id LIMIT $3`,
            [zrn, after, limit]
          )
    return rows.map((r) => toEvent(r.row))
  }
  const lastEventId = async () =>
    Number(await one<number>("SELECT value::float8 AS v FROM mta_counters WHERE name = 'event'", []))

  // The change feed: events in id order, from this process and (PostgreSQL) every other replica.
  let delivered = await lastEventId()
  let pumping: Promise<void> | undefined
  let again = false
  const pump = (): Promise<void> => {
    if (pumping !== undefined) {
      again = true
      return pumping
    }
    pumping = (async () => {
      try {
        do {
          again = false
          for (;;) {
            if (closed) return
            const page = await readEvents(delivered, undefined, PAGE)
            for (const event of page) {
              if (event.id <= delivered) continue
              delivered = event.id
              deliver({ record: recordOfEvent(event), event })
            }
            if (page.length < PAGE) break
          }
        } while (again)
      } catch {
        // The database is unreachable: the next notification or poll tries again.
      } finally {
        // In the same turn as the last `again` check, so no wake-up falls between them.
        pumping = undefined
      }
    })()
    return pumping
  }
  const recordOfEvent = (event: AccountEvent): StatusRecord => ({
    zrn: event.zrn,
    status: event.status,
    updatedAt: event.occurredAt,
    source: "webhook"
  })
  /** Delivers a locally committed event; resolves once it (and every one before it) is delivered. */
  const localEvent = async (event: AccountEvent): Promise<void> => {
    if (pumping === undefined && event.id === delivered + 1) {
      delivered = event.id
      deliver({ record: recordOfEvent(event), event })
    } else if (event.id > delivered) {
      await pump()
    }
  }

  let unlisten: (() => Promise<void>) | undefined
  if (driver.listen !== undefined) {
    unlisten = await driver.listen(
      "mta_changes",
      (payload) => {
        let message: { origin?: string; event?: number; record?: ProjectionRow }
        try {
          message = JSON.parse(payload) as typeof message
        } catch {
          return
        }
        if (message.origin === origin) return
        if (message.event !== undefined) void pump()
        else if (message.record !== undefined) deliver({ record: toRecord(message.record) })
      },
      () => void pump()
    )
  }
  const timers: Array<NodeJS.Timeout> = []
  const pollMs = options.pollIntervalMs ?? (driver.listen !== undefined ? 2_000 : 0)
  if (pollMs > 0) {
    const t = setInterval(() => {
      if (listeners.size > 0) void pump()
    }, pollMs)
    t.unref()
    timers.push(t)
  }
  const sweep = setInterval(() => {
    query("DELETE FROM mta_idempotency WHERE expires_at <= $1", [Date.now()]).catch(() => {})
  }, options.sweepIntervalMs ?? 600_000)
  sweep.unref()
  timers.push(sweep)

  const deferred = driver.kind === "embedded"
  const claim = batcher<ClaimInput, ClaimOutcome>(driver.concurrency, deferred, async (items) => {
    const order = items.map((item, i) => ({ item, i })).sort((a, b) => byKey(a.item, b.item))
    const rows = order.map(({ item }, ord) => ({
      ord,
      caller: item.caller,
      key: item.key,
      fingerprint: item.fingerprint,
      now: item.now,
      expires_at: item.expiresAt,
      lease_until: item.leaseUntil,
      participant_code: item.create?.participantCode ?? null,
      account_label: item.create?.accountLabel ?? null
    }))
    // The common case, a new key, in one set-based statement; the keys already present (a repeat,
    // or twice in this batch) then go through `mta_claim`, which decides each one under its row lock.
    const inserted = await query<{ caller: string; key: string }>(CLAIM_NEW, [JSON.stringify(rows)])
    const fresh = new Set(inserted.map((r) => `${r.caller}\u0000${r.key}`))
    const out: Array<ClaimOutcome> = new Array(items.length)
    const rest: Array<{ readonly i: number; readonly row: (typeof rows)[number] }> = []
    order.forEach(({ i }, j) => {
      const row = rows[j]!
      const id = `${row.caller}\u0000${row.key}`
      if (fresh.delete(id)) out[i] = { _tag: "claimed" }
      else rest.push({ i, row })
    })
    if (rest.length > 0) {
      // Only this statement may meet a deadlock (it locks existing rows); the inserts above stand.
      const results = await retryDeadlock(() =>
        one<ReadonlyArray<ClaimRow>>("SELECT mta_claim($1::jsonb) AS r", [
          JSON.stringify(rest.map((r) => r.row))
        ])
      )
      rest.forEach(({ i }, j) => {
        out[i] = toClaim(results[j]!)
      })
    }
    return out
  })

  const finish = batcher<FinishInput, AuditEntry>(driver.concurrency, deferred, (items) =>
    retryDeadlock(async () => {
      const order = items
        .map((item, i) => ({ item, i }))
        .sort((a, b) => {
          const x = a.item.idempotency
          const y = b.item.idempotency
          if (x === undefined || y === undefined) return x === undefined ? (y === undefined ? 0 : -1) : 1
          return byKey(x, y)
        })
      const rows = order.map(({ item }, ord) => {
        const k = item.idempotency
        const a = item.audit
        return {
          ord,
          key_caller: k?.caller ?? null,
          key: k?.key ?? null,
          resolution: k?.resolution._tag ?? null,
          response: k?.resolution._tag === "complete" ? k.resolution.response : null,
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
      const inserted = await query<{ id: number | string }>(FINISH, [JSON.stringify(rows)])
      // One statement assigns the ids in `ord` order, so the ascending ids follow `rows`.
      const ids = inserted.map((r) => Number(r.id)).sort((x, y) => x - y)
      const out: Array<AuditEntry> = new Array(items.length)
      order.forEach(({ item, i }, j) => {
        out[i] = { ...item.audit, id: ids[j]! }
      })
      return out
    })
  )

  const guard = () => {
    if (closed) throw new Error("store is closed")
  }

  const CACHE_LIMIT = 100_000
  const cache = options.cacheProjection === true ? new Map<string, StatusRecord | null>() : undefined
  const remember = (zrn: string, record: StatusRecord | null) => {
    if (cache === undefined) return
    cache.delete(zrn)
    cache.set(zrn, record)
    if (cache.size > CACHE_LIMIT) cache.delete(cache.keys().next().value as string)
  }

  return {
    kind: driver.kind,
    ingest: async (n) => {
      guard()
      const identity = identityOf(n.payload)
      const r = await one<IngestRow>("SELECT mta_ingest($1::jsonb, $2) AS r", [
        JSON.stringify({
          notification_id: n.notificationId,
          zrn: n.zrn,
          status: n.status,
          occurred_at: n.occurredAt,
          received_at: n.receivedAt,
          participant_code: identity?.participantCode ?? null,
          account_label: identity?.accountLabel ?? null,
          payload: n.payload
        }),
        origin
      ])
      if (r.outcome === "duplicate") return { _tag: "duplicate" }
      if (r.outcome === "stale") {
        const current = toRecord(r.current!)
        remember(current.zrn, current)
        return { _tag: "stale", current }
      }
      const event: AccountEvent = { ...n, id: Number(r.id), type: "customer_account_status_changed" }
      const record = recordOfEvent(event)
      remember(record.zrn, record)
      await localEvent(event)
      return { _tag: "applied", event, record } satisfies IngestOutcome
    },
    observe: async ({ zrn, status, source, at }) => {
      guard()
      const r = await one<{ changed: boolean; record: ProjectionRow }>(
        "SELECT mta_observe($1::jsonb, $2) AS r",
        [JSON.stringify({ zrn, status, source, at }), origin]
      )
      const record = toRecord(r.record)
      remember(record.zrn, record)
      if (r.changed) deliver({ record })
      return record
    },
    status: async (zrn) => {
      guard()
      const cached = cache?.get(zrn)
      if (cached !== undefined) return cached ?? undefined
      const rows = await query<{ row: ProjectionRow }>(
        "SELECT to_jsonb(p) AS row FROM mta_projection p WHERE zrn = $1",
        [zrn]
      )
      const row = rows[0]
      const record = row === undefined ? undefined : toRecord(row.row)
      remember(zrn, record ?? null)
      return record
    },
    events: async ({ after, zrn, limit }) => {
      guard()
      return readEvents(after, zrn, limit)
    },
    lastEventId: async () => {
      guard()
      return lastEventId()
    },
    subscribe: (listener) => {
      listeners.add(listener)
      return () => {
        listeners.delete(listener)
      }
    },
    claimIdempotencyKey: async (input) => {
      guard()
      return claim(input)
    },
    finishCall: async (input) => {
      guard()
      return finish(input)
    },
    audit: async ({ after, zrn, caller, from, to, limit }) => {
      guard()
      const where: Array<string> = []
      const params: Array<unknown> = []
      const add = (clause: string, value: unknown) => {
        params.push(value)
        where.push(clause.replace("?", `$${params.length}`))
      }
      if (after !== undefined) add("id > ?", after)
      if (zrn !== undefined) add("target = ?", zrn)
      if (caller !== undefined) add("caller = ?", caller)
      if (from !== undefined) add("at >= ?", from)
      if (to !== undefined) add("at < ?", to)
      params.push(limit)
      const rows = await query<{ row: AuditRow }>(
        `SELECT to_jsonb(a) AS row FROM mta_audit a ${where.length === 0 ? "" : `WHERE ${where.join(" AND ")}`} ORDER BY id LIMIT $${params.length}`,
        params
      )
      return rows.map((r) => toAudit(r.row))
    },
    ping: async () => {
      guard()
      await query("SELECT 1")
    },
    close: async () => {
      if (closed) return
      closed = true
      for (const t of timers) clearInterval(t)
      listeners.clear()
      await pumping
      await unlisten?.().catch(() => {})
      await driver.close()
      await options.onClose?.()
    }
  }
}

interface ClaimRow {
  readonly outcome: "claimed" | "replay" | "in_flight" | "mismatch" | "reconciling"
  readonly response?: StoredResponse
  readonly zrn?: string
  readonly payload?: unknown
}

interface IngestRow {
  readonly outcome: "applied" | "stale" | "duplicate"
  readonly id?: number
  readonly current?: ProjectionRow
}

const toClaim = (r: ClaimRow): ClaimOutcome => {
  switch (r.outcome) {
    case "claimed":
      return { _tag: "claimed" }
    case "replay":
      return { _tag: "replay", response: r.response! }
    case "in_flight":
      return { _tag: "in_flight" }
    case "mismatch":
      return { _tag: "mismatch" }
    case "reconciling":
      return {
        _tag: "reconciling",
        account: r.zrn === undefined ? undefined : { zrn: r.zrn, payload: r.payload }
      }
  }
}
