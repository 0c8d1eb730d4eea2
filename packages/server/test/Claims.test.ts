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
    const existing = c.existing === undefined ? undefined : recordOf(c.existing, now)
    const decision = decideClaim(existing, { fingerprint: FINGERPRINT[c.request] }, now)
    expect(decision._tag).toBe(c.decision)
    if (decision._tag === "replay") expect(decision.response).toEqual(RESPONSE)
    // Only a create abandoned in flight changes state as it is reconciled.
    if (decision._tag === "reconcile") expect(decision.abandoned).toBe(c.existing?.state === "in_flight")
  })
})
