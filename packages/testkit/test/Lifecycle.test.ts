import { describe, expect, it } from "vitest"
import { call, openAccount, simulator } from "./support.js"

type From = "provisioning" | "open" | "locked" | "withdraw_locked" | "divesting" | "closed"
type Command = "lock" | "unlock" | "withdraw_lock" | "withdraw_unlock" | "divest" | "close"
/** `to` a status, `same` (accepted, nothing changes), or refused (with the text the message must hold). */
type Cell = { to: string } | "same" | { refused: string }

// domain-rules.md §7, written out again here so the simulator is checked against the spec, not
// against the domain table it reads.
const table: Record<From, Record<Command, Cell>> = {
  provisioning: {
    lock: { refused: "provisioning" },
    unlock: { refused: "provisioning" },
    withdraw_lock: { refused: "provisioning" },
    withdraw_unlock: { refused: "provisioning" },
    divest: { refused: "provisioning" },
    close: { refused: "provisioning" }
  },
  open: {
    lock: { to: "locked" },
    unlock: "same",
    withdraw_lock: { to: "withdraw_locked" },
    withdraw_unlock: "same",
    divest: { to: "divesting" },
    close: { to: "closed" }
  },
  locked: {
    lock: "same",
    unlock: { to: "open" },
    withdraw_lock: { refused: "locked" },
    withdraw_unlock: { refused: "use unlock" },
    divest: { to: "divesting" },
    close: { to: "closed" }
  },
  withdraw_locked: {
    lock: { to: "locked" },
    unlock: { refused: "use withdraw_unlock" },
    withdraw_lock: "same",
    withdraw_unlock: { to: "open" },
    divest: { to: "divesting" },
    close: { to: "closed" }
  },
  divesting: {
    lock: { refused: "divesting" },
    unlock: { refused: "divesting" },
    withdraw_lock: { refused: "divesting" },
    withdraw_unlock: { refused: "divesting" },
    divest: "same",
    close: { to: "closed" }
  },
  closed: {
    lock: { refused: "closed" },
    unlock: { refused: "closed" },
    withdraw_lock: { refused: "closed" },
    withdraw_unlock: { refused: "closed" },
    divest: { refused: "closed" },
    close: "same"
  }
}

const reach: Record<From, ReadonlyArray<Command>> = {
  provisioning: [],
  open: [],
  locked: ["lock"],
  withdraw_locked: ["withdraw_lock"],
  divesting: ["divest"],
  closed: ["close"]
}

const rows = Object.entries(table).flatMap(([from, cells]) =>
  Object.entries(cells).map(([command, cell]) => [from as From, command as Command, cell] as const)
)

describe("every row of the transition table, through the API", () => {
  it.each(rows)("from %s, %s", async (from, command, cell) => {
    // Liquidation is held back so a divesting account stays divesting.
    const sim = simulator({ autoLiquidate: false })
    const zrn = await openAccount(sim, {}, from !== "provisioning")
    for (const step of reach[from]) {
      expect((await call(sim, "POST", `/accounts/${zrn}/${step}`, { body: {} })).status).toBe(202)
      await sim.settle()
    }
    expect(sim.account(zrn)!.status).toBe(from === "provisioning" ? undefined : from)
    const before = sim.webhooks().length

    const res = await call(sim, "POST", `/accounts/${zrn}/${command}`, { body: {} })
    await sim.settle()

    if (typeof cell === "object" && "refused" in cell) {
      expect(res.status).toBe(400)
      expect(res.body.errors[0]).toContain(cell.refused)
      expect(sim.webhooks().length - before).toBe(from === "provisioning" ? 1 : 0)
    } else {
      expect(res).toMatchObject({ status: 202, body: {} })
      const to = cell === "same" ? from : cell.to
      expect(sim.account(zrn)!.status).toBe(to)
      const emitted = sim.webhooks().slice(before)
      expect(emitted.map((w) => w.status)).toEqual(cell === "same" ? [] : [to])
    }
  })
})

