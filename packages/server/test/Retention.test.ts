/**
 * Retention in the background (`internal/retention.ts`): a run prunes what is older than the window
 * and nothing else, runs repeat, a failed run is logged and the next one tries again; and an event
 * stream resumed from a pruned id replays from the oldest event kept (ids jump: the gap says events
 * were pruned).
 */
import { Logger, Store } from "@mta/server"
import { describe, expect, it } from "vitest"
import { startRetention } from "../src/internal/retention.js"
import { captureLogs, harness, readUntil } from "./support.js"

const HOUR = 3_600_000
const ZRN = "zrn:zh:us:accounts:customer:4f1c7c36-3f7e-4a52-8e0b-2b0c9d3f5a10"
const note = (status: string, receivedAt: number) => ({
  notificationId: crypto.randomUUID(),
  zrn: ZRN,
  status,
  occurredAt: receivedAt,
  receivedAt,
  payload: { zrn: ZRN, status }
})

describe("retention", () => {
  it("prunes in the background what is older than the window, and nothing else", async () => {
    const store = Store.memory()
    const now = Date.now()
    for (const [status, at] of [
      ["open", now - 3 * HOUR],
      ["locked", now - 2 * HOUR],
      ["open", now - 10_000]
    ] as const) {
      await store.ingest(note(status, at))
    }
    const logs = captureLogs()
    const retention = startRetention({
      store,
      retentionMs: HOUR,
      intervalMs: 20,
      logger: Logger.make({ level: "info", destination: logs.destination })
    })
    await expect.poll(async () => (await store.events({ after: 0, limit: 10 })).map((e) => e.id)).toEqual([3])
    await retention.stop()
    const line = logs.lines.find((l) => l.includes("retention: pruned"))
    expect(JSON.parse(line!)).toMatchObject({ inbox: 2, events: 2 })
    expect(await store.lastEventId()).toBe(3)
    expect(await store.status(ZRN)).toMatchObject({ status: "open" })
  })

  it("logs a failed run and tries again at the next one", async () => {
    let calls = 0
    const store = {
      ...Store.memory(),
      prune: async () => {
        calls++
        if (calls === 1) throw new Error("database unreachable")
        return { inbox: 0, events: 0 }
      }
    }
    const logs = captureLogs()
    const retention = startRetention({
      store,
      retentionMs: HOUR,
      intervalMs: 20,
      logger: Logger.make({ level: "info", destination: logs.destination })
    })
    await expect.poll(() => calls).toBeGreaterThanOrEqual(2)
    await retention.stop()
    const warned = logs.lines.filter((l) => l.includes("retention: pruning failed"))
    expect(warned).toHaveLength(1)
    expect(warned[0]).toContain("database unreachable")
  })

  it("a stream resumed from a pruned event id replays from the oldest event kept", async () => {
    const h = harness({ webhooks: false })
    const now = Date.now()
    for (const [status, at] of [
      ["open", now - 3 * HOUR],
      ["locked", now - 2 * HOUR],
      ["open", now - 10_000],
      ["closed", now - 5_000]
    ] as const) {
      await h.store.ingest(note(status, at))
    }
    expect(await h.store.prune({ before: now - HOUR, now })).toEqual({ inbox: 2, events: 2 })
    const r = await h.request("/events", { headers: { "last-event-id": "1" } })
    expect(r.status).toBe(200)
    const text = await readUntil(r.body!, "\nevent: ", 2)
    expect(text).toMatch(/^id: 3$/m)
    expect(text).not.toMatch(/^id: [12]$/m)
    expect(text).toMatch(/^id: 4$/m)
  })
})
