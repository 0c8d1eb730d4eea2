/**
 * The status projection converges with zerohash (`production.md` §3). zerohash drops a webhook after
 * about 8 s of retries, so a proxy that was down, restarting or partitioned for longer holds a wrong
 * status until something re-reads the account (`GET /accounts/{zrn}/details` carries `status`).
 *
 * - `apply`: what one read found, applied to the projection by `Store.reconcile` (a repair like a
 *   webhook: ordered by time, an event of source `reconcile`, waiters woken; the status held is only
 *   confirmed) and counted (`mta_reconcile_total`). The routes re-read before refusing a status command
 *   on a record older than the trust window, and on `POST /accounts/{zrn}/status/refresh`, as the
 *   caller's call.
 * - `make`: the background reconciliation. Every `intervalMs` it claims the records due (still
 *   provisioning after `provisioningMs`, confirmed longer ago than `maxAgeMs`, or confirmed before the
 *   catch-up mark) under a lease, so replicas never re-read the same account at once, and re-reads them
 *   as its own caller of the vendor budget with a share of it: `share` (10%), or `catchUpShare` while
 *   records confirmed before the mark remain. It also beats the store's heartbeat: a start (or any
 *   beat) after more than `downtimeMs` with no proxy alive sets the mark to now, since webhooks sent
 *   meanwhile may have been given up.
 * - Participants: each pass then claims the participant records due (confirmed longer ago than
 *   `maxAgeMs`, or before the catch-up mark) and re-reads them with `GET /participants?participant_code=`
 *   as a sibling caller of the vendor budget (`mta:reconcile-participants`) with half the sweep's
 *   share, so the two sweeps together stay within 1.5 × `share`. A changed status or reason is repaired
 *   (`applyParticipant`: an event of source `reconcile`); a participant zerohash no longer lists waits
 *   `maxAgeMs` before it is due again.
 */
import { randomUUID } from "node:crypto"
import { Api, Limits, Participants } from "@mta/domain"
import { Schema } from "effect"
import type { RateLimitSetting } from "../Callers.js"
import { errorCodeOf } from "../Metrics.js"
import type { ParticipantRecord, ReconcileOutcome, StatusRecord } from "../Store.js"
import type { Shared } from "./context.js"
import * as Tracing from "./tracing.js"

/** Why an account was re-read: the label of `mta_reconcile_total`. */
export type Trigger = "sweep" | "catch_up" | "command" | "refresh" | "access"

const encodeAccount = Schema.encodeSync(Api.AccountRecord)

/**
 * The event payload of a repair: the account as read (encoded as the vendor writes it), or only its
 * ZRN and status when what was read cannot be stored (U+0000 or a lone surrogate in a field: the SQL
 * stores refuse both, and the repair must not fail for a label).
 */
const payloadOf = (zrn: string, status: string | null, account: Api.AccountRecord): unknown => {
  const payload = encodeAccount(account)
  return Limits.checkJson(payload, { stringMaxLength: Limits.defaults.webhookBodyBytes }) === undefined
    ? payload
    : { zrn, status }
}

/** Applies what a read of `zrn` sent at `at` (answered at `receivedAt`) found, and counts it. */
export const apply = async (
  shared: Shared,
  trigger: Trigger,
  zrn: string,
  at: number,
  account: Api.AccountRecord,
  receivedAt: number = shared.now()
): Promise<ReconcileOutcome> => {
  const status = account.status ?? null
  const outcome = await shared.store.reconcile({
    zrn,
    status,
    at,
    receivedAt,
    payload: payloadOf(zrn, status, account)
  })
  shared.metrics.reconcile(trigger, outcome._tag)
  if (outcome._tag === "repaired") {
    shared.logger.info(
      { zrn, status, trigger, event_id: outcome.event?.id },
      "projection repaired from a read of the account"
    )
  }
  return outcome
}

const encodeEntry = Schema.encodeSync(Participants.ParticipantEntry)

/**
 * Records what a read of participant `code` sent at `at` found (its `GET /participants` entry) in the
 * participant projection, counts it (`mta_reconcile_total{kind="participant"}`), and answers the record
 * in force afterwards. `source` `read`: a first read of a participant the proxy did not know.
 */
