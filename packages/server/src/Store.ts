/**
 * The proxy's state behind one narrow, asynchronous interface: the webhook inbox (dedupe by
 * notification id, by signed content, and by body for legacy-signed notifications), the status
 * projection (ordered by event timestamp, with when the upstream last confirmed each record), the
 * event log (ids that only grow, for `Last-Event-ID` resume), a change feed to wait on, the
 * reconciliation of the projection with the upstream (due records claimed under a lease, repairs, the
 * proxy's heartbeat), idempotency records and the audit log; the inbox and the event log are pruned
 * by `prune` (retention), the audit log only by `archiveAudit` (its export).
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
import { createHash } from "node:crypto"
import { Limits } from "@mta/domain"
import {
  claimedRecord,
  DEFAULT_PENDING_LIMIT_MS,
  decideClaim,
  type KeyRecord,
  type PairFacts,
  pendingRecord
} from "./internal/store/claim.js"
import { traced } from "./internal/tracing.js"

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
  /** SHA-256 of the raw body as received (hex): kept in the inbox, the dedupe key of legacy-signed ones. */
  readonly bodySha256?: string | undefined
  /**
   * Verified by the legacy body-only signature (its timestamp proves nothing): a body seen before is
   * then a duplicate whatever its notification id.
   */
  readonly legacy?: boolean | undefined
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
  | {
      readonly _tag: "duplicate"
      /**
       * What it duplicates: a notification id seen before (`id`), the same signed content under
       * another id (`content`: account, status and event time), or, legacy-signed, a body seen before.
       */
      readonly by?: "id" | "content" | "body" | undefined
    }

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

/** What the proxy knows about one participant's status (the participant projection). */
export interface ParticipantRecord {
  readonly participantCode: string
  /** The last known status (unknown values kept as sent). */
  readonly status: string
  /** Its reason code (`null`: none). */
  readonly reasonCode: string | null
  /** When that status was true, epoch ms: the webhook's timestamp, or when the read was sent. */
  readonly updatedAt: number
  readonly source: Exclude<StatusSource, "create">
  /** When the upstream last said this status held, epoch ms (what the reconciliation goes by). */
  readonly confirmedAt: number
}

/** One `participant_status_changed` notification, verified and decoded. */
export interface ParticipantNotification {
  readonly notificationId: string
  readonly participantCode: string
  readonly status: string
  readonly reasonCode: string | null
  /** The payload's `timestamp`, epoch ms: what orders events. */
  readonly occurredAt: number
  readonly receivedAt: number
  /** The decoded payload, unknown fields kept. */
  readonly payload: unknown
  readonly bodySha256?: string | undefined
  readonly legacy?: boolean | undefined
}

/** An entry of the event log: one change of a participant's status; ids shared with account events. */
export interface ParticipantEvent {
  readonly id: number
  readonly type: "participant_status_changed"
  readonly source: EventSource
  readonly notificationId: string | null
  readonly participantCode: string
  readonly status: string
  readonly reasonCode: string | null
  readonly occurredAt: number
  readonly receivedAt: number
  /** The webhook's payload, or the list entry a repairing read found. */
  readonly payload: unknown
}

/** Any entry of the event log. */
export type StoreEvent = AccountEvent | ParticipantEvent

/** What `ingestParticipant` did: as `IngestOutcome`, for a participant. */
export type ParticipantIngestOutcome =
  | { readonly _tag: "applied"; readonly event: ParticipantEvent; readonly record: ParticipantRecord }
  | { readonly _tag: "confirmed"; readonly record: ParticipantRecord }
  | { readonly _tag: "stale"; readonly current: ParticipantRecord }
  | { readonly _tag: "duplicate"; readonly by?: "id" | "content" | "body" | undefined }

/** What a read of a participant upstream (`GET /participants?participant_code=`) found. */
export interface ParticipantReading {
  readonly participantCode: string
  readonly status: string
  readonly reasonCode: string | null
  /** When the read was sent, epoch ms. */
  readonly at: number
  readonly receivedAt: number
  readonly payload: unknown
  /** `read`: a first read of a participant the proxy did not know; `reconcile`: a re-read. */
  readonly source: "read" | "reconcile"
}

