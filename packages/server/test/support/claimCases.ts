/**
 * One table of idempotency claim cases, run through the pure decision (`decideClaim`,
 * test/Claims.test.ts) and through every store (test/support/storeSuite.ts: the memory store, the
 * embedded store's in-process claims and PGlite's `mta_claim`, PostgreSQL's `mta_claim`).
 *
 * Each case is a key's record before the claim (made through the store's own steps: a claim, then
 * perhaps a finished call and a webhook), the claim, what it decides, and what the same claim a moment
 * later finds (which shows what the first one wrote).
 */
import { randomUUID } from "node:crypto"
import type { Store } from "@mta/server"
import type { ClaimDecision, KeyRecord, PairFacts } from "../../src/internal/store/claim.js"

const HOUR = 3_600_000
/** When the record before the claim was made, before the claim. */
const AGE = 5_000

/** The key's record before the claim; times are relative to the claim's `now`. */
export interface Existing {
  /**
   * `reconciling`: a create's outcome unknown; `landed`: a re-send met its own duplicate conflict;
   * `released`: a create answered "not carried out" (its record kept).
   */
  readonly state: "in_flight" | "completed" | "reconciling" | "landed" | "released"
  /** Whether it is a create's (the (participant, label) it reconciles by). */
  readonly create: boolean
  /** `leaseUntil - now`: > 0 still held, <= 0 abandoned. */
  readonly lease: number
  /** `expiresAt - now`: <= 0 expired. */
  readonly expiry: number
  /**
   * Whether a webhook has named the create's account before the claim: `after` the key first sent
   * its create (its own, as far as anyone can tell), or `before` it (someone else's).
   */
  readonly webhook?: "after" | "before"
  /** A pending create: for how long before the claim its outcome has been unknown. Default `AGE`. */
  readonly pendingFor?: number
  /** A pending create: a re-send is in flight (it holds the key). */
  readonly resending?: boolean
  /** A create without its body (stored before migration 5: never re-sent). */
  readonly noBody?: boolean
  /** Another key completed a create of the same (participant, label). */
  readonly elsewhere?: boolean
}

export interface ClaimCase {
  readonly name: string
  readonly existing: Existing | undefined
  /** The claim's request: the record's (`same`) or another (`other`). */
  readonly request: "same" | "other"
  /** Whether the claim is a create's. Default: as the record, or not. */
  readonly create?: boolean
  readonly decision: ClaimDecision["_tag"]
  /** For `reclaim` and `resend`: whether a duplicate conflict would be the key's own account. */
  readonly own?: boolean
  /** What the same claim finds a moment later. */
  readonly again: Store.ClaimOutcome["_tag"]
}

const live = { lease: 60_000, expiry: HOUR }
const abandoned = { lease: -1_000, expiry: HOUR }
/** Past the default pending limit (90 s). */
const LONG = 100_000

