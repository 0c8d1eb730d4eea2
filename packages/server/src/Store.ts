/**
 * The proxy's state behind one narrow, asynchronous interface: the webhook inbox (dedupe by
 * notification id), the status projection (ordered by event timestamp, with when the upstream last
 * confirmed each record), the event log (ids that only grow, for `Last-Event-ID` resume), a change
 * feed to wait on, the reconciliation of the projection with the upstream (due records claimed under a
 * lease, repairs, the proxy's heartbeat), idempotency records and the audit log.
 *
 * Three implementations behave the same (one behavioural suite runs against each):
 *
 * - `memory()`: in process, for tests; state ends with the process.
 * - `embedded({ dataDir })`: PGlite (PostgreSQL compiled to WebAssembly) on local disk, the default.
 * - `postgres({ url })`: a PostgreSQL server, for several replicas behind a load balancer; a change
 *   on one replica wakes the long polls and event streams of every other (LISTEN/NOTIFY).
 *
 * The two SQL stores share one schema and one implementation (`internal/store/sql.ts`); only the
 * driver differs. Every method that decides something (`ingest`, `observe`, `reconcile`, `claimDue`,
 * `alive`, `claimIdempotencyKey`, `finishCall`) is one atomic step, committed before it resolves. The
 * SQL stores commit the steps that arrive together in one transaction (group commit); a step the
 * database refuses fails alone.
 *
 * @since 0.1.0
 */
import { Limits } from "@mta/domain"
import { claimedRecord, decideClaim, type KeyRecord } from "./internal/store/claim.js"

/**
 * What a change to the projection came from: a webhook, the proxy's own create, a first read of an
 * account it had not seen, or a re-read that reconciled it with the upstream (`reconcile`).
 */
export type StatusSource = "webhook" | "create" | "read" | "reconcile"

/** What an entry of the event log came from: a webhook, or a re-read that repaired the projection. */
export type EventSource = "webhook" | "reconcile"

/** What the proxy knows about one account's status. */
export interface StatusRecord {
  /** Canonical customer-account ZRN. */
  readonly zrn: string
  /** The last known status (unknown values kept as sent); `null` while provisioning. */
  readonly status: string | null
  /**
   * When that status was true, epoch ms: the webhook's timestamp, or our clock when a create or a
   * read learnt it. What orders a webhook against the record (an older one is stale).
   */
  readonly updatedAt: number
  readonly source: StatusSource
  /**
   * When the upstream last said this status held, epoch ms: a webhook naming it (its timestamp, at
   * most the time it arrived), the start of a read that found it, the create. A notification or a
   * read naming the status already held moves only this. What the trust window and the background
   * reconciliation go by.
   */
  readonly confirmedAt: number
}

/** One `customer_account_status_changed` notification, verified and decoded. */
export interface Notification {
  readonly notificationId: string
  /** Canonical customer-account ZRN. */
  readonly zrn: string
  readonly status: string
  /** The notification's timestamp, epoch ms: what orders events. */
  readonly occurredAt: number
  readonly receivedAt: number
  /**
   * The decoded payload (an account record with `zrn`, `participant_code`, `account_label`, …),
   * kept for the event stream and for reconciling creates whose outcome was unknown.
   */
  readonly payload: unknown
}

/** An entry of the event log: one change of an account's status; `id` only grows. */
export interface AccountEvent {
  readonly id: number
  readonly type: "customer_account_status_changed"
  readonly source: EventSource
  /** The webhook's notification id; `null` for a repair (no notification told it). */
  readonly notificationId: string | null
  /** Canonical customer-account ZRN. */
  readonly zrn: string
  readonly status: string
  /** The webhook's timestamp, or when the repairing read was sent; epoch ms. */
  readonly occurredAt: number
  /** When the webhook arrived, or the repairing read's answer; epoch ms. */
  readonly receivedAt: number
  /** The account record: the webhook's payload, or what the read answered. */
  readonly payload: unknown
}