export const applyParticipant = async (
  shared: Shared,
  trigger: "read" | "sweep" | "catch_up",
  code: string,
  at: number,
  entry: Participants.ParticipantEntry,
  source: "read" | "reconcile",
  receivedAt: number = shared.now()
): Promise<ParticipantRecord> => {
  const raw = encodeEntry(entry)
  const payload =
    Limits.checkJson(raw, { stringMaxLength: Limits.defaults.webhookBodyBytes }) === undefined
      ? raw
      : { participant_code: code, status: entry.status }
  const outcome = await shared.store.reconcileParticipant({
    participantCode: code,
    status: entry.status,
    reasonCode: entry.reason_code ?? null,
    at,
    receivedAt,
    payload,
    source
  })
  shared.metrics.reconcile(trigger, outcome._tag, "participant")
  if (outcome._tag === "repaired" && outcome.event !== undefined) {
    shared.logger.info(
      { participant_code: code, status: entry.status, trigger, event_id: outcome.event.id },
      "participant projection repaired from a read"
    )
  }
  return outcome._tag === "stale" ? outcome.current : outcome.record
}

/** The record in force after a reconciliation. */
export const recordOf = (outcome: ReconcileOutcome): StatusRecord =>
  outcome._tag === "stale" ? outcome.current : outcome.record

/** The background reconciliation's settings (`Config.Tunables`, `reconcile*`). */
export interface Settings {
  readonly maxAgeMs: number
  readonly provisioningMs: number
  /** 0: no background sweep (the heartbeat still beats). */
  readonly share: number
  readonly catchUpShare: number
  readonly intervalMs: number
  readonly downtimeMs: number
  /** The vendor budget the shares are of (the default one when the budget is off). */
  readonly budget: RateLimitSetting
}

/** The background reconciliation of one proxy. */
export interface Reconciler {
  /** Beats the heartbeat (at once, then every third of `downtimeMs`, at most every second) and sweeps. */
  readonly start: () => void
  /** Stops after the pass under way, and beats once more (a quick restart is not a downtime). */
  readonly stop: () => Promise<void>
  /** One pass now: claims what is due and re-reads it. Resolves with how many it claimed. */
  readonly pass: () => Promise<number>
  /** Whether records confirmed before the catch-up mark were still due at the last pass. */
  readonly catchingUp: () => boolean
}

/**
 * Names of the sweep as a caller of the vendor budget: not valid caller names (`:`), so no configured
 * caller shares their slots.
 */
const SWEEP_CALLER = "mta:reconcile"
const CATCH_UP_CALLER = "mta:catch-up"
const PARTICIPANT_CALLER = "mta:reconcile-participants"

/** How long a record whose re-read failed waits before it is due again. */
const RETRY_MS = 30_000

