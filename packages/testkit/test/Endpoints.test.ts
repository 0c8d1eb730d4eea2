import { describe, expect, it } from "vitest"
import { call, openAccount, simulator } from "./support.js"

const create = (sim: ReturnType<typeof simulator>, fields: Record<string, unknown>) =>
  call(sim, "POST", "/accounts", {
    body: {
      participant_code: "CUST01",
      account_label: "main",
      type: "individual",
      tier: "pro",
      prefunded: false,
      ...fields
    }
  })

describe("POST /accounts (create)", () => {
  it("answers 202 with the record wrapped in message, without a status while provisioning", async () => {
    const sim = simulator()
    const res = await create(sim, { type: "jtic", tenants: ["CUST02"], financial_advisors: ["ADVSR1"] })
    expect(res.status).toBe(202)
    expect(res.body.message).toEqual({
      zrn: expect.stringMatching(/^zrn:zh:us:accounts:customer:[0-9a-f-]{36}$/),
      participant_code: "CUST01",
      platform_code: "PLAT01",
      prefunded: false,
      account_label: "main",
      account_group: "PLAT01",
      type: "jtic",
      tier: "pro",
      tenants: ["CUST02"],
      financial_advisors: ["ADVSR1"]
    })
    const zrn = res.body.message.zrn
    const during = await call(sim, "GET", `/accounts/${zrn}/details`)
    expect(during.status).toBe(200)
    expect(during.body.message).not.toHaveProperty("status")
    await sim.settle()
    expect((await call(sim, "GET", `/accounts/${zrn}/details`)).body.message.status).toBe("open")
  })

  it.each([
    ["individual", "CUST01", []],
    ["jtic", "CUST01", ["CUST02", "CUST03"]],
    ["jtwros", "CUST01", ["CUST02"]],
    ["community_property", "CUST01", ["CUST02"]],
    ["utma", "MINOR1", ["CUSTD1"]],
    ["trust", "TRUST1", ["TRSTE1"]],
    ["business", "BUSNS1", ["CUST05"]]
  ])("opens a %s account", async (type, primary, tenants) => {
    const sim = simulator()
    const res = await create(sim, {
      type,
      participant_code: primary,
      ...(tenants.length > 0 ? { tenants } : {})
    })
    expect(res.status).toBe(202)
    await sim.settle()
    const details = await call(sim, "GET", `/accounts/${res.body.message.zrn}/details`)
    expect(details.body.message).toMatchObject({ type, participant_code: primary, tenants, status: "open" })
  })

  it.each([
    ["individual with a tenant", { type: "individual", tenants: ["CUST02"] }, "takes no tenants"],
    ["jtic without tenants", { type: "jtic", tenants: [] }, "at least 1 tenant"],
    [
      "utma with two custodians",
      { type: "utma", participant_code: "MINOR1", tenants: ["CUSTD1", "CUST02"] },
      "exactly 1 tenant"
    ],
    [
      "community_property with two",
      { type: "community_property", tenants: ["CUST02", "CUST03"] },
      "exactly 1 tenant"
    ],
    ["primary as tenant", { type: "jtic", tenants: ["CUST01"] }, "cannot also be a tenant"],
    ["primary as advisor", { financial_advisors: ["CUST01"] }, "cannot also be a financial advisor"],
    ["tenant twice", { type: "jtic", tenants: ["CUST02", "CUST02"] }, "listed 2 times"],
    [
      "duplicate advisor",
      { financial_advisors: ["ADVSR1", "ADVSR1"] },
      "duplicated financial advisors are not allowed"
    ],
    [
      "tenant as advisor",
      { type: "jtic", tenants: ["CUST02"], financial_advisors: ["CUST02"] },
      "both a tenant and a financial advisor"
    ]
  ])("refuses %s with 400 naming the rule", async (_, fields, message) => {
    const sim = simulator()
    const res = await create(sim, fields)
    expect(res.status).toBe(400)
    expect(res.body.errors.join("\n")).toContain(message)
    expect(sim.accounts()).toHaveLength(0)
  })

  it("lists every problem at once", async () => {
    const sim = simulator()
    const res = await create(sim, {
      type: "jtic",
      tenants: ["CUST01"],
      financial_advisors: ["ADVSR1", "ADVSR1", "NOBODY"]
    })
    expect(res.status).toBe(400)
    expect(res.body.errors.length).toBeGreaterThanOrEqual(4)
    expect(res.body.errors.join("\n")).toMatch(/participant not found[\s\S]*NOBODY/)
  })

  it("requires every member to be an onboarded, approved participant", async () => {
    const sim = simulator()
    sim.addParticipant({ participant_code: "LOCKED", status: "locked", reason_code: "compliance_issue" })
    sim.addParticipant({ participant_code: "SUBMIT", status: "submitted" })
    for (const [fields, message] of [
      [{ participant_code: "NOBODY" }, "participant not found: primary NOBODY"],
      [{ type: "jtic", tenants: ["GHOST1"] }, "participant not found: tenant GHOST1"],
      [{ financial_advisors: ["GHOST2"] }, "participant not found: financial advisor GHOST2"],
      [{ participant_code: "LOCKED" }, "LOCKED (primary) is not approved (status locked)"],
      [{ type: "jtic", tenants: ["SUBMIT"] }, "SUBMIT (tenant) is not approved (status submitted)"]
    ] as const) {
      const res = await create(sim, fields)
      expect(res.status).toBe(400)
      expect(res.body.errors.join("\n")).toContain(message)
    }
  })

  it("refuses a second account with the same (participant_code, account_label) with 409", async () => {
    const sim = simulator()
    expect((await create(sim, { account_label: "dup" })).status).toBe(202)
    const again = await create(sim, { account_label: "dup" })
    expect(again.status).toBe(409)
    expect(again.body.errors[0]).toContain('account_label "dup" already exists for participant CUST01')
    // Another participant may use the label.
    expect((await create(sim, { account_label: "dup", participant_code: "CUST02" })).status).toBe(202)
  })

  it.each([
    [
      "tenant (singular)",
      { type: "jtic", tenant: ["CUST02"] },
      "use `tenants` (an array of participant codes)"
    ],
    [
      "tenants as a bare string",
      { type: "jtic", tenants: "CUST02" },
      "expected an array of participant codes"
    ],
    ["missing required fields", { participant_code: undefined, tier: undefined }, "is required"],
    ["unknown type", { type: "joint" }, "expected one of individual"],
    ["unknown field", { nickname: "x" }, "unknown field"],
    ["tier not in the enum", { tier: "platinum" }, "expected one of lite, pro, bronze, silver, gold"],
    ["participant code too long", { participant_code: "CUSTOMER1" }, "participant code"]
  ])("refuses %s with 400", async (_, fields, message) => {
    const sim = simulator()
    const res = await create(sim, fields)
    expect(res.status).toBe(400)
    expect(res.body.errors.join("\n")).toContain(message)
  })

  it("refuses a body wrapped in message, saying so", async () => {
    const sim = simulator()
    const res = await call(sim, "POST", "/accounts", {
      body: {
        message: {
          participant_code: "CUST01",
          account_label: "a",
          type: "individual",
          tier: "pro",
          prefunded: false
        }
      }
    })
    expect(res.status).toBe(400)
    expect(res.body.errors).toEqual([expect.stringContaining("must not be wrapped in message")])
  })

  it("answers POST /accounts/new with 404 saying to use POST /accounts", async () => {
    const sim = simulator()
    const res = await call(sim, "POST", "/accounts/new", { body: {} })
    expect(res.status).toBe(404)
    expect(res.body).toEqual({ error: "Not Found", message: expect.stringContaining("use POST /accounts") })
  })

  it("refuses a body that is not JSON", async () => {
    const sim = simulator()
    const res = await call(sim, "POST", "/accounts", { raw: "{not json" })
    expect(res.status).toBe(400)
    expect(res.body.errors[0]).toContain("body is not valid JSON")
  })
})

