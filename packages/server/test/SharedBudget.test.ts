/**
 * The replica side of the shared vendor budget (`internal/sharedBudget.ts`), in process with a fake
 * clock and a fake database: `model` keeps grants exactly as `mta_budget_lease` does (migration 6),
 * so several budgets on one model are several replicas on one PostgreSQL.
 *
 * Also the routes' side: a refusal is a 429 with `Retry-After`, an unreachable database a 503.
 */
import { describe, expect, it } from "vitest"
import type { EgressRefusal, EgressSlot } from "../src/internal/rateLimit.js"
import {
  type LeaseAnswer,
  type LeaseRequest,
  type SharedBudget,
  sharedBudget
} from "../src/internal/sharedBudget.js"
import { harness } from "./support.js"

interface Row {
  caller: string
  slots: number
  granted: number
  ends: number
}

/** `mta_budget_lease` in memory, on the test's clock. */
const model = (clock: { t: number }) => {
  const rows = new Map<number, Row>()
  const requests: Array<LeaseRequest> = []
  let nextId = 1
  let failing = false
  const lease = async (r: LeaseRequest): Promise<LeaseAnswer> => {
    await Promise.resolve()
    if (failing) throw new Error("connection refused")
    requests.push(r)
    const now = clock.t
    for (const f of r.finish) {
      const row = rows.get(f.id)
      if (row === undefined) continue
      if (f.used <= 0) rows.delete(f.id)
      else {
        row.slots = Math.min(row.slots, f.used)
        row.ends = Math.min(row.ends, now - Math.max(f.ago, 0))
      }
    }
    for (const [id, row] of rows) if (row.ends <= now - r.windowMs) rows.delete(id)
    if (r.want <= 0) return { id: null, granted: 0, wait: 1, reason: null }
    const all = [...rows.values()]
    const total = all.reduce((s, x) => s + x.slots, 0)
    const own = all.filter((x) => x.caller === r.caller).reduce((s, x) => s + x.slots, 0)
    const room = Math.min(r.limit - total, r.cap - own)
    if (room > 0) {
      const granted = Math.min(r.want, room, Math.max(1, Math.floor(room / 4)))
      const id = nextId++
      rows.set(id, { caller: r.caller, slots: granted, granted: now, ends: now + r.holdMs })
      return { id, granted, wait: 1, reason: null }
    }
    const counted = r.limit - total <= 0 ? all : all.filter((x) => x.caller === r.caller)
    const wait = Math.min(...counted.map((x) => x.ends)) + r.windowMs - now
    return {
      id: null,
      granted: 0,
      wait: Math.max(wait, 1),
      reason: r.limit - total <= 0 ? "budget" : "share"
    }
  }
  return {
    rows,
    requests,
    lease,
    fail: (on: boolean) => {
      failing = on
    },
    counted: () => [...rows.values()].reduce((s, x) => s + x.slots, 0)
  }
}

const replica = (
  db: ReturnType<typeof model>,
  clock: { t: number },
  o: Partial<{ requests: number; block: number; leaseMs: number; leaseTimeoutMs: number }> = {}
): SharedBudget =>
  sharedBudget({
    requests: o.requests ?? 1_000,
    windowMs: 1_000,
    block: o.block ?? 10,
    leaseMs: o.leaseMs ?? 500,
    callMs: 2_000,
    lease: o.leaseTimeoutMs === undefined ? db.lease : () => new Promise<LeaseAnswer>(() => {}),
    leaseTimeoutMs: o.leaseTimeoutMs,
    now: () => clock.t
  })

const tick = () => new Promise<void>((resolve) => setImmediate(resolve))

/** Admits one call: a slot, or the refusal. */
const admit = async (b: SharedBudget, caller = "team", share = 1, at = 0) =>
  (await b.admit(caller, share, at)) as EgressSlot | EgressRefusal

const isSlot = (x: EgressSlot | EgressRefusal): x is EgressSlot => typeof x === "function"