/** What `reconcileParticipant` did: as `ReconcileOutcome` (a first sighting appends no event). */
export type ParticipantReconcileOutcome =
  | {
      readonly _tag: "repaired"
      readonly record: ParticipantRecord
      readonly event: ParticipantEvent | undefined
    }
  | { readonly _tag: "confirmed"; readonly record: ParticipantRecord }
  | { readonly _tag: "stale"; readonly current: ParticipantRecord }

/** A change to the participant projection, as the participant change feed announces it. */
export interface ParticipantChange {
  readonly record: ParticipantRecord
  readonly event?: ParticipantEvent | undefined
}

/** Which participant records are due for a re-read (`claimDueParticipants`). */
export interface ParticipantDueQuery {
  readonly now: number
  /** Every participant confirmed at or before this is due. */
  readonly staleBefore: number
  readonly leaseUntil: number
  readonly limit: number
}

/** Filters of `log`: events after an id, of one account and/or one participant (either matches). */
export interface LogQuery {
  readonly after: number
  readonly zrn?: string | undefined
  readonly participant?: string | undefined
  readonly limit: number
}

/** Whether an event matches `log`'s filters: no filter, or the account's or the participant's (a union). */
export const matches = (
  event: StoreEvent,
  zrn: string | undefined,
  participant: string | undefined
): boolean =>
  (zrn === undefined && participant === undefined) ||
  (event.type === "participant_status_changed"
    ? event.participantCode === participant
    : zrn !== undefined && event.zrn === zrn)

/**
 * The dedupe key of a participant notification's signed content: participant, status, reason and
 * event time (prefixed so it never equals an account's key).
 */
export const participantContentKey = (
  n: Pick<ParticipantNotification, "participantCode" | "status" | "reasonCode" | "occurredAt">
): string =>
  createHash("sha256")
    .update(`participant\n${n.participantCode}\n${n.occurredAt}\n${n.status}\n${n.reasonCode ?? ""}`)
    .digest("hex")

/** The event a participant notification appends, as `id`. */
export const participantEventOf = (n: ParticipantNotification, id: number): ParticipantEvent => ({
  id,
  type: "participant_status_changed",
  source: "webhook",
  notificationId: n.notificationId,
  participantCode: n.participantCode,
  status: n.status,
  reasonCode: n.reasonCode,
  occurredAt: n.occurredAt,
  receivedAt: n.receivedAt,
  payload: n.payload
})

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
  /** A create's request body as sent upstream (JSON text): what a re-send sends. */
  readonly createBody?: string | undefined
  /** How long a create may stay pending before its final answer (default 90 s). */
  readonly pendingLimitMs?: number | undefined
}

/** What claiming an idempotency key found. */
export type ClaimOutcome =
  /**
   * The key is new (or expired, or abandoned by a dead proxy, or a released create): go ahead, then
   * `finishCall`. `ownConflict`: this key sent this create before (its answer said "not carried out"),
   * so the vendor's duplicate conflict would be this key's own account.
   */
  | { readonly _tag: "claimed"; readonly ownConflict?: boolean | undefined }
  /** The call was made before: answer this again. */
  | { readonly _tag: "replay"; readonly response: StoredResponse }
  /** The first call with this key is still running. */
  | { readonly _tag: "in_flight" }
  /** The key was used for a different request. */
  | { readonly _tag: "mismatch" }
  /** A create whose outcome was unknown, resolved: a webhook reported its account. Answer 202 with it. */
  | { readonly _tag: "reconciling"; readonly account: KnownAccount }
  /** A create whose outcome was unknown, whose (participant, label) is someone else's account: 409. */
  | { readonly _tag: "conflict" }
  /**
   * A create whose outcome is unknown: send it again now (`body`), this claim holds the key meanwhile;
   * `ownConflict`: a duplicate conflict means it landed. Then `finishCall`.
   */
  | {
      readonly _tag: "resend"
      readonly body: string
      readonly ownConflict: boolean
      readonly since: number
    }
  /** Still pending since `since`: a re-send is in flight, or it landed (`landed`) and its ZRN is awaited. */
  | { readonly _tag: "pending"; readonly landed: boolean; readonly since: number }
  /** Pending for too long: answer the final answer (and store it, `complete`). */
  | { readonly _tag: "expired"; readonly landed: boolean; readonly since: number }