export const claimCases: ReadonlyArray<ClaimCase> = [
  { name: "a new key", existing: undefined, request: "same", decision: "claim", again: "in_flight" },
  {
    name: "a new key, for a create",
    existing: undefined,
    request: "same",
    create: true,
    decision: "claim",
    again: "in_flight"
  },
  {
    name: "an answered key, the same request",
    existing: { state: "completed", create: false, ...live },
    request: "same",
    decision: "replay",
    again: "replay"
  },
  {
    name: "an answered key, another request",
    existing: { state: "completed", create: false, ...live },
    request: "other",
    decision: "mismatch",
    again: "mismatch"
  },
  {
    name: "an answered key that expired, another request",
    existing: { state: "completed", create: false, lease: -4_000, expiry: -1_000 },
    request: "other",
    decision: "claim",
    again: "in_flight"
  },
  {
    name: "an answered key that expires exactly now",
    existing: { state: "completed", create: false, lease: -4_000, expiry: 0 },
    request: "same",
    decision: "claim",
    again: "in_flight"
  },
  {
    name: "a key in flight, the same request",
    existing: { state: "in_flight", create: false, ...live },
    request: "same",
    decision: "in_flight",
    again: "in_flight"
  },
  {
    name: "a key in flight, another request",
    existing: { state: "in_flight", create: false, ...live },
    request: "other",
    decision: "mismatch",
    again: "mismatch"
  },
  {
    name: "a create in flight, the same request",
    existing: { state: "in_flight", create: true, ...live },
    request: "same",
    decision: "in_flight",
    again: "in_flight"
  },
  {
    name: "a key abandoned in flight (not a create), the same request",
    existing: { state: "in_flight", create: false, ...abandoned },
    request: "same",
    decision: "take_over",
    again: "in_flight"
  },
  {
    name: "a key whose lease ends exactly now (not a create)",
    existing: { state: "in_flight", create: false, lease: 0, expiry: HOUR },
    request: "same",
    decision: "take_over",
    again: "in_flight"
  },
  {
    name: "a key abandoned in flight (not a create), another request",
    existing: { state: "in_flight", create: false, ...abandoned },
    request: "other",
    decision: "mismatch",
    again: "mismatch"
  },
  {
    name: "a key in flight that expired, another request",
    existing: { state: "in_flight", create: false, lease: -2_000, expiry: -1_000 },
    request: "other",
    decision: "claim",
    again: "in_flight"
  },
  {
    name: "a create abandoned in flight, the same request",
    existing: { state: "in_flight", create: true, ...abandoned },
    request: "same",
    decision: "resend",
    own: true,
    again: "pending"
  },
  {
    name: "a create abandoned in flight, its account reported by a webhook",
    existing: { state: "in_flight", create: true, ...abandoned, webhook: "after" },
    request: "same",
    decision: "reconcile",
    again: "reconciling"
  },
  {
    name: "a create abandoned in flight, another request",
    existing: { state: "in_flight", create: true, ...abandoned },
    request: "other",
    decision: "mismatch",
    again: "mismatch"
  },
  {
    name: "a create pending, no webhook yet: sent again",
    existing: { state: "reconciling", create: true, ...live },
    request: "same",
    decision: "resend",
    own: true,
    again: "pending"
  },
  {
    name: "a create pending, its account reported by a webhook",
    existing: { state: "reconciling", create: true, ...live, webhook: "after" },
    request: "same",
    decision: "reconcile",
    again: "reconciling"
  },
  {
    name: "a create pending past its lease",
    existing: { state: "reconciling", create: true, ...abandoned },
    request: "same",
    decision: "resend",
    own: true,
    again: "pending"
  },
  {
    name: "a create pending, a re-send in flight",
    existing: { state: "reconciling", create: true, ...live, resending: true },
    request: "same",
    decision: "pending",
    again: "pending"
  },
  {
    name: "a create pending, stored without its body (before migration 5)",
    existing: { state: "reconciling", create: true, ...live, noBody: true },
    request: "same",
    decision: "pending",
    again: "pending"
  },
  {
    name: "a create pending, whose pair another key created",
    existing: { state: "reconciling", create: true, ...live, elsewhere: true },
    request: "same",
    decision: "resend",
    own: false,
    again: "pending"
  },
  {
    name: "a create pending, its pair's account reported before the key first sent it",
    existing: { state: "reconciling", create: true, ...live, webhook: "before" },
    request: "same",
    decision: "conflict",
    again: "conflict"
  },
  {
    name: "a create pending, its pair's account reported, and created by another key",
    existing: { state: "reconciling", create: true, ...live, webhook: "after", elsewhere: true },
    request: "same",
    decision: "conflict",
    again: "conflict"
  },
  {
    name: "a create pending past the limit",
    existing: { state: "reconciling", create: true, ...live, pendingFor: LONG },
    request: "same",
    decision: "expire",
    again: "expired"
  },
  {
    name: "a create pending past the limit, its account reported at last",
    existing: { state: "reconciling", create: true, ...live, pendingFor: LONG, webhook: "after" },
    request: "same",
    decision: "reconcile",
    again: "reconciling"
  },
  {
    name: "a create landed, no webhook yet",
    existing: { state: "landed", create: true, ...live },
    request: "same",
    decision: "pending",
    again: "pending"
  },
  {
    name: "a create landed, its account reported by a webhook",
    existing: { state: "landed", create: true, ...live, webhook: "after" },
    request: "same",
    decision: "reconcile",
    again: "reconciling"
  },
  {
    name: "a create landed past the limit",
    existing: { state: "landed", create: true, ...live, pendingFor: LONG },
    request: "same",
    decision: "expire",
    again: "expired"
  },
  {
    name: "a create pending, another request",
    existing: { state: "reconciling", create: true, ...live },
    request: "other",
    decision: "mismatch",
    again: "mismatch"
  },
  {
    name: "a released create, the same request: claimed again, its first send remembered",
    existing: { state: "released", create: true, ...live },
    request: "same",
    decision: "reclaim",
    own: true,
    again: "in_flight"
  },
  {
    name: "a released create whose pair another key created",
    existing: { state: "released", create: true, ...live, elsewhere: true },
    request: "same",
    decision: "reclaim",
    own: false,
    again: "in_flight"
  },
  {
    name: "a released create whose pair's account was reported before it was sent",
    existing: { state: "released", create: true, ...live, webhook: "before" },
    request: "same",
    decision: "reclaim",
    own: false,
    again: "in_flight"
  },
  {
    name: "a released create, another request: a new record",
    existing: { state: "released", create: true, ...live },
    request: "other",
    decision: "claim",
    again: "in_flight"
  },
  {
    name: "a create reconciling that expired, another request",
    existing: { state: "reconciling", create: true, lease: -4_000, expiry: -1_000 },
    request: "other",
    decision: "claim",
    again: "in_flight"
  }
]