/**
 * What `ingest` did: `applied` (newer than what was known and another status: projection updated,
 * event appended), `confirmed` (the status already held, not older: only the record's `confirmedAt`
 * moves, nothing visible changes and no event is appended), `stale` (older than the known status:
 * kept in the inbox, projection and event log untouched) or `duplicate` (this notification id was
 * seen before: nothing changes).
 */
export type IngestOutcome =
  | { readonly _tag: "applied"; readonly event: AccountEvent; readonly record: StatusRecord }
  | { readonly _tag: "confirmed"; readonly record: StatusRecord }
  | { readonly _tag: "stale"; readonly current: StatusRecord }
  | { readonly _tag: "duplicate" }

/** What a read of the account upstream found, to reconcile the projection with. */
export interface Reading {
  /** Canonical customer-account ZRN. */
  readonly zrn: string
  /** The status read (`null` while provisioning). */
  readonly status: string | null
  /** When the read was sent, epoch ms: what orders it against webhooks. */
  readonly at: number
  /** When its answer came, epoch ms. */
  readonly receivedAt: number
  /** The account record as read (the event's payload when it repairs the record). */
  readonly payload: unknown
}

/**
 * What `reconcile` did with a reading: `repaired` (another status, not older than the record: applied
 * like a webhook, with an event of source `reconcile` when the account was known and the new status is
 * one; a first sighting appends none), `confirmed` (the status held: `confirmedAt` moves, nothing
 * visible changes) or `stale` (another status, but a newer fact is held: nothing changes).
 */
export type ReconcileOutcome =
  | { readonly _tag: "repaired"; readonly record: StatusRecord; readonly event: AccountEvent | undefined }
  | { readonly _tag: "confirmed"; readonly record: StatusRecord }
  | { readonly _tag: "stale"; readonly current: StatusRecord }

/** Which records are due for a re-read (`claimDue`). */
export interface DueQuery {
  readonly now: number
  /** Accounts still provisioning (`status` null) confirmed at or before this are due. */
  readonly provisioningBefore: number
  /** Every account confirmed at or before this is due. */
  readonly staleBefore: number
  /** Until when a claimed record is held for this claimer (other claims skip it). */
  readonly leaseUntil: number
  readonly limit: number
}

/** A change to the projection, as the change feed announces it. */
export interface Change {
  readonly record: StatusRecord
  /** Present when the change appended an event (a webhook). */
  readonly event?: AccountEvent | undefined
}

/** A stored response of an idempotent call. */
export interface StoredResponse {
  readonly status: number
  readonly headers: Readonly<Record<string, string>>
  readonly body: string
}

/** The vendor's duplicate guard of a create: what a webhook names too, so a create can be reconciled. */
export interface AccountIdentity {
  readonly participantCode: string
  readonly accountLabel: string
}

/** An account as a webhook reported it (the payload is the account record). */
export interface KnownAccount {
  readonly zrn: string
  readonly payload: unknown
}

/** Claims `key` of `caller` for a request with this fingerprint. */
export interface ClaimInput {
  readonly caller: string
  readonly key: string
  readonly fingerprint: string
  readonly now: number
  /** When the record is forgotten (a later claim of the key starts afresh). */
  readonly expiresAt: number
  /**
   * Until when the claim is held while the call is in flight. A record still in flight after it
   * belongs to a proxy that died: a create becomes `reconciling`, anything else can be claimed again.
   */
  readonly leaseUntil: number
  /** Set for a create: what reconciles it from the webhook inbox if its outcome is unknown. */
  readonly create?: AccountIdentity | undefined
}

/** What claiming an idempotency key found. */
export type ClaimOutcome =
  /** The key is new (or expired, or abandoned by a dead proxy): go ahead, then `finishCall`. */
  | { readonly _tag: "claimed" }
  /** The call was made before: answer this again. */
  | { readonly _tag: "replay"; readonly response: StoredResponse }
  /** The first call with this key is still running. */
  | { readonly _tag: "in_flight" }
  /** The key was used for a different request. */
  | { readonly _tag: "mismatch" }
  /**
   * A create whose outcome was unknown; `account` is what a webhook said about its (participant,
   * label), once one has arrived. The create is never sent again.
   */
  | { readonly _tag: "reconciling"; readonly account: KnownAccount | undefined }

