/**
 * The store's behaviour, as one suite that runs against every implementation (memory, embedded
 * PGlite, PostgreSQL): webhook inbox and projection, event log and change feed, idempotency claims
 * (in flight, mismatch, replay, expiry, abandoned leases, reconciling creates), the audit log and
 * its filters, and what survives a reopen.
 *
 * One store is opened per implementation (opening PGlite takes a second or two), so every test uses
 * its own ZRNs, keys and callers and compares event ids with the id before it started.
 */
import { randomUUID } from "node:crypto"
import type { Store } from "@mta/server"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { claimCases, runClaimCase } from "./claimCases.js"

type S = Store.Store

/** How the suite gets stores of one implementation. */
export interface StoreFactory {
  readonly name: string
  /** Opens the store the suite uses (and, when `reopen` is given, reopens on the same data). */
  readonly open: () => Promise<S>
  /** Opens the same data again after `close` (undefined: the implementation keeps nothing). */
  readonly reopen?: (() => Promise<S>) | undefined
  /** Why the suite is skipped, when it is. */
  readonly skip?: string | undefined
}

const zrn = () => `zrn:zh:us:accounts:customer:${randomUUID()}`
const note = (z: string, status: string, occurredAt: number, extra: Record<string, unknown> = {}) => ({
  notificationId: randomUUID(),
  zrn: z,
  status,
  occurredAt,
  receivedAt: occurredAt + 5,
  payload: { zrn: z, status, ...extra }
})
const HOUR = 3_600_000
const ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
/** A fresh participant code (6 of A-Z, 0-9). */
const code = () => Array.from({ length: 6 }, () => ALNUM[Math.floor(Math.random() * ALNUM.length)]).join("")
const pnote = (p: string, status: string, occurredAt: number, reasonCode: string | null = null) => ({
  notificationId: randomUUID(),
  participantCode: p,
  status,
  reasonCode,
  occurredAt,
  receivedAt: occurredAt + 5,
  payload: {
    participant_code: p,
    participant_status: status,
    timestamp: occurredAt,
    ...(reasonCode === null ? {} : { reason_code: reasonCode })
  }
})