describe("PATCH /accounts/{zrn} (update)", () => {
  it("answers 202 with the updated record and applies it in the background", async () => {
    const sim = simulator()
    const zrn = await openAccount(sim)
    const res = await call(sim, "PATCH", `/accounts/${zrn}`, { body: { prefunded: true, tier: "gold" } })
    expect(res.status).toBe(202)
    expect(res.body.message).toMatchObject({ zrn, prefunded: true, tier: "gold", status: "open" })
    expect((await call(sim, "GET", `/accounts/${zrn}/details`)).body.message.tier).toBe("pro")
    await sim.settle()
    expect((await call(sim, "GET", `/accounts/${zrn}/details`)).body.message).toMatchObject({
      prefunded: true,
      tier: "gold"
    })
  })

  it("requires both fields and refuses unknown ones", async () => {
    const sim = simulator()
    const zrn = await openAccount(sim)
    const res = await call(sim, "PATCH", `/accounts/${zrn}`, { body: { tier: "gold", label: "x" } })
    expect(res.status).toBe(400)
    expect(res.body.errors.join("\n")).toMatch(/prefunded: is required/)
    expect(res.body.errors.join("\n")).toMatch(/label: unknown field/)
  })

  it("answers 404 for an unknown account and refuses a closed one", async () => {
    const sim = simulator()
    const missing = await call(
      sim,
      "PATCH",
      "/accounts/zrn:zh:us:accounts:customer:00000000-0000-4000-8000-000000000000",
      {
        body: { prefunded: true, tier: "gold" }
      }
    )
    expect(missing.status).toBe(404)
    expect(missing.body.message).toBe("customer account not found")
    const zrn = await openAccount(sim)
    await call(sim, "POST", `/accounts/${zrn}/close`, { body: {} })
    const closed = await call(sim, "PATCH", `/accounts/${zrn}`, { body: { prefunded: true, tier: "gold" } })
    expect(closed.status).toBe(400)
    expect(closed.body.errors[0]).toContain("closed")
  })
})

