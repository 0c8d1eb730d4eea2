import { describe, expect, it } from "vitest"
import { ok, problems } from "./support/config.js"

const DATABASE_URL = "postgres://mta:pw@db.internal:5432/mta"

describe("MTA_BUDGET_BLOCK and MTA_BUDGET_LEASE_MS", () => {
  it("default to blocks of 20 slots leased for 2 s", () => {
    expect(ok({ DATABASE_URL }).budget).toEqual({ block: 20, leaseMs: 2_000 })
  })

  it("take values within their bounds with the PostgreSQL store", () => {
    expect(ok({ DATABASE_URL, MTA_BUDGET_BLOCK: "1", MTA_BUDGET_LEASE_MS: "600000" }).budget).toEqual({
      block: 1,
      leaseMs: 600_000
    })
  })

  it.each([
    ["MTA_BUDGET_BLOCK", "0"],
    ["MTA_BUDGET_BLOCK", "100001"],
    ["MTA_BUDGET_BLOCK", "2.5"],
    ["MTA_BUDGET_BLOCK", "lots"],
    ["MTA_BUDGET_LEASE_MS", "9"],
    ["MTA_BUDGET_LEASE_MS", "600001"],
    ["MTA_BUDGET_LEASE_MS", "-1"]
  ])("refuses %s=%s, naming the setting and what was expected", (name, value) => {
    const e = problems({ DATABASE_URL, [name]: value })
    expect(e.problems.map((p) => p.setting)).toEqual([name])
    expect(e.problems[0]!.message).toContain(JSON.stringify(value))
  })

  it.each([
    ["embedded", {}],
    ["memory", { MTA_STORE: "memory" }]
  ])("are refused with the %s store, whose budget is per process", (kind, env) => {
    const e = problems({ ...env, MTA_BUDGET_BLOCK: "50", MTA_BUDGET_LEASE_MS: "1000" })
    expect(e.problems.map((p) => p.setting)).toEqual(["MTA_BUDGET_BLOCK", "MTA_BUDGET_LEASE_MS"])
    expect(e.problems[0]!.message).toMatch(new RegExp(`store is ${kind}.*PostgreSQL store`))
  })
})
