import { Access, Composition, Enums } from "@mta/domain"
import { Option } from "effect"
import * as fc from "fast-check"
import { describe, expect, it } from "vitest"

type Action = Enums.Action
const actions = ["view", "buy", "sell", "deposit", "withdraw"] as const

// An open individual account whose primary (full_trading) is approved: every rule allows every
// action, so each table test below varies one rule only.
const individual: Access.Account = {
  type: "individual",
  status: "open",
  participant_code: "CUST01",
  tenants: [],
  financial_advisors: []
}
const jtic: Access.Account = {
  type: "jtic",
  status: "open",
  participant_code: "CUST01",
  tenants: ["CUST02"],
  financial_advisors: ["ADVSR1"]
}
const approved = { code: "CUST01", status: "approved" } as const

const allowedActions = (request: Omit<Access.Request, "action">): ReadonlyArray<Action> =>
  actions.filter((action) => Access.decide({ ...request, action }).allowed)
const rulesOf = (decision: Access.Decision) => (decision.allowed ? [] : decision.reasons.map((r) => r.rule))

// domain-rules.md §4, written out row by row.
const statusSpec = [
  [null, { view: true, buy: false, sell: false, deposit: false, withdraw: false }],
  ["open", { view: true, buy: true, sell: true, deposit: true, withdraw: true }],
  ["locked", { view: true, buy: false, sell: false, deposit: true, withdraw: false }],
  ["withdraw_locked", { view: true, buy: true, sell: true, deposit: true, withdraw: false }],
  ["divesting", { view: true, buy: false, sell: true, deposit: false, withdraw: true }],
  ["closed", { view: true, buy: false, sell: false, deposit: false, withdraw: false }]
] as const

describe("§4 account status → actions, one case per row", () => {
  it.each(statusSpec)("status %s allows %o", (status, expected) => {
    for (const action of actions) {
      const decision = Access.decide({ account: { ...individual, status }, participant: approved, action })
      expect(decision.allowed).toBe(expected[action])
      if (!decision.allowed) expect(rulesOf(decision)).toStrictEqual(["AccountStatus"])
      expect(Access.accountStatusAllows(status, action)).toBe(expected[action])
    }
  })

  it("an account record without a status (read while provisioning) is a provisioning account", () => {
    const { status: _, ...provisioning } = individual
    const decision = Access.decide({ account: provisioning, participant: approved, action: "buy" })
    expect(decision).toStrictEqual({
      allowed: false,
      reasons: [
        {
          rule: "AccountStatus",
          message: "the account is still provisioning (no status yet) does not allow buy; it allows only view"
        }
      ]
    })
  })
})

// domain-rules.md §5, written out row by row; "none" is no reason code.
const ALL = ["view", "buy", "sell", "deposit", "withdraw"] as const
const reasons = ["none", "compliance_issue", "user_request", "risk_cleared"] as const
const participantSpec: ReadonlyArray<
  readonly [
    ReadonlyArray<Enums.ParticipantStatus>,
    ReadonlyArray<(typeof reasons)[number]>,
    ReadonlyArray<Action>
  ]
> = [
  [["approved"], ["none", "risk_cleared"], ALL],
  [["submitted", "pending_approval", "rejected"], reasons, ["view"]],
  [["locked", "pending_unlock", "pending_disable"], ["user_request"], ["view", "sell", "withdraw"]],
  [["locked", "pending_unlock", "pending_disable"], ["compliance_issue"], ["view"]],
  [["pending_unlock"], ["risk_cleared"], ["view"]],
  [["disabled", "divested", "closed"], reasons, ["view"]],
  // any other combination: the most restrictive reading
  [["approved"], ["compliance_issue", "user_request"], ["view"]],
  [["locked"], ["none", "risk_cleared"], ["view"]],
  [["pending_unlock"], ["none"], ["view"]],
  [["pending_disable"], ["none", "risk_cleared"], ["view"]]
]
const participantCases = participantSpec.flatMap(([statuses, reasonCodes, allowed]) =>
  statuses.flatMap((status) => reasonCodes.map((reason) => [status, reason, allowed] as const))
)

describe("§5 participant status → actions, one case per status and reason code", () => {
  it("the cases cover every status with every reason code exactly once", () => {
    const keys = participantCases.map(([status, reason]) => `${status}/${reason}`)
    expect(new Set(keys).size).toBe(keys.length)
    expect(keys).toHaveLength(Enums.ParticipantStatus.literals.length * reasons.length)
  })

  it.each(participantCases)("%s with reason %s allows %o", (status, reason, allowed) => {
    const participant =
      reason === "none" ? { code: "CUST01", status } : { code: "CUST01", status, reason_code: reason }
    expect(allowedActions({ account: individual, participant })).toStrictEqual(allowed)
    for (const action of actions) {
      const decision = Access.decide({ account: individual, participant, action })
      if (!decision.allowed) expect(rulesOf(decision)).toStrictEqual(["ParticipantStatus"])
    }
  })

  it("a null reason code reads as none", () => {
    const participant = { code: "CUST01", status: "approved", reason_code: null } as const
    expect(allowedActions({ account: individual, participant })).toStrictEqual(ALL)
  })
})

