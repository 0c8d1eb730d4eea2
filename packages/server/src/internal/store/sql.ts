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
  EventSource,
  IngestOutcome,
  ParticipantChange,
  ParticipantEvent,
  ParticipantIngestOutcome,
  ParticipantReconcileOutcome,
  ParticipantRecord,
  PendingKey,
  ReconcileOutcome,
  StatusRecord,
  StatusSource,
  Store,
  StoreEvent,
  StoreKind
} from "../../Store.js"
import {
  contentKey,
  eventOf,
  identityOf,
  PRUNE_BATCH,
  participantContentKey,
  participantEventOf
} from "../../Store.js"
import { groupCommit, isDeadlock, keyId, lane, type ProjectionRow } from "./batch.js"
import { claimedRecord, DEFAULT_PENDING_LIMIT_MS, decideClaim } from "./claim.js"
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
   * Gather the steps of one event-loop turn before writing, rather than sending the first at once:
   * for a database whose every call costs much whatever it carries (PGlite).
   */
  readonly deferred?: boolean
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

interface EventRow {
  readonly id: number
  /** Migration 7; absent (the default) on an account event. */
  readonly type?: string
  readonly notification_id: string | null
  readonly zrn: string
  readonly participant_code?: string | null
  readonly reason_code?: string | null
  readonly status: string
  readonly occurred_at: number
  readonly received_at: number
  readonly payload: unknown
  readonly source: EventSource
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

/** A participant projection row as the database returns it (migration 7). */
interface ParticipantRow {
  readonly participant_code: string
  readonly status: string
  readonly reason_code: string | null
  readonly updated_at: number
  readonly source: string
  readonly confirmed_at: number
}

const toParticipant = (r: ParticipantRow): ParticipantRecord => ({
  participantCode: r.participant_code,
  status: r.status,
  reasonCode: r.reason_code,
  updatedAt: Number(r.updated_at),
  source: r.source as ParticipantRecord["source"],
  confirmedAt: Number(r.confirmed_at)
})

/** The record a participant event leaves. */
const recordOfParticipantEvent = (event: ParticipantEvent): ParticipantRecord => ({
  participantCode: event.participantCode,
  status: event.status,
  reasonCode: event.reasonCode,
  updatedAt: event.occurredAt,
  source: event.source,
  confirmedAt: event.source === "webhook" ? Math.min(event.occurredAt, event.receivedAt) : event.occurredAt
})

/** What `mta_ingest_participant` and `mta_reconcile_participant` did. */
interface ParticipantStepRow {
  readonly outcome: "applied" | "repaired" | "confirmed" | "stale" | "duplicate"
  readonly by?: string
  readonly id?: number | string
  readonly current?: ParticipantRow
  readonly record?: ParticipantRow
}

const toStoreEvent = (r: EventRow): StoreEvent =>
  r.type === "participant_status_changed"
    ? {
        id: Number(r.id),
        type: "participant_status_changed",
        source: r.source,
        notificationId: r.notification_id,
        participantCode: r.participant_code ?? "",
        status: r.status,
        reasonCode: r.reason_code ?? null,
        occurredAt: Number(r.occurred_at),
        receivedAt: Number(r.received_at),
        payload: r.payload
      }
    : toEvent(r)

const toEvent = (r: EventRow): AccountEvent => ({
  id: Number(r.id),
  type: "customer_account_status_changed",
  source: r.source,
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
  source: r.source as StatusSource,
  confirmedAt: Number(r.confirmed_at)
})

/** The record an event leaves (a webhook confirms its status no later than it arrived). */
const recordOfEvent = (event: AccountEvent): StatusRecord => ({
  zrn: event.zrn,
  status: event.status,
  updatedAt: event.occurredAt,
  source: event.source,
  confirmedAt: event.source === "webhook" ? Math.min(event.occurredAt, event.receivedAt) : event.occurredAt
})

/** What `mta_reconcile` did. */
interface ReconcileRow {
  readonly outcome: "repaired" | "confirmed" | "stale"
  readonly id?: number | string
  readonly record: ProjectionRow
}

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
  /**
   * Claim the new keys of calls that are not creates in memory and write their records when the calls
   * finish. Only for a database this process alone writes (the embedded store).
   */
  readonly localClaims?: boolean
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
            `SELECT ${EVENT_COLUMNS} FROM mta_events e
             WHERE id > $1 AND type = 'customer_account_status_changed' ORDER BY id LIMIT $2`,
            [after, limit]
          )
        : await query<{ row: EventRow }>(
            `SELECT ${EVENT_COLUMNS} FROM mta_events e WHERE zrn = $1 AND id > $2 ORDER BY id LIMIT $3`,
            [zrn, after, limit]
          )
    return rows.map((r) => toEvent(r.row))
  }
  /** The whole log (both types), optionally the events of an account or of a participant (a union). */
  const readLog = async (
    after: number,
    zrn: string | undefined,
    participant: string | undefined,
    limit: number
  ): Promise<ReadonlyArray<StoreEvent>> => {
    const filters: Array<string> = []
    const params: Array<unknown> = [after, limit]
    if (zrn !== undefined) {
      params.push(zrn)
      filters.push(`zrn = $${params.length}`)
    }
    if (participant !== undefined) {
      params.push(participant)
      filters.push(`participant_code = $${params.length}`)
    }
    const where = filters.length === 0 ? "" : ` AND (${filters.join(" OR ")})`
    const rows = await query<{ row: EventRow }>(
      `SELECT ${EVENT_COLUMNS} FROM mta_events e WHERE id > $1${where} ORDER BY id LIMIT $2`,
      params
    )
    return rows.map((r) => toStoreEvent(r.row))
  }
  const participantListeners = new Set<(change: ParticipantChange) => void>()
  const deliverParticipant = (change: ParticipantChange) => {
    for (const listener of participantListeners) {
      try {
        listener(change)
      } catch {
        // As `deliver`.
      }
    }
  }
  const deliverEvent = (event: StoreEvent) => {
    if (event.type === "participant_status_changed")
      deliverParticipant({ record: recordOfParticipantEvent(event), event })
    else deliver({ record: recordOfEvent(event), event })
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
            const page = await readLog(delivered, undefined, undefined, PAGE)
            for (const event of page) {
              if (event.id <= delivered) continue
              delivered = event.id
              deliverEvent(event)
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
  /** Delivers a locally committed event; resolves once it (and every one before it) is delivered. */
  const localEvent = async (event: StoreEvent): Promise<void> => {
    if (pumping === undefined && event.id === delivered + 1) {
      delivered = event.id
      deliverEvent(event)
    } else if (event.id > delivered) {
      await pump()
    }
  }

  let unlisten: (() => Promise<void>) | undefined
  if (driver.listen !== undefined) {
    unlisten = await driver.listen(
      "mta_changes",
      (payload) => {
        let message: { origin?: string; event?: number; record?: ProjectionRow; participant?: ParticipantRow }
        try {
          message = JSON.parse(payload) as typeof message
        } catch {
          return
        }
        if (message.origin === origin) return
        if (message.event !== undefined) void pump()
        else if (message.record !== undefined) deliver({ record: toRecord(message.record) })
        else if (message.participant !== undefined) {
          const record = toParticipant(message.participant)
          rememberParticipant(record)
          deliverParticipant({ record })
        }
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

  // Keys claimed by calls in flight in this process (the embedded store: the only process on its
  // data). A new key of a call that is not a create is claimed here only, and its record is written
  // whole when the call finishes: one write per call instead of two. Nothing is lost by not writing
  // the claim: a non-create whose proxy dies in flight frees its key anyway (its lease would run out),
  // and a create's claim, which must survive to be reconciled, is written as before.
  const local =
    options.localClaims === true
      ? new Map<
          string,
          {
            readonly input: ClaimInput
            /** Whether its record is in the database (a create, or a key that had a record). */
            readonly recorded: boolean
            /** Set while the claim is being decided. */
            readonly deciding: Promise<void> | undefined
          }
        >()
      : undefined
  const group = groupCommit({
    // `mta_batch` with the key resolutions of migration 5 around it (one call, one transaction).
    run: (batch) => one("SELECT mta_batch_resolving($1::jsonb, $2) AS r", [batch, origin]),
    read: async (zrns) =>
      (
        await query<{ row: ProjectionRow }>(
          "SELECT to_jsonb(p) AS row FROM mta_projection p WHERE zrn = ANY($1::text[])",
          [zrns]
        )
      ).map((r) => r.row),
    readKeys: async (pairs) => {
      const rows = await query<{ caller: string; key: string }>(
        `SELECT k.caller, k.key FROM mta_idempotency k
         JOIN unnest($1::text[], $2::text[]) AS u(caller, key) ON k.caller = u.caller AND k.key = u.key`,
        [pairs.map((p) => p.caller), pairs.map((p) => p.key)]
      )
      return rows
    },
    concurrency: driver.concurrency,
    deferred: driver.deferred === true
  })

  const guard = () => {
    if (closed) throw new Error("store is closed")
  }

  /**
   * Calls the SQL function `fn` once per batch of items (`fn($1::jsonb, origin)`, one round trip and
   * one commit instead of one each: a PGlite query costs about a millisecond of CPU whatever it does),
   * retried on a deadlock: each call locks its rows, then the event counter, and a batch of webhooks
   * of several accounts (another replica's) can hold them the other way round; PostgreSQL then fails
   * one of the two.
   */
  const batchLane = (fn: string) =>
    lane<Record<string, unknown>>(
      async (items) => {
        const text = JSON.stringify(items)
        for (let attempt = 1; ; attempt++) {
          try {
            return await one<ReadonlyArray<unknown>>(`SELECT ${fn}($1::jsonb, $2) AS r`, [text, origin])
          } catch (error) {
            if (!isDeadlock(error) || attempt >= 3) throw error
          }
        }
      },
      driver.concurrency,
      driver.deferred === true,
      256
    )
  // Reads to reconcile with, batched like the writes of `group`: a pass of the background
  // reconciliation applies its reads together.
  const reconcileLane = batchLane("mta_reconcile_many")
  const ingestParticipantLane = batchLane("mta_ingest_participants")
  const reconcileParticipantLane = batchLane("mta_reconcile_participants")
  const readParticipants = lane<string>(
    async (codes) => {
      const rows = await query<{ row: ParticipantRow }>(
        "SELECT to_jsonb(p) AS row FROM mta_participants p WHERE participant_code = ANY($1::text[])",
        [[...new Set(codes)]]
      )
      const found = new Map(rows.map((r) => [r.row.participant_code, r.row]))
      return codes.map((code) => found.get(code))
    },
    driver.concurrency,
    driver.deferred === true,
    256
  )

  const CACHE_LIMIT = 100_000
  // Read-through like `cache`, for a database this process alone writes; `null`: known absent.
  const participantCache =
    options.cacheProjection === true ? new Map<string, ParticipantRecord | null>() : undefined
  function rememberParticipant(record: ParticipantRecord) {
    if (participantCache === undefined) return
    participantCache.delete(record.participantCode)
    participantCache.set(record.participantCode, record)
    if (participantCache.size > CACHE_LIMIT)
      participantCache.delete(participantCache.keys().next().value as string)
  }
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
      const r = await group.ingest({
        notification_id: n.notificationId,
        zrn: n.zrn,
        status: n.status,
        occurred_at: n.occurredAt,
        received_at: n.receivedAt,
        participant_code: identity?.participantCode ?? null,
        account_label: identity?.accountLabel ?? null,
        payload: n.payload,
        content_key: contentKey(n),
        body_sha256: n.bodySha256 ?? null,
        legacy: n.legacy === true
      })
      if (r.outcome === "duplicate") {
        return { _tag: "duplicate", ...(r.by === undefined ? {} : { by: r.by as "id" | "content" | "body" }) }
      }
      if (r.outcome === "stale" || r.outcome === "confirmed") {
        const current = toRecord(r.current!)
        remember(current.zrn, current)
        return r.outcome === "stale" ? { _tag: "stale", current } : { _tag: "confirmed", record: current }
      }
      const event = eventOf(n, Number(r.id))
      const record = recordOfEvent(event)
      remember(record.zrn, record)
      await localEvent(event)
      return { _tag: "applied", event, record } satisfies IngestOutcome
    },
    observe: async ({ zrn, status, source, at }) => {
      guard()
      const r = await group.observe({ zrn, status, source, at })
      const record = toRecord(r.record)
      remember(record.zrn, record)
      if (r.changed) deliver({ record })
      return record
    },
    reconcile: async (reading) => {
      guard()
      const r = (await reconcileLane({
        zrn: reading.zrn,
        status: reading.status,
        at: reading.at,
        received_at: reading.receivedAt,
        payload: reading.payload
      })) as ReconcileRow
      const record = toRecord(r.record)
      remember(record.zrn, record)
      if (r.outcome === "confirmed") return { _tag: "confirmed", record }
      if (r.outcome === "stale") return { _tag: "stale", current: record }
      if (r.id === undefined) {
        deliver({ record })
        return { _tag: "repaired", record, event: undefined }
      }
      const event: AccountEvent = {
        id: Number(r.id),
        type: "customer_account_status_changed",
        source: "reconcile",
        notificationId: null,
        zrn: reading.zrn,
        status: reading.status!,
        occurredAt: reading.at,
        receivedAt: reading.receivedAt,
        payload: reading.payload
      }
      await localEvent(event)
      return { _tag: "repaired", record, event } satisfies ReconcileOutcome
    },
    claimDue: async ({ now, provisioningBefore, staleBefore, leaseUntil, limit }) => {
      guard()
      const rows = await one<ReadonlyArray<ProjectionRow>>("SELECT mta_claim_due($1::jsonb) AS r", [
        JSON.stringify({
          now,
          provisioning_before: provisioningBefore,
          stale_before: staleBefore,
          lease_until: leaseUntil,
          limit
        })
      ])
      return rows.map(toRecord)
    },
    deferDue: async (zrns, until) => {
      guard()
      if (zrns.length === 0) return
      await query("UPDATE mta_projection SET lease_until = $2 WHERE zrn = ANY($1::text[])", [zrns, until])
    },
    alive: async (now, downtimeMs) => {
      guard()
      const mark = await one<number | string | null>("SELECT mta_alive($1, $2) AS v", [now, downtimeMs])
      return mark === null ? undefined : Number(mark)
    },
    status: async (zrn) => {
      guard()
      const cached = cache?.get(zrn)
      if (cached !== undefined) return cached ?? undefined
      const row = await group.status(zrn)
      const record = row === undefined ? undefined : toRecord(row)
      remember(zrn, record ?? null)
      return record
    },
    events: async ({ after, zrn, limit }) => {
      guard()
      return readEvents(after, zrn, limit)
    },
    log: async ({ after, zrn, participant, limit }) => {
      guard()
      return readLog(after, zrn, participant, limit)
    },
    ingestParticipant: async (n) => {
      guard()
      const r = (await ingestParticipantLane({
        notification_id: n.notificationId,
        participant_code: n.participantCode,
        status: n.status,
        reason_code: n.reasonCode,
        occurred_at: n.occurredAt,
        received_at: n.receivedAt,
        payload: n.payload,
        content_key: participantContentKey(n),
        body_sha256: n.bodySha256 ?? null,
        legacy: n.legacy === true
      })) as ParticipantStepRow
      if (r.outcome === "duplicate") {
        return { _tag: "duplicate", ...(r.by === undefined ? {} : { by: r.by as "id" | "content" | "body" }) }
      }
      const current = toParticipant(r.current!)
      rememberParticipant(current)
      if (r.outcome === "stale") return { _tag: "stale", current }
      if (r.outcome === "confirmed") return { _tag: "confirmed", record: current }
      const event = participantEventOf(n, Number(r.id))
      await localEvent(event)
      return { _tag: "applied", event, record: current } satisfies ParticipantIngestOutcome
    },
    reconcileParticipant: async (reading) => {
      guard()
      const r = (await reconcileParticipantLane({
        participant_code: reading.participantCode,
        status: reading.status,
        reason_code: reading.reasonCode,
        at: reading.at,
        received_at: reading.receivedAt,
        payload: reading.payload,
        source: reading.source
      })) as ParticipantStepRow
      const record = toParticipant(r.record!)
      rememberParticipant(record)
      if (r.outcome === "confirmed") return { _tag: "confirmed", record }
      if (r.outcome === "stale") return { _tag: "stale", current: record }
      if (r.id === undefined) {
        deliverParticipant({ record })
        return { _tag: "repaired", record, event: undefined }
      }
      const event: ParticipantEvent = {
        id: Number(r.id),
        type: "participant_status_changed",
        source: "reconcile",
        notificationId: null,
        participantCode: reading.participantCode,
        status: reading.status,
        reasonCode: reading.reasonCode,
        occurredAt: reading.at,
        receivedAt: reading.receivedAt,
        payload: reading.payload
      }
      await localEvent(event)
      return { _tag: "repaired", record, event } satisfies ParticipantReconcileOutcome
    },
    participants: async (codes) => {
      guard()
      if (participantCache !== undefined) {
        let missing = false
        const out: Array<ParticipantRecord | undefined> = []
        for (const code of codes) {
          const cached = participantCache.get(code)
          if (cached === undefined) {
            missing = true
            break
          }
          out.push(cached ?? undefined)
        }
        if (!missing) return out
      }
      const rows = (await Promise.all(codes.map((code) => readParticipants(code)))) as ReadonlyArray<
        ParticipantRow | undefined
      >
      return rows.map((row, i) => {
        const record = row === undefined ? undefined : toParticipant(row)
        if (participantCache !== undefined) {
          if (record === undefined) participantCache.set(codes[i]!, null)
          else rememberParticipant(record)
        }
        return record
      })
    },
    claimDueParticipants: async ({ now, staleBefore, leaseUntil, limit }) => {
      guard()
      const rows = await query<{ row: ParticipantRow }>(
        `WITH due AS (
           SELECT participant_code FROM mta_participants
           WHERE confirmed_at <= $1 AND lease_until <= $2
           ORDER BY confirmed_at LIMIT $3
           FOR UPDATE SKIP LOCKED)
         UPDATE mta_participants p SET lease_until = $4 FROM due
         WHERE p.participant_code = due.participant_code
         RETURNING to_jsonb(p) AS row`,
        [staleBefore, now, limit, leaseUntil]
      )
      return rows.map((r) => toParticipant(r.row)).sort((a, b) => a.confirmedAt - b.confirmedAt)
    },
    deferDueParticipants: async (codes, until) => {
      guard()
      if (codes.length === 0) return
      await query("UPDATE mta_participants SET lease_until = $2 WHERE participant_code = ANY($1::text[])", [
        codes,
        until
      ])
    },
    subscribeParticipants: (listener) => {
      participantListeners.add(listener)
      return () => {
        participantListeners.delete(listener)
      }
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
      if (local === undefined) return group.claim(input)
      const id = keyId(input)
      for (;;) {
        const held = local.get(id)
        if (held === undefined) break
        // Another claim of this key is being decided: its outcome decides this one.
        if (held.deciding !== undefined) {
          await held.deciding
          continue
        }
        // Busy or another request's; anything else (expired, abandoned) the database decides.
        const decision = decideClaim(claimedRecord(held.input), input, input.now)
        if (decision._tag === "in_flight" || decision._tag === "mismatch") return decision
        break
      }
      let decided = () => {}
      const deciding = new Promise<void>((resolve) => {
        decided = resolve
      })
      local.set(id, { input, recorded: true, deciding })
      try {
        if (input.create === undefined && !(await group.hasKey(input.caller, input.key))) {
          local.set(id, { input, recorded: false, deciding: undefined })
          return { _tag: "claimed" }
        }
        const outcome = await group.claim(input)
        if (outcome._tag === "claimed") local.set(id, { input, recorded: true, deciding: undefined })
        else local.delete(id)
        return outcome
      } catch (error) {
        local.delete(id)
        throw error
      } finally {
        decided()
      }
    },
    pendingCreates: async ({ now, limit, pendingLimitMs }) => {
      guard()
      return query<PendingKey>(
        `SELECT caller, key, fingerprint FROM mta_idempotency
         WHERE participant_code IS NOT NULL AND expires_at > $1
           AND ((state = 'reconciling' AND (landed OR coalesce(retry_at, 0) <= $1
                                            OR coalesce(pending_since, 0) + $3 <= $1))
                OR (state = 'in_flight' AND lease_until <= $1))
         ORDER BY coalesce(retry_at, lease_until) LIMIT $2`,
        [now, limit, pendingLimitMs ?? DEFAULT_PENDING_LIMIT_MS]
      )
    },
    finishCall: async (input) => {
      guard()
      const k = input.idempotency
      const id = k === undefined ? undefined : keyId(k)
      const held = id === undefined ? undefined : local?.get(id)
      try {
        const claimed = held !== undefined && !held.recorded ? held.input : undefined
        return {
          ...input.audit,
          id: await group.finish(claimed === undefined ? input : { ...input, claimed })
        }
      } finally {
        if (id !== undefined && held !== undefined && local?.get(id) === held) local.delete(id)
      }
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
    archiveAudit: async ({ before, write, flush }) => {
      guard()
      return driver.transaction(async (q) => {
        // One snapshot for reading and deleting: an entry committed meanwhile is neither written nor deleted.
        await q("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        let count = 0
        let firstId: number | undefined
        let lastId: number | undefined
        for (;;) {
          const rows = await q<{ row: AuditRow }>(
            "SELECT to_jsonb(a) AS row FROM mta_audit a WHERE at < $1 AND id > $2 ORDER BY id LIMIT $3",
            [before, lastId ?? 0, PAGE]
          )
          if (rows.length === 0) break
          const page = rows.map((r) => toAudit(r.row))
          await write(page)
          count += page.length
          firstId ??= page[0]!.id
          lastId = page[page.length - 1]!.id
          if (rows.length < PAGE) break
        }
        await flush()
        if (lastId === undefined) return { count, firstId, lastId }
        // The append-only trigger lets a delete through only up to this id, in this transaction.
        await q("SELECT set_config('mta.audit_export_through', $1, true)", [String(lastId)])
        const deleted = await q<{ n: number }>(
          "WITH d AS (DELETE FROM mta_audit WHERE at < $1 AND id <= $2 RETURNING 1) SELECT count(*)::int AS n FROM d",
          [before, lastId]
        )
        const n = Number(deleted[0]?.n ?? 0)
        if (n !== count) {
          throw new Error(`audit export: wrote ${count} entries but would delete ${n}; nothing deleted`)
        }
        return { count, firstId, lastId }
      })
    },
    prune: async ({
      before,
      now,
      batchSize = driver.kind === "embedded" ? PRUNE_BATCH / 10 : PRUNE_BATCH
    }) => {
      guard()
      const batches = async (sql: string, params: ReadonlyArray<unknown>): Promise<number> => {
        let total = 0
        for (;;) {
          if (closed) return total
          const started = performance.now()
          const n = Number(await one<number>(sql, params))
          total += n
          if (n < batchSize) return total
          // Paced: as long again before the next batch, so pruning a backlog takes at most half of
          // the database's time (PGlite runs one statement at a time) and requests go in between.
          await new Promise((resolve) => setTimeout(resolve, Math.max(1, performance.now() - started)))
        }
      }
      // `= ANY(ARRAY(…))`: the batch's rows are found by their primary key (an `IN (subquery)` was
      // planned as a scan of the whole table per batch).
      const inbox = await batches(
        `WITH d AS (
           DELETE FROM mta_inbox WHERE notification_id = ANY (ARRAY(
             SELECT i.notification_id FROM mta_inbox i
             WHERE i.received_at < $1
               AND NOT (i.participant_code IS NOT NULL AND EXISTS (
                 SELECT 1 FROM mta_idempotency k
                 WHERE k.participant_code = i.participant_code AND k.account_label = i.account_label
                   AND k.state <> 'completed' AND k.expires_at > $2))
             ORDER BY i.received_at LIMIT $3))
           RETURNING 1
         ) SELECT count(*)::int AS n FROM d`,
        [before, now, batchSize]
      )
      // A prefix of the log, up to the first event kept: ids stay dense after it.
      const events = await batches(
        `WITH d AS (
           DELETE FROM mta_events WHERE id = ANY (ARRAY(
             WITH head AS (SELECT id, received_at FROM mta_events ORDER BY id LIMIT $2),
                  kept AS (SELECT min(id) AS id FROM head WHERE received_at >= $1)
             SELECT h.id FROM head h, kept WHERE kept.id IS NULL OR h.id < kept.id))
           RETURNING 1
         ) SELECT count(*)::int AS n FROM d`,
        [before, batchSize]
      )
      return { inbox, events }
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
      participantListeners.clear()
      await pumping
      await unlisten?.().catch(() => {})
      await driver.close()
      await options.onClose?.()
    }
  }
}