describe("wind-down", () => {
  it("refuses close while the account holds a balance, saying to divest first", async () => {
    const sim = simulator()
    const zrn = await openAccount(sim)
    sim.setBalance({ zrn, asset: "BTC", balance: "0.5" })
    const res = await call(sim, "POST", `/accounts/${zrn}/close`, { body: {} })
    expect(res.status).toBe(400)
    expect(res.body.errors[0]).toContain("divest first")
    sim.setBalance({ zrn, asset: "BTC", balance: "0.000" })
    expect((await call(sim, "POST", `/accounts/${zrn}/close`, { body: {} })).status).toBe(202)
  })

  it("divests: status divesting, balances move to the platform's float, then the account closes", async () => {
    const sim = simulator()
    const zrn = await openAccount(sim)
    sim.setBalance({ zrn, asset: "BTC", balance: "0.25" })
    sim.setBalance({ zrn, asset: "USD", balance: "100.10" })
    const other = await openAccount(sim, { participant_code: "CUST02" })
    sim.setBalance({ zrn: other, asset: "BTC", balance: "0.75" })
    await call(sim, "POST", `/accounts/${other}/divest`, { body: {} })
    await sim.settle()

    expect((await call(sim, "POST", `/accounts/${zrn}/divest`, { body: {} })).status).toBe(202)
    await sim.settle()
    expect(
      sim
        .webhooks()
        .filter((w) => w.zrn === zrn)
        .map((w) => w.status)
    ).toEqual(["open", "divesting", "closed"])
    expect((await call(sim, "GET", `/accounts?zrn=${zrn}`)).body.message).toEqual([])
    const float = await call(sim, "GET", "/accounts?account_owner=PLAT01")
    const balances = Object.fromEntries(
      float.body.message.map((e: { asset: string; balance: string }) => [e.asset, e.balance])
    )
    expect(balances).toEqual({ BTC: "1.00", USD: "100.10" })
  })

  it("holds a divesting account until liquidated when autoLiquidate is off", async () => {
    const sim = simulator({ autoLiquidate: false })
    const zrn = await openAccount(sim)
    sim.setBalance({ zrn, asset: "ETH", balance: "3" })
    await call(sim, "POST", `/accounts/${zrn}/divest`, { body: {} })
    await sim.settle()
    expect(sim.account(zrn)!.status).toBe("divesting")
    const refused = await call(sim, "POST", `/accounts/${zrn}/close`, { body: {} })
    expect(refused.status).toBe(400)
    expect(refused.body.errors[0]).toContain("non-zero balance")
    sim.liquidate(zrn)
    expect(sim.account(zrn)!.status).toBe("closed")
    expect(() => sim.liquidate(zrn)).toThrow("is not divesting")
  })

  it("forces a status as zerohash staff can, with its reason and one webhook", async () => {
    const sim = simulator({ features: { status_reason: true } })
    const zrn = await openAccount(sim)
    sim.forceStatus(zrn, "locked", {
      reason: "compliance_issue",
      compliance_reasons: ["fraud"],
      case_number: "C-1"
    })
    expect(sim.account(zrn)!.status).toBe("locked")
    expect(sim.webhooks().map((w) => w.status)).toEqual(["open", "locked"])
    const reason = await call(sim, "GET", `/account/${zrn}/status_reason`)
    expect(reason.body.message).toMatchObject({
      author_type: "admin",
      reason: "compliance_issue",
      compliance_reasons: ["fraud"],
      case_number: "C-1"
    })
    // "Who unlocks" (participants.md, Decision): a zerohash-authored lock is not the platform's to lift.
    const refused = await call(sim, "POST", `/accounts/${zrn}/unlock`, { body: {} })
    expect(refused.status).toBe(403)
    expect(refused.body).toEqual({
      error: true,
      message: "account was locked by zerohash (compliance_issue); contact zerohash to unlock it"
    })
    expect(sim.account(zrn)!.status).toBe("locked")
  })

  it("lets the platform lift its own lock and withdraw lock, not zerohash's", async () => {
    const sim = simulator()
    const zrn = await openAccount(sim)
    expect((await call(sim, "POST", `/accounts/${zrn}/lock`, { body: {} })).status).toBe(202)
    await sim.settle()
    expect((await call(sim, "POST", `/accounts/${zrn}/unlock`, { body: {} })).status).toBe(202)
    await sim.settle()
    expect(sim.account(zrn)!.status).toBe("open")
    sim.forceStatus(zrn, "withdraw_locked", { author_type: "system", reason: "ach" })
    const refused = await call(sim, "POST", `/accounts/${zrn}/withdraw_unlock`, { body: {} })
    expect(refused.status).toBe(403)
    expect(refused.body.message).toBe(
      "account was withdraw-locked by zerohash (ach); contact zerohash to withdraw-unlock it"
    )
    // A status the platform set after zerohash's (its own lock) is again the platform's to lift.
    sim.forceStatus(zrn, "open", { author_type: "admin", reason: "unknown" })
    expect((await call(sim, "POST", `/accounts/${zrn}/lock`, { body: {} })).status).toBe(202)
    await sim.settle()
    expect((await call(sim, "POST", `/accounts/${zrn}/unlock`, { body: {} })).status).toBe(202)
  })
})

describe("access decisions on the simulator's state", () => {
  it("follow the account's status, the member's authorization and the participant's status", async () => {
    const sim = simulator()
    const zrn = await openAccount(sim, {
      type: "utma",
      participant_code: "MINOR1",
      tenants: ["CUSTD1"],
      financial_advisors: ["ADVSR1"]
    })
    expect(sim.decide(zrn, "CUSTD1", "withdraw")).toEqual({ allowed: true })
    expect(sim.decide(zrn, "MINOR1", "buy").allowed).toBe(false) // the beneficiary is view only
    expect(sim.decide(zrn, "ADVSR1", "withdraw").allowed).toBe(false) // advisors have limited trading
    expect(sim.decide(zrn, "CUST09", "view").allowed).toBe(false) // not a member
    await call(sim, "POST", `/accounts/${zrn}/withdraw_lock`, { body: {} })
    await sim.settle()
    expect(sim.decide(zrn, "CUSTD1", "withdraw").allowed).toBe(false)
    expect(sim.decide(zrn, "CUSTD1", "buy").allowed).toBe(true)
    sim.addParticipant({ participant_code: "CUSTD1", status: "locked", reason_code: "compliance_issue" })
    const denied = sim.decide(zrn, "CUSTD1", "buy")
    expect(denied.allowed).toBe(false)
    expect("reasons" in denied && denied.reasons.length).toBeGreaterThanOrEqual(1)
  })
})