// domain-rules.md §3, authorization → actions, checked through decide with an override.
const authorizationSpec = [
  ["full_trading", ["view", "buy", "sell", "deposit", "withdraw"]],
  ["limited_trading", ["view", "buy", "sell"]],
  ["view_only", ["view"]]
] as const

describe("§3 authorization → actions through decide, one case per row", () => {
  it.each(authorizationSpec)("a holder with %s may %o", (authorization, allowed) => {
    const account = { ...individual, overrides: { CUST01: authorization } }
    expect(allowedActions({ account, participant: approved })).toStrictEqual(allowed)
  })

  it.each([
    ["individual", [], "full_trading"],
    ["utma", ["CUSTD1"], "view_only"],
    ["trust", ["TRSTE1"], "view_only"]
  ] as const)("the primary of a %s account has its type's default", (type, tenants, authorization) => {
    const account = { ...individual, type, tenants }
    const expected = authorizationSpec.find(([a]) => a === authorization)![1]
    expect(allowedActions({ account, participant: approved })).toStrictEqual(expected)
  })
})

describe("Access.decide", () => {
  it("allows a tenant of an open account to buy, with one shared frozen answer", () => {
    const decision = Access.decide({
      account: jtic,
      participant: { code: "CUST02", status: "approved" },
      action: "buy"
    })
    expect(decision).toStrictEqual({ allowed: true })
    expect(Object.isFrozen(decision)).toBe(true)
    expect(Access.decide({ account: jtic, participant: approved, action: "view" })).toBe(decision)
  })

  it("denies a non-member", () => {
    const decision = Access.decide({
      account: jtic,
      participant: { code: "CUST09", status: "approved" },
      action: "view"
    })
    expect(decision).toStrictEqual({
      allowed: false,
      reasons: [
        {
          rule: "Membership",
          message:
            "participant CUST09 is not the primary holder, a tenant or a financial advisor of the account"
        }
      ]
    })
  })

  it("denies what the authorization does not allow: a minor buying on a UTMA account", () => {
    const utma = { ...jtic, type: "utma", participant_code: "MINOR1", tenants: ["CUSTD1"] } as const
    const decision = Access.decide({
      account: utma,
      participant: { code: "MINOR1", status: "approved" },
      action: "buy"
    })
    expect(decision).toStrictEqual({
      allowed: false,
      reasons: [
        {
          rule: "Authorization",
          message:
            "participant MINOR1 has view_only (the primary holder's default on a utma account), which does not allow buy; it allows only view"
        }
      ]
    })
  })

  it("denies what the account status does not allow: buying on a locked account", () => {
    const decision = Access.decide({
      account: { ...jtic, status: "locked" },
      participant: approved,
      action: "buy"
    })
    expect(decision).toStrictEqual({
      allowed: false,
      reasons: [
        {
          rule: "AccountStatus",
          message: "account status locked does not allow buy; it allows only view, deposit"
        }
      ]
    })
  })

  it("denies what the participant status does not allow: a compliance lock", () => {
    const participant = { code: "CUST02", status: "locked", reason_code: "compliance_issue" } as const
    const decision = Access.decide({ account: jtic, participant, action: "sell" })
    expect(decision).toStrictEqual({
      allowed: false,
      reasons: [
        {
          rule: "ParticipantStatus",
          message:
            "participant CUST02 is locked with reason code compliance_issue, which does not allow sell; it allows only view"
        }
      ]
    })
  })

  it("lists every failing rule together", () => {
    const account = { ...jtic, status: "locked" as const, overrides: { CUST02: "view_only" as const } }
    const participant = { code: "CUST02", status: "rejected" } as const
    expect(rulesOf(Access.decide({ account, participant, action: "withdraw" }))).toStrictEqual([
      "Authorization",
      "AccountStatus",
      "ParticipantStatus"
    ])
    const stranger = { code: "CUST09", status: "disabled" } as const
    expect(rulesOf(Access.decide({ account, participant: stranger, action: "buy" }))).toStrictEqual([
      "Membership",
      "AccountStatus",
      "ParticipantStatus"
    ])
  })

  it("without a participant status, only the account is asked about", () => {
    expect(
      Access.decide({ account: jtic, participant: { code: "CUST02" }, action: "withdraw" })
    ).toStrictEqual({
      allowed: true
    })
  })

  it("an advisor trades but never withdraws or deposits, whatever an override says", () => {
    const account = { ...jtic, overrides: { ADVSR1: "full_trading" as const } }
    expect(allowedActions({ account, participant: { code: "ADVSR1", status: "approved" } })).toStrictEqual([
      "view",
      "buy",
      "sell"
    ])
    const decision = Access.decide({ account, participant: { code: "ADVSR1" }, action: "withdraw" })
    expect(decision.allowed ? "" : decision.reasons[0].message).toBe(
      "participant ADVSR1 has limited_trading (as a financial advisor), which does not allow withdraw; it allows only view, buy, sell"
    )
  })

  it("an override's denial says it is an override", () => {
    const account = { ...jtic, overrides: { CUST02: "view_only" as const } }
    const decision = Access.decide({ account, participant: { code: "CUST02" }, action: "sell" })
    expect(decision.allowed ? "" : decision.reasons[0].message).toBe(
      "participant CUST02 has view_only (overridden for this account), which does not allow sell; it allows only view"
    )
  })

  it("a user-requested lock lets the participant wind down: sell and withdraw on a divesting account", () => {
    const account = { ...jtic, status: "divesting" as const }
    const participant = { code: "CUST02", status: "locked", reason_code: "user_request" } as const
    expect(allowedActions({ account, participant })).toStrictEqual(["view", "sell", "withdraw"])
  })

  it("an unknown action is one reason, not a denial by every table", () => {
    const decision = Access.decide({ account: jtic, participant: approved, action: "stake" as Action })
    expect(decision).toStrictEqual({
      allowed: false,
      reasons: [
        {
          rule: "UnknownAction",
          message: 'unknown action "stake" (expected one of view, buy, sell, deposit, withdraw)'
        }
      ]
    })
  })
})