describe("GET /accounts/{zrn}/details", () => {
  it("accepts every ZRN form the vendor documents in the path", async () => {
    const sim = simulator()
    const zrn = await openAccount(sim)
    const id = zrn.split(":").at(-1)!
    for (const form of [
      zrn,
      zrn.replace("zrn:", "urn:"),
      `zh:us:accounts:customer:${id}`,
      `customer:${id}`,
      id,
      zrn.toUpperCase()
    ]) {
      const res = await call(sim, "GET", `/accounts/${form}/details`)
      expect(res.status, form).toBe(200)
      expect(res.body.message.zrn).toBe(zrn)
    }
  })

  it("refuses a malformed ZRN and a ledger ZRN with 400", async () => {
    const sim = simulator()
    const bad = await call(sim, "GET", "/accounts/zrn:zh:xx:accounts:customer:nope/details")
    expect(bad.status).toBe(400)
    expect(bad.body.errors[0]).toContain("invalid ZRN")
    const ledger = await call(
      sim,
      "GET",
      "/accounts/zrn:zh:us:accounts:ledger:c761fc96-5c44-40d4-8eb2-3fcd5d06754e/details"
    )
    expect(ledger.status).toBe(400)
    expect(ledger.body.errors[0]).toContain("customer")
  })

  it("answers 404 for an account it does not hold, including one of another geo", async () => {
    const sim = simulator()
    const zrn = await openAccount(sim)
    expect((await call(sim, "GET", `/accounts/${zrn.replace(":us:", ":eu:")}/details`)).status).toBe(404)
  })
})

