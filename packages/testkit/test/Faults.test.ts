import { describe, expect, it } from "vitest"
import { Clock, Fault } from "../src/index.js"
import { call, openAccount, signed, simulator } from "./support.js"

describe("injected faults", () => {
  it("answers a status for one route with the vendor's body, other routes untouched", async () => {
    const sim = simulator()
    const zrn = await openAccount(sim)
    sim.injectFault({ endpoint: "lock", status: 503 })
    const lock = await call(sim, "POST", `/accounts/${zrn}/lock`, { body: {} })
    expect(lock.status).toBe(503)
    expect(lock.body).toEqual({ error: "Service Unavailable" })
    expect(lock.headers.get("zh-allow-retry")).toBe("true")
    expect((await call(sim, "GET", `/accounts/${zrn}/details`)).status).toBe(200)
    // Refused before anything changed.
    await sim.settle()
    expect(sim.account(zrn)!.status).toBe("open")
    expect(sim.journal().at(-2)!.fault).toBe("status 503")
  })

  it("fails the next N, then succeeds", async () => {
    const sim = simulator()
    sim.injectFault(Fault.failNext(2, { status: 500, endpoint: "listLedgerAccounts" }))
    const statuses = []
    for (let i = 0; i < 4; i++) statuses.push((await call(sim, "GET", "/accounts")).status)
    expect(statuses).toEqual([500, 500, 200, 200])
  })

  it("drops the connection: fetch rejects as on a reset socket", async () => {
    const sim = simulator()
    sim.injectFault(Fault.dropConnection("listLedgerAccounts"))
    const error = await sim.fetch(signed(sim, "GET", "/accounts")).then(
      () => undefined,
      (e: unknown) => e
    )
    expect(error).toBeInstanceOf(TypeError)
    expect((error as TypeError).message).toBe("fetch failed")
    expect(((error as TypeError).cause as { code: string }).code).toBe("ECONNRESET")
    expect(sim.journal().at(-1)).toMatchObject({ status: 0, fault: "dropped connection" })
    expect((await call(sim, "GET", "/accounts")).status).toBe(200)
  })

  it("applies a change and then fails: the outcome is unknown to the caller until it reads", async () => {
    const sim = simulator()
    const zrn = await openAccount(sim)
    sim.injectFault(Fault.failAfterApply("lock", 500))
    const lock = await call(sim, "POST", `/accounts/${zrn}/lock`, { body: {} })
    expect(lock.status).toBe(500)
    await sim.settle()
    expect((await call(sim, "GET", `/accounts/${zrn}/details`)).body.message.status).toBe("locked")
  })

  it("applies a mutation once when a fault after applying only adds latency", async () => {
    const clock = Clock.manual(Date.UTC(2026, 0, 1))
    const sim = simulator({ clock })
    sim.injectFault({ endpoint: "createAccount", latencyMs: 500, afterApply: true, times: 1 })
    const body = {
      participant_code: "CUST01",
      account_label: "slow-but-applied",
      type: "individual",
      tier: "pro",
      prefunded: false
    }
    const pending = call(sim, "POST", "/accounts", { body })
    await new Promise((resolve) => setImmediate(resolve))
    clock.advance(500)
    const created = await pending
    // Handled once: the answer is the create's own 202, not the duplicate guard's 409 of a second pass.
    expect(created.status).toBe(202)
    const labelled = sim.accounts().filter((a) => a.account_label === "slow-but-applied")
    expect(labelled.map((a) => a.zrn)).toEqual([created.body.message.zrn])
    expect(sim.journal().at(-1)).toMatchObject({ status: 202, fault: "latency 500 ms, after applying" })
  })

  it("adds latency on the simulator's clock", async () => {
    const clock = Clock.manual(Date.UTC(2026, 0, 1))
    const sim = simulator({ clock })
    sim.injectFault(Fault.latency(2000, "listLedgerAccounts"))
    let answered = false
    const pending = call(sim, "GET", "/accounts").then((r) => {
      answered = true
      return r
    })
    await new Promise((resolve) => setImmediate(resolve))
    clock.advance(1999)
    await new Promise((resolve) => setImmediate(resolve))
    expect(answered).toBe(false)
    clock.advance(1)
    expect((await pending).status).toBe(200)
  })

  it("storms: every request is 429 for the given time, then it clears", async () => {
    const clock = Clock.manual(Date.UTC(2026, 0, 1))
    const sim = simulator({ clock })
    sim.injectFault(Fault.rateLimitStorm(10_000))
    const storm = await call(sim, "GET", "/accounts")
    expect(storm).toMatchObject({ status: 429, body: { error: "Too Many Requests" } })
    clock.advance(10_000)
    expect((await call(sim, "GET", "/accounts")).status).toBe(200)
  })

  it("can be removed one by one or all at once, and refuses a fault that does nothing", async () => {
    const sim = simulator()
    const a = sim.injectFault({ status: 500 })
    sim.injectFault({ endpoint: ["getAccount", "lock"], status: 404 })
    expect((await call(sim, "GET", "/accounts")).status).toBe(500)
    a.remove()
    expect((await call(sim, "GET", "/accounts")).status).toBe(200)
    sim.clearFaults()
    expect(() => sim.injectFault({ endpoint: "lock" })).toThrow("at least one of status, drop or latencyMs")
    expect(() => sim.injectFault({ status: 42 })).toThrow("HTTP status")
  })
})

