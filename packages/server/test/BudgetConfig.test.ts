/** The shared vendor budget's settings: defaults, bounds, and refused with a store that has no use for them. */
import { Config } from "@mta/server"
import { Either } from "effect"
import { describe, expect, it } from "vitest"

const DATABASE_URL = "postgres://mta:pw@db.internal:5432/mta"

const load = (env: Config.Env) => Config.load(env)

describe("MTA_BUDGET_BLOCK and MTA_BUDGET_LEASE_MS", () => {
  it("default to blocks of 20 slots leased for 2 s", () => {
    const c = load({ DATABASE_URL })
    expect(Either.isRight(c) && c.right.budget).toEqual({ block: 20, leaseMs: 2_000 })
  })

  it("take values within their bounds with the PostgreSQL store", () => {
    const c = load({ DATABASE_URL, MTA_BUDGET_BLOCK: "1", MTA_BUDGET_LEASE_MS: "600000" })
    expect(Either.isRight(c) && c.right.budget).toEqual({ block: 1, leaseMs: 600_000 })
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
    const r = load({ DATABASE_URL, [name]: value })
    if (Either.isRight(r)) throw new Error("expected a ConfigError")
    expect(r.left.problems.map((p) => p.setting)).toEqual([name])
    expect(r.left.problems[0]!.message).toContain(JSON.stringify(value))
  })

  it.each([
    ["embedded", {}],
    ["memory", { MTA_STORE: "memory" }]
  ])("are refused with the %s store, whose budget is per process", (kind, env) => {
    const r = load({ ...env, MTA_BUDGET_BLOCK: "50", MTA_BUDGET_LEASE_MS: "1000" })
    if (Either.isRight(r)) throw new Error("expected a ConfigError")
    expect(r.left.problems.map((p) => p.setting)).toEqual(["MTA_BUDGET_BLOCK", "MTA_BUDGET_LEASE_MS"])
    expect(r.left.problems[0]!.message).toMatch(new RegExp(`store is ${kind}.*PostgreSQL store`))
  })
})
