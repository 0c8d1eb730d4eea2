import { describe, expect, it } from "vitest"
import { available, checkJournal, openApiUrl, stats, validatorFor } from "./openapi.js"
import { call, openAccount, simulator } from "./support.js"

if (!available) console.warn(`OpenAPI tests skipped: ${openApiUrl.pathname} is absent`)

describe.skipIf(!available)("responses fit the vendor's OpenAPI", () => {
  it("the checker rejects a body that does not fit (it can fail)", () => {
    const validate = validatorFor("GET", "/accounts/{zrn}/details", 200)!
    expect(validate({ message: { zrn: "x", status: "open" } })).toBe(true)
    expect(validate({ message: { status: "frozen" } })).toBe(false)
    expect(validate({ message: { tenants: "CUST02" } })).toBe(false)
    const problems = checkJournal([
      {
        seq: 1,
        at: 0,
        method: "GET",
        path: "/accounts?page=1",
        endpoint: "listLedgerAccounts",
        headers: {},
        requestBody: "",
        status: 200,
        responseBody: JSON.stringify({
          message: [{ account_id: "not-a-uuid", balance: 1 }],
          page: 1,
          total_pages: 1
        }),
        responseHeaders: {},
        source: "test"
      }
    ])
    expect(problems).toHaveLength(1)
    expect(problems[0]).toContain("account_id")
  })

  it("every endpoint's answers fit, success and errors (checked after each test by support.ts)", async () => {
    const sim = simulator({ features: { status_reason: true } })
    const before = stats.checked
    const zrn = await openAccount(sim, { type: "community_property", tenants: ["CUST02"] })
    sim.setBalance({ zrn, asset: "BTC", balance: "1" })
    await call(sim, "GET", `/accounts/${zrn}/details`)
    await call(sim, "PATCH", `/accounts/${zrn}`, { body: { prefunded: true, tier: "gold" } })
    await call(sim, "GET", `/account/${zrn}/status_reason`)
    await call(sim, "GET", `/accounts?zrn=${zrn}`)
    await call(sim, "POST", `/accounts/${zrn}/advisors`, { body: { participant_code: "ADVSR1" } })
    await call(sim, "POST", `/accounts/${zrn}/lock`, { body: {} })
    await call(sim, "POST", `/accounts/${zrn}/close`, { body: {} })
    await call(sim, "POST", "/accounts", { body: {} })
    await call(
      sim,
      "GET",
      "/accounts/zrn:zh:us:accounts:customer:00000000-0000-4000-8000-000000000000/details"
    )
    const unsigned = await sim.fetch(new Request(`http://zerohash.test/accounts/${zrn}/details`))
    expect(unsigned.status).toBe(403)
    sim.injectFault({ status: 503, times: 1 })
    await call(sim, "GET", "/accounts")
    sim.injectFault({ status: 500, times: 1 })
    await call(sim, "GET", "/accounts")
    expect(checkJournal(sim.journal())).toEqual([])
    expect(stats.checked - before).toBe(13)
  })
})
