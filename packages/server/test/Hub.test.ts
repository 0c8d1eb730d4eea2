/**
 * The fan-out of store changes to waiting requests (`internal/hub.ts`) and the event stream's shared
 * frames (`routes/events.ts`): every waiter is told once, in order, with the same batch for every
 * stream at the same place, and nothing is lost at a drain.
 */
import type { Store } from "@mta/server"
import { describe, expect, it } from "vitest"
import * as Hub from "../src/internal/hub.js"
import { harness, readUntil } from "./support.js"

type Change = Parameters<Parameters<Store.Store["subscribe"]>[0]>[0]

/** A store that only has the change feed, driven by the test. */
const feed = () => {
  let listener: (change: Change) => void = () => {}
  const store = {
    subscribe: (l: (change: Change) => void) => {
      listener = l
      return () => {
        listener = () => {}
      }
    },
    subscribeParticipants: () => () => {}
  } as unknown as Store.Store
  return { store, emit: (change: Change) => listener(change) }
}

const ZRN = (n: number) =>
  `zrn:zh:us:accounts:customer:00000000-0000-4000-8000-${String(n).padStart(12, "0")}`
const record = (n: number, status: string): Store.StatusRecord => ({
  zrn: ZRN(n),
  status,
  updatedAt: 1_000 + n,
  source: "webhook",
  confirmedAt: 1_000 + n
})
let nextId = 0
const change = (n: number, status: string): Change => {
  const id = ++nextId
  return {
    record: record(n, status),
    event: {
      id,
      type: "customer_account_status_changed",
      source: "webhook",
      notificationId: `n-${id}`,
      zrn: ZRN(n),
      status,
      occurredAt: 1_000 + id,
      receivedAt: 2_000 + id,
      payload: { zrn: ZRN(n), status }
    }
  }
}
const turns = async (n = 1) => {
  for (let i = 0; i < n; i++) await new Promise((resolve) => setImmediate(resolve))
}

describe("the hub", () => {
  it("hands the events of a turn to every stream together, as the same array", async () => {
    const { store, emit } = feed()
    const hub = Hub.make(store)
    const seen: Array<Array<ReadonlyArray<Store.StoreEvent>>> = [[], [], []]
    for (const calls of seen)
      hub.stream(
        (events) => calls.push(events),
        () => {}
      )
    const a = change(1, "locked")
    const b = change(2, "locked")
    emit(a)
    emit(b)
    await turns(2)
    for (const calls of seen) {
      expect(calls).toHaveLength(1)
      expect(calls[0]!.map((e) => e.id)).toEqual([a.event!.id, b.event!.id])
    }
    expect(seen[1]![0]).toBe(seen[0]![0])
    expect(seen[2]![0]).toBe(seen[0]![0])
    hub.close()
  })

  it("gives a stream only what came after it subscribed, each event once, and nothing once closed", async () => {
    const { store, emit } = feed()
    const hub = Hub.make(store)
    const early: Array<number> = []
    const late: Array<number> = []
    const closed: Array<number> = []
    hub.stream(
      (events) => early.push(...events.map((e) => e.id)),
      () => {}
    )
    const gone = hub.stream(
      (events) => closed.push(...events.map((e) => e.id)),
      () => {}
    )
    const first = change(1, "open")
    emit(first)
    hub.stream(
      (events) => late.push(...events.map((e) => e.id)),
      () => {}
    )
    gone.close()
    const second = change(1, "locked")
    emit(second)
    await turns(3)
    expect(early).toEqual([first.event!.id, second.event!.id])
    expect(late).toEqual([second.event!.id])
    expect(closed).toEqual([])
    hub.close()
  })

  it("answers every long poll a change satisfies, over as many turns as it takes, and leaves the rest", async () => {
    const { store, emit } = feed()
    const hub = Hub.make(store)
    const locked = Array.from({ length: 500 }, () => hub.wait(ZRN(1), (r) => r.status === "locked", 10_000))
    const other = hub.wait(ZRN(2), (r) => r.status === "locked", 10_000)
    const closedWait = hub.wait(ZRN(1), (r) => r.status === "closed", 50)
    const done = change(1, "locked")
    emit(done)
    const answers = await Promise.all(locked.map((w) => w.promise))
    expect(answers.every((r) => r === done.record)).toBe(true)
    expect(await closedWait.promise).toBeUndefined()
    other.cancel()
    expect(await other.promise).toBeUndefined()
    hub.close()
  })

  it("hands over what is due when it drains: events to the streams, records to the long polls", async () => {
    const { store, emit } = feed()
    const hub = Hub.make(store)
    const got: Array<number> = []
    let closes = 0
    hub.stream(
      (events) => got.push(...events.map((e) => e.id)),
      () => closes++
    )
    const due = hub.wait(ZRN(1), (r) => r.status === "locked", 10_000)
    const waiting = hub.wait(ZRN(2), (r) => r.status === "locked", 10_000)
    const c = change(1, "locked")
    emit(c)
    hub.drain()
    expect(got).toEqual([c.event!.id])
    expect(closes).toBe(1)
    expect(await due.promise).toBe(c.record)
    expect(await waiting.promise).toBeUndefined()
    expect(await hub.wait(ZRN(1), () => true, 10_000).promise).toBeUndefined()
    hub.close()
  })
})

describe("GET /events with many streams", () => {
  it("sends every stream the same frames, and a filtered stream only its account's", async () => {
    const h = harness()
    const all = await Promise.all([h.request("/events"), h.request("/events"), h.request("/events")])
    const filtered = await h.request(`/events?zrn=${encodeURIComponent(ZRN(7))}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
    const notification = (n: number, status: string, id: string) => ({
      notificationId: id,
      zrn: ZRN(n),
      status,
      occurredAt: Date.now(),
      receivedAt: Date.now(),
      payload: { zrn: ZRN(n), status }
    })
    await h.store.ingest(notification(7, "open", "00000000-0000-4000-8000-000000000001"))
    await h.store.ingest(notification(8, "open", "00000000-0000-4000-8000-000000000002"))
    const texts = await Promise.all(all.map((r) => readUntil(r.body!, "event: ", 2)))
    const frames = (text: string) => text.slice(text.indexOf("id: "))
    expect(frames(texts[0]!)).toMatch(/^id: \d+\nevent: customer_account_status_changed\ndata: \{.*\}\n\n/)
    expect(frames(texts[1]!)).toBe(frames(texts[0]!))
    expect(frames(texts[2]!)).toBe(frames(texts[0]!))
    const own = await readUntil(filtered.body!, "event: ", 1)
    expect(own).toContain(ZRN(7))
    expect(own).not.toContain(ZRN(8))
  })
})