/** What becomes of a claimed key once its call is over. */
export type KeyResolution =
  /** Store the answer: a repeat replays it. */
  | { readonly _tag: "complete"; readonly response: StoredResponse }
  /**
   * The call was not carried out (refused before or by the upstream without effect): forget the key
   * (a create's record is kept as `released`: a retry must know it was sent once).
   */
  | { readonly _tag: "release" }
  /**
   * A create whose outcome is unknown: pending since `at` (unless it was already), re-sent from
   * `retryAt` on (from the webhook inbox or by sending it again).
   */
  | { readonly _tag: "reconcile"; readonly at?: number | undefined; readonly retryAt?: number | undefined }
  /** A create known to have landed (duplicate conflict of its own): pending until its webhook names it. */
  | { readonly _tag: "landed"; readonly at: number }

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

/** What `archiveAudit` archives and where it goes. */
export interface ArchiveInput {
  /** Entries with `at < before` (epoch ms). */
  readonly before: number
  /** Receives the entries, oldest first, a page at a time; a rejection aborts (nothing deleted). */
  readonly write: (entries: ReadonlyArray<AuditEntry>) => Promise<void>
  /** Called after the last `write` and before anything is deleted (e.g. `fsync`). */
  readonly flush: () => Promise<void>
}

/** What `archiveAudit` wrote and deleted. */
export interface ArchiveResult {
  /** Entries written, and deleted. */
  readonly count: number
  /** The first and last id written, when any. */
  readonly firstId: number | undefined
  readonly lastId: number | undefined
}

/** What `prune` removes. */
export interface PruneInput {
  /** Inbox entries and events received before this (epoch ms) go. */
  readonly before: number
  /** Now, epoch ms: which idempotency records are still alive. */
  readonly now: number
  /** Rows deleted per statement. Default 1 000 (100 for the embedded store, which runs one statement at a time). */
  readonly batchSize?: number | undefined
}

/** What `prune` removed. */
export interface PruneResult {
  readonly inbox: number
  readonly events: number
}

/** The default number of rows `prune` deletes per statement. */
export const PRUNE_BATCH = 1_000

/**
 * The dedupe key of a notification's signed content: its account, status and event time (SHA-256,
 * so a long unknown status cannot overflow an index row).
 */
export const contentKey = (n: Pick<Notification, "zrn" | "status" | "occurredAt">): string =>
  createHash("sha256").update(`${n.zrn}\n${n.occurredAt}\n${n.status}`).digest("hex")

/** What a finished mutating call leaves behind, in one atomic step. */
export interface FinishInput {
  /** The claimed key and what becomes of it; absent when the call had no `Idempotency-Key`. */
  readonly idempotency?:
    | { readonly caller: string; readonly key: string; readonly resolution: KeyResolution }
    | undefined
  readonly audit: Omit<AuditEntry, "id">
}

/** What `pendingCreates` looks for. */
export interface PendingQuery {
  readonly now: number
  readonly limit: number
  /** A pending create older than this is due whatever its `retryAt` (its final answer). Default 90 s. */
  readonly pendingLimitMs?: number | undefined
}

/** A pending create's key, to claim as its caller's retry would. */
export interface PendingKey {
  readonly caller: string
  readonly key: string
  readonly fingerprint: string
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
  /** Account events with `id > after`, oldest first, optionally of one account (`log` has every event). */
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

  /**
   * Records a verified `participant_status_changed` notification, one atomic step, by the rules of
   * `ingest`: dedupe by notification id, by signed content and (legacy) by body, in the same inbox;
   * ordered by the payload's timestamp (an older one is kept in the inbox, not applied); the status
   * and reason already held only confirm; anything else updates the participant projection and appends
   * a `participant_status_changed` event to the one event log.
   */
  readonly ingestParticipant: (notification: ParticipantNotification) => Promise<ParticipantIngestOutcome>
  /**
   * Records a read of a participant upstream, one atomic step: a first sighting is recorded (no
   * event); another status or reason, not older than the record, repairs it with an event of source
   * `reconcile`; the one held is confirmed. Ends the record's lease.
   */
  readonly reconcileParticipant: (reading: ParticipantReading) => Promise<ParticipantReconcileOutcome>
  /** The participant projection of these codes, in order (`undefined`: not known). */
  readonly participants: (
    codes: ReadonlyArray<string>
  ) => Promise<ReadonlyArray<ParticipantRecord | undefined>>
  /** Claims up to `limit` participants due for a re-read, oldest confirmation first, under a lease. */
  readonly claimDueParticipants: (query: ParticipantDueQuery) => Promise<ReadonlyArray<ParticipantRecord>>
  /** Holds these participants back from `claimDueParticipants` until `until` (`0`: due again at once). */
  readonly deferDueParticipants: (codes: ReadonlyArray<string>, until: number) => Promise<void>
  /**
   * The whole event log (account and participant events) with `id > after`, oldest first; with `zrn`
   * and/or `participant`, the events of that account or of that participant (either matches).
   * `events` is its view of the account events.
   */
  readonly log: (query: LogQuery) => Promise<ReadonlyArray<StoreEvent>>
  /** As `subscribe`, for the participant projection (in event-id order with the account changes). */
  readonly subscribeParticipants: (listener: (change: ParticipantChange) => void) => () => void