export const make = (shared: Shared, settings: Settings): Reconciler => {
  const heartbeatMs = Math.min(1_000, Math.floor(settings.downtimeMs / 3))
  /**
   * Re-reads a pass may make for a share of the budget. A read holds its slot of the share until its
   * answer, so one window of the budget overlaps the reads of `window / interval + 1` passes: a pass
   * takes that fraction of the window's share (20 a second at 10% of 2,000 per 10 s would be 18.2 a
   * pass), and never finds its share's slots taken (at 20 a pass a pass often did, and left records
   * for the next: a claim and a deferral for nothing).
   */
  const perPassOf = (share: number) =>
    (share * settings.budget.requests * settings.intervalMs) /
    (settings.budget.window_ms + settings.intervalMs)
  let mark: number | undefined
  let catchingUp = false
  /** Re-reads the pace allows and the passes have not used yet. */
  let credit = 0
  let participantCredit = 0
  const participantShare = settings.share / 2
  let stopped = true
  let timer: NodeJS.Timeout | undefined
  let heartbeat: NodeJS.Timeout | undefined
  let running: Promise<unknown> | undefined

  const setCatchingUp = (value: boolean) => {
    if (value === catchingUp) return
    catchingUp = value
    shared.metrics.reconcileCatchingUp.set(value ? 1 : 0)
    shared.logger.info(
      { catch_up_before: mark === undefined ? undefined : new Date(mark).toISOString() },
      value
        ? "reconciliation: catching up, re-reading every account confirmed before the downtime ended"
        : "reconciliation: caught up"
    )
  }

  const beat = async () => {
    try {
      const now = shared.now()
      const before = mark
      mark = await shared.store.alive(now, settings.downtimeMs)
      // A new mark (this start, another replica's, or a gap in the beats): catch up from the next pass.
      if (mark !== undefined && mark !== before && now - settings.maxAgeMs < mark) setCatchingUp(true)
    } catch (error) {
      shared.logger.warn({ err: { message: (error as Error).message } }, "reconciliation: heartbeat failed")
    }
  }

  /** What re-reading one claimed record gave: the account read, or why there is none. */
  type Read =
    | {
        readonly _tag: "read"
        readonly at: number
        readonly receivedAt: number
        readonly account: Api.AccountRecord
      }
    | { readonly _tag: "deferred" }
    | { readonly _tag: "failed" }
    /** zerohash does not know the account (the embedded default's simulator starts empty, say). */
    | { readonly _tag: "unknown" }

  /** Reads one claimed record upstream as `caller`, under its share of the vendor budget. */
  const read = async (
    record: StatusRecord,
    trigger: Trigger,
    caller: string,
    share: number
  ): Promise<Read> => {
    let release: (at: number) => void = () => {}
    if (shared.egress !== undefined) {
      // The budget shared through PostgreSQL may answer after leasing a block of slots.
      const slot = await shared.egress.admit(caller, share, shared.now())
      // The budget (or the sweep's share of it) is spent: due again at the next pass.
      if (typeof slot !== "function") return { _tag: "deferred" }
      release = slot
    }
    const at = shared.now()
    const started = performance.now()
    try {
      const account = await shared.upstream.getAccount(record.zrn, { requestId: `reconcile-${randomUUID()}` })
      shared.metrics.upstream("getAccount", (performance.now() - started) / 1000, undefined)
      return { _tag: "read", at, receivedAt: shared.now(), account }
    } catch (error) {
      const code = errorCodeOf(error)
      shared.metrics.upstream("getAccount", (performance.now() - started) / 1000, code)
      shared.metrics.reconcile(trigger, "failed")
      if (code === "NotFound") {
        shared.logger.info({ zrn: record.zrn, trigger }, "reconciliation: zerohash does not know the account")
        return { _tag: "unknown" }
      }
      shared.logger.warn({ zrn: record.zrn, trigger, code }, "reconciliation: the account could not be read")
      return { _tag: "failed" }
    } finally {
      release(shared.now())
    }
  }

  /** One pass: the accounts due, then the participants due (each with its own share). */
  const pass = async (): Promise<number> => {
    const now = shared.now()
    return (await accountPass(now)) + (await participantPass(now))
  }

  const accountPass = async (now: number): Promise<number> => {
    const share = catchingUp ? settings.catchUpShare : settings.share
    const perPass = perPassOf(share)
    // What a pass did not use carries over, up to one read more than a pass's worth (no bursts).
    credit = Math.min(credit + perPass, perPass + 1)
    const limit = Math.floor(credit)
    if (limit < 1) return 0
    const due = await shared.store.claimDue({
      now,
      provisioningBefore: now - settings.provisioningMs,
      staleBefore: Math.max(now - settings.maxAgeMs, mark ?? Number.NEGATIVE_INFINITY),
      leaseUntil: now + shared.idempotencyLeaseMs,
      limit
    })
    const behind = (r: StatusRecord) => mark !== undefined && r.confirmedAt <= mark
    setCatchingUp(due.some(behind))
    if (due.length === 0) return 0
    const triggers = due.map((r): Trigger => (behind(r) ? "catch_up" : "sweep"))
    // A pass with work is a trace of its own: its re-reads and store steps are the root span's children.
    return Tracing.background(
      "reconcile pass",
      { "mta.reconcile.accounts": due.length, "mta.reconcile.catching_up": catchingUp },
      () => reread(due, triggers)
    )
  }

  const reread = async (
    due: ReadonlyArray<StatusRecord>,
    triggers: ReadonlyArray<Trigger>
  ): Promise<number> => {
    const reads = await Promise.all(
      due.map((r, i) =>
        triggers[i] === "catch_up"
          ? read(r, "catch_up", CATCH_UP_CALLER, settings.catchUpShare)
          : read(r, "sweep", SWEEP_CALLER, settings.share)
      )
    )
    // Applied together: one store step for the pass (`Store.reconcile` batches what arrives at once).
    const applied = await Promise.all(
      reads.map(async (r, i) => {
        if (r._tag !== "read") return r._tag
        try {
          await apply(shared, triggers[i]!, due[i]!.zrn, r.at, r.account, r.receivedAt)
          return "done"
        } catch {
          shared.metrics.reconcile(triggers[i]!, "failed")
          return "failed"
        }
      })
    )
    const spent = await settle(
      due.map((r) => r.zrn),
      applied,
      (zrns, until) => shared.store.deferDue(zrns, until)
    )
    credit -= spent
    return due.length
  }

  /**
   * Puts back what a pass claimed but did not read, and says how many reads it spent: unread for
   * want of budget, due again now; failed, again after a while; unknown upstream, again after the
   * maximum age. A record that was read has had its lease ended by the store's reconcile step.
   */
  const settle = async (
    keys: ReadonlyArray<string>,
    outcomes: ReadonlyArray<string>,
    defer: (keys: ReadonlyArray<string>, until: number) => Promise<void>
  ): Promise<number> => {
    const of = (outcome: string) => keys.filter((_, i) => outcomes[i] === outcome)
    const [deferred, failed, unknown] = [of("deferred"), of("failed"), of("unknown")]
    if (deferred.length > 0) await defer(deferred, 0)
    if (failed.length > 0) await defer(failed, shared.now() + RETRY_MS)
    if (unknown.length > 0) await defer(unknown, shared.now() + settings.maxAgeMs)
    return keys.length - deferred.length
  }

  /** Re-reads one claimed participant under the participant sweep's share. */
  const readParticipant = async (
    record: ParticipantRecord,
    trigger: "sweep" | "catch_up"
  ): Promise<"done" | "deferred" | "failed" | "unknown"> => {
    let release: (at: number) => void = () => {}
    if (shared.egress !== undefined) {
      const slot = await shared.egress.admit(PARTICIPANT_CALLER, participantShare, shared.now())
      if (typeof slot !== "function") return "deferred"
      release = slot
    }
    const code = record.participantCode
    const at = shared.now()
    const started = performance.now()
    let entry: Participants.ParticipantEntry | undefined
    try {
      const page = await shared.upstream.getParticipantPage(
        { participant_code: code } as Participants.ParticipantQuery,
        { requestId: `reconcile-${randomUUID()}` }
      )
      shared.metrics.upstream("listParticipants", (performance.now() - started) / 1000, undefined)
      entry = page.message.find((e) => e.participant_code === code)
    } catch (error) {
      const errorCode = errorCodeOf(error)
      shared.metrics.upstream("listParticipants", (performance.now() - started) / 1000, errorCode)
      shared.metrics.reconcile(trigger, "failed", "participant")
      shared.logger.warn(
        { participant_code: code, trigger, code: errorCode },
        "reconciliation: the participant could not be read"
      )
      return "failed"
    } finally {
      release(shared.now())
    }
    if (entry === undefined) {
      shared.logger.info(
        { participant_code: code, trigger },
        "reconciliation: zerohash does not list the participant"
      )
      return "unknown"
    }
    try {
      await applyParticipant(shared, trigger, code, at, entry, "reconcile")
      return "done"
    } catch {
      shared.metrics.reconcile(trigger, "failed", "participant")
      return "failed"
    }
  }

  /** The participant side of a pass: claims what is due and re-reads it. Resolves with how many it claimed. */
  const participantPass = async (now: number): Promise<number> => {
    const perPass = perPassOf(participantShare)
    participantCredit = Math.min(participantCredit + perPass, perPass + 1)
    const limit = Math.floor(participantCredit)
    if (limit < 1) return 0
    const due = await shared.store.claimDueParticipants({
      now,
      staleBefore: Math.max(now - settings.maxAgeMs, mark ?? Number.NEGATIVE_INFINITY),
      leaseUntil: now + shared.idempotencyLeaseMs,
      limit
    })
    if (due.length === 0) return 0
    const outcomes = await Tracing.background(
      "reconcile participants pass",
      { "mta.reconcile.participants": due.length },
      () =>
        Promise.all(
          due.map((r) =>
            readParticipant(r, mark !== undefined && r.confirmedAt <= mark ? "catch_up" : "sweep")
          )
        )
    )
    const spent = await settle(
      due.map((r) => r.participantCode),
      outcomes,
      (codes, until) => shared.store.deferDueParticipants(codes, until)
    )
    participantCredit -= spent
    return due.length
  }

  const loop = async () => {
    if (stopped) return
    const started = performance.now()
    running = pass().catch((error: unknown) => {
      shared.logger.warn({ err: { message: (error as Error).message } }, "reconciliation: a pass failed")
    })
    await running
    running = undefined
    if (stopped) return
    timer = setTimeout(loop, Math.max(0, settings.intervalMs - (performance.now() - started)))
    timer.unref()
  }

  return {
    start: () => {
      if (!stopped) return
      stopped = false
      heartbeat = setInterval(() => void beat(), heartbeatMs)
      heartbeat.unref()
      running = beat().then(() => {
        running = undefined
        if (settings.share > 0) void loop()
      })
    },
    stop: async () => {
      if (stopped) return
      stopped = true
      clearTimeout(timer)
      clearInterval(heartbeat)
      await running
      await beat()
    },
    pass,
    catchingUp: () => catchingUp
  }
}
