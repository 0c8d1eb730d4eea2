/**
 * The idempotency claim decision, once: what claiming a key finds, given the key's record (if any),
 * the claim, the time and what is known about a create's (participant, label). The memory store and
 * the embedded store's in-process claims decide with it; the SQL stores' `mta_claim` (PL/pgSQL,
 * `migrations.ts`, version 5) decides the same under the row's lock, and one table of cases
 * (test/support/claimCases.ts) runs through all of them.
 *
 * In order: a record that is absent or expired is claimed afresh; one for another request (another
 * fingerprint) is a mismatch (a released create's record is simply replaced); an answered one is
 * replayed; one in flight within its lease is busy; one in flight past its lease was abandoned by a
 * proxy that died: anything but a create is taken over, a create becomes pending. A released create
 * (its answer said "not carried out") is claimed again, remembering that it was sent. A pending create
 * (its outcome unknown) is resolved (production.md §5):
 *
 * 1. the pair's account is known from a webhook: it is this key's (`reconcile`, 202) unless it is
 *    someone else's (`conflict`, 409): reported by a webhook that occurred before this key first sent
 *    its create, or created by another key of this proxy (`ownedElsewhere`);
 * 2. pending for `pendingLimitMs` or more: the final answer, with its cause (`expire`);
 * 3. not known to have landed and no re-send in flight: this claim re-sends the create (`resend`,
 *    holding the key until `leaseUntil`);
 * 4. otherwise it stays pending (`pending`: 409 `idempotency_outcome_pending`, retry later).
 */
import type { AccountIdentity, ClaimInput, KnownAccount, StoredResponse } from "../../Store.js"

/** An idempotency record, as every store keeps it. */
export type KeyRecord = {
  readonly fingerprint: string
  /** Set for a create: the (participant, label) that reconciles it from the webhook inbox. */
  readonly create: AccountIdentity | undefined
  /** When the record is forgotten. */
  readonly expiresAt: number
  /** Until when a call in flight holds it. */
  readonly leaseUntil: number
  /** A create: its request body as sent upstream (JSON text), so that any replica can send it again. */
  readonly createBody?: string | undefined
  /** A create: when this key first sent it upstream (kept when the key is released). */
  readonly createSentAt?: number | undefined
  /** A pending create: since when its outcome is unknown. */
  readonly pendingSince?: number | undefined
  /** A pending create: a re-send met the vendor's duplicate guard (it landed; its ZRN is awaited). */
  readonly landed?: boolean | undefined
  /** A pending create: not re-sent before this time (a re-send in flight holds it until then). */
  readonly retryAt?: number | undefined
} & (
  | { readonly state: "in_flight" }
  | { readonly state: "completed"; readonly response: StoredResponse }
  | { readonly state: "reconciling" }
  /** A create answered "not carried out": kept so that a retry knows it was sent once. */
  | { readonly state: "released" }
)

/** What is known about a create's (participant, label) when its claim is decided. */
export interface PairFacts {
  /** The first account a webhook reported for the pair, with that webhook's time. */
  readonly account: (KnownAccount & { readonly occurredAt: number }) | undefined
  /** Another key of this proxy's callers completed a create of the pair (answered 202). */
  readonly ownedElsewhere: boolean
}

export const noFacts: PairFacts = { account: undefined, ownedElsewhere: false }

/**
 * How much earlier than the proxy's clock the vendor's webhook timestamp of an account this key
 * created may be (the two clocks differ): an account reported earlier than `createSentAt` minus this
 * is someone else's.
 */
export const CLOCK_SKEW_MS = 2_000

/** The default of `ClaimInput.pendingLimitMs` (`Config.defaults.idempotencyPendingMaxMs`). */
export const DEFAULT_PENDING_LIMIT_MS = 90_000

/** What a claim decides; each answers the `ClaimOutcome` of the same name, and says what to write. */
export type ClaimDecision =
  /** No record, or an expired one (or a released one of another request): a new record, in flight (`claimed`). */
  | { readonly _tag: "claim" }
  /** A call that is not a create, abandoned in flight: this one takes it over, with its lease (`claimed`). */
  | { readonly _tag: "take_over" }
  /**
   * A released create of this request: in flight again with this lease, `createSentAt` kept
   * (`claimed`); `ownConflict`: a duplicate conflict would be this key's own account.
   */
  | { readonly _tag: "reclaim"; readonly ownConflict: boolean }
  /** Answered before: the stored answer again (`replay`). */
  | { readonly _tag: "replay"; readonly response: StoredResponse }
  /** The first call is still running (`in_flight`). */
  | { readonly _tag: "in_flight" }
  /** The key was used for another request (`mismatch`). */
  | { readonly _tag: "mismatch" }
  | Pending

