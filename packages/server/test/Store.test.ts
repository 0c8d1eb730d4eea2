/**
 * The store's behavioural suite against every implementation: in memory, embedded (PGlite in a
 * temporary data directory) and PostgreSQL (a throwaway cluster started here; skipped with the reason
 * when the server binaries are absent). Then what only the disk and PostgreSQL stores promise: the data
 * directory lock, migrations that two replicas may run at once, idempotency and wake-ups across
 * replicas.
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Store } from "@mta/server"
import pg from "pg"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type PostgresCluster, postgresUnavailable, startPostgres } from "./support/postgres.js"
import { storeSuite } from "./support/storeSuite.js"

const dataDir = mkdtempSync(join(tmpdir(), "mta-store-test-"))
let cluster: PostgresCluster | undefined
let suiteUrl: string | undefined

beforeAll(async () => {
  if (postgresUnavailable === undefined) {
    cluster = await startPostgres()
    suiteUrl = await cluster.createDatabase("suite")
  }
}, 120_000)
afterAll(async () => {
  await cluster?.stop()
  rmSync(dataDir, { recursive: true, force: true })
})

storeSuite({ name: "memory", open: async () => Store.memory() })
storeSuite({
  name: "embedded (PGlite)",
  open: () => Store.embedded({ dataDir }),
  reopen: () => Store.embedded({ dataDir })
})
storeSuite({
  name: "PostgreSQL",
  skip: postgresUnavailable,
  open: () => Store.postgres({ url: suiteUrl! }),
  reopen: () => Store.postgres({ url: suiteUrl! })
})

describe("embedded store: the data directory", () => {
  it("is locked to one process; a lock left by a dead process is taken over", async () => {
    const dir = mkdtempSync(join(tmpdir(), "mta-lock-test-"))
    try {
      const { lockDataDir } = await import("../src/internal/store/pglite.js")
      const release = lockDataDir(dir)
      // Held by a live process (the test's parent stands in for another proxy).
      release()
      const { writeFileSync } = await import("node:fs")
      writeFileSync(join(dir, "mta.lock"), String(process.ppid))
      expect(() => lockDataDir(dir)).toThrow(/in use by process/)
      // A pid that cannot be alive (above the kernel's limit) is a dead holder.
      writeFileSync(join(dir, "mta.lock"), "99999999")
      const again = lockDataDir(dir)
      again()
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

describe.skipIf(postgresUnavailable !== undefined)(
  "PostgreSQL store: several replicas on one database",
  () => {
    if (postgresUnavailable !== undefined)
      console.warn(`[Store.test] PostgreSQL replicas skipped: ${postgresUnavailable}`)
    let url: string
    let a: Store.Store
    let b: Store.Store
    beforeAll(async () => {
      url = await cluster!.createDatabase("replicas")
      // Two replicas starting at once on an empty database: the migrations run exactly once.
      ;[a, b] = await Promise.all([Store.postgres({ url }), Store.postgres({ url })])
    }, 60_000)
    afterAll(async () => {
      await a?.close()
      await b?.close()
    })

    it("ran each migration once although both started together", async () => {
      const client = new pg.Client({ connectionString: url })
      await client.connect()
      try {
        const rows = (await client.query("SELECT version FROM mta_schema_migrations ORDER BY version")).rows
        expect(rows.map((r) => Number(r.version))).toEqual([1, 2])
        await expect(client.query("UPDATE mta_audit SET outcome = 'x'")).resolves.toBeDefined()
        await client.query(
          "INSERT INTO mta_audit (at, caller, action, summary, outcome, status, request_id) VALUES (1, 'x', 'y', '{}', 'z', 1, 'r')"
        )
        await expect(client.query("DELETE FROM mta_audit")).rejects.toThrow(/append-only/)
      } finally {
        await client.end()
      }
    })

    it("a webhook ingested by one replica reaches the other's change feed", async () => {
      const zrn = `zrn:zh:us:accounts:customer:${crypto.randomUUID()}`
      const seen = new Promise<Store.Change>((resolve) => {
        const off = b.subscribe((change) => {
          if (change.record.zrn === zrn && change.event !== undefined) {
            off()
            resolve(change)
          }
        })
      })
      const outcome = await a.ingest({
        notificationId: crypto.randomUUID(),
        zrn,
        status: "open",
        occurredAt: 1_000,
        receivedAt: 1_001,
        payload: { zrn, status: "open" }
      })
      expect(outcome._tag).toBe("applied")
      const change = await seen
      expect(change.event?.id).toBe(outcome._tag === "applied" ? outcome.event.id : -1)
      expect(change.record).toMatchObject({ status: "open", source: "webhook" })
      // And the same notification delivered to the other replica is a duplicate.
      const dup = await b.ingest({
        notificationId: change.event!.notificationId,
        zrn,
        status: "open",
        occurredAt: 1_000,
        receivedAt: 1_002,
        payload: {}
      })
      expect(dup._tag).toBe("duplicate")
    })

    it("an observation on one replica reaches the other's change feed", async () => {
      const zrn = `zrn:zh:us:accounts:customer:${crypto.randomUUID()}`
      const seen = new Promise<Store.Change>((resolve) => {
        const off = b.subscribe((change) => {
          if (change.record.zrn === zrn) {
            off()
            resolve(change)
          }
        })
      })
      await a.observe({ zrn, status: null, source: "create", at: 5 })
      expect((await seen).record).toMatchObject({ zrn, status: null, source: "create" })
    })

    it("one key claimed on both replicas at once is claimed exactly once", async () => {
      const now = Date.now()
      const claim = (s: Store.Store) =>
        s.claimIdempotencyKey({
          caller: "both",
          key: crypto.randomUUID(),
          fingerprint: "f",
          now,
          expiresAt: now + 60_000,
          leaseUntil: now + 60_000
        })
      for (let round = 0; round < 10; round++) {
        const key = crypto.randomUUID()
        const input = {
          caller: "both",
          key,
          fingerprint: "f",
          now,
          expiresAt: now + 60_000,
          leaseUntil: now + 60_000
        }
        const outcomes = await Promise.all([
          a.claimIdempotencyKey(input),
          b.claimIdempotencyKey(input),
          a.claimIdempotencyKey(input),
          b.claimIdempotencyKey(input)
        ])
        expect(outcomes.filter((o) => o._tag === "claimed")).toHaveLength(1)
      }
      expect((await claim(a))._tag).toBe("claimed")
    })
  }
)