describe("rate limit", () => {
  it("allows the limit per rolling window, then refuses everything for the lock-out", async () => {
    const clock = Clock.manual(Date.UTC(2026, 0, 1))
    const sim = simulator({ clock, rateLimit: { limit: 5, windowMs: 10_000, lockoutMs: 10_000 } })
    const statuses = []
    for (let i = 0; i < 6; i++) statuses.push((await call(sim, "GET", "/accounts")).status)
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429])
    // The window rolled past the first five, but the lock-out still holds.
    clock.advance(9_999)
    expect((await call(sim, "GET", "/accounts")).status).toBe(429)
    clock.advance(1)
    expect((await call(sim, "GET", "/accounts")).status).toBe(200)
  })

  it("defaults to the vendor's 2,000 per 10 s and can be turned off", async () => {
    const clock = Clock.manual(Date.UTC(2026, 0, 1))
    const limited = simulator({ clock })
    const off = simulator({ clock, rateLimit: 0 })
    const count = async (sim: ReturnType<typeof simulator>) => {
      let ok = 0
      for (let i = 0; i < 2001; i++)
        if ((await sim.fetch(new Request("http://zerohash.test/nope"))).status !== 429) ok++
      return ok
    }
    expect(await count(limited)).toBe(2000)
    expect(await count(off)).toBe(2001)
  })
})

describe("request journal", () => {
  it("keeps every request and answer, passphrase redacted, up to its limit", async () => {
    const sim = simulator({ journalLimit: 3 })
    for (let i = 0; i < 5; i++) await call(sim, "GET", `/accounts?page=${i + 1}`)
    const journal = sim.journal()
    expect(journal.map((e) => e.path)).toEqual(["/accounts?page=3", "/accounts?page=4", "/accounts?page=5"])
    expect(journal[0]).toMatchObject({
      method: "GET",
      endpoint: "listLedgerAccounts",
      status: 200,
      source: "in-process",
      headers: { "x-scx-api-key": sim.credentials.apiKey, "x-scx-passphrase": "[redacted]" }
    })
    expect(JSON.parse(journal[2]!.responseBody)).toEqual({ message: [], page: 5, total_pages: 1 })
  })

  it("records the request id and idempotency key a caller sent, so tests can follow a call upstream", async () => {
    const sim = simulator()
    await call(sim, "GET", "/accounts", {
      headers: { "x-request-id": "req-123", "idempotency-key": "idem-9" }
    })
    await call(sim, "GET", "/accounts")
    const [first, second] = sim.journal()
    expect(first!.headers).toMatchObject({ "x-request-id": "req-123", "idempotency-key": "idem-9" })
    expect(second!.headers).not.toHaveProperty("x-request-id")
    expect(second!.headers).not.toHaveProperty("idempotency-key")
  })
})
