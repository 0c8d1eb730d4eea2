/**
 * The idempotency claim decision, once: what claiming a key finds, given the key's record (if any),
 * the claim and the time. The memory store and the embedded store's in-process claims decide with it;
 * the SQL stores' `mta_claim` (PL/pgSQL, `migrations.ts`) decides the same under the row's lock, and
 * one table of cases (test/support/claimCases.ts) runs through all of them.
 *
 * In order: a record that is absent or expired is claimed afresh; one for another request (another
 * fingerprint) is a mismatch; an answered one is replayed; one in flight within its lease is busy;
 * one in flight past its lease was abandoned by a proxy that died: anything but a create is taken
 * over, a create (whose outcome is unknown) is reconciled, like a create already reconciling.
 */
import type { AccountIdentity, ClaimInput, StoredResponse } from "../../Store.js"

/** An idempotency record, as every store keeps it. */
export type KeyRecord = {
  readonly fingerprint: string
  /** Set for a create: the (participant, label) that reconciles it from the webhook inbox. */
  readonly create: AccountIdentity | undefined
  /** When the record is forgotten. */
  readonly expiresAt: number
  /** Until when a call in flight holds it. */
  readonly leaseUntil: number
} & (
  | { readonly state: "in_flight" }
  | { readonly state: "completed"; readonly response: StoredResponse }
  | { readonly state: "reconciling" }
)

/** What a claim decides; each answers the `ClaimOutcome` of the same name, and says what to write. */
export type ClaimDecision =
  /** No record, or an expired one: write a new record, in flight, for this request (`claimed`). */
  | { readonly _tag: "claim" }
  /** A call that is not a create, abandoned in flight: this one takes it over, with its lease (`claimed`). */
  | { readonly _tag: "take_over" }
  /** Answered before: the stored answer again (`replay`). */
  | { readonly _tag: "replay"; readonly response: StoredResponse }
  /** The first call is still running (`in_flight`). */
  | { readonly _tag: "in_flight" }
  /** The key was used for another request (`mismatch`). */
  | { readonly _tag: "mismatch" }
  /**
   * A create whose outcome is unknown: find its account in the webhook inbox (`reconciling`).
   * `abandoned`: it was in flight past its lease; its record becomes `reconciling`.
   */
  | { readonly _tag: "reconcile"; readonly abandoned: boolean }

/** Decides a claim of `input` on a key whose record is `existing`, at `now` (epoch ms). */
export const decideClaim = (
  existing: KeyRecord | undefined,
  input: Pick<ClaimInput, "fingerprint">,
  now: number
): ClaimDecision => {
  if (existing === undefined || existing.expiresAt <= now) return { _tag: "claim" }
  if (existing.fingerprint !== input.fingerprint) return { _tag: "mismatch" }
  switch (existing.state) {
    case "completed":
      return { _tag: "replay", response: existing.response }
    case "reconciling":
      return { _tag: "reconcile", abandoned: false }
    case "in_flight":
      if (existing.leaseUntil > now) return { _tag: "in_flight" }
      return existing.create === undefined ? { _tag: "take_over" } : { _tag: "reconcile", abandoned: true }
  }
}

/** The record a claim writes (`claim`), in flight. */
export const claimedRecord = (input: ClaimInput): KeyRecord => ({
  fingerprint: input.fingerprint,
  create: input.create,
  expiresAt: input.expiresAt,
  leaseUntil: input.leaseUntil,
  state: "in_flight"
})