describe("the shared vendor budget (replica side)", () => {
  it("far from the limit, takes slots with no round trip: one lease per block, asked before it runs out", async () => {
    const clock = { t: 1_000 }
    const db = model(clock)
    const b = replica(db, clock, { block: 10 })
    let waited = 0
    for (let i = 0; i < 200; i++) {
      const answer = b.admit("team", 1, clock.t)
      if (answer instanceof Promise) waited++
      const slot = await answer
      expect(isSlot(slot)).toBe(true)
      ;(slot as EgressSlot)(clock.t)
      clock.t += 1
      await tick()
    }
    // Only the very first call waited for a lease; the next blocks came in the background.
    expect(waited).toBe(1)
    expect(b.stats().waited).toBe(1)
    expect(b.stats().admitted).toBe(200)
    // 200 calls in blocks of 10: about 20 round trips, not 200.
    expect(db.requests.filter((r) => r.want > 0).length).toBeLessThanOrEqual(21)
    expect(b.stats().leases).toBeLessThanOrEqual(22)
    await b.close()
  })

  it("asks earlier and for more when the caller is busy and the database slow", async () => {
    const clock = { t: 1_000 }
    const db = model(clock)
    // Each round trip takes 20 ms of the clock; the caller spends a slot every ms.
    const slow = async (r: LeaseRequest) => {
      clock.t += 20
      return db.lease(r)
    }
    const b = sharedBudget({
      requests: 100_000,
      windowMs: 10_000,
      block: 10,
      leaseMs: 5_000,
      callMs: 2_000,
      lease: slow,
      now: () => clock.t
    })
    let waited = 0
    for (let i = 0; i < 2_000; i++) {
      const answer = b.admit("team", 1, clock.t)
      if (answer instanceof Promise) waited++
      ;((await answer) as EgressSlot)(clock.t)
      clock.t += 1
      await tick()
    }
    // 20 ms at one slot per ms: the low mark becomes about 40 slots and the block about 80.
    const wants = db.requests.map((r) => r.want)
    expect(Math.max(...wants)).toBeGreaterThanOrEqual(60)
    expect(Math.max(...wants)).toBeLessThanOrEqual(100_000 / 20)
    // After the first few leases, calls no longer wait for one.
    expect(waited).toBeLessThanOrEqual(5)
    expect(db.requests.length).toBeLessThan(2_000 / 10)
    await b.close()
  })

  it("keeps two replicas' total within the limit and refuses with the wait until a slot frees", async () => {
    const clock = { t: 1_000 }
    const db = model(clock)
    const a = replica(db, clock, { requests: 30, block: 8 })
    const b = replica(db, clock, { requests: 30, block: 8 })
    let admitted = 0
    const refusals: Array<EgressRefusal> = []
    for (let i = 0; i < 100; i++) {
      const answer = await admit(i % 2 === 0 ? a : b, "team", 1, clock.t)
      if (isSlot(answer)) admitted++
      else refusals.push(answer)
      await tick()
    }
    expect(admitted).toBeLessThanOrEqual(30)
    // Blocks shrink near the limit (a quarter of the room, at least 1), so the budget is nearly spent.
    expect(admitted).toBeGreaterThanOrEqual(25)
    expect(db.counted()).toBeLessThanOrEqual(30)
    expect(refusals.length).toBe(100 - admitted)
    expect(refusals.every((r) => r.reason === "budget")).toBe(true)
    // Nothing is answered yet: the grants are held open (lease + call deadline), then a window.
    expect(refusals[0]!.waitMs).toBeGreaterThan(1_000)
    expect(refusals[0]!.waitMs).toBeLessThanOrEqual(500 + 2_000 + 1_000)
    await a.close()
    await b.close()
  })

  it("does not ask the database again while a refusal holds (a share of the window), then asks", async () => {
    const clock = { t: 1_000 }
    const db = model(clock)
    const b = replica(db, clock, { requests: 4, block: 4 })
    const slots: Array<EgressSlot> = []
    for (let i = 0; i < 4; i++) {
      const s = await admit(b, "team", 1, clock.t)
      if (isSlot(s)) slots.push(s)
      await tick()
    }
    expect(slots).toHaveLength(4)
    expect(await admit(b, "team", 1, clock.t)).toMatchObject({ reason: "budget" })
    const asked = db.requests.length
    // Within the recheck interval (window / 50 = 20 ms) the refusal is answered locally.
    for (let i = 0; i < 10; i++) {
      expect(b.admit("team", 1, clock.t + 10)).toMatchObject({ reason: "budget", waitMs: expect.any(Number) })
    }
    expect(db.requests.length).toBe(asked)
    // The calls are answered; a window after the last answer their slots are free again.
    for (const s of slots) s(clock.t)
    clock.t += 1_001
    b.sweep()
    await tick()
    const again = await admit(b, "team", 1, clock.t)
    expect(isSlot(again)).toBe(true)
    await b.close()
  })

  it("gives unused slots back when the lease ends, and ends a grant at its last answer", async () => {
    const clock = { t: 1_000 }
    const db = model(clock)
    const b = replica(db, clock, { block: 10, leaseMs: 100 })
    const first = (await admit(b, "team", 1, clock.t)) as EgressSlot
    const second = (await admit(b, "team", 1, clock.t)) as EgressSlot
    const [id] = [...db.rows.keys()]
    expect(db.rows.get(id!)!.slots).toBe(10)
    first(1_010)
    clock.t = 1_050
    b.sweep()
    await tick()
    // Still in its lease: nothing is reported.
    expect(db.requests.flatMap((r) => r.finish)).toEqual([])
    clock.t = 1_200
    b.sweep()
    await tick()
    // Past its lease but a call is still in flight: the grant stays open.
    expect(db.requests.flatMap((r) => r.finish)).toEqual([])
    expect(b.admit("team", 1, clock.t)).toBeInstanceOf(Promise)
    second(1_300)
    clock.t = 1_400
    b.sweep()
    await tick()
    // Reported: 2 slots used, the last answer 100 ms before the report.
    expect(db.requests.flatMap((r) => r.finish)).toContainEqual({ id: id!, used: 2, ago: 100 })
    expect(db.rows.get(id!)).toMatchObject({ slots: 2, ends: 1_300 })
    await b.close()
  })

  it("deletes a grant none of whose slots was used, and keeps a used one at the slots used", async () => {
    const clock = { t: 1_000 }
    const db = model(clock)
    const b = replica(db, clock, { block: 4, leaseMs: 100 })
    // 3 of the first block: at half of it the next block is asked for in the background.
    for (let i = 0; i < 3; i++) {
      ;((await admit(b, "team", 1, clock.t)) as EgressSlot)(clock.t)
      await tick()
    }
    const [used, unused] = [...db.rows.keys()]
    expect(db.rows.get(unused!)!.slots).toBe(4)
    clock.t += 150
    b.sweep()
    await tick()
    expect(db.rows.has(unused!)).toBe(false)
    expect(db.rows.get(used!)).toMatchObject({ slots: 3, ends: 1_000 })
    expect(db.requests.flatMap((r) => r.finish)).toContainEqual({ id: unused!, used: 0, ago: 0 })
    await b.close()
  })

  it("holds each caller to its share of the whole budget, across replicas (Decision: the share is global)", async () => {
    const clock = { t: 1_000 }
    const db = model(clock)
    const a = replica(db, clock, { requests: 20, block: 4 })
    const b = replica(db, clock, { requests: 20, block: 4 })
    let bulk = 0
    let last: EgressRefusal | undefined
    for (let i = 0; i < 40; i++) {
      const answer = await admit(i % 2 === 0 ? a : b, "bulk", 0.5, clock.t)
      if (isSlot(answer)) bulk++
      else last = answer
      await tick()
    }
    // Half of 20, over both replicas together.
    expect(bulk).toBeLessThanOrEqual(10)
    expect(bulk).toBeGreaterThanOrEqual(8)
    expect(last).toMatchObject({ reason: "share", share: 10 })
    expect(db.requests.every((r) => r.caller !== "bulk" || r.cap === 10)).toBe(true)
    // Another caller still gets the rest.
    expect(isSlot(await admit(a, "ops", 0.5, clock.t))).toBe(true)
    await a.close()
    await b.close()
  })

  it("fails closed when the database does not answer, and still spends slots already leased", async () => {
    const clock = { t: 1_000 }
    const db = model(clock)
    const b = replica(db, clock, { block: 4 })
    expect(isSlot(await admit(b, "team", 1, clock.t))).toBe(true)
    await tick()
    db.fail(true)
    // Three slots left of the block: spent without the database.
    for (let i = 0; i < 3; i++) expect(isSlot(await admit(b, "team", 1, clock.t))).toBe(true)
    await tick()
    const refused = await admit(b, "team", 1, clock.t)
    expect(refused).toMatchObject({ reason: "unavailable" })
    // Refused at once for a while (no round trip per call while it is down)...
    const failures = b.stats().failures
    expect(b.admit("team", 1, clock.t)).toMatchObject({ reason: "unavailable" })
    expect(b.stats().failures).toBe(failures)
    // ...then asked again, and served once it answers.
    db.fail(false)
    clock.t += 600
    expect(isSlot(await admit(b, "team", 1, clock.t))).toBe(true)
    await b.close()
  })

  it("refuses as unavailable when the database is too slow to answer", async () => {
    const clock = { t: 1_000 }
    const db = model(clock)
    const b = replica(db, clock, { leaseTimeoutMs: 20 })
    expect(await admit(b, "team", 1, clock.t)).toMatchObject({ reason: "unavailable" })
    expect(b.stats().failures).toBe(1)
    await b.close()
  })
})