describe("a platform's own tables", () => {
  const rules = Access.make({
    accountStatusTable: {
      ...Access.accountStatusTable,
      locked: { ...Access.accountStatusTable.locked, sell: true }
    },
    participantStatusTable: {
      ...Access.participantStatusTable,
      otherwise: []
    },
    authorizationTable: {
      ...Composition.authorizationTable,
      limited_trading: { ...Composition.authorizationTable.limited_trading, deposit: true }
    }
  })

  it("make uses them instead of the defaults", () => {
    expect(
      rules.decide({ account: { ...jtic, status: "locked" }, participant: approved, action: "sell" })
    ).toStrictEqual({
      allowed: true
    })
    expect(rules.participantStatusAllows("locked", null, "view")).toBe(false)
    expect(rules.decide({ account: jtic, participant: { code: "ADVSR1" }, action: "deposit" }).allowed).toBe(
      true
    )
    // The module-level decide keeps the defaults.
    expect(
      Access.decide({ account: { ...jtic, status: "locked" }, participant: approved, action: "sell" }).allowed
    ).toBe(false)
    expect(Access.participantStatusAllows("locked", null, "view")).toBe(true)
  })
})

describe("Access.decide, properties", () => {
  const statuses = [null, ...Enums.AccountStatus.literals] as const
  const code = fc.constantFrom("CUST01", "CUST02", "CUST03", "ADVSR1", "ADVSR2", "CUST09")
  const account = fc.record({
    type: fc.constantFrom(...Enums.AccountType.literals),
    status: fc.constantFrom(...statuses),
    participant_code: fc.constant("CUST01"),
    tenants: fc.subarray(["CUST02", "CUST03"]),
    financial_advisors: fc.subarray(["ADVSR1", "ADVSR2"]),
    overrides: fc.dictionary(code, fc.constantFrom(...Enums.Authorization.literals), { maxKeys: 2 })
  })
  const participant = fc.record(
    {
      code,
      status: fc.constantFrom(...Enums.ParticipantStatus.literals),
      reason_code: fc.constantFrom(null, ...Enums.ParticipantReasonCode.literals)
    },
    { requiredKeys: ["code"] }
  )

  it("denies exactly the rules that fail, each checked on its own", () => {
    fc.assert(
      fc.property(account, participant, fc.constantFrom(...actions), (account, participant, action) => {
        const authorization = Composition.authorizationOf(account, participant.code)
        const expected: Array<Access.Rule> = []
        const member = [account.participant_code, ...account.tenants, ...account.financial_advisors].includes(
          participant.code
        )
        // A tenant of a type that takes none (an invalid composition) is a member without authorization.
        if (!member) expected.push("Membership")
        else if (Option.isNone(authorization) || !Composition.allows(authorization.value, action)) {
          expected.push("Authorization")
        }
        if (!Access.accountStatusAllows(account.status, action)) expected.push("AccountStatus")
        if (
          participant.status !== undefined &&
          !Access.participantStatusAllows(participant.status, participant.reason_code, action)
        ) {
          expected.push("ParticipantStatus")
        }
        const decision = Access.decide({ account, participant, action })
        expect(decision.allowed).toBe(expected.length === 0)
        expect(rulesOf(decision)).toStrictEqual(expected)
      }),
      { numRuns: 2000 }
    )
  })
})