describe("GET /account/{zrn}/status_reason", () => {
  it("is refused with 403 while the feature is off", async () => {
    const sim = simulator()
    const zrn = await openAccount(sim)
    const res = await call(sim, "GET", `/account/${zrn}/status_reason`)
    expect(res.status).toBe(403)
    expect(res.body).toEqual({ error: true, message: "status reason is not enabled for this platform" })
  })

  it("answers who changed the status and why once enabled, with what the control plane set", async () => {
    const sim = simulator({ features: { status_reason: true } })
    const zrn = await openAccount(sim)
    await call(sim, "POST", `/accounts/${zrn}/lock`, { body: {} })
    await sim.settle()
    const after = await call(sim, "GET", `/account/${zrn}/status_reason`)
    expect(after.status).toBe(200)
    expect(after.body.message).toMatchObject({
      zrn,
      status: "locked",
      author_type: "platform",
      reason: "user_request"
    })
    sim.setStatusReason(zrn, {
      author_type: "admin",
      reason: "compliance_issue",
      compliance_reasons: ["sanctions_possible_match", "kyc_refresh"],
      notes: "under review",
      case_number: "CASE-42"
    })
    const set = await call(sim, "GET", `/account/${zrn}/status_reason`)
    expect(set.body.message).toEqual({
      zrn,
      participant_code: "CUST01",
      platform_code: "PLAT01",
      account_label: expect.any(String),
      type: "individual",
      tier: "pro",
      status: "locked",
      author_type: "admin",
      reason: "compliance_issue",
      compliance_reasons: ["sanctions_possible_match", "kyc_refresh"],
      notes: "under review",
      case_number: "CASE-42",
      tenants: [],
      financial_advisors: []
    })
  })

  it("points to the singular path when called on /accounts/", async () => {
    const sim = simulator({ features: { status_reason: true } })
    const zrn = await openAccount(sim)
    const res = await call(sim, "GET", `/accounts/${zrn}/status_reason`)
    expect(res.status).toBe(404)
    expect(res.body.message).toContain("GET /account/{zrn}/status_reason")
  })
})

describe("status commands (lock, unlock, withdraw_lock, withdraw_unlock, divest, close)", () => {
  it("answer 202 {} and change the status in the background, with one webhook", async () => {
    const sim = simulator()
    const zrn = await openAccount(sim)
    const res = await call(sim, "POST", `/accounts/${zrn}/withdraw_lock`, { body: {} })
    expect(res).toMatchObject({ status: 202, body: {} })
    expect(sim.account(zrn)!.status).toBe("open")
    await sim.settle()
    expect(sim.account(zrn)!.status).toBe("withdraw_locked")
    expect(sim.webhooks().map((w) => w.status)).toEqual(["open", "withdraw_locked"])
  })

  it("accept an empty body and refuse a non-empty one", async () => {
    const sim = simulator()
    const zrn = await openAccount(sim)
    expect((await call(sim, "POST", `/accounts/${zrn}/lock`)).status).toBe(202)
    const res = await call(sim, "POST", `/accounts/${zrn}/unlock`, { body: { reason: "x" } })
    expect(res.status).toBe(400)
    expect(res.body.errors[0]).toContain("reason")
  })

  it("answer 404 for an unknown account", async () => {
    const sim = simulator()
    const res = await call(sim, "POST", "/accounts/customer:00000000-0000-4000-8000-000000000000/lock", {
      body: {}
    })
    expect(res).toMatchObject({
      status: 404,
      body: { error: "Not Found", message: "customer account not found" }
    })
  })
})