/** What becomes of a claimed key once its call is over. */
export type KeyResolution =
  /** Store the answer: a repeat replays it. */
  | { readonly _tag: "complete"; readonly response: StoredResponse }
  /** The call was not carried out (refused before or by the upstream without effect): forget the key. */
  | { readonly _tag: "release" }
  /** A create whose outcome is unknown: reconcile it from the webhook inbox. */
  | { readonly _tag: "reconcile" }

/** One audited mutating call. */
export interface AuditEntry {
  readonly id: number
  /** When the call arrived, epoch ms. */
  readonly at: number
  readonly caller: string
  /** The endpoint's name (`createAccount`, `lock`, …). */
  readonly action: string
  /** The canonical customer-account ZRN the call was about (a create's once known), or `null`. */
  readonly target: string | null
  /** Method, canonical path, body and idempotency key, with secret-looking fields removed. */
  readonly summary: Readonly<Record<string, unknown>>
  /** `accepted`, `replayed`, or the error `code` answered. */
  readonly outcome: string
  readonly status: number
  readonly requestId: string
}

/** Filters of `audit`; every one optional. */
export interface AuditQuery {
  /** Entries with `id > after` (the pagination cursor). */
  readonly after?: number | undefined
  readonly zrn?: string | undefined
  readonly caller?: string | undefined
  /** `at >= from`, epoch ms. */
  readonly from?: number | undefined
  /** `at < to`, epoch ms. */
  readonly to?: number | undefined
  readonly limit: number
}

/** What a finished mutating call leaves behind, in one atomic step. */
export interface FinishInput {
  /** The claimed key and what becomes of it; absent when the call had no `Idempotency-Key`. */
  readonly idempotency?:
    | { readonly caller: string; readonly key: string; readonly resolution: KeyResolution }
    | undefined
  readonly audit: Omit<AuditEntry, "id">
}

/** Which implementation a store is. */
export type StoreKind = "memory" | "embedded" | "postgres"

/** The proxy's state. */
export interface Store {
  readonly kind: StoreKind
  /** Records a verified notification: dedupe, order by timestamp, project, append. One atomic step. */
  readonly ingest: (notification: Notification) => Promise<IngestOutcome>
  /**
   * Records what the proxy learnt otherwise (its own create, a first read of the account), when `at`
   * is not older than what it knows; the status already held is only confirmed. Appends no event.
   * Returns the record in force afterwards.
   */
  readonly observe: (observation: {
    readonly zrn: string
    readonly status: string | null
    readonly source: "create" | "read"
    readonly at: number
  }) => Promise<StatusRecord>
  /**
   * Reconciles the projection with a read of the account upstream, one atomic step: a repair is
   * applied like a webhook (ordered by time, an event of source `reconcile`, the change feed told);
   * the status held is confirmed. Ends the record's lease (`claimDue`).
   */
  readonly reconcile: (reading: Reading) => Promise<ReconcileOutcome>
  /**
   * Claims up to `limit` records due for a re-read, oldest confirmation first (provisioning ones
   * before the others), and holds them until `leaseUntil`: a record leased by another claim (another
   * replica's) is skipped, so replicas never re-read the same account at once.
   */
  readonly claimDue: (query: DueQuery) => Promise<ReadonlyArray<StatusRecord>>
  /** Holds these records back from `claimDue` until `until` (`0`: due again at once). */
  readonly deferDue: (zrns: ReadonlyArray<string>, until: number) => Promise<void>
  /**
   * Records that a proxy is alive at `now`. When none was for more than `downtimeMs` before (or
   * none ever was), `now` becomes the catch-up mark: every record confirmed before it is due. Returns
   * the mark (shared by every replica with PostgreSQL), or `undefined` when there is none.
   */
  readonly alive: (now: number, downtimeMs: number) => Promise<number | undefined>
  /** The projection of one account. */
  readonly status: (zrn: string) => Promise<StatusRecord | undefined>
  /** Events with `id > after`, oldest first, optionally of one account. */
  readonly events: (query: {
    readonly after: number
    readonly zrn?: string | undefined
    readonly limit: number
  }) => Promise<ReadonlyArray<AccountEvent>>
  /** The id of the newest event (0 when there is none). */
  readonly lastEventId: () => Promise<number>
  /**
   * Calls `listener` after every change to the projection, in event-id order (with PostgreSQL, the
   * changes made by other replicas too); returns the unsubscribe function.
   */
  readonly subscribe: (listener: (change: Change) => void) => () => void

