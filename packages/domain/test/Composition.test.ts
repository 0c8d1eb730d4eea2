import { Composition, Enums } from "@mta/domain"
import { Either, Option, Schema } from "effect"
import { describe, expect, it } from "vitest"

const failure = <A, E>(result: Either.Either<A, E>): E | undefined =>
  Either.isLeft(result) ? result.left : undefined
const success = <A, E>(result: Either.Either<A, E>): A | undefined =>
  Either.isRight(result) ? result.right : undefined
const rulesOf = (result: Either.Either<unknown, Composition.CompositionError>) =>
  failure(result)?.problems.map((p) => p.rule)

// domain-rules.md §3, written out row by row:
// account type | primary's tenant type | secondaries' tenant type | number of secondaries | primary default | secondary default
const spec = [
  ["individual", "individual", null, "0", "full_trading", null],
  ["jtic", "individual", "individual", "1 or more", "full_trading", "full_trading"],
  ["jtwros", "individual", "individual", "1 or more", "full_trading", "full_trading"],
  ["community_property", "individual", "individual", "exactly 1", "full_trading", "full_trading"],
  ["utma", "utma_beneficiary", "utma_custodian", "exactly 1", "view_only", "full_trading"],
  ["trust", "trust_beneficiary", "trustee", "1 or more", "view_only", "full_trading"],
  ["business", "business", "individual", "1 or more", "full_trading", "full_trading"]
] as const

const bounds = (count: (typeof spec)[number][3]): readonly [min: number, max: number | null] =>
  count === "0" ? [0, 0] : count === "exactly 1" ? [1, 1] : [1, null]
const codes = (n: number): Array<string> =>
  Array.from({ length: n }, (_, i) => `T${String(i + 1).padStart(5, "0")}`)

describe("§3 composition and default authorization, one case per row", () => {
  it("the spec has one row per account type", () => {
    expect(spec.map((row) => row[0]).sort()).toStrictEqual([...Enums.AccountType.literals].sort())
  })

  describe.each(spec)("%s", (type, primaryType, secondaryType, count, primaryDefault, secondaryDefault) => {
    const [min, max] = bounds(count)

    it(`accepts ${count} secondaries, primary ${primaryType} with ${primaryDefault}, secondaries ${secondaryType} with ${secondaryDefault}`, () => {
      const sizes = max === null ? [min, min + 1, 12] : [min]
      for (const n of sizes) {
        const tenants = codes(n)
        const composition = success(
          Composition.validate({ type, participant_code: "PRIM01", tenants, financial_advisors: ["ADVSR1"] })
        )
        expect(composition?.members).toStrictEqual([
          {
            code: "PRIM01",
            designation: "primary",
            tenantType: primaryType,
            authorization: primaryDefault,
            overridden: false
          },
          ...tenants.map((code) => ({
            code,
            designation: "secondary",
            tenantType: secondaryType,
            authorization: secondaryDefault,
            overridden: false
          })),
          {
            code: "ADVSR1",
            designation: "advisor",
            tenantType: null,
            authorization: "limited_trading",
            overridden: false
          }
        ])
      }
    })

    if (min > 0) {
      it(`refuses ${min - 1} secondaries`, () => {
        const result = Composition.validate({
          type,
          participant_code: "PRIM01",
          tenants: codes(min - 1),
          financial_advisors: []
        })
        expect(rulesOf(result)).toStrictEqual(["TooFewTenants"])
      })
    }
    if (max !== null) {
      it(`refuses ${max + 1} secondaries`, () => {
        const result = Composition.validate({
          type,
          participant_code: "PRIM01",
          tenants: codes(max + 1),
          financial_advisors: []
        })
        expect(rulesOf(result)).toStrictEqual(["TooManyTenants"])
      })
    }
  })
})

// domain-rules.md §3, authorization → actions.
const authorizationSpec = [
  ["full_trading", { view: true, buy: true, sell: true, deposit: true, withdraw: true }],
  ["limited_trading", { view: true, buy: true, sell: true, deposit: false, withdraw: false }],
  ["view_only", { view: true, buy: false, sell: false, deposit: false, withdraw: false }]
] as const