/** The stored answer of a completed record. */
export const RESPONSE: Store.StoredResponse = {
  status: 202,
  headers: { "content-type": "application/json" },
  body: '{"message":{}}'
}

/** The fingerprints of the record's request and of another. */
export const FINGERPRINT = { same: "fp-first", other: "fp-second" } as const

/** The record of a case, as `decideClaim` takes it, and the facts about its pair. */
export const recordOf = (existing: Existing, now: number): { record: KeyRecord; facts: PairFacts } => {
  const sentAt = now - AGE
  const pendingSince = now - (existing.pendingFor ?? AGE)
  const common = {
    fingerprint: FINGERPRINT.same,
    create: existing.create ? { participantCode: "CUST01", accountLabel: "label" } : undefined,
    expiresAt: now + existing.expiry,
    leaseUntil: now + existing.lease,
    createBody: existing.create && existing.noBody !== true ? "{}" : undefined,
    createSentAt: existing.create ? sentAt : undefined
  }
  const pending = {
    pendingSince,
    retryAt: existing.resending === true ? now + 30_000 : pendingSince,
    landed: existing.state === "landed"
  }
  const record: KeyRecord =
    existing.state === "completed"
      ? { ...common, state: "completed", response: RESPONSE }
      : existing.state === "reconciling" || existing.state === "landed"
        ? { ...common, ...pending, state: "reconciling" }
        : { ...common, state: existing.state }
  const facts: PairFacts = {
    account:
      existing.webhook === undefined
        ? undefined
        : { zrn: "zrn", payload: {}, occurredAt: existing.webhook === "after" ? sentAt : sentAt - 10_000 },
    ownedElsewhere: existing.elsewhere === true
  }
  return { record, facts }
}

/** The `ClaimOutcome` a store answers for a case's decision (`since` as the case made it). */
const outcomeOf = (
  c: ClaimCase,
  account: Store.KnownAccount | undefined,
  now: number,
  body: string
): Store.ClaimOutcome => {
  const abandonedNow = c.existing?.state === "in_flight"
  const since = abandonedNow ? now : now - (c.existing?.pendingFor ?? AGE)
  const landed = c.existing?.state === "landed"
  switch (c.decision) {
    case "claim":
    case "take_over":
      return { _tag: "claimed" }
    case "reclaim":
      return { _tag: "claimed", ownConflict: c.own === true }
    case "replay":
      return { _tag: "replay", response: RESPONSE }
    case "in_flight":
    case "mismatch":
      return { _tag: c.decision }
    case "reconcile":
      return { _tag: "reconciling", account: account! }
    case "conflict":
      return { _tag: "conflict" }
    case "resend":
      return { _tag: "resend", body, ownConflict: c.own === true, since }
    case "pending":
      return { _tag: "pending", landed, since }
    case "expire":
      return { _tag: "expired", landed, since }
  }
}

/** What the second claim finds: its tag (with the outcome's own facts where they are fixed). */
const againOf = (o: Store.ClaimOutcome): Store.ClaimOutcome["_tag"] => o._tag

/**
 * Makes a case's record in a store through its own steps, claims, and claims again a moment later;
 * returns what it found both times, and what the case expects.
 */
