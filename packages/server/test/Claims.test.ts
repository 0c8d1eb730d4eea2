/**
 * The idempotency claim decision (`decideClaim`) over the table of cases that every store runs too
 * (test/support/claimCases.ts, through `storeSuite` in test/Store.test.ts): one state machine, written
 * once in TypeScript and once in PL/pgSQL, held to the same cases.
 */
import { describe, expect, it } from "vitest"
import { decideClaim } from "../src/internal/store/claim.js"
import { claimCases, FINGERPRINT, RESPONSE, recordOf } from "./support/claimCases.js"

describe("decideClaim", () => {
  it.each(claimCases)("$name: $decision", (c) => {
    const now = 1_700_000_000_000
    const made = c.existing === undefined ? undefined : recordOf(c.existing, now)
    const decision = decideClaim(made?.record, { fingerprint: FINGERPRINT[c.request] }, now, made?.facts)
    expect(decision._tag).toBe(c.decision)
    if (decision._tag === "replay") expect(decision.response).toEqual(RESPONSE)
    if (decision._tag === "reclaim" || decision._tag === "resend") expect(decision.ownConflict).toBe(c.own)
    // Only a create abandoned in flight becomes pending as it is decided.
    if ("abandoned" in decision) expect(decision.abandoned).toBe(c.existing?.state === "in_flight")
  })
})
