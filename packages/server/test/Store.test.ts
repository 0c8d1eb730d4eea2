/**
 * The store's behavioural suite against every implementation: in memory, embedded (PGlite in a
 * temporary data directory) and PostgreSQL (a throwaway cluster started here; skipped with the reason
 * when the server binaries are absent). Then what only the disk and PostgreSQL stores promise: the data
 * directory lock, migrations that two replicas may run at once, idempotency and wake-ups across
 * replicas.
 */
import { mkdirSync, mkdtempSync, rmSync } from "node:fs"
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

/** The SQL stores, each on fresh data. */
const sqlStores: ReadonlyArray<{
  readonly name: string
  readonly skip: string | undefined
  readonly open: (name: string) => Promise<Store.Store>
  /** Runs SQL on the same data, with the store closed (PGlite is single-process). */
  readonly sql: (name: string, text: string) => Promise<void>
}> = [
  {
    name: "embedded (PGlite)",
    skip: undefined,
    open: (name) => Store.embedded({ dataDir: join(dataDir, "..", `${dataDir.split("/").pop()}-${name}`) }),
    sql: async (name, text) => {
      const { PGlite } = await import("@electric-sql/pglite")
      const dir = join(dataDir, "..", `${dataDir.split("/").pop()}-${name}`)
      mkdirSync(dir, { recursive: true })
      const db = await PGlite.create({ dataDir: join(dir, "pgdata") })
      try {
        await db.exec(text)
      } finally {
        await db.close()
      }
    }
  },
  {
    name: "PostgreSQL",
    skip: postgresUnavailable,
    open: async (name) => Store.postgres({ url: await databaseUrl(name) }),
    sql: async (name, text) => {
      const client = new pg.Client({ connectionString: await databaseUrl(name) })
      await client.connect()
      try {
        await client.query(text)
      } finally {
        await client.end()
      }
    }
  }
]
const urls = new Map<string, string>()
const databaseUrl = async (name: string): Promise<string> => {
  let url = urls.get(name)
  if (url === undefined) {
    url = await cluster!.createDatabase(name)
    urls.set(name, url)
  }
  return url
}

for (const sql of sqlStores) {
  describe.skipIf(sql.skip !== undefined)(`${sql.name} store: batches and schema`, () => {
    afterAll(() => {
      for (const name of ["refused", "upgrade", "append-only"]) {
        rmSync(join(dataDir, "..", `${dataDir.split("/").pop()}-${name}`), { recursive: true, force: true })
      }
    })

    it("fails only the step the database refuses; the others sent with it are written", async () => {
      const s = await sql.open("refused")
      try {
        const now = Date.now()
        const caller = `c-${crypto.randomUUID()}`
        const z = `zrn:zh:us:accounts:customer:${crypto.randomUUID()}`
        // jsonb cannot hold U+0000: these two steps are refused by the database.
        const results = await Promise.allSettled([
          ...["a", "b", "c"].map((key) =>
            s.claimIdempotencyKey({
              caller,
              key,
              fingerprint: "f",
              now,
              expiresAt: now + 60_000,
              leaseUntil: now + 60_000
            })
          ),
          s.finishCall({
            audit: {
              at: now,
              caller,
              action: "lock",
              target: null,
              summary: { label: "a\u0000b" },
              outcome: "accepted",
              status: 202,
              requestId: "bad"
            }
          }),
          s.ingest({
            notificationId: "n-bad",
            zrn: z,
            status: "open",
            occurredAt: 1,
            receivedAt: 2,
            payload: { x: "\u0000" }
          }),
          s.finishCall({
            audit: {
              at: now,
              caller,
              action: "unlock",
              target: null,
              summary: {},
              outcome: "accepted",
              status: 202,
              requestId: "good"
            }
          }),
          s.observe({ zrn: z, status: null, source: "create", at: now })
        ])
        expect(results.map((r) => r.status)).toEqual([
          "fulfilled",
          "fulfilled",
          "fulfilled",
          "rejected",
          "rejected",
          "fulfilled",
          "fulfilled"
        ])
        expect((results[3] as PromiseRejectedResult).reason).toMatchObject({ code: "22P05" })
        expect((await s.audit({ caller, limit: 10 })).map((e) => e.requestId)).toEqual(["good"])
        expect(await s.status(z)).toMatchObject({ status: null, source: "create" })
        expect((await s.events({ after: 0, zrn: z, limit: 10 })).length).toBe(0)
        const again = await s.claimIdempotencyKey({
          caller,
          key: "a",
          fingerprint: "f",
          now,
          expiresAt: now + 60_000,
          leaseUntil: now + 60_000
        })
        expect(again).toEqual({ _tag: "in_flight" })
      } finally {
        await s.close()
      }
    })

    it("keeps the audit log append-only: an UPDATE or a DELETE of a row is refused", async () => {
      const entry = {
        at: 1_000,
        caller: "auditor",
        action: "lock",
        target: null,
        summary: { method: "POST" },
        outcome: "accepted",
        status: 202,
        requestId: "kept"
      }
      let s = await sql.open("append-only")
      try {
        await s.finishCall({ audit: entry })
      } finally {
        await s.close()
      }
      await expect(sql.sql("append-only", "UPDATE mta_audit SET outcome = 'changed'")).rejects.toThrow(
        /append-only/
      )
      await expect(sql.sql("append-only", "DELETE FROM mta_audit")).rejects.toThrow(/append-only/)
      s = await sql.open("append-only")
      try {
        expect(await s.audit({ caller: "auditor", limit: 10 })).toEqual([
          { ...entry, id: expect.any(Number) }
        ])
      } finally {
        await s.close()
      }
    })

    it("upgrades a database at schema version 1 and serves from it", async () => {
      const { migrations } = await import("../src/internal/store/migrations.js")
      await sql.sql(
        "upgrade",
        `CREATE TABLE mta_schema_migrations (version integer PRIMARY KEY, name text NOT NULL,
           applied_at timestamptz NOT NULL DEFAULT now());
         ${migrations[0]!.sql};
         INSERT INTO mta_schema_migrations (version, name) VALUES (1, 'v1');
         INSERT INTO mta_audit (at, caller, action, summary, outcome, status, request_id)
           VALUES (1, 'old', 'lock', '{}', 'accepted', 202, 'from-v1');`
      )
      const s = await sql.open("upgrade")
      try {
        const old = await s.audit({ caller: "old", limit: 10 })
        expect(old.map((e) => e.requestId)).toEqual(["from-v1"])
        const now = Date.now()
        const entry = await s.finishCall({
          audit: {
            at: now,
            caller: "old",
            action: "unlock",
            target: null,
            summary: {},
            outcome: "accepted",
            status: 202,
            requestId: "from-v2"
          }
        })
        expect(entry.id).toBeGreaterThan(old[0]!.id)
      } finally {
        await s.close()
      }
      let versions: Array<number> = []
      if (sql.name === "PostgreSQL") {
        const client = new pg.Client({ connectionString: await databaseUrl("upgrade") })
        await client.connect()
        versions = (
          await client.query("SELECT version FROM mta_schema_migrations ORDER BY version")
        ).rows.map((r) => Number(r.version))
        await client.end()
      } else {
        const { PGlite } = await import("@electric-sql/pglite")
        const db = await PGlite.create({
          dataDir: join(dataDir, "..", `${dataDir.split("/").pop()}-upgrade`, "pgdata")
        })
        versions = (
          await db.query<{ version: number }>("SELECT version FROM mta_schema_migrations ORDER BY version")
        ).rows.map((r) => Number(r.version))
        await db.close()
      }
      expect(versions).toEqual(migrations.map((m) => m.version))
    })
  })
}