describe("the routes with a shared budget", () => {
  const refusing = (refusal: EgressRefusal) => (): { admit: () => Promise<EgressRefusal> } => ({
    admit: () => Promise.resolve(refusal)
  })

  it("answers 429 with Retry-After when the shared budget is spent, without calling upstream", async () => {
    const h = harness({ sharedEgress: refusing({ waitMs: 2_500, reason: "budget", share: 10 })() })
    const before = h.upstreamCount()
    const r = await h.request("/accounts")
    expect(r.status).toBe(429)
    expect(r.headers.get("retry-after")).toBe("3")
    expect(await r.json()).toMatchObject({ code: "upstream_rate_limited" })
    expect(h.upstreamCount()).toBe(before)
  })

  it("answers 503 not_ready when the shared budget's database does not answer", async () => {
    const h = harness({ sharedEgress: refusing({ waitMs: 500, reason: "unavailable", share: 10 })() })
    const before = h.upstreamCount()
    const r = await h.request("/accounts")
    expect(r.status).toBe(503)
    expect(r.headers.get("retry-after")).toBe("1")
    expect(await r.json()).toMatchObject({ code: "not_ready" })
    expect(h.upstreamCount()).toBe(before)
  })

  it("calls upstream once a slot leased later is granted, and releases it with the answer's time", async () => {
    const released: Array<number> = []
    const h = harness({
      sharedEgress: {
        admit: () =>
          Promise.resolve<EgressSlot>((at) => {
            released.push(at)
          })
      }
    })
    const before = h.upstreamCount()
    expect((await h.request("/accounts")).status).toBe(200)
    expect(h.upstreamCount()).toBe(before + 1)
    expect(released).toHaveLength(1)
  })
})