/**
 * The decisions on a pending create. `abandoned`: it was in flight past its lease; its record becomes
 * pending now (`pendingSince` = now, `retryAt` = now).
 */
export type Pending =
  /** The pair's account is this key's: answer 202 with it (`reconciling`). */
  | { readonly _tag: "reconcile"; readonly abandoned: boolean; readonly account: KnownAccount }
  /** The pair's account is someone else's: the create could not have landed; a genuine 409 (`conflict`). */
  | { readonly _tag: "conflict"; readonly abandoned: boolean }
  /** Pending too long: the final answer says why (`expired`). */
  | { readonly _tag: "expire"; readonly abandoned: boolean; readonly landed: boolean; readonly since: number }
  /** This claim sends the create again; `retryAt` becomes the claim's lease (`resend`). */
  | {
      readonly _tag: "resend"
      readonly abandoned: boolean
      readonly ownConflict: boolean
      readonly since: number
    }
  /** Still waiting: for the account's webhook (`landed`), or for a re-send in flight (`pending`). */
  | {
      readonly _tag: "pending"
      readonly abandoned: boolean
      readonly landed: boolean
      readonly since: number
    }

/** Whether the pair's known account (if any) is someone else's for a key that first sent at `sentAt`. */
const othersAccount = (facts: PairFacts, sentAt: number | undefined): boolean =>
  facts.ownedElsewhere ||
  (facts.account !== undefined && sentAt !== undefined && facts.account.occurredAt < sentAt - CLOCK_SKEW_MS)

/** Decides a claim of `input` on a key whose record is `existing`, at `now` (epoch ms). */
export const decideClaim = (
  existing: KeyRecord | undefined,
  input: Pick<ClaimInput, "fingerprint"> & { readonly pendingLimitMs?: number | undefined },
  now: number,
  facts: PairFacts = noFacts
): ClaimDecision => {
  if (existing === undefined || existing.expiresAt <= now) return { _tag: "claim" }
  if (existing.fingerprint !== input.fingerprint) {
    return existing.state === "released" ? { _tag: "claim" } : { _tag: "mismatch" }
  }
  switch (existing.state) {
    case "completed":
      return { _tag: "replay", response: existing.response }
    case "released":
      return { _tag: "reclaim", ownConflict: !othersAccount(facts, existing.createSentAt) }
    case "in_flight":
      if (existing.leaseUntil > now) return { _tag: "in_flight" }
      if (existing.create === undefined) return { _tag: "take_over" }
      return decidePending(existing, input.pendingLimitMs, now, facts, true)
    case "reconciling":
      return decidePending(existing, input.pendingLimitMs, now, facts, false)
  }
}

const decidePending = (
  r: KeyRecord,
  pendingLimitMs: number | undefined,
  now: number,
  facts: PairFacts,
  abandoned: boolean
): Pending => {
  const since = abandoned ? now : (r.pendingSince ?? now)
  const landed = !abandoned && r.landed === true
  const retryAt = abandoned ? now : (r.retryAt ?? now)
  if (facts.account !== undefined) {
    return othersAccount(facts, r.createSentAt)
      ? { _tag: "conflict", abandoned }
      : { _tag: "reconcile", abandoned, account: { zrn: facts.account.zrn, payload: facts.account.payload } }
  }
  if (now - since >= (pendingLimitMs ?? DEFAULT_PENDING_LIMIT_MS))
    return { _tag: "expire", abandoned, landed, since }
  if (!landed && retryAt <= now && r.createBody !== undefined) {
    return { _tag: "resend", abandoned, ownConflict: !facts.ownedElsewhere, since }
  }
  return { _tag: "pending", abandoned, landed, since }
}

/** The record a claim writes (`claim`), in flight; a create's is sent now. */
export const claimedRecord = (input: ClaimInput): KeyRecord => ({
  fingerprint: input.fingerprint,
  create: input.create,
  expiresAt: input.expiresAt,
  leaseUntil: input.leaseUntil,
  createBody: input.createBody,
  createSentAt: input.create === undefined ? undefined : input.now,
  state: "in_flight"
})

/** The record after a decision on a pending create (`abandoned` ones become pending; `resend` holds it). */
export const pendingRecord = (r: KeyRecord, d: Pending, input: ClaimInput): KeyRecord => {
  const base: KeyRecord = d.abandoned
    ? { ...r, state: "reconciling", pendingSince: input.now, retryAt: input.now, landed: false }
    : r
  return d._tag === "resend" ? { ...base, state: "reconciling", retryAt: input.leaseUntil } : base
}
