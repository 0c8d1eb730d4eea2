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
import type { ClaimDecision, KeyRecord } from "../../src/internal/store/claim.js"

const HOUR = 3_600_000
/** When the record before the claim was made, before the claim. */
const AGE = 5_000

/** The key's record before the claim; times are relative to the claim's `now`. */
export interface Existing {
  readonly state: "in_flight" | "completed" | "reconciling"
  /** Whether it is a create's (the (participant, label) it reconciles by). */
  readonly create: boolean
  /** `leaseUntil - now`: > 0 still held, <= 0 abandoned. */
  readonly lease: number
  /** `expiresAt - now`: <= 0 expired. */
  readonly expiry: number
  /** Whether a webhook has named the create's account before the claim. */
  readonly webhook?: boolean
}

export interface ClaimCase {
  readonly name: string
  readonly existing: Existing | undefined
  /** The claim's request: the record's (`same`) or another (`other`). */
  readonly request: "same" | "other"
  /** Whether the claim is a create's. Default: as the record, or not. */
  readonly create?: boolean
  readonly decision: ClaimDecision["_tag"]
  /** What the same claim finds a moment later. */
  readonly again: Store.ClaimOutcome["_tag"]
}

const live = { lease: 60_000, expiry: HOUR }
const abandoned = { lease: -1_000, expiry: HOUR }

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
    decision: "reconcile",
    again: "reconciling"
  },
  {
    name: "a create abandoned in flight, its account reported by a webhook",
    existing: { state: "in_flight", create: true, ...abandoned, webhook: true },
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
    name: "a create reconciling, no webhook yet",
    existing: { state: "reconciling", create: true, ...live },
    request: "same",
    decision: "reconcile",
    again: "reconciling"
  },
  {
    name: "a create reconciling, its account reported by a webhook",
    existing: { state: "reconciling", create: true, ...live, webhook: true },
    request: "same",
    decision: "reconcile",
    again: "reconciling"
  },
  {
    name: "a create reconciling past its lease",
    existing: { state: "reconciling", create: true, ...abandoned },
    request: "same",
    decision: "reconcile",
    again: "reconciling"
  },
  {
    name: "a create reconciling, another request",
    existing: { state: "reconciling", create: true, ...live },
    request: "other",
    decision: "mismatch",
    again: "mismatch"
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

/** The record of a case, as `decideClaim` takes it. */
export const recordOf = (existing: Existing, now: number): KeyRecord => {
  const common = {
    fingerprint: FINGERPRINT.same,
    create: existing.create ? { participantCode: "CUST01", accountLabel: "label" } : undefined,
    expiresAt: now + existing.expiry,
    leaseUntil: now + existing.lease
  }
  return existing.state === "completed"
    ? { ...common, state: "completed", response: RESPONSE }
    : { ...common, state: existing.state }
}

/** The `ClaimOutcome` a store answers for a decision. */
const outcomeOf = (
  decision: ClaimDecision["_tag"],
  account: Store.KnownAccount | undefined
): Store.ClaimOutcome => {
  switch (decision) {
    case "claim":
    case "take_over":
      return { _tag: "claimed" }
    case "replay":
      return { _tag: "replay", response: RESPONSE }
    case "in_flight":
    case "mismatch":
      return { _tag: decision }
    case "reconcile":
      return { _tag: "reconciling", account }
  }
}

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
  const key = "k"
  const e = c.existing
  let account: Store.KnownAccount | undefined
  if (e !== undefined) {
    const claimed = await store.claimIdempotencyKey({
      caller,
      key,
      fingerprint: FINGERPRINT.same,
      now: now - AGE,
      expiresAt: now + e.expiry,
      leaseUntil: now + e.lease,
      ...(e.create ? { create: identity } : {})
    })
    if (claimed._tag !== "claimed") throw new Error(`the record of "${c.name}" was not made: ${claimed._tag}`)
    if (e.state !== "in_flight") {
      await store.finishCall({
        idempotency: {
          caller,
          key,
          resolution:
            e.state === "completed" ? { _tag: "complete", response: RESPONSE } : { _tag: "reconcile" }
        },
        audit: {
          at: now - AGE,
          caller,
          action: e.create ? "createAccount" : "lock",
          target: null,
          summary: {},
          outcome: e.state === "completed" ? "accepted" : "upstream_outcome_unknown",
          status: e.state === "completed" ? 202 : 504,
          requestId: `r-${randomUUID()}`
        }
      })
    }
    if (e.webhook === true) {
      const zrn = `zrn:zh:us:accounts:customer:${randomUUID()}`
      const payload = {
        zrn,
        participant_code: identity.participantCode,
        account_label: label,
        status: "open"
      }
      await store.ingest({
        notificationId: randomUUID(),
        zrn,
        status: "open",
        occurredAt: now - AGE,
        receivedAt: now - AGE,
        payload
      })
      account = { zrn, payload }
    }
  }
  const create = c.create ?? e?.create ?? false
  const input: Store.ClaimInput = {
    caller,
    key,
    fingerprint: FINGERPRINT[c.request],
    now,
    expiresAt: now + HOUR,
    leaseUntil: now + 60_000,
    ...(create ? { create: identity } : {})
  }
  const first = await store.claimIdempotencyKey(input)
  const again = await store.claimIdempotencyKey({ ...input, now: now + 1 })
  return { found: [first, again._tag], expected: [outcomeOf(c.decision, account), c.again] }
}