  /** Claims an idempotency key atomically (across replicas with PostgreSQL). */
  readonly claimIdempotencyKey: (input: ClaimInput) => Promise<ClaimOutcome>
  /** Resolves the call's key (when it had one) and appends its audit entry, in one atomic step. */
  readonly finishCall: (input: FinishInput) => Promise<AuditEntry>
  /** Audit entries matching the query, oldest first. */
  readonly audit: (query: AuditQuery) => Promise<ReadonlyArray<AuditEntry>>

  /** Resolves when the store can serve (for `/readyz`); rejects otherwise. */
  readonly ping: () => Promise<void>
  /** Releases what the store holds; further calls may fail. */
  readonly close: () => Promise<void>
}

/**
 * The (participant, label) a webhook payload names, when it names both and could be one of the proxy's
 * own creates (a label within `Limits`: the proxy sends no longer one). An account opened elsewhere
 * with a longer label is still applied, but not indexed for reconciliation (its label could overflow
 * the SQL stores' index row).
 */
export const identityOf = (payload: unknown): AccountIdentity | undefined => {
  if (typeof payload !== "object" || payload === null) return undefined
  const p = payload as { participant_code?: unknown; account_label?: unknown }
  return typeof p.participant_code === "string" &&
    typeof p.account_label === "string" &&
    p.participant_code.length <= 64 &&
    Limits.characters(p.account_label) <= Limits.defaults.labelMaxLength
    ? { participantCode: p.participant_code, accountLabel: p.account_label }
    : undefined
}

/** The answer of a reconciled create: 202 and the account as the webhook reported it. */
export const reconciledResponse = (account: KnownAccount): StoredResponse => ({
  status: 202,
  headers: { "content-type": "application/json" },
  body: JSON.stringify({ message: account.payload })
})

/** Bounds of the in-memory store. */
export interface MemoryOptions {
  /** Notification ids remembered for dedupe. Default 100 000 (oldest forgotten first). */
  readonly inboxLimit?: number
  /** Events kept for resume. Default 10 000 (oldest dropped first). */
  readonly eventLimit?: number
  /** Audit entries kept. Default 100 000. */
  readonly auditLimit?: number
}