describe("embedded store: the data directory", () => {
  it("is locked to one process; a lock left by a dead process is taken over", async () => {
    const dir = mkdtempSync(join(tmpdir(), "mta-lock-test-"))
    try {
      const { lockDataDir } = await import("../src/internal/store/pglite.js")
      const lock = await lockDataDir(dir)
      // Held by a live process (the test's parent stands in for another proxy).
      lock.release()
      const { writeFileSync } = await import("node:fs")
      writeFileSync(join(dir, "mta.lock"), String(process.ppid))
      await expect(lockDataDir(dir)).rejects.toThrow(/in use by process/)
      // A pid that cannot be alive (above the kernel's limit) is a dead holder.
      writeFileSync(join(dir, "mta.lock"), "99999999")
      const again = await lockDataDir(dir)
      again.release()
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
        const { migrations } = await import("../src/internal/store/migrations.js")
        expect(rows.map((r) => Number(r.version))).toEqual(migrations.map((m) => m.version))
        await expect(client.query("UPDATE mta_audit SET outcome = 'x'")).resolves.toBeDefined()
        await client.query(
          "INSERT INTO mta_audit (at, caller, action, summary, outcome, status, request_id) VALUES (1, 'x', 'y', '{}', 'z', 1, 'r')"
        )
        await expect(client.query("DELETE FROM mta_audit")).rejects.toThrow(/append-only/)
      } finally {
        await client.end()
      }
    })

    it("gives one re-send of a pending create to one replica at a time (the row lock and lease)", async () => {
      const caller = `c-${crypto.randomUUID()}`
      const now = Date.now()
      const input = {
        caller,
        key: "pending",
        fingerprint: "f",
        now,
        expiresAt: now + 3_600_000,
        leaseUntil: now + 60_000,
        create: { participantCode: "CUST01", accountLabel: `l-${crypto.randomUUID()}` },
        createBody: "{}"
      }
      expect((await a.claimIdempotencyKey(input))._tag).toBe("claimed")
      await a.finishCall({
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
      // Both replicas' resolvers (and a retry on each) claim it at once: one re-sends.
      const outcomes = await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          (i % 2 === 0 ? a : b).claimIdempotencyKey({ ...input, now: now + 1 })
        )
      )
      expect(outcomes.filter((o) => o._tag === "resend")).toHaveLength(1)
      expect(outcomes.filter((o) => o._tag === "pending")).toHaveLength(9)
      // Until its answer (or its lease) ends, nobody else sends it.
      expect((await b.claimIdempotencyKey({ ...input, now: now + 59_000 }))._tag).toBe("pending")
      expect((await b.claimIdempotencyKey({ ...input, now: now + 61_000 }))._tag).toBe("resend")
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
        notificationId: change.event!.notificationId!,
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