describe("tenants and advisors", () => {
  it("adds and removes a tenant in the background", async () => {
    const sim = simulator()
    const zrn = await openAccount(sim, { type: "jtic", tenants: ["CUST02"] })
    expect(
      (await call(sim, "POST", `/accounts/${zrn}/tenants`, { body: { participant_code: "CUST03" } })).status
    ).toBe(202)
    expect(sim.account(zrn)!.tenants).toEqual(["CUST02"])
    await sim.settle()
    expect(sim.account(zrn)!.tenants).toEqual(["CUST02", "CUST03"])
    expect((await call(sim, "DELETE", `/accounts/${zrn}/tenants/CUST02`)).status).toBe(202)
    await sim.settle()
    expect((await call(sim, "GET", `/accounts/${zrn}/details`)).body.message.tenants).toEqual(["CUST03"])
  })

  it("adds and removes an advisor on any account type", async () => {
    const sim = simulator()
    const zrn = await openAccount(sim, { type: "utma", participant_code: "MINOR1", tenants: ["CUSTD1"] })
    expect(
      (await call(sim, "POST", `/accounts/${zrn}/advisors`, { body: { participant_code: "ADVSR1" } })).status
    ).toBe(202)
    await sim.settle()
    expect(sim.account(zrn)!.financial_advisors).toEqual(["ADVSR1"])
    expect((await call(sim, "DELETE", `/accounts/${zrn}/advisors/ADVSR1`)).status).toBe(202)
    await sim.settle()
    expect(sim.account(zrn)!.financial_advisors).toEqual([])
  })

  it("answers the documented conflicts with 409 and the vendor's messages", async () => {
    const sim = simulator()
    const zrn = await openAccount(sim, { type: "jtic", tenants: ["CUST02"], financial_advisors: ["ADVSR1"] })
    const cases = [
      ["advisors", "CUST02", "participant already exists as tenant"],
      ["advisors", "ADVSR1", "duplicated financial advisors are not allowed"],
      ["tenants", "CUST02", "participant already exists as tenant"],
      ["tenants", "ADVSR1", "participant already exists as financial advisor"],
      ["tenants", "CUST01", "participant is the primary holder of the account"]
    ] as const
    for (const [kind, code, message] of cases) {
      const res = await call(sim, "POST", `/accounts/${zrn}/${kind}`, { body: { participant_code: code } })
      expect(res, `${kind} ${code}`).toMatchObject({ status: 409, body: { errors: [message] } })
    }
  })

  it("checks against changes already accepted, before they are applied", async () => {
    const sim = simulator()
    const zrn = await openAccount(sim, { type: "jtic", tenants: ["CUST02"] })
    expect(
      (await call(sim, "POST", `/accounts/${zrn}/advisors`, { body: { participant_code: "ADVSR2" } })).status
    ).toBe(202)
    const again = await call(sim, "POST", `/accounts/${zrn}/advisors`, {
      body: { participant_code: "ADVSR2" }
    })
    expect(again).toMatchObject({
      status: 409,
      body: { errors: ["duplicated financial advisors are not allowed"] }
    })
  })

  it("answers 400 participant not found, 404 for an unknown account, 400 below the minimum", async () => {
    const sim = simulator()
    const zrn = await openAccount(sim, { type: "jtic", tenants: ["CUST02"] })
    const unknown = await call(sim, "POST", `/accounts/${zrn}/tenants`, {
      body: { participant_code: "NOBODY" }
    })
    expect(unknown.status).toBe(400)
    expect(unknown.body.errors[0]).toContain("participant not found")
    const noAccount = await call(
      sim,
      "POST",
      "/accounts/customer:00000000-0000-4000-8000-000000000000/advisors",
      {
        body: { participant_code: "ADVSR1" }
      }
    )
    expect(noAccount).toMatchObject({ status: 404, body: { message: "customer account not found" } })
    const last = await call(sim, "DELETE", `/accounts/${zrn}/tenants/CUST02`)
    expect(last.status).toBe(400)
    expect(last.body.errors[0]).toContain("needs at least 1 tenant")
    const notTenant = await call(sim, "DELETE", `/accounts/${zrn}/tenants/CUST09`)
    expect(notTenant).toMatchObject({
      status: 400,
      body: { errors: ["participant is not a tenant of the account"] }
    })
  })

  it("refuses a tenant path segment that is not exactly 6 characters and a malformed body", async () => {
    const sim = simulator()
    const zrn = await openAccount(sim, { type: "jtic", tenants: ["CUST02"] })
    const res = await call(sim, "DELETE", `/accounts/${zrn}/tenants/CUST2`)
    expect(res.status).toBe(400)
    expect(res.body.errors[0]).toContain("exactly 6 characters")
    const body = await call(sim, "POST", `/accounts/${zrn}/tenants`, {
      body: { participant_codes: ["CUST03"] }
    })
    expect(body.status).toBe(400)
    expect(body.body.errors.join("\n")).toContain("participant_code: is required")
  })

  it("refuses an unapproved participant", async () => {
    const sim = simulator()
    sim.addParticipant({ participant_code: "PENDNG", status: "pending_approval" })
    const zrn = await openAccount(sim, { type: "jtic", tenants: ["CUST02"] })
    const res = await call(sim, "POST", `/accounts/${zrn}/tenants`, { body: { participant_code: "PENDNG" } })
    expect(res.status).toBe(400)
    expect(res.body.errors[0]).toContain("not approved (status pending_approval)")
  })
})