/** An in-memory store: for tests. State ends with the process. */
export const memory = (options: MemoryOptions = {}): Store => {
  const inboxLimit = options.inboxLimit ?? 100_000
  const eventLimit = options.eventLimit ?? 10_000
  const auditLimit = options.auditLimit ?? 100_000
  const inbox = new Set<string>()
  const accounts = new Map<string, KnownAccount>()
  const projection = new Map<string, StatusRecord>()
  /** Reconciliation leases: until when a claimed (or deferred) record is not due. */
  const leases = new Map<string, number>()
  let aliveAt: number | undefined
  let catchUpMark: number | undefined
  const log: Array<AccountEvent> = []
  let lastEventId = 0
  const listeners = new Set<(change: Change) => void>()
  const idempotency = new Map<string, KeyRecord>()
  let claims = 0
  const auditLog: Array<AuditEntry> = []
  let lastAuditId = 0
  let closed = false

  const notify = (change: Change) => {
    for (const listener of listeners) {
      try {
        listener(change)
      } catch {
        // A failing listener must not stop the others or the write that triggered it.
      }
    }
  }

  /** The record with `confirmedAt` moved to `at` (when later): nothing visible changes. */
  const confirm = (current: StatusRecord, at: number): StatusRecord => {
    if (at <= current.confirmedAt) return current
    const record = { ...current, confirmedAt: at }
    projection.set(current.zrn, record)
    return record
  }
  const append = (entry: Omit<AccountEvent, "id" | "type">): AccountEvent => {
    const event: AccountEvent = { ...entry, id: ++lastEventId, type: "customer_account_status_changed" }
    log.push(event)
    if (log.length > eventLimit) log.splice(0, log.length - eventLimit)
    return event
  }

  const remember = (id: string) => {
    inbox.add(id)
    if (inbox.size > inboxLimit) inbox.delete(inbox.values().next().value as string)
  }
  const identityKey = (i: AccountIdentity) => `${i.participantCode}\u0000${i.accountLabel}`
  const sweep = (now: number) => {
    for (const [id, record] of idempotency) if (record.expiresAt <= now) idempotency.delete(id)
  }

  return {
    kind: "memory",
    ingest: async (n) => {
      if (inbox.has(n.notificationId)) return { _tag: "duplicate" }
      remember(n.notificationId)
      const identity = identityOf(n.payload)
      if (identity !== undefined && !accounts.has(identityKey(identity))) {
        accounts.set(identityKey(identity), { zrn: n.zrn, payload: n.payload })
      }
      const current = projection.get(n.zrn)
      if (current !== undefined && n.occurredAt < current.updatedAt) return { _tag: "stale", current }
      const confirmedAt = Math.min(n.occurredAt, n.receivedAt)
      if (current !== undefined && current.status === n.status) {
        return { _tag: "confirmed", record: confirm(current, confirmedAt) }
      }
      const record: StatusRecord = {
        zrn: n.zrn,
        status: n.status,
        updatedAt: n.occurredAt,
        source: "webhook",
        confirmedAt
      }
      projection.set(n.zrn, record)
      const event = append({ ...n, source: "webhook" })
      notify({ record, event })
      return { _tag: "applied", event, record }
    },
    observe: async ({ zrn, status, source, at }) => {
      const current = projection.get(zrn)
      if (current !== undefined && at < current.updatedAt) return current
      if (current !== undefined && current.status === status) return confirm(current, at)
      const record: StatusRecord = { zrn, status, updatedAt: at, source, confirmedAt: at }
      projection.set(zrn, record)
      notify({ record })
      return record
    },
    reconcile: async ({ zrn, status, at, receivedAt, payload }) => {
      leases.delete(zrn)
      const current = projection.get(zrn)
      if (current !== undefined && current.status === status) {
        return { _tag: "confirmed", record: confirm(current, at) }
      }
      if (current !== undefined && at < current.updatedAt) return { _tag: "stale", current }
      const record: StatusRecord = { zrn, status, updatedAt: at, source: "reconcile", confirmedAt: at }
      projection.set(zrn, record)
      const event =
        current === undefined || status === null
          ? undefined
          : append({
              source: "reconcile",
              notificationId: null,
              zrn,
              status,
              occurredAt: at,
              receivedAt,
              payload
            })
      notify({ record, event })
      return { _tag: "repaired", record, event }
    },
    claimDue: async ({ now, provisioningBefore, staleBefore, leaseUntil, limit }) => {
      const provisioning: Array<StatusRecord> = []
      const stale: Array<StatusRecord> = []
      for (const record of projection.values()) {
        if ((leases.get(record.zrn) ?? 0) > now) continue
        if (record.status === null && record.confirmedAt <= provisioningBefore) provisioning.push(record)
        else if (record.confirmedAt <= staleBefore) stale.push(record)
      }
      const byAge = (a: StatusRecord, b: StatusRecord) => a.confirmedAt - b.confirmedAt
      const due = [...provisioning.sort(byAge), ...stale.sort(byAge)].slice(0, limit)
      for (const record of due) leases.set(record.zrn, leaseUntil)
      return due
    },
    deferDue: async (zrns, until) => {
      for (const zrn of zrns) {
        if (until <= 0) leases.delete(zrn)
        else leases.set(zrn, until)
      }
    },
    alive: async (now, downtimeMs) => {
      if (aliveAt === undefined || now - aliveAt > downtimeMs) catchUpMark = Math.max(catchUpMark ?? now, now)
      aliveAt = Math.max(aliveAt ?? now, now)
      return catchUpMark
    },
    status: async (zrn) => projection.get(zrn),
    events: async ({ after, zrn, limit }) => {
      const out: Array<AccountEvent> = []
      // Ids are dense and ascending, so the first candidate's index is computable.
      const first = log[0]
      let i = first === undefined ? 0 : Math.max(0, after + 1 - first.id)
      for (; i < log.length && out.length < limit; i++) {
        const event = log[i]!
        if (zrn === undefined || event.zrn === zrn) out.push(event)
      }
      return out
    },
    lastEventId: async () => lastEventId,
    subscribe: (listener) => {
      listeners.add(listener)
      return () => {
        listeners.delete(listener)
      }
    },
    claimIdempotencyKey: async (input) => {
      if (++claims % 10_000 === 0) sweep(input.now)
      const id = `${input.caller}\u0000${input.key}`
      const found = idempotency.get(id)
      const decision = decideClaim(found, input, input.now)
      if (decision._tag === "claim" || found === undefined) {
        idempotency.set(id, claimedRecord(input))
        return { _tag: "claimed" }
      }
      switch (decision._tag) {
        case "take_over":
          idempotency.set(id, { ...found, leaseUntil: input.leaseUntil })
          return { _tag: "claimed" }
        case "reconcile": {
          if (decision.abandoned) idempotency.set(id, { ...found, state: "reconciling" })
          const account = found.create === undefined ? undefined : accounts.get(identityKey(found.create))
          return { _tag: "reconciling", account }
        }
        default:
          return decision
      }
    },
    finishCall: async ({ idempotency: key, audit }) => {
      if (key !== undefined) {
        const id = `${key.caller}\u0000${key.key}`
        const found = idempotency.get(id)
        const r = key.resolution
        if (r._tag === "release") {
          if (found !== undefined && found.state !== "completed") idempotency.delete(id)
        } else if (found !== undefined) {
          idempotency.set(
            id,
            r._tag === "complete"
              ? { ...found, state: "completed", response: r.response }
              : { ...found, state: "reconciling" }
          )
        }
      }
      const stored: AuditEntry = { ...audit, id: ++lastAuditId }
      auditLog.push(stored)
      if (auditLog.length > auditLimit) auditLog.splice(0, auditLog.length - auditLimit)
      return stored
    },
    audit: async ({ after, zrn, caller, from, to, limit }) => {
      const out: Array<AuditEntry> = []
      for (const e of auditLog) {
        if (out.length >= limit) break
        if (after !== undefined && e.id <= after) continue
        if (zrn !== undefined && e.target !== zrn) continue
        if (caller !== undefined && e.caller !== caller) continue
        if (from !== undefined && e.at < from) continue
        if (to !== undefined && e.at >= to) continue
        out.push(e)
      }
      return out
    },
    ping: async () => {
      if (closed) throw new Error("store is closed")
    },
    close: async () => {
      closed = true
      listeners.clear()
    }
  }
}