describe("§3 authorization → actions, one case per row", () => {
  it.each(authorizationSpec)("%s allows %o", (authorization, expected) => {
    for (const [action, allowed] of Object.entries(expected)) {
      expect(Composition.allows(authorization, action as Enums.Action)).toBe(allowed)
    }
  })
})

describe("Composition.validate problems", () => {
  const jtic = {
    type: "jtic",
    participant_code: "CUST01",
    tenants: ["CUST02"],
    financial_advisors: []
  } as const

  it.each([
    [
      "UnknownType",
      { ...jtic, type: "tontine" as Enums.AccountType },
      /unknown account type "tontine" \(expected one of individual, business/
    ],
    [
      "TooFewTenants",
      { ...jtic, tenants: [] },
      /^a jtic account needs at least 1 tenant \(individual\), got none$/
    ],
    [
      "TooManyTenants",
      { ...jtic, type: "utma", tenants: ["CUSTD1", "CUSTD2"] },
      /^a utma account takes exactly 1 tenant \(utma_custodian\), got 2 \(CUSTD1, CUSTD2\)$/
    ],
    [
      "TooManyTenants",
      { ...jtic, type: "individual" },
      /^an individual account takes no tenants, got 1 \(CUST02\)$/
    ],
    [
      "PrimaryIsTenant",
      { ...jtic, tenants: ["CUST02", "CUST01"] },
      /CUST01 is the primary holder .* cannot also be a tenant/
    ],
    [
      "PrimaryIsAdvisor",
      { ...jtic, financial_advisors: ["CUST01"] },
      /CUST01 is the primary holder .* cannot also be a financial advisor/
    ],
    ["DuplicateTenant", { ...jtic, tenants: ["CUST02", "CUST02"] }, /tenant CUST02 is listed 2 times/],
    [
      "DuplicateAdvisor",
      { ...jtic, financial_advisors: ["ADVSR1", "ADVSR1"] },
      /duplicated financial advisors are not allowed/
    ],
    [
      "TenantIsAdvisor",
      { ...jtic, financial_advisors: ["CUST02"] },
      /CUST02 is both a tenant and a financial advisor/
    ],
    [
      "UnknownAuthorization",
      { ...jtic, overrides: { CUST02: "superuser" as Enums.Authorization } },
      /override for CUST02 is "superuser"/
    ],
    [
      "OverrideOnAdvisor",
      { ...jtic, financial_advisors: ["ADVSR1"], overrides: { ADVSR1: "full_trading" } },
      /always limited_trading and cannot be overridden/
    ],
    [
      "OverrideOnNonMember",
      { ...jtic, overrides: { CUST09: "view_only" } },
      /override names CUST09, who is not a holder/
    ]
  ] as const)("%s", (rule, input, message) => {
    const error = failure(Composition.validate(input))
    expect(error).toBeInstanceOf(Composition.CompositionError)
    expect(error?._tag).toBe("CompositionError")
    expect(error?.reason).toBe(rule)
    expect(error?.problems).toHaveLength(1)
    expect(error?.problems[0]?.rule).toBe(rule)
    expect(error?.problems[0]?.message).toMatch(message)
  })

  it("lists every problem at once, and the message summarises them all", () => {
    const error = failure(
      Composition.validate({
        type: "utma",
        participant_code: "MINOR1",
        tenants: ["CUSTD1", "CUSTD2", "CUSTD2", "MINOR1"],
        financial_advisors: ["ADVSR1", "ADVSR1", "CUSTD1"],
        overrides: { ADVSR1: "full_trading", NOBODY: "view_only" }
      })
    )
    expect(error?.reason).toBe("TooManyTenants")
    expect(error?.problems.map((p) => p.rule)).toStrictEqual([
      "TooManyTenants",
      "PrimaryIsTenant",
      "DuplicateTenant",
      "DuplicateAdvisor",
      "TenantIsAdvisor",
      "OverrideOnAdvisor",
      "OverrideOnNonMember"
    ])
    expect(error?.message).toMatch(
      /^invalid utma account composition \(7 problems\): a utma account takes exactly 1 tenant/
    )
    for (const problem of error?.problems ?? []) expect(error?.message).toContain(problem.message)
  })

  it("a duplicated tenant is one problem, not also a wrong number of tenants", () => {
    expect(
      rulesOf(Composition.validate({ ...jtic, type: "utma", tenants: ["CUSTD1", "CUSTD1"] }))
    ).toStrictEqual(["DuplicateTenant"])
  })
})

describe("overrides and advisors", () => {
  it("an override replaces a holder's default and is marked as such", () => {
    const composition = success(
      Composition.validate({
        type: "trust",
        participant_code: "TRUST1",
        tenants: ["TRSTE1", "TRSTE2"],
        financial_advisors: [],
        overrides: { TRUST1: "limited_trading", TRSTE2: "view_only" }
      })
    )
    expect(composition?.members.map((m) => [m.code, m.authorization, m.overridden])).toStrictEqual([
      ["TRUST1", "limited_trading", true],
      ["TRSTE1", "full_trading", false],
      ["TRSTE2", "view_only", true]
    ])
  })

  it.each(spec.map((row) => row[0]))("an advisor on a %s account has limited_trading", (type) => {
    const [min] = bounds(spec.find((row) => row[0] === type)![3])
    const account = { type, participant_code: "PRIM01", tenants: codes(min), financial_advisors: ["ADVSR1"] }
    expect(Composition.authorizationOf(account, "ADVSR1")).toStrictEqual(Option.some("limited_trading"))
    expect(success(Composition.validate(account))?.members.at(-1)?.authorization).toBe("limited_trading")
  })

  it("an advisor's authorization cannot be set", () => {
    const account = {
      type: "individual",
      participant_code: "CUST01",
      tenants: [],
      financial_advisors: ["ADVSR1"]
    } as const
    const error = failure(Composition.setAuthorization(account, "ADVSR1", "full_trading"))
    expect(error?.reason).toBe("AdvisorFixed")
    expect(error?.message).toBe("a financial advisor always has limited_trading, which cannot be changed")
  })

  it("setAuthorization sets and clears a holder's override", () => {
    const account = {
      type: "jtic",
      participant_code: "CUST01",
      tenants: ["CUST02"],
      financial_advisors: []
    } as const
    const limited = success(Composition.setAuthorization(account, "CUST02", "view_only"))!
    expect(Composition.authorizationOf(limited, "CUST02")).toStrictEqual(Option.some("view_only"))
    const cleared = success(Composition.setAuthorization(limited, "CUST02", null))!
    expect(Composition.authorizationOf(cleared, "CUST02")).toStrictEqual(Option.some("full_trading"))
    expect(failure(Composition.setAuthorization(account, "CUST09", "view_only"))?.reason).toBe("NotAHolder")
  })

  it("authorizationOf answers for the primary, a tenant, an advisor and a stranger", () => {
    const account = {
      type: "utma",
      participant_code: "MINOR1",
      tenants: ["CUSTD1"],
      financial_advisors: ["ADVSR1"]
    } as const
    expect(Composition.authorizationOf(account, "MINOR1")).toStrictEqual(Option.some("view_only"))
    expect(Composition.authorizationOf(account, "CUSTD1")).toStrictEqual(Option.some("full_trading"))
    expect(Composition.authorizationOf(account, "ADVSR1")).toStrictEqual(Option.some("limited_trading"))
    expect(Composition.authorizationOf(account, "CUST09")).toStrictEqual(Option.none())
  })
})

describe("tenant and advisor changes", () => {
  const jtic = {
    type: "jtic",
    participant_code: "CUST01",
    tenants: ["CUST02"],
    financial_advisors: ["ADVSR1"]
  } as const

  it("adds and removes a tenant", () => {
    const added = success(Composition.addTenant(jtic, "CUST03"))
    expect(added?.tenants).toStrictEqual(["CUST02", "CUST03"])
    expect(success(Composition.removeTenant(added!, "CUST02"))?.tenants).toStrictEqual(["CUST03"])
  })

  it("removing a tenant drops its override", () => {
    const account = { ...jtic, tenants: ["CUST02", "CUST03"], overrides: { CUST03: "view_only" } } as const
    expect(success(Composition.removeTenant(account, "CUST03"))?.overrides).toStrictEqual({})
  })

  it("adds and removes an advisor", () => {
    const added = success(Composition.addAdvisor(jtic, "ADVSR2"))
    expect(added?.financial_advisors).toStrictEqual(["ADVSR1", "ADVSR2"])
    expect(success(Composition.removeAdvisor(added!, "ADVSR1"))?.financial_advisors).toStrictEqual(["ADVSR2"])
  })

  it.each([
    ["addTenant", "CUST02", "AlreadyTenant", "participant already exists as tenant"],
    ["addTenant", "ADVSR1", "AlreadyAdvisor", "participant already exists as financial advisor"],
    ["addTenant", "CUST01", "IsPrimary", "participant is the primary holder of the account"],
    ["addAdvisor", "CUST02", "AlreadyTenant", "participant already exists as tenant"],
    ["addAdvisor", "ADVSR1", "AlreadyAdvisor", "duplicated financial advisors are not allowed"],
    ["addAdvisor", "CUST01", "IsPrimary", "participant is the primary holder of the account"],
    [
      "removeTenant",
      "CUST02",
      "TooFewTenants",
      "a jtic account needs at least 1 tenant (individual); removing CUST02 would leave 0 tenants"
    ],
    ["removeTenant", "CUST09", "NotATenant", "participant is not a tenant of the account"],
    ["removeAdvisor", "CUST09", "NotAnAdvisor", "participant is not a financial advisor of the account"]
  ] as const)("%s(%s) is refused as %s: %s", (change, code, reason, message) => {
    const error = failure(Composition[change](jtic, code))
    expect(error).toBeInstanceOf(Composition.MemberChangeError)
    expect(error?.reason).toBe(reason)
    expect(error?.participant_code).toBe(code)
    expect(error?.message).toBe(message)
  })

  it("refuses a second tenant on a type that takes exactly one", () => {
    const utma = {
      type: "utma",
      participant_code: "MINOR1",
      tenants: ["CUSTD1"],
      financial_advisors: []
    } as const
    const error = failure(Composition.addTenant(utma, "CUSTD2"))
    expect(error?.reason).toBe("TooManyTenants")
    expect(error?.message).toBe(
      "a utma account takes exactly 1 tenant (utma_custodian); it already has 1 tenant"
    )
  })

  it("refuses any tenant on an individual account", () => {
    const individual = {
      type: "individual",
      participant_code: "CUST01",
      tenants: [],
      financial_advisors: []
    } as const
    expect(failure(Composition.addTenant(individual, "CUST02"))?.reason).toBe("TooManyTenants")
  })
})

describe("a platform's own tables", () => {
  const rules = Composition.make({
    compositionTable: {
      ...Composition.compositionTable,
      jtic: { ...Composition.compositionTable.jtic, maxSecondaries: 2, secondaryDefault: "limited_trading" }
    },
    authorizationTable: {
      ...Composition.authorizationTable,
      limited_trading: { ...Composition.authorizationTable.limited_trading, deposit: true }
    }
  })

  it("make uses them instead of the defaults", () => {
    const account = {
      type: "jtic",
      participant_code: "CUST01",
      tenants: ["CUST02", "CUST03"],
      financial_advisors: []
    } as const
    expect(rules.authorizationOf(account, "CUST02")).toStrictEqual(Option.some("limited_trading"))
    expect(rules.allows("limited_trading", "deposit")).toBe(true)
    expect(failure(rules.addTenant(account, "CUST04"))?.reason).toBe("TooManyTenants")
    // The module-level functions keep the defaults.
    expect(Composition.authorizationOf(account, "CUST02")).toStrictEqual(Option.some("full_trading"))
    expect(Either.isRight(Composition.addTenant(account, "CUST04"))).toBe(true)
  })

  it("a table from configuration is checked with the CompositionTable Schema", () => {
    const decode = Schema.decodeUnknownEither(Composition.CompositionTable)
    expect(Either.isRight(decode(JSON.parse(JSON.stringify(Composition.compositionTable))))).toBe(true)
    const inverted = {
      ...Composition.compositionTable,
      jtic: { ...Composition.compositionTable.jtic, minSecondaries: 3, maxSecondaries: 2 }
    }
    expect(Either.isLeft(decode(inverted))).toBe(true)
  })
})