export const storeSuite = (factory: StoreFactory): void => {
  const run = factory.skip === undefined ? describe : describe.skip
  if (factory.skip !== undefined) {
    console.warn(`[store suite] ${factory.name} skipped: ${factory.skip}`)
  }
  run(`Store (${factory.name})`, () => {
    let s: S
    beforeAll(async () => {
      s = await factory.open()
    }, 60_000)
    afterAll(async () => {
      await s?.close()
    })

    // First of the suite: pruning and archiving act on the whole store, so nothing another test wrote
    // (all of it newer) is in the way.
    it("prunes the inbox and the event log older than the window and nothing else, in batches", async () => {
      const now = Date.now()
      const old = now - 2 * HOUR
      const before = now - HOUR
      const base = await s.lastEventId()
      const z = zrn()
      const oldNote = (status: string, at: number) => ({ ...note(z, status, at), receivedAt: old })
      // Five old events, a new one, then an old one again (a late delivery of an old notification id).
      const olds = [oldNote("open", old - 50), oldNote("locked", old - 40), oldNote("open", old - 30)]
      const more = [oldNote("locked", old - 20), oldNote("open", old - 10)]
      for (const n of [...olds, ...more]) expect((await s.ingest(n))._tag).toBe("applied")
      const fresh = note(z, "locked", now)
      expect((await s.ingest({ ...fresh, receivedAt: now }))._tag).toBe("applied")
      const late = { ...note(z, "closed", now + 1), receivedAt: old }
      expect((await s.ingest(late))._tag).toBe("applied")

      // A create still being resolved names (P, L): its old inbox entry stays; another pair's goes.
      const label = `label-${randomUUID()}`
      const gone = `gone-${randomUUID()}`
      const caller = `c-${randomUUID()}`
      const zk = zrn()
      const kept = { zrn: zk, participant_code: "CUST01", account_label: label, status: "open" }
      const zg = zrn()
      const dropped = { zrn: zg, participant_code: "CUST01", account_label: gone, status: "open" }
      const claim = (lbl: string, k: string) => ({
        caller,
        key: k,
        fingerprint: "f",
        now,
        expiresAt: now + HOUR,
        leaseUntil: now + 10,
        create: { participantCode: "CUST01", accountLabel: lbl }
      })
      expect(await s.claimIdempotencyKey(claim(label, "k1"))).toEqual({ _tag: "claimed" })
      // The account's webhook occurred after the create was sent (so the account is the key's own),
      // but arrived long ago by the proxy's clock: retention goes by arrival.
      await s.ingest({ ...note(zk, "open", now + 1), receivedAt: old, payload: kept })
      await s.ingest({ ...note(zg, "open", now + 1), receivedAt: old, payload: dropped })

      const pruned = await s.prune({ before, now, batchSize: 2 })
      // The five old events before the new one; the late one after it stays (the log is a suffix).
      expect(pruned.events).toBe(5)
      expect(pruned.inbox).toBe(5 + 1 + 1) // the five, the late one, the unreferenced pair's
      // Nothing newer than the window goes, however often it runs.
      expect(await s.prune({ before, now })).toEqual({ inbox: 0, events: 0 })
      const events = await s.events({ after: base, limit: 100 })
      expect(events.map((e) => e.notificationId)).toEqual(
        expect.arrayContaining([fresh.notificationId, late.notificationId])
      )
      expect(events.map((e) => e.id)).not.toContain(base + 1)
      expect((await s.events({ after: base, zrn: z, limit: 100 })).map((e) => e.id)).toEqual([
        base + 6,
        base + 7
      ])
      // Ids never go back.
      const last = await s.lastEventId()
      expect(last).toBeGreaterThanOrEqual(base + 9)
      // A pruned notification id is forgotten; a kept one is still a duplicate.
      expect((await s.ingest(olds[0]!))._tag).toBe("stale")
      expect(await s.ingest({ ...fresh, receivedAt: now })).toMatchObject({ _tag: "duplicate" })
      // The create being resolved still finds its account; a create of the pruned pair finds nothing.
      expect(await s.claimIdempotencyKey({ ...claim(label, "k1"), now: now + 20 })).toEqual({
        _tag: "reconciling",
        account: { zrn: zk, payload: kept }
      })
      expect(await s.claimIdempotencyKey(claim(gone, "k2"))).toEqual({ _tag: "claimed" })
      // A create of the pruned pair finds no account: still pending (with no body to re-send).
      expect(await s.claimIdempotencyKey({ ...claim(gone, "k2"), now: now + 20 })).toMatchObject({
        _tag: "pending",
        landed: false
      })
    })

    it("archives the audit log: writes entries before the date oldest first, then deletes exactly those", async () => {
      const caller = `c-${randomUUID()}`
      const entry = (at: number, requestId: string) => ({
        at,
        caller,
        action: "lock",
        target: null,
        summary: { n: requestId },
        outcome: "accepted",
        status: 202,
        requestId
      })
      for (const [at, id] of [
        [10, "a"],
        [30, "c"],
        [20, "b"],
        [5_000, "new"]
      ] as const) {
        await s.finishCall({ audit: entry(at, id) })
      }
      // A failing flush deletes nothing.
      await expect(
        s.archiveAudit({
          before: 1_000,
          write: async () => {},
          flush: async () => {
            throw new Error("disk full")
          }
        })
      ).rejects.toThrow(/disk full/)
      expect(await s.audit({ caller, limit: 10 })).toHaveLength(4)

      const written: Array<Store.AuditEntry> = []
      let appended: Promise<Store.AuditEntry> | undefined
      const result = await s.archiveAudit({
        before: 1_000,
        write: async (entries) => {
          written.push(...entries)
          // Appended while the export runs, before the date: written and deleted, or neither.
          appended ??= s.finishCall({ audit: entry(40, "meanwhile") })
        },
        flush: async () => {}
      })
      const late = await appended!
      const mine = written.filter((e) => e.caller === caller)
      expect(mine.slice(0, 3).map((e) => e.requestId)).toEqual(["a", "c", "b"])
      expect(written.map((e) => e.id)).toEqual([...written.map((e) => e.id)].sort((x, y) => x - y))
      expect(result.count).toBe(written.length)
      expect(result.firstId).toBe(written[0]!.id)
      expect(result.lastId).toBe(written[written.length - 1]!.id)
      const left = (await s.audit({ caller, limit: 10 })).map((e) => e.requestId)
      const lateWritten = mine.some((e) => e.id === late.id)
      expect(left).toEqual(lateWritten ? ["new"] : ["new", "meanwhile"])
      expect(
        (await s.audit({ limit: 1_000 })).filter((e) => e.at < 1_000 && written.some((w) => w.id === e.id))
      ).toEqual([])
    })

    it("takes the same signed content under a new notification id for a duplicate, and a legacy body seen before", async () => {
      const z = zrn()
      const base = await s.lastEventId()
      const first = { ...note(z, "open", 1_000), bodySha256: `b-${randomUUID()}` }
      expect((await s.ingest(first))._tag).toBe("applied")
      // Same account, status and event time under another id: nothing changes.
      expect(await s.ingest({ ...first, notificationId: randomUUID(), bodySha256: undefined })).toEqual({
        _tag: "duplicate",
        by: "content"
      })
      // Also when it would be stale now.
      expect((await s.ingest(note(z, "locked", 2_000)))._tag).toBe("applied")
      expect(await s.ingest({ ...first, notificationId: randomUUID() })).toMatchObject({ _tag: "duplicate" })
      // Legacy-signed: a body seen before is a duplicate whatever its id and (unsigned) time.
      expect(
        await s.ingest({ ...note(z, "open", 3_000), bodySha256: first.bodySha256, legacy: true })
      ).toEqual({ _tag: "duplicate", by: "body" })
      // With the current signature the same body at another time is a new event (open again).
      expect((await s.ingest({ ...note(z, "open", 3_000), bodySha256: first.bodySha256 }))._tag).toBe(
        "applied"
      )
      // A legacy body never seen is applied, and its body then dedupes.
      const body = `b-${randomUUID()}`
      expect((await s.ingest({ ...note(z, "closed", 4_000), bodySha256: body, legacy: true }))._tag).toBe(
        "applied"
      )
      expect(await s.ingest({ ...note(z, "closed", 5_000), bodySha256: body, legacy: true })).toMatchObject({
        _tag: "duplicate"
      })
      expect((await s.events({ after: base, zrn: z, limit: 10 })).map((e) => e.status)).toEqual([
        "open",
        "locked",
        "open",
        "closed"
      ])
      expect(await s.status(z)).toMatchObject({ status: "closed", updatedAt: 4_000 })
    })

    it("dedupes by notification id, orders by timestamp, and appends only applied events", async () => {
      const z = zrn()
      const base = await s.lastEventId()
      const changes: Array<string | null> = []
      const off = s.subscribe((c) => {
        if (c.record.zrn === z) changes.push(c.record.status)
      })
      const first = note(z, "open", 100)
      expect((await s.ingest(first))._tag).toBe("applied")
      expect((await s.ingest({ ...first, status: "closed", occurredAt: 500 }))._tag).toBe("duplicate")
      expect((await s.ingest(note(z, "locked", 300)))._tag).toBe("applied")
      const stale = await s.ingest(note(z, "open", 200))
      expect(stale).toMatchObject({ _tag: "stale", current: { status: "locked", updatedAt: 300 } })
      expect((await s.ingest(note(z, "frozen_by_regulator", 300)))._tag).toBe("applied")
      expect(await s.status(z)).toMatchObject({ zrn: z, status: "frozen_by_regulator", source: "webhook" })
      const events = await s.events({ after: base, zrn: z, limit: 10 })
      expect(events.map((e) => [e.id - base, e.status])).toEqual([
        [1, "open"],
        [2, "locked"],
        [3, "frozen_by_regulator"]
      ])
      expect(events[0]).toMatchObject({
        type: "customer_account_status_changed",
        notificationId: first.notificationId,
        occurredAt: 100,
        receivedAt: 105,
        payload: { zrn: z, status: "open" }
      })
      expect(await s.lastEventId()).toBe(base + 3)
      off()
      expect(changes).toEqual(["open", "locked", "frozen_by_regulator"])
    })

    it("observations never override a newer fact, append no event, and announce only changes", async () => {
      const z = zrn()
      const base = await s.lastEventId()
      const seen: Array<string | null> = []
      const off = s.subscribe((c) => {
        if (c.record.zrn === z) seen.push(c.record.status)
      })
      expect(await s.observe({ zrn: z, status: null, source: "create", at: 50 })).toMatchObject({
        status: null,
        source: "create",
        updatedAt: 50
      })
      await s.ingest(note(z, "locked", 1_000))
      expect(await s.observe({ zrn: z, status: "open", source: "read", at: 500 })).toMatchObject({
        status: "locked"
      })
      expect(await s.observe({ zrn: z, status: "locked", source: "read", at: 2_000 })).toMatchObject({
        status: "locked",
        updatedAt: 1_000
      })
      expect(await s.observe({ zrn: z, status: "open", source: "read", at: 3_000 })).toMatchObject({
        status: "open",
        source: "read",
        updatedAt: 3_000
      })
      expect(await s.events({ after: base, zrn: z, limit: 10 })).toHaveLength(1)
      off()
      expect(seen).toEqual([null, "locked", "open"])
      expect(await s.status(zrn())).toBeUndefined()
    })

    it("only confirms a record when a notification names the status it holds: no event, nothing visible", async () => {
      const z = zrn()
      const base = await s.lastEventId()
      const seen: Array<string | null> = []
      const off = s.subscribe((c) => {
        if (c.record.zrn === z) seen.push(c.record.status)
      })
      const first = await s.ingest(note(z, "open", 1_000))
      expect(first).toMatchObject({ _tag: "applied", record: { confirmedAt: 1_000, updatedAt: 1_000 } })
      // A new notification id, a later time, the same status (e.g. a second delivery path).
      const again = await s.ingest({ ...note(z, "open", 2_000), receivedAt: 2_500 })
      expect(again).toEqual({
        _tag: "confirmed",
        record: { zrn: z, status: "open", updatedAt: 1_000, source: "webhook", confirmedAt: 2_000 }
      })
      // Confirmed no later than it arrived (a sender's clock ahead of ours is not trusted further).
      expect(await s.ingest({ ...note(z, "open", 3_000), receivedAt: 2_800 })).toMatchObject({
        _tag: "confirmed",
        record: { confirmedAt: 2_800 }
      })
      // Older than what is held: stale, whatever its status.
      expect((await s.ingest(note(z, "open", 500)))._tag).toBe("stale")
      expect(await s.status(z)).toMatchObject({ status: "open", updatedAt: 1_000, confirmedAt: 2_800 })
      expect((await s.ingest(note(z, "locked", 4_000)))._tag).toBe("applied")
      expect(await s.status(z)).toMatchObject({ status: "locked", updatedAt: 4_000, confirmedAt: 4_000 })
      const events = await s.events({ after: base, zrn: z, limit: 10 })
      expect(events.map((e) => [e.status, e.source])).toEqual([
        ["open", "webhook"],
        ["locked", "webhook"]
      ])
      off()
      expect(seen).toEqual(["open", "locked"])
    })

    it("observations confirm the status they find held, and move nothing else", async () => {
      const z = zrn()
      await s.observe({ zrn: z, status: null, source: "create", at: 100 })
      expect(await s.observe({ zrn: z, status: null, source: "read", at: 400 })).toEqual({
        zrn: z,
        status: null,
        updatedAt: 100,
        source: "create",
        confirmedAt: 400
      })
      // An older observation confirms nothing.
      expect(await s.observe({ zrn: z, status: null, source: "read", at: 200 })).toMatchObject({
        confirmedAt: 400
      })
      expect(await s.status(z)).toMatchObject({ confirmedAt: 400, updatedAt: 100 })
    })

    it("reconciles with a read: repairs like a webhook, confirms, and never overrides a newer fact", async () => {
      const z = zrn()
      const base = await s.lastEventId()
      const changes: Array<Store.Change> = []
      const off = s.subscribe((c) => {
        if (c.record.zrn === z) changes.push(c)
      })
      await s.ingest(note(z, "open", 1_000))
      // The status held: only its confirmation moves.
      expect(
        await s.reconcile({ zrn: z, status: "open", at: 2_000, receivedAt: 2_010, payload: {} })
      ).toEqual({
        _tag: "confirmed",
        record: { zrn: z, status: "open", updatedAt: 1_000, source: "webhook", confirmedAt: 2_000 }
      })
      // Another status, but read before the webhook's time: the webhook is newer.
      expect(
        await s.reconcile({ zrn: z, status: "locked", at: 500, receivedAt: 510, payload: {} })
      ).toMatchObject({
        _tag: "stale",
        current: { status: "open", updatedAt: 1_000 }
      })
      // A change the webhooks never told: repaired, with an event of its own.
      const account = { zrn: z, status: "locked", participant_code: "CUST01", account_label: "r" }
      const repaired = await s.reconcile({
        zrn: z,
        status: "locked",
        at: 3_000,
        receivedAt: 3_020,
        payload: account
      })
      expect(repaired).toMatchObject({
        _tag: "repaired",
        record: { zrn: z, status: "locked", updatedAt: 3_000, source: "reconcile", confirmedAt: 3_000 },
        event: {
          id: base + 2,
          type: "customer_account_status_changed",
          source: "reconcile",
          notificationId: null,
          zrn: z,
          status: "locked",
          occurredAt: 3_000,
          receivedAt: 3_020,
          payload: account
        }
      })
      expect(await s.status(z)).toMatchObject({ status: "locked", source: "reconcile" })
      // A webhook older than the read is stale; a newer one applies, and event ids go on growing.
      expect((await s.ingest(note(z, "open", 2_500)))._tag).toBe("stale")
      const later = await s.ingest(note(z, "withdraw_locked", 4_000))
      expect(later).toMatchObject({ _tag: "applied", event: { id: base + 3, source: "webhook" } })
      const events = await s.events({ after: base, zrn: z, limit: 10 })
      expect(events.map((e) => [e.id - base, e.status, e.source, e.notificationId === null])).toEqual([
        [1, "open", "webhook", false],
        [2, "locked", "reconcile", true],
        [3, "withdraw_locked", "webhook", false]
      ])
      expect(events[1]).toEqual(repaired._tag === "repaired" ? repaired.event : undefined)
      off()
      // The change feed told every change, the repair with its event (what wakes long polls and streams).
      expect(changes.map((c) => [c.record.status, c.record.source, c.event?.source])).toEqual([
        ["open", "webhook", "webhook"],
        ["locked", "reconcile", "reconcile"],
        ["withdraw_locked", "webhook", "webhook"]
      ])
    })

    it("reconciles an account it did not know, or one still provisioning, without an event for a first sighting", async () => {
      const [unknown, provisioning] = [zrn(), zrn()]
      const base = await s.lastEventId()
      expect(
        await s.reconcile({ zrn: unknown, status: "open", at: 100, receivedAt: 110, payload: {} })
      ).toEqual({
        _tag: "repaired",
        record: { zrn: unknown, status: "open", updatedAt: 100, source: "reconcile", confirmedAt: 100 },
        event: undefined
      })
      await s.observe({ zrn: provisioning, status: null, source: "create", at: 100 })
      // Still provisioning: confirmed.
      expect(
        await s.reconcile({ zrn: provisioning, status: null, at: 200, receivedAt: 210, payload: {} })
      ).toMatchObject({ _tag: "confirmed", record: { status: null, confirmedAt: 200 } })
      // Its first webhook was lost: the read opens it, with an event.
      const opened = await s.reconcile({
        zrn: provisioning,
        status: "open",
        at: 300,
        receivedAt: 310,
        payload: { zrn: provisioning }
      })
      expect(opened).toMatchObject({ _tag: "repaired", event: { id: base + 1, status: "open" } })
      expect(await s.lastEventId()).toBe(base + 1)
    })

    it("claims records due for a re-read under a lease: provisioning first, then oldest confirmation", async () => {
      // Confirmed far in the past (T), so that no other test's record is due; leases run on their own
      // clock (N: \`now\` and \`leaseUntil\`).
      const T = -1_000_000_000_000
      const N = 1_000_000
      const [p1, p2, s1, s2, fresh] = [zrn(), zrn(), zrn(), zrn(), zrn()]
      await s.observe({ zrn: p1, status: null, source: "create", at: T + 100 })
      await s.observe({ zrn: p2, status: null, source: "create", at: T + 900 })
      await s.ingest({ ...note(s1, "open", T + 50), receivedAt: T + 60 })
      await s.ingest({ ...note(s2, "locked", T + 10), receivedAt: T + 20 })
      await s.ingest({ ...note(fresh, "open", T + 5_000), receivedAt: T + 5_010 })
      const q = {
        now: N + 1_000,
        provisioningBefore: T + 500,
        staleBefore: T + 200,
        leaseUntil: N + 2_000,
        limit: 10
      }
      const first = await s.claimDue(q)
      expect(first.map((r) => r.zrn)).toEqual([p1, s2, s1])
      expect(first[0]).toEqual({
        zrn: p1,
        status: null,
        updatedAt: T + 100,
        source: "create",
        confirmedAt: T + 100
      })
      // Leased: not claimed again.
      expect(await s.claimDue(q)).toEqual([])
      // A read ends the lease (and its confirmation makes the record fresh); a deferral to 0 makes it due at once.
      await s.reconcile({ zrn: s2, status: "locked", at: T + 1_100, receivedAt: T + 1_110, payload: {} })
      await s.deferDue([s1], 0)
      expect((await s.claimDue({ ...q, now: N + 1_200, leaseUntil: N + 9_000 })).map((r) => r.zrn)).toEqual([
        s1
      ])
      // Deferred into the future: not due until then.
      await s.deferDue([p1], N + 5_000)
      expect(await s.claimDue({ ...q, now: N + 3_000 })).toEqual([])
      expect((await s.claimDue({ ...q, now: N + 5_000, limit: 1 })).map((r) => r.zrn)).toEqual([p1])
      // The limit holds; a later provisioning wait makes the other one due.
      const later = await s.claimDue({
        ...q,
        now: N + 10_000,
        provisioningBefore: T + 1_000,
        leaseUntil: N + 20_000,
        limit: 1
      })
      expect(later.map((r) => r.zrn)).toEqual([p1])
      // p1 leased now: the other provisioning record is next.
      expect(
        (await s.claimDue({ ...q, now: N + 10_000, provisioningBefore: T + 1_000, limit: 1 })).map(
          (r) => r.zrn
        )
      ).toEqual([p2])
    })

    it("gives each due record to exactly one of several concurrent claims", async () => {
      const T = -2_000_000_000_000
      const N = 1_000_000
      const zrns = Array.from({ length: 20 }, () => zrn())
      for (const [i, z] of zrns.entries()) await s.ingest({ ...note(z, "open", T + i), receivedAt: T + i })
      const q = {
        now: N + 1_000,
        provisioningBefore: T - 1,
        staleBefore: T + 100,
        // Leased for good: never due in another test of this store.
        leaseUntil: Number.MAX_SAFE_INTEGER,
        limit: 8
      }
      const claims = await Promise.all([s.claimDue(q), s.claimDue(q), s.claimDue(q)])
      const all = claims.flat().map((r) => r.zrn)
      expect(new Set(all).size).toBe(all.length)
      expect([...all].sort()).toEqual([...zrns].sort())
    })

    it("records that a proxy is alive, and marks a catch-up after a downtime", async () => {
      const t = Date.now()
      // No proxy was ever alive on this store: everything known before now is to be re-read.
      expect(await s.alive(t, 5_000)).toBe(t)
      expect(await s.alive(t + 1_000, 5_000)).toBe(t)
      expect(await s.alive(t + 5_500, 5_000)).toBe(t)
      // More than 5 s with no beat: a new mark.
      expect(await s.alive(t + 11_000, 5_000)).toBe(t + 11_000)
      expect(await s.alive(t + 11_500, 5_000)).toBe(t + 11_000)
      // A late beat (another replica's clock behind) moves nothing back.
      expect(await s.alive(t + 10_000, 5_000)).toBe(t + 11_000)
    })

    it("pages events after an id, filtered by ZRN, with a limit", async () => {
      const [a, b] = [zrn(), zrn()]
      const base = await s.lastEventId()
      // Each a change of its account's status (one naming the status held appends no event).
      const statuses = ["open", "open", "locked", "locked", "withdraw_locked"]
      for (let i = 1; i <= 5; i++) await s.ingest(note(i % 2 === 0 ? b : a, statuses[i - 1]!, i))
      expect((await s.events({ after: base, limit: 10 })).map((e) => e.id - base)).toEqual([1, 2, 3, 4, 5])
      expect((await s.events({ after: base + 3, limit: 10, zrn: a })).map((e) => e.id - base)).toEqual([5])
      expect((await s.events({ after: base + 1, limit: 2 })).map((e) => e.id - base)).toEqual([2, 3])
      expect(await s.events({ after: base + 5, limit: 10 })).toEqual([])
    })

    it("announces concurrent webhooks in event-id order, without gaps", async () => {
      const base = await s.lastEventId()
      const ids: Array<number> = []
      const off = s.subscribe((c) => {
        if (c.event !== undefined && c.event.id > base) ids.push(c.event.id)
      })
      // One account each: none can be stale, whatever order they commit in.
      await Promise.all(Array.from({ length: 40 }, (_, i) => s.ingest(note(zrn(), "open", 1_000 + i))))
      off()
      expect(ids).toEqual(Array.from({ length: 40 }, (_, i) => base + i + 1))
    })

    it("claims idempotency keys per caller: claimed, in flight, mismatch, replay, release", async () => {
      const caller = `c-${randomUUID()}`
      const now = Date.now()
      const key = {
        caller,
        key: "k1",
        fingerprint: "f1",
        now,
        expiresAt: now + HOUR,
        leaseUntil: now + 60_000
      }
      expect(await s.claimIdempotencyKey(key)).toEqual({ _tag: "claimed" })
      expect(await s.claimIdempotencyKey(key)).toEqual({ _tag: "in_flight" })
      expect(await s.claimIdempotencyKey({ ...key, fingerprint: "f2" })).toEqual({ _tag: "mismatch" })
      const response = { status: 202, headers: { "content-type": "application/json" }, body: '{"a":1}' }
      const audit = {
        at: now,
        caller,
        action: "lock",
        target: null,
        summary: {},
        outcome: "accepted",
        status: 202,
        requestId: "r"
      }
      await s.finishCall({
        idempotency: { caller, key: "k1", resolution: { _tag: "complete", response } },
        audit
      })
      expect(await s.claimIdempotencyKey(key)).toEqual({ _tag: "replay", response })
      expect(await s.claimIdempotencyKey({ ...key, fingerprint: "f2" })).toEqual({ _tag: "mismatch" })
      // Scoped per caller: another caller's same key is another record.
      const other = { ...key, caller: `${caller}-b` }
      expect(await s.claimIdempotencyKey(other)).toEqual({ _tag: "claimed" })
      await s.finishCall({
        idempotency: { caller: other.caller, key: "k1", resolution: { _tag: "release" } },
        audit: { ...audit, caller: other.caller }
      })
      expect(await s.claimIdempotencyKey({ ...other, fingerprint: "f9" })).toEqual({ _tag: "claimed" })
      // A release never forgets a completed record.
      await s.finishCall({ idempotency: { caller, key: "k1", resolution: { _tag: "release" } }, audit })
      expect(await s.claimIdempotencyKey(key)).toEqual({ _tag: "replay", response })
    })

    it("forgets expired keys, and takes over a key whose lease ran out (not a create)", async () => {
      const caller = `c-${randomUUID()}`
      const now = Date.now()
      const key = { caller, key: "k", fingerprint: "f", now, expiresAt: now + 1_000, leaseUntil: now + 500 }
      expect(await s.claimIdempotencyKey(key)).toEqual({ _tag: "claimed" })
      // The proxy holding it died: after the lease, the same request may go again.
      expect(await s.claimIdempotencyKey({ ...key, now: now + 600, leaseUntil: now + 900 })).toEqual({
        _tag: "claimed"
      })
      expect(await s.claimIdempotencyKey({ ...key, now: now + 800 })).toEqual({ _tag: "in_flight" })
      // Expired: even a different request may use the key.
      expect(
        await s.claimIdempotencyKey({
          ...key,
          fingerprint: "other",
          now: now + 1_000,
          expiresAt: now + 5_000,
          leaseUntil: now + 2_000
        })
      ).toEqual({ _tag: "claimed" })
    })

    it("reconciles a create whose outcome is unknown from the webhook inbox, never claiming it again", async () => {
      const caller = `c-${randomUUID()}`
      const label = `label-${randomUUID()}`
      const create = { participantCode: "CUST01", accountLabel: label }
      const now = Date.now()
      const key = {
        caller,
        key: "k",
        fingerprint: "f",
        now,
        expiresAt: now + HOUR,
        leaseUntil: now + 60_000,
        create
      }
      const audit = {
        at: now,
        caller,
        action: "createAccount",
        target: null,
        summary: {},
        outcome: "upstream_outcome_unknown",
        status: 504,
        requestId: "r"
      }
      expect(await s.claimIdempotencyKey(key)).toEqual({ _tag: "claimed" })
      await s.finishCall({ idempotency: { caller, key: "k", resolution: { _tag: "reconcile" } }, audit })
      // Stored without its body (as before migration 5): nothing to send again, so it waits.
      expect(await s.claimIdempotencyKey(key)).toEqual({ _tag: "pending", landed: false, since: now })
      expect(await s.claimIdempotencyKey({ ...key, fingerprint: "x" })).toEqual({ _tag: "mismatch" })
      const z = zrn()
      const payload = { zrn: z, participant_code: "CUST01", account_label: label, status: "open" }
      await s.ingest({ ...note(z, "open", now), payload })
      const found = await s.claimIdempotencyKey(key)
      expect(found).toEqual({ _tag: "reconciling", account: { zrn: z, payload } })
      // The resolver finds it (its `retryAt` has passed).
      expect(await s.pendingCreates({ now: now + 1, limit: 10 })).toContainEqual({
        caller,
        key: "k",
        fingerprint: "f"
      })
      // A claim held by a proxy that died with a create in flight is reconciled too, not re-sent.
      const died = { ...key, key: "k2", leaseUntil: now + 10 }
      expect(await s.claimIdempotencyKey(died)).toEqual({ _tag: "claimed" })
      expect(await s.claimIdempotencyKey({ ...died, now: now + 20 })).toEqual({
        _tag: "reconciling",
        account: { zrn: z, payload }
      })
    })

    // The same table of cases as `decideClaim` (test/Claims.test.ts): the memory store and the embedded
    // store's in-process claims decide with it; the SQL stores' `mta_claim` must agree.
    describe("the claim decision table", () => {
      for (const c of claimCases) {
        it(`${c.name}: ${c.decision}, then ${c.again}`, async () => {
          const { found, expected } = await runClaimCase(s, c)
          expect(found).toEqual(expected)
        })
      }
    })

    it("gives exactly one of many concurrent claims of one key", async () => {
      const caller = `c-${randomUUID()}`
      const now = Date.now()
      const outcomes = await Promise.all(
        Array.from({ length: 30 }, () =>
          s.claimIdempotencyKey({
            caller,
            key: "same",
            fingerprint: "f",
            now,
            expiresAt: now + HOUR,
            leaseUntil: now + 60_000
          })
        )
      )
      expect(outcomes.filter((o) => o._tag === "claimed")).toHaveLength(1)
      expect(outcomes.filter((o) => o._tag === "in_flight")).toHaveLength(29)
    })

    it("gives the re-send of a pending create to exactly one of many concurrent claims", async () => {
      const caller = `c-${randomUUID()}`
      const now = Date.now()
      const input = {
        caller,
        key: "pending",
        fingerprint: "f",
        now,
        expiresAt: now + HOUR,
        leaseUntil: now + 60_000,
        create: { participantCode: "CUST01", accountLabel: `l-${randomUUID()}` },
        createBody: '{"participant_code":"CUST01"}'
      }
      expect((await s.claimIdempotencyKey(input))._tag).toBe("claimed")
      await s.finishCall({
        idempotency: { caller, key: "pending", resolution: { _tag: "reconcile", at: now, retryAt: now } },
        audit: {
          at: now,
          caller,
          action: "createAccount",
          target: null,
          summary: {},
          outcome: "upstream_outcome_unknown",
          status: 504,
          requestId: "r"
        }
      })
      const outcomes = await Promise.all(
        Array.from({ length: 20 }, () => s.claimIdempotencyKey({ ...input, now: now + 1 }))
      )
      const resends = outcomes.filter((o) => o._tag === "resend")
      expect(resends).toEqual([{ _tag: "resend", body: input.createBody, ownConflict: true, since: now }])
      expect(outcomes.filter((o) => o._tag === "pending")).toHaveLength(19)
      // Its answer: sent again later (`retryAt`), then the resolver finds it again.
      await s.finishCall({
        idempotency: {
          caller,
          key: "pending",
          resolution: { _tag: "reconcile", at: now + 2, retryAt: now + 10_000 }
        },
        audit: {
          at: now + 2,
          caller,
          action: "createAccount",
          target: null,
          summary: {},
          outcome: "idempotency_outcome_pending",
          status: 409,
          requestId: "r2"
        }
      })
      expect(await s.pendingCreates({ now: now + 5_000, limit: 100 })).not.toContainEqual(
        expect.objectContaining({ caller })
      )
      expect(await s.pendingCreates({ now: now + 10_000, limit: 100 })).toContainEqual({
        caller,
        key: "pending",
        fingerprint: "f"
      })
      // Pending since the first unknown outcome, not since the re-send.
      expect(await s.claimIdempotencyKey({ ...input, now: now + 10_000 })).toMatchObject({
        _tag: "resend",
        since: now
      })
    })

    it("answers every kind of step sent at once as if each were alone (one batch in the SQL stores)", async () => {
      const caller = `c-${randomUUID()}`
      const now = Date.now()
      const claimOf = (key: string, fingerprint = "f") => ({
        caller,
        key,
        fingerprint,
        now,
        expiresAt: now + HOUR,
        leaseUntil: now + 60_000
      })
      const audit = (action: string) => ({
        at: now,
        caller,
        action,
        target: null,
        summary: { action },
        outcome: "accepted",
        status: 202,
        requestId: randomUUID()
      })
      const response = { status: 202, headers: { "content-type": "application/json" }, body: '{"ok":true}' }
      // Before: a completed key, a key in flight, a key to release, an account that is open.
      const [z1, z2, z3] = [zrn(), zrn(), zrn()]
      await s.ingest(note(z1, "open", 100))
      await s.claimIdempotencyKey(claimOf("done"))
      await s.finishCall({
        idempotency: { caller, key: "done", resolution: { _tag: "complete", response } },
        audit: audit("before")
      })
      await s.claimIdempotencyKey(claimOf("busy"))
      await s.claimIdempotencyKey(claimOf("dropped"))

      const twice = note(z2, "open", 100)
      const base = await s.lastEventId()
      const [ing1, ing2, ing3, seen, fresh1, fresh2, replay, mismatch, busy, released, keyless, observed] =
        await Promise.all([
          s.ingest(twice),
          s.ingest({ ...twice, receivedAt: twice.receivedAt + 1 }),
          s.ingest(note(z1, "locked", 200)),
          s.status(z1),
          s.claimIdempotencyKey(claimOf("new")),
          s.claimIdempotencyKey(claimOf("new")),
          s.claimIdempotencyKey(claimOf("done")),
          s.claimIdempotencyKey(claimOf("done", "other")),
          s.claimIdempotencyKey(claimOf("busy")),
          s.finishCall({
            idempotency: { caller, key: "dropped", resolution: { _tag: "release" } },
            audit: audit("released")
          }),
          s.finishCall({ audit: audit("keyless") }),
          s.observe({ zrn: z3, status: null, source: "create", at: now })
        ])
      expect([ing1._tag, ing2._tag, ing3._tag]).toEqual(["applied", "duplicate", "applied"])
      const ids = [ing1, ing3].map((o) => (o._tag === "applied" ? o.event.id : -1))
      expect(ids).toEqual([base + 1, base + 2])
      // A read sent with a write may see the state before it or after it, nothing else.
      expect(seen?.zrn).toBe(z1)
      expect(["open", "locked"]).toContain(seen?.status)
      expect([fresh1._tag, fresh2._tag].sort()).toEqual(["claimed", "in_flight"])
      expect(replay).toEqual({ _tag: "replay", response })
      expect(mismatch).toEqual({ _tag: "mismatch" })
      expect(busy).toEqual({ _tag: "in_flight" })
      expect(observed).toMatchObject({ zrn: z3, status: null, source: "create" })
      expect(released.id).not.toBe(keyless.id)
      const entries = await s.audit({ caller, limit: 10 })
      expect(entries.map((e) => e.action).sort()).toEqual(["before", "keyless", "released"])
      expect(entries.find((e) => e.action === "released")).toEqual(released)
      expect(entries.find((e) => e.action === "keyless")).toEqual(keyless)
      // After: the released key is free again, the new key is in flight, and the state is as answered.
      expect(await s.claimIdempotencyKey(claimOf("dropped"))).toEqual({ _tag: "claimed" })
      expect(await s.claimIdempotencyKey(claimOf("new"))).toEqual({ _tag: "in_flight" })
      expect(await s.status(z1)).toMatchObject({ status: "locked", source: "webhook" })
      expect(await s.status(z2)).toMatchObject({ status: "open", source: "webhook" })
      expect(await s.status(z3)).toMatchObject({ status: null, source: "create" })
      expect((await s.events({ after: base, limit: 10 })).map((e) => e.zrn)).toEqual([z2, z1])
    })

    it("appends audit entries and filters them by ZRN, caller, time range and cursor", async () => {
      const caller = `c-${randomUUID()}`
      const [a, b] = [zrn(), zrn()]
      const entry = (target: string, at: number, who = caller) => ({
        at,
        caller: who,
        action: "lock",
        target,
        summary: { method: "POST", path: `/accounts/${target}/lock` },
        outcome: "accepted",
        status: 202,
        requestId: randomUUID()
      })
      const written: Array<Store.AuditEntry> = []
      for (const e of [entry(a, 1_000), entry(b, 2_000), entry(a, 3_000), entry(a, 4_000, `${caller}-x`)]) {
        written.push(await s.finishCall({ audit: e }))
      }
      expect(new Set(written.map((e) => e.id)).size).toBe(4)
      expect(written[0]).toMatchObject({ caller, target: a, summary: { method: "POST" }, status: 202 })
      const mine = await s.audit({ caller, limit: 100 })
      expect(mine.map((e) => e.at)).toEqual([1_000, 2_000, 3_000])
      expect(mine.map((e) => e.id)).toEqual([...mine.map((e) => e.id)].sort((x, y) => x - y))
      expect((await s.audit({ zrn: a, limit: 100 })).map((e) => e.at)).toEqual([1_000, 3_000, 4_000])
      expect((await s.audit({ zrn: a, caller, from: 2_000, limit: 100 })).map((e) => e.at)).toEqual([3_000])
      expect((await s.audit({ caller, from: 1_000, to: 3_000, limit: 100 })).map((e) => e.at)).toEqual([
        1_000, 2_000
      ])
      const page1 = await s.audit({ caller, limit: 2 })
      const page2 = await s.audit({ caller, limit: 2, after: page1[1]!.id })
      expect([...page1, ...page2].map((e) => e.at)).toEqual([1_000, 2_000, 3_000])
    })

    if (factory.reopen === undefined) {
      console.warn(
        `[store suite] ${factory.name}: "keeps everything across a reopen" skipped: its state ends with the process`
      )
    }
    it.skipIf(factory.reopen === undefined)("keeps everything across a reopen", async () => {
      const z = zrn()
      const caller = `c-${randomUUID()}`
      const now = Date.now()
      await s.ingest(note(z, "locked", now))
      const last = await s.lastEventId()
      const key = { caller, key: "k", fingerprint: "f", now, expiresAt: now + HOUR, leaseUntil: now + 60_000 }
      await s.claimIdempotencyKey(key)
      const response = { status: 202, headers: {}, body: "{}" }
      const audited = await s.finishCall({
        idempotency: { caller, key: "k", resolution: { _tag: "complete", response } },
        audit: {
          at: now,
          caller,
          action: "lock",
          target: z,
          summary: {},
          outcome: "accepted",
          status: 202,
          requestId: "r"
        }
      })
      const repaired = await s.reconcile({
        zrn: z,
        status: "open",
        at: now + 1,
        receivedAt: now + 2,
        payload: {}
      })
      const aliveAt = now + 60_000_000
      const mark = await s.alive(aliveAt, 5_000)
      await s.close()
      s = await factory.reopen!()
      expect(await s.status(z)).toMatchObject({ status: "open", source: "reconcile", confirmedAt: now + 1 })
      expect(await s.lastEventId()).toBe(last + 1)
      expect(await s.events({ after: last, limit: 10 })).toEqual([
        repaired._tag === "repaired" ? repaired.event : undefined
      ])
      // The heartbeat survives: a beat soon after is no downtime.
      expect(await s.alive(aliveAt + 1_000, 5_000)).toBe(mark)
      await s.reconcile({ zrn: z, status: "locked", at: now + 3, receivedAt: now + 4, payload: {} })
      expect(await s.lastEventId()).toBe(last + 2)
      expect(await s.claimIdempotencyKey(key)).toEqual({ _tag: "replay", response })
      expect(await s.audit({ caller, limit: 10 })).toEqual([audited])
      // Event ids keep growing after the reopen.
      await s.ingest(note(z, "open", now + 5))
      expect(await s.lastEventId()).toBe(last + 3)
    })

    it("ingests participant notifications: applied, confirmed, stale, duplicate by id and by content", async () => {
      const p = code()
      const base = await s.lastEventId()
      const changes: Array<string> = []
      const off = s.subscribeParticipants((c) => {
        if (c.record.participantCode === p) changes.push(`${c.record.status}/${c.record.reasonCode}`)
      })
      const first = pnote(p, "submitted", 100)
      expect(await s.ingestParticipant(first)).toMatchObject({
        _tag: "applied",
        event: { id: base + 1, type: "participant_status_changed", participantCode: p, status: "submitted" },
        record: {
          participantCode: p,
          status: "submitted",
          reasonCode: null,
          updatedAt: 100,
          source: "webhook"
        }
      })
      // The same notification id again, whatever it says.
      expect(await s.ingestParticipant({ ...first, status: "approved", occurredAt: 900 })).toMatchObject({
        _tag: "duplicate",
        by: "id"
      })
      // The same signed content under another id.
      expect(await s.ingestParticipant({ ...first, notificationId: randomUUID() })).toMatchObject({
        _tag: "duplicate",
        by: "content"
      })
      expect((await s.ingestParticipant(pnote(p, "approved", 300)))._tag).toBe("applied")
      // Older than the record: kept in the inbox (its id is a duplicate after), not applied.
      const stale = pnote(p, "rejected", 200)
      expect(await s.ingestParticipant(stale)).toMatchObject({
        _tag: "stale",
        current: { status: "approved", updatedAt: 300 }
      })
      expect((await s.ingestParticipant(stale))._tag).toBe("duplicate")
      // The status and reason held, not older: only confirmed (no event).
      const confirmed = await s.ingestParticipant(pnote(p, "approved", 400))
      expect(confirmed).toMatchObject({ _tag: "confirmed", record: { status: "approved", updatedAt: 300 } })
      expect(confirmed._tag === "confirmed" && confirmed.record.confirmedAt).toBe(400)
      // Another reason with the same status is a change; an unknown status is kept as sent.
      expect((await s.ingestParticipant(pnote(p, "locked", 500, "user_request")))._tag).toBe("applied")
      expect((await s.ingestParticipant(pnote(p, "locked", 600, "compliance_issue")))._tag).toBe("applied")
      expect((await s.ingestParticipant(pnote(p, "frozen_by_regulator", 700)))._tag).toBe("applied")
      expect(await s.participants([p, code()])).toEqual([
        {
          participantCode: p,
          status: "frozen_by_regulator",
          reasonCode: null,
          updatedAt: 700,
          source: "webhook",
          confirmedAt: 700
        },
        undefined
      ])
      const events = await s.log({ after: base, participant: p, limit: 10 })
      expect(events.map((e) => [e.id - base, e.status])).toEqual([
        [1, "submitted"],
        [2, "approved"],
        [3, "locked"],
        [4, "locked"],
        [5, "frozen_by_regulator"]
      ])
      expect(events[2]).toMatchObject({
        type: "participant_status_changed",
        source: "webhook",
        reasonCode: "user_request",
        occurredAt: 500,
        receivedAt: 505,
        payload: { participant_code: p, participant_status: "locked", reason_code: "user_request" }
      })
      // Account events are not participant events: `events` keeps only account events.
      expect(await s.events({ after: base, limit: 10 })).toEqual([])
      off()
      expect(changes).toEqual([
        "submitted/null",
        "approved/null",
        "locked/user_request",
        "locked/compliance_issue",
        "frozen_by_regulator/null"
      ])
    })

    it("keeps one event log for accounts and participants, filtered by account, participant, or either", async () => {
      const z = zrn()
      const p = code()
      const other = code()
      const base = await s.lastEventId()
      await s.ingest(note(z, "open", 1_000))
      await s.ingestParticipant(pnote(p, "approved", 1_001))
      await s.ingestParticipant(pnote(other, "approved", 1_002))
      await s.ingest(note(z, "locked", 1_003))
      const ids = async (q: { zrn?: string; participant?: string }) =>
        (await s.log({ after: base, limit: 10, ...q })).map((e) => e.id - base)
      expect(await ids({})).toEqual([1, 2, 3, 4])
      expect(await ids({ zrn: z })).toEqual([1, 4])
      expect(await ids({ participant: p })).toEqual([2])
      expect(await ids({ zrn: z, participant: p })).toEqual([1, 2, 4])
      expect((await s.events({ after: base, limit: 10 })).map((e) => e.id - base)).toEqual([1, 4])
      expect(await s.lastEventId()).toBe(base + 4)
    })

    it("a participant notification and an account notification never dedupe each other", async () => {
      const p = code()
      const n = pnote(p, "approved", 2_000)
      expect((await s.ingestParticipant(n))._tag).toBe("applied")
      // The same notification id on an account notification: one inbox, one id namespace.
      expect((await s.ingest({ ...note(zrn(), "open", 2_000), notificationId: n.notificationId }))._tag).toBe(
        "duplicate"
      )
    })

    it("reconciles participants with reads: first sighting without an event, repairs, confirms, stale", async () => {
      const p = code()
      const base = await s.lastEventId()
      const reading = (status: string, at: number, reasonCode: string | null = null) => ({
        participantCode: p,
        status,
        reasonCode,
        at,
        receivedAt: at + 3,
        payload: { participant_code: p, status },
        source: "reconcile" as const
      })
      const first = await s.reconcileParticipant({ ...reading("submitted", 100), source: "read" })
      expect(first).toMatchObject({ _tag: "repaired", event: undefined, record: { source: "read" } })
      expect(await s.lastEventId()).toBe(base)
      expect(await s.reconcileParticipant(reading("submitted", 150))).toMatchObject({
        _tag: "confirmed",
        record: { confirmedAt: 150, updatedAt: 100 }
      })
      const repaired = await s.reconcileParticipant(reading("approved", 200))
      expect(repaired).toMatchObject({
        _tag: "repaired",
        record: { status: "approved", source: "reconcile" },
        event: {
          id: base + 1,
          source: "reconcile",
          notificationId: null,
          status: "approved",
          occurredAt: 200
        }
      })
      // A webhook newer than a read: the read sent before it does not override it.
      await s.ingestParticipant(pnote(p, "locked", 400, "user_request"))
      expect(await s.reconcileParticipant(reading("approved", 300))).toMatchObject({
        _tag: "stale",
        current: { status: "locked", reasonCode: "user_request" }
      })
      expect((await s.log({ after: base, participant: p, limit: 10 })).map((e) => e.source)).toEqual([
        "reconcile",
        "webhook"
      ])
    })

    it("claims participants due for a re-read under a lease, oldest confirmation first", async () => {
      const now = Date.now() + 10 * HOUR
      const [a, b, c] = [code(), code(), code()]
      await s.reconcileParticipant({
        participantCode: a,
        status: "approved",
        reasonCode: null,
        at: now - 3_000,
        receivedAt: now,
        payload: {},
        source: "read"
      })
      await s.reconcileParticipant({
        participantCode: b,
        status: "approved",
        reasonCode: null,
        at: now - 2_000,
        receivedAt: now,
        payload: {},
        source: "read"
      })
      await s.reconcileParticipant({
        participantCode: c,
        status: "approved",
        reasonCode: null,
        at: now + 1_000,
        receivedAt: now,
        payload: {},
        source: "read"
      })
      const mine = (rs: ReadonlyArray<{ participantCode: string }>) =>
        rs.map((r) => r.participantCode).filter((x) => [a, b, c].includes(x))
      const q = { now, staleBefore: now - 1_000, leaseUntil: now + 60_000, limit: 10_000 }
      expect(mine(await s.claimDueParticipants(q))).toEqual([a, b])
      // Leased: not claimed again until the lease ends or the record is deferred.
      expect(mine(await s.claimDueParticipants(q))).toEqual([])
      await s.deferDueParticipants([b], 0)
      expect(mine(await s.claimDueParticipants(q))).toEqual([b])
      // A read ends the lease.
      await s.reconcileParticipant({
        participantCode: a,
        status: "approved",
        reasonCode: null,
        at: now - 1_500,
        receivedAt: now,
        payload: {},
        source: "reconcile"
      })
      expect(mine(await s.claimDueParticipants(q))).toEqual([a])
    })

    it("answers ping while open, and fails once closed", async () => {
      await s.ping()
      await s.close()
      await expect(s.ping()).rejects.toThrow(/closed/)
    })
  })
}