/** Options of the embedded store. */
export interface EmbeddedOptions {
  /** The data directory (created if missing); one proxy process at a time may use it. */
  readonly dataDir: string
}

/**
 * The embedded store: PGlite on local disk in `dataDir`. Every committed step has been written to the
 * operating system before it resolves, so it survives the process being killed (SIGKILL); see the
 * README for what it does not survive. Migrations run on open. The directory is locked to this
 * process (a second proxy on it refuses to start).
 */
export const embedded = async (options: EmbeddedOptions): Promise<Store> => {
  const { openEmbedded } = await import("./internal/store/pglite.js")
  return openEmbedded(options)
}

/** Options of the PostgreSQL store. */
export interface PostgresOptions {
  /** `postgres://user:password@host:port/database` */
  readonly url: string
  /** Connections of the pool. Default 10. */
  readonly poolSize?: number | undefined
}

/**
 * The PostgreSQL store, for replicas sharing one database: migrations run on open (safe when several
 * replicas start at once), idempotency claims are atomic across replicas, and every replica's change
 * feed announces the changes made by the others (LISTEN/NOTIFY).
 */
export const postgres = async (options: PostgresOptions): Promise<Store> => {
  const { openPostgres } = await import("./internal/store/postgres.js")
  return openPostgres(options)
}