describe("GET /accounts (ledger accounts)", () => {
  const seed = async () => {
    const sim = simulator({ pageSize: 2 })
    const a = await openAccount(sim, { account_label: "alpha" })
    const b = await openAccount(sim, { participant_code: "CUST02", account_label: "beta" })
    sim.setBalance({ zrn: a, asset: "BTC", balance: "0.00000001" })
    sim.setBalance({ zrn: a, asset: "USD", balance: "1250.00" })
    sim.setBalance({ zrn: a, asset: "ETH", balance: "0" })
    sim.setBalance({ zrn: b, asset: "BTC", balance: "2", account_type: "collateral" })
    return { sim, a, b }
  }

  it("lists only non-zero balances, as decimal strings, with ledger ZRNs", async () => {
    const { sim, a } = await seed()
    const res = await call(sim, "GET", `/accounts?zrn=${a}`)
    expect(res.status).toBe(200)
    expect(res.body).toMatchObject({ page: 1, total_pages: 1 })
    expect(res.body.message).toHaveLength(2)
    const btc = res.body.message.find((e: { asset: string }) => e.asset === "BTC")
    expect(btc).toEqual({
      zrn: `zrn:zh:us:accounts:ledger:${btc.account_id}`,
      account_id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      asset: "BTC",
      balance: "0.00000001",
      account_owner: "CUST01",
      account_type: "available",
      account_group: "PLAT01",
      account_label: "alpha",
      last_update: expect.any(Number)
    })
  })

  it.each([
    ["account_owner=CUST02", ["beta:BTC"]],
    // The guide's spelling of the same filter (Decision, participants.md / issue 14).
    ["participant_code=CUST02", ["beta:BTC"]],
    ["account_label=alpha", ["alpha:BTC", "alpha:USD"]],
    ["asset=BTC&page=1", ["alpha:BTC", "beta:BTC"]],
    ["account_type=collateral", ["beta:BTC"]],
    ["account_group=PLAT01&account_owner=CUST01&asset=USD", ["alpha:USD"]],
    ["account_group=OTHER1", []]
  ])("filters by %s", async (query, expected) => {
    const { sim } = await seed()
    const res = await call(sim, "GET", `/accounts?${query}`)
    expect(res.status).toBe(200)
    expect(
      res.body.message
        .map((e: { account_label: string; asset: string }) => `${e.account_label}:${e.asset}`)
        .sort()
    ).toEqual(expected)
  })

  it("pages through the results", async () => {
    const { sim } = await seed()
    const first = await call(sim, "GET", "/accounts")
    const second = await call(sim, "GET", "/accounts?page=2")
    const third = await call(sim, "GET", "/accounts?page=3")
    expect([first.body.total_pages, first.body.message.length, second.body.message.length]).toEqual([2, 2, 1])
    expect(third.body).toEqual({ message: [], page: 3, total_pages: 2 })
    const ids = [...first.body.message, ...second.body.message].map(
      (e: { account_id: string }) => e.account_id
    )
    expect(new Set(ids).size).toBe(3)
  })

  it("accepts the guide's urn= spelling and short ZRN forms", async () => {
    const { sim, a } = await seed()
    const id = a.split(":").at(-1)
    for (const q of [`urn=${a.replace("zrn:", "urn:")}`, `zrn=customer:${id}`]) {
      const res = await call(sim, "GET", `/accounts?${q}`)
      expect(res.status, q).toBe(200)
      expect(res.body.message).toHaveLength(2)
    }
  })

  it.each([
    ["page=0", "page"],
    ["page=two", "page"],
    ["account_type=savings", "account_type"],
    ["zrn=nope", "zrn"],
    ["account_owner=CUST01&participant_code=CUST01", "not both"],
    ["asset=BTC&asset=ETH", "more than once"]
  ])("refuses %s with 400", async (query, message) => {
    const { sim } = await seed()
    const res = await call(sim, "GET", `/accounts?${query}`)
    expect(res.status).toBe(400)
    expect(res.body.errors.join("\n")).toContain(message)
  })
})
