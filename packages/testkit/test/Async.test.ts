import { afterEach, describe, expect, it, vi } from "vitest"
import { Clock } from "../src/index.js"
import { call, openAccount, simulator } from "./support.js"

afterEach(() => {
  vi.useRealTimers()
})

describe("background work on the simulator's clock", () => {
  it("changes nothing on the 202: the change is applied later, in order", async () => {
    const clock = Clock.manual(Date.UTC(2026, 0, 1))
    const sim = simulator({ clock, asyncDelayMs: 1000 })
    const zrn = await openAccount(sim, {}, false)
    expect(sim.pending()).toEqual([`provision ${zrn}`])
    clock.advance(999)
    expect(sim.account(zrn)!.status).toBeUndefined()
    clock.advance(1)
    expect(sim.account(zrn)!.status).toBe("open")
    await call(sim, "POST", `/accounts/${zrn}/lock`, { body: {} })
    await call(sim, "POST", `/accounts/${zrn}/unlock`, { body: {} })
    await call(sim, "POST", `/accounts/${zrn}/withdraw_lock`, { body: {} })
    expect(sim.account(zrn)!.status).toBe("open")
    clock.advance(1000)
    expect(sim.webhooks().map((w) => w.status)).toEqual(["open", "locked", "open", "withdraw_locked"])
    expect(sim.account(zrn)!.status).toBe("withdraw_locked")
  })

  it("checks commands against what was accepted, not what was applied", async () => {
    const sim = simulator({ asyncDelayMs: 60_000 })
    const zrn = await openAccount(sim)
    await call(sim, "POST", `/accounts/${zrn}/lock`, { body: {} })
    const res = await call(sim, "POST", `/accounts/${zrn}/withdraw_lock`, { body: {} })
    expect(res.status).toBe(400)
    expect(res.body.errors[0]).toContain("already blocks withdrawals")
  })

  it("takes per-step delays", async () => {
    const clock = Clock.manual(Date.UTC(2026, 0, 1))
    const sim = simulator({ clock, asyncDelayMs: { provisioning: 5000, statusChange: 10 } })
    const zrn = await openAccount(sim, {}, false)
    clock.advance(4999)
    expect(sim.account(zrn)!.status).toBeUndefined()
    clock.advance(1)
    await call(sim, "POST", `/accounts/${zrn}/lock`, { body: {} })
    clock.advance(10)
    expect(sim.account(zrn)!.status).toBe("locked")
  })

  it("works with vitest fake timers", async () => {
    vi.useFakeTimers({ now: Date.UTC(2026, 0, 1) })
    const sim = simulator({ asyncDelayMs: 300 })
    const zrn = await openAccount(sim, {}, false)
    await vi.advanceTimersByTimeAsync(299)
    expect(sim.account(zrn)!.status).toBeUndefined()
    await vi.advanceTimersByTimeAsync(1)
    expect(sim.account(zrn)!.status).toBe("open")
    // The signature window follows the faked clock too.
    vi.setSystemTime(Date.UTC(2026, 0, 2))
    expect((await call(sim, "GET", `/accounts/${zrn}/details`)).status).toBe(200)
  })

  it("settle() runs everything pending now, including liquidation after divest", async () => {
    const sim = simulator({ asyncDelayMs: 3_600_000 })
    const zrn = await openAccount(sim, {}, true)
    sim.setBalance({ zrn, asset: "BTC", balance: "1" })
    await call(sim, "POST", `/accounts/${zrn}/divest`, { body: {} })
    expect(sim.pending()).toHaveLength(1)
    await sim.settle()
    expect(sim.pending()).toEqual([])
    expect(sim.account(zrn)!.status).toBe("closed")
  })

  it("reset() forgets pending work, accounts, journal and webhooks, and keeps the options", async () => {
    const sim = simulator({ asyncDelayMs: 1000, features: { status_reason: true } })
    const zrn = await openAccount(sim, {}, false)
    sim.addParticipant("EXTRA1")
    sim.enableFeature("status_reason", false)
    sim.reset()
    expect(sim.pending()).toEqual([])
    expect(sim.accounts()).toEqual([])
    expect(sim.journal()).toEqual([])
    expect(sim.webhooks()).toEqual([])
    expect(sim.participant("EXTRA1")).toBeUndefined()
    expect(sim.participant("CUST01")).toEqual({ participant_code: "CUST01", status: "approved" })
    expect((await call(sim, "GET", `/accounts/${zrn}/details`)).status).toBe(404)
    const other = await openAccount(sim, {}, true)
    expect((await call(sim, "GET", `/account/${other}/status_reason`)).status).toBe(200)
  })
})

describe("isolation", () => {
  // Two tests in a row, each with its own simulator: nothing leaks from the first to the second.
  const shared = simulator()
  it("first test creates an account with a fixed label", async () => {
    await openAccount(shared, { account_label: "isolated" })
    expect(shared.accounts()).toHaveLength(1)
    shared.reset()
  })
  it("second test can create the same label again after reset", async () => {
    expect(shared.accounts()).toHaveLength(0)
    await openAccount(shared, { account_label: "isolated" })
    expect(shared.accounts()).toHaveLength(1)
  })
})