export const runClaimCase = async (
  store: Store.Store,
  c: ClaimCase
): Promise<{
  readonly found: readonly [Store.ClaimOutcome, Store.ClaimOutcome["_tag"]]
  readonly expected: readonly [Store.ClaimOutcome, Store.ClaimOutcome["_tag"]]
}> => {
  // Far from the real clock, so no sweep of expired records (which reads it) can meet these.
  const now = Date.now() + HOUR
  const caller = `claims-${randomUUID()}`
  const label = `label-${randomUUID()}`
  const identity = { participantCode: "CUST01", accountLabel: label }
  const body = JSON.stringify({ participant_code: "CUST01", account_label: label })
  const key = "k"
  const e = c.existing
  const audit = (status: number) => ({
    at: now - AGE,
    caller,
    action: e?.create === true ? "createAccount" : "lock",
    target: null,
    summary: {},
    outcome: String(status),
    status,
    requestId: `r-${randomUUID()}`
  })
  let account: Store.KnownAccount | undefined
  if (e !== undefined) {
    if (e.webhook === "before") await report(store, identity, now - AGE - 10_000)
    if (e.elsewhere === true) {
      // Another key of this caller created the pair (answered 202).
      const other = await store.claimIdempotencyKey({
        caller,
        key: "another",
        fingerprint: "fp-another",
        now: now - AGE,
        expiresAt: now + HOUR,
        leaseUntil: now + 60_000,
        create: identity,
        createBody: body
      })
      if (other._tag !== "claimed") throw new Error(`the other key of "${c.name}" was not made`)
      await store.finishCall({
        idempotency: { caller, key: "another", resolution: { _tag: "complete", response: RESPONSE } },
        audit: audit(202)
      })
    }
    const claimed = await store.claimIdempotencyKey({
      caller,
      key,
      fingerprint: FINGERPRINT.same,
      now: now - AGE,
      expiresAt: now + e.expiry,
      leaseUntil: now + e.lease,
      ...(e.create ? { create: identity, ...(e.noBody === true ? {} : { createBody: body }) } : {})
    })
    if (claimed._tag !== "claimed") throw new Error(`the record of "${c.name}" was not made: ${claimed._tag}`)
    const pendingSince = now - (e.pendingFor ?? AGE)
    const resolution: Store.KeyResolution | undefined =
      e.state === "completed"
        ? { _tag: "complete", response: RESPONSE }
        : e.state === "reconciling"
          ? {
              _tag: "reconcile",
              at: pendingSince,
              retryAt: e.resending === true ? now + 30_000 : pendingSince
            }
          : e.state === "landed"
            ? { _tag: "landed", at: pendingSince }
            : e.state === "released"
              ? { _tag: "release" }
              : undefined
    if (resolution !== undefined) {
      await store.finishCall({
        idempotency: { caller, key, resolution },
        audit: audit(e.state === "completed" ? 202 : 504)
      })
    }
    if (e.webhook === "after") account = await report(store, identity, now - AGE)
    else if (e.webhook === "before") account = undefined
  }
  const create = c.create ?? e?.create ?? false
  const input: Store.ClaimInput = {
    caller,
    key,
    fingerprint: FINGERPRINT[c.request],
    now,
    expiresAt: now + HOUR,
    leaseUntil: now + 60_000,
    ...(create ? { create: identity, createBody: body } : {})
  }
  const first = await store.claimIdempotencyKey(input)
  const again = await store.claimIdempotencyKey({ ...input, now: now + 1 })
  return { found: [first, againOf(again)], expected: [outcomeOf(c, account, now, body), c.again] }
}

/** A webhook reporting the pair's account at `occurredAt`; returns the account as reported. */
const report = async (
  store: Store.Store,
  identity: Store.AccountIdentity,
  occurredAt: number
): Promise<Store.KnownAccount> => {
  const zrn = `zrn:zh:us:accounts:customer:${randomUUID()}`
  const payload = {
    zrn,
    participant_code: identity.participantCode,
    account_label: identity.accountLabel,
    status: "open"
  }
  await store.ingest({
    notificationId: randomUUID(),
    zrn,
    status: "open",
    occurredAt,
    receivedAt: occurredAt,
    payload
  })
  return { zrn, payload }
}