  /** Claims an idempotency key atomically (across replicas with PostgreSQL). */
  readonly claimIdempotencyKey: (input: ClaimInput) => Promise<ClaimOutcome>
  /**
   * Pending creates due for the resolver (oldest retry first, at most `limit`): outcome unknown and
   * not being re-sent (`retryAt` passed), landed (awaiting the webhook), pending past `pendingLimitMs`,
   * or in flight past their lease (their proxy died).
   */
  readonly pendingCreates: (query: PendingQuery) => Promise<ReadonlyArray<PendingKey>>
  /** Resolves the call's key (when it had one) and appends its audit entry, in one atomic step. */
  readonly finishCall: (input: FinishInput) => Promise<AuditEntry>
  /** Audit entries matching the query, oldest first. */
  readonly audit: (query: AuditQuery) => Promise<ReadonlyArray<AuditEntry>>
  /**
   * Archives the audit entries with `at < before`: hands them to `write` oldest first (page by page),
   * awaits `flush`, then deletes exactly the entries written, in one transaction (a failure of
   * `write`, `flush` or the delete deletes nothing). The only way an audit entry is ever deleted.
   */
  readonly archiveAudit: (input: ArchiveInput) => Promise<ArchiveResult>

  /**
   * Deletes webhook inbox entries and events received before `before` (epoch ms), in small batches
   * (retention). Keeps every inbox entry of an account a create still being resolved names (an
   * idempotency record not completed and not expired at `now`), and keeps the event log a suffix:
   * only events older than the oldest one kept go, so ids stay dense after the first one kept.
   */
  readonly prune: (input: PruneInput) => Promise<PruneResult>

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

/** The event a notification appends, as `id`. */
export const eventOf = (n: Notification, id: number): AccountEvent => ({
  notificationId: n.notificationId,
  zrn: n.zrn,
  status: n.status,
  occurredAt: n.occurredAt,
  receivedAt: n.receivedAt,
  payload: n.payload,
  id,
  type: "customer_account_status_changed",
  source: "webhook"
})

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

/**
 * An in-memory store: for tests. State ends with the process. Like every store, traced: a
 * `store <operation>` span per step inside a traced request (`internal/tracing.ts`).
 */
export const memory = (options: MemoryOptions = {}): Store => traced(memoryStore(options))

const memoryStore = (options: MemoryOptions): Store => {
  const inboxLimit = options.inboxLimit ?? 100_000
  const eventLimit = options.eventLimit ?? 10_000
  const auditLimit = options.auditLimit ?? 100_000
  /** Notification id → what dedupes and prunes it; in arrival order. */
  const inbox = new Map<
    string,
    {
      readonly receivedAt: number
      readonly content: string
      readonly body: string | undefined
      readonly identity: string | undefined
    }
  >()
  /** Content key → notification id, and body hash → notification id, of the entries in `inbox`. */
  const contents = new Map<string, string>()
  const bodies = new Map<string, string>()
  /** The first account a webhook named per (participant, label), and when that pair was last named. */
  const accounts = new Map<string, KnownAccount & { readonly occurredAt: number; lastReceivedAt: number }>()
  const projection = new Map<string, StatusRecord>()
  /** Reconciliation leases: until when a claimed (or deferred) record is not due. */
  const leases = new Map<string, number>()
  let aliveAt: number | undefined
  let catchUpMark: number | undefined
  const log: Array<StoreEvent> = []
  let lastEventId = 0
  const listeners = new Set<(change: Change) => void>()
  const participantProjection = new Map<string, ParticipantRecord>()
  const participantLeases = new Map<string, number>()
  const participantListeners = new Set<(change: ParticipantChange) => void>()
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

  const notifyParticipant = (change: ParticipantChange) => {
    for (const listener of participantListeners) {
      try {
        listener(change)
      } catch {
        // As `notify`.
      }
    }
  }
  const confirmParticipant = (current: ParticipantRecord, at: number): ParticipantRecord => {
    if (at <= current.confirmedAt) return current
    const record = { ...current, confirmedAt: at }
    participantProjection.set(current.participantCode, record)
    return record
  }
  const appendEvent = (event: StoreEvent) => {
    log.push(event)
    if (log.length > eventLimit) log.splice(0, log.length - eventLimit)
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

  const forget = (id: string) => {
    const entry = inbox.get(id)
    if (entry === undefined) return
    inbox.delete(id)
    if (contents.get(entry.content) === id) contents.delete(entry.content)
    if (entry.body !== undefined && bodies.get(entry.body) === id) bodies.delete(entry.body)
  }
  const remember = (
    n: Pick<Notification, "notificationId" | "receivedAt" | "bodySha256">,
    content: string,
    identity: string | undefined
  ) => {
    inbox.set(n.notificationId, { receivedAt: n.receivedAt, content, body: n.bodySha256, identity })
    contents.set(content, n.notificationId)
    if (n.bodySha256 !== undefined) bodies.set(n.bodySha256, n.notificationId)
    if (inbox.size > inboxLimit) forget(inbox.keys().next().value as string)
  }
  /** The (participant, label) pairs a create still being resolved names: their inbox entries stay. */
  const referenced = (now: number): Set<string> => {
    const pairs = new Set<string>()
    for (const record of idempotency.values()) {
      if (record.create !== undefined && record.state !== "completed" && record.expiresAt > now) {
        pairs.add(identityKey(record.create))
      }
    }
    return pairs
  }
  const identityKey = (i: AccountIdentity) => `${i.participantCode}\u0000${i.accountLabel}`
  /** What is known about a create's pair, for the claim of key `id`. */
  const factsOf = (id: string, found: KeyRecord | undefined): PairFacts => {
    if (found?.create === undefined) return { account: undefined, ownedElsewhere: false }
    const pair = identityKey(found.create)
    let ownedElsewhere = false
    for (const [other, r] of idempotency) {
      if (
        other !== id &&
        r.state === "completed" &&
        r.response.status === 202 &&
        r.create !== undefined &&
        identityKey(r.create) === pair
      ) {
        ownedElsewhere = true
        break
      }
    }
    return { account: accounts.get(pair), ownedElsewhere }
  }
  const sweep = (now: number) => {
    for (const [id, record] of idempotency) if (record.expiresAt <= now) idempotency.delete(id)
  }

  return {
    kind: "memory",
    ingest: async (n) => {
      if (inbox.has(n.notificationId)) return { _tag: "duplicate", by: "id" }
      const content = contentKey(n)
      if (contents.has(content)) return { _tag: "duplicate", by: "content" }
      if (n.legacy === true && n.bodySha256 !== undefined && bodies.has(n.bodySha256)) {
        return { _tag: "duplicate", by: "body" }
      }
      const identity = identityOf(n.payload)
      const pair = identity === undefined ? undefined : identityKey(identity)
      remember(n, content, pair)
      if (pair !== undefined) {
        const known = accounts.get(pair)
        if (known === undefined)
          accounts.set(pair, {
            zrn: n.zrn,
            payload: n.payload,
            occurredAt: n.occurredAt,
            lastReceivedAt: n.receivedAt
          })
        else known.lastReceivedAt = Math.max(known.lastReceivedAt, n.receivedAt)
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
      const event = eventOf(n, ++lastEventId)
      log.push(event)
      if (log.length > eventLimit) log.splice(0, log.length - eventLimit)
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
        if (event.type === "customer_account_status_changed" && (zrn === undefined || event.zrn === zrn))
          out.push(event)
      }
      return out
    },
    log: async ({ after, zrn, participant, limit }) => {
      const out: Array<StoreEvent> = []
      const first = log[0]
      let i = first === undefined ? 0 : Math.max(0, after + 1 - first.id)
      for (; i < log.length && out.length < limit; i++) {
        const event = log[i]!
        if (matches(event, zrn, participant)) out.push(event)
      }
      return out
    },
    ingestParticipant: async (n) => {
      if (inbox.has(n.notificationId)) return { _tag: "duplicate", by: "id" }
      const content = participantContentKey(n)
      if (contents.has(content)) return { _tag: "duplicate", by: "content" }
      if (n.legacy === true && n.bodySha256 !== undefined && bodies.has(n.bodySha256)) {
        return { _tag: "duplicate", by: "body" }
      }
      remember(n, content, undefined)
      const current = participantProjection.get(n.participantCode)
      if (current !== undefined && n.occurredAt < current.updatedAt) return { _tag: "stale", current }
      const confirmedAt = Math.min(n.occurredAt, n.receivedAt)
      if (current !== undefined && current.status === n.status && current.reasonCode === n.reasonCode) {
        return { _tag: "confirmed", record: confirmParticipant(current, confirmedAt) }
      }
      const record: ParticipantRecord = {
        participantCode: n.participantCode,
        status: n.status,
        reasonCode: n.reasonCode,
        updatedAt: n.occurredAt,
        source: "webhook",
        confirmedAt
      }
      participantProjection.set(n.participantCode, record)
      const event = participantEventOf(n, ++lastEventId)
      appendEvent(event)
      notifyParticipant({ record, event })
      return { _tag: "applied", event, record }
    },
    reconcileParticipant: async ({
      participantCode,
      status,
      reasonCode,
      at,
      receivedAt,
      payload,
      source
    }) => {
      participantLeases.delete(participantCode)
      const current = participantProjection.get(participantCode)
      if (current !== undefined && current.status === status && current.reasonCode === reasonCode) {
        return { _tag: "confirmed", record: confirmParticipant(current, at) }
      }
      if (current !== undefined && at < current.updatedAt) return { _tag: "stale", current }
      const record: ParticipantRecord = {
        participantCode,
        status,
        reasonCode,
        updatedAt: at,
        source: current === undefined ? source : "reconcile",
        confirmedAt: at
      }
      participantProjection.set(participantCode, record)
      let event: ParticipantEvent | undefined
      if (current !== undefined) {
        event = {
          id: ++lastEventId,
          type: "participant_status_changed",
          source: "reconcile",
          notificationId: null,
          participantCode,
          status,
          reasonCode,
          occurredAt: at,
          receivedAt,
          payload
        }
        appendEvent(event)
      }
      notifyParticipant({ record, event })
      return { _tag: "repaired", record, event }
    },
    participants: async (codes) => codes.map((code) => participantProjection.get(code)),
    claimDueParticipants: async ({ now, staleBefore, leaseUntil, limit }) => {
      const due: Array<ParticipantRecord> = []
      for (const record of participantProjection.values()) {
        if ((participantLeases.get(record.participantCode) ?? 0) > now) continue
        if (record.confirmedAt <= staleBefore) due.push(record)
      }
      due.sort((a, b) => a.confirmedAt - b.confirmedAt)
      const claimed = due.slice(0, limit)
      for (const record of claimed) participantLeases.set(record.participantCode, leaseUntil)
      return claimed
    },
    deferDueParticipants: async (codes, until) => {
      for (const code of codes) {
        if (until <= 0) participantLeases.delete(code)
        else participantLeases.set(code, until)
      }
    },
    subscribeParticipants: (listener) => {
      participantListeners.add(listener)
      return () => {
        participantListeners.delete(listener)
      }
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
      const decision = decideClaim(found, input, input.now, factsOf(id, found))
      if (decision._tag === "claim" || found === undefined) {
        idempotency.set(id, claimedRecord(input))
        return { _tag: "claimed" }
      }
      switch (decision._tag) {
        case "take_over":
          idempotency.set(id, { ...found, leaseUntil: input.leaseUntil })
          return { _tag: "claimed" }
        case "reclaim":
          idempotency.set(id, { ...found, state: "in_flight", leaseUntil: input.leaseUntil })
          return { _tag: "claimed", ownConflict: decision.ownConflict }
        case "replay":
        case "in_flight":
        case "mismatch":
          return decision
        default: {
          idempotency.set(id, pendingRecord(found, decision, input))
          switch (decision._tag) {
            case "reconcile":
              return { _tag: "reconciling", account: decision.account }
            case "conflict":
              return { _tag: "conflict" }
            case "resend":
              return {
                _tag: "resend",
                body: found.createBody ?? "",
                ownConflict: decision.ownConflict,
                since: decision.since
              }
            case "pending":
              return { _tag: "pending", landed: decision.landed, since: decision.since }
            case "expire":
              return { _tag: "expired", landed: decision.landed, since: decision.since }
          }
        }
      }
    },
    pendingCreates: async ({ now, limit, pendingLimitMs }) => {
      const max = pendingLimitMs ?? DEFAULT_PENDING_LIMIT_MS
      const due: Array<PendingKey & { readonly order: number }> = []
      for (const [id, r] of idempotency) {
        if (r.create === undefined || r.expiresAt <= now) continue
        const ready =
          r.state === "reconciling"
            ? r.landed === true || (r.retryAt ?? 0) <= now || (r.pendingSince ?? 0) + max <= now
            : r.state === "in_flight" && r.leaseUntil <= now
        if (!ready) continue
        const [caller, key] = id.split("\u0000") as [string, string]
        due.push({ caller, key, fingerprint: r.fingerprint, order: r.retryAt ?? r.leaseUntil })
      }
      return due
        .sort((a, b) => a.order - b.order)
        .slice(0, limit)
        .map(({ caller, key, fingerprint }) => ({ caller, key, fingerprint }))
    },
    finishCall: async ({ idempotency: key, audit }) => {
      if (key !== undefined) {
        const id = `${key.caller}\u0000${key.key}`
        const found = idempotency.get(id)
        const r = key.resolution
        if (found !== undefined) {
          const next = resolved(found, r)
          if (next === undefined) idempotency.delete(id)
          else idempotency.set(id, next)
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
    archiveAudit: async ({ before, write, flush }) => {
      const written = new Set<number>()
      let firstId: number | undefined
      let lastId: number | undefined
      let after = 0
      for (;;) {
        const page = auditLog.filter((e) => e.id > after && e.at < before).slice(0, 500)
        if (page.length === 0) break
        await write(page)
        for (const e of page) written.add(e.id)
        firstId ??= page[0]!.id
        lastId = page[page.length - 1]!.id
        after = lastId
      }
      await flush()
      // Exactly what was written: entries appended meanwhile stay.
      for (let i = auditLog.length - 1; i >= 0; i--) if (written.has(auditLog[i]!.id)) auditLog.splice(i, 1)
      return { count: written.size, firstId, lastId }
    },
    prune: async ({ before, now }) => {
      const keep = referenced(now)
      let inboxPruned = 0
      for (const [id, entry] of inbox) {
        if (entry.receivedAt >= before || (entry.identity !== undefined && keep.has(entry.identity))) continue
        forget(id)
        inboxPruned++
      }
      for (const [pair, known] of accounts) {
        if (known.lastReceivedAt < before && !keep.has(pair)) accounts.delete(pair)
      }
      // A prefix of the log: up to the first event kept.
      let events = 0
      while (events < log.length && log[events]!.receivedAt < before) events++
      log.splice(0, events)
      return { inbox: inboxPruned, events }
    },
    ping: async () => {
      if (closed) throw new Error("store is closed")
    },
    close: async () => {
      closed = true
      listeners.clear()
      participantListeners.clear()
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
  return traced(await openEmbedded(options))
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
  return traced(await openPostgres(options))
}

/**
 * The record after its call's resolution, or `undefined` to forget it (the rules every store follows;
 * the SQL stores' in `mta_batch` and `mta_resolve_keys`). A completed record stays as it is.
 */
export const resolved = (found: KeyRecord, r: KeyResolution): KeyRecord | undefined => {
  if (found.state === "completed") return found
  switch (r._tag) {
    case "complete":
      return { ...found, state: "completed", response: r.response }
    case "release":
      // A create's record is kept: a retry that meets the duplicate guard must know it was sent.
      return found.create === undefined ? undefined : { ...found, state: "released" }
    case "reconcile":
      return {
        ...found,
        state: "reconciling",
        pendingSince: found.state === "reconciling" ? (found.pendingSince ?? r.at) : r.at,
        retryAt: r.retryAt ?? found.retryAt,
        landed: found.state === "reconciling" ? found.landed : false
      }
    case "landed":
      return {
        ...found,
        state: "reconciling",
        pendingSince: found.state === "reconciling" ? (found.pendingSince ?? r.at) : r.at,
        landed: true
      }
  }
}
