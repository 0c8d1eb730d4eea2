/**
 * `mta-server audit export --before <date> [--out <file>|-]`, run as a process (`src/main.ts` as
 * `pnpm start` runs it) against an embedded data directory and against PostgreSQL: it writes the
 * entries before the date as JSON lines, oldest first, then deletes exactly those; it refuses an
 * existing file (deleting nothing), a malformed date, and the embedded directory while a proxy holds
 * it; the audit log stays append-only for anything else.
 */
import { spawn } from "node:child_process"
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Store } from "@mta/server"
import pg from "pg"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type PostgresCluster, postgresUnavailable, startPostgres } from "./support/postgres.js"
import { packageDir } from "./support.js"

const work = mkdtempSync(join(tmpdir(), "mta-audit-export-"))
afterAll(() => rmSync(work, { recursive: true, force: true }))

/** The CLI as a process; its whole environment is `env` (and PATH, HOME). */
const cli = (args: ReadonlyArray<string>, env: Record<string, string>) =>
  new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn(
      process.execPath,
      ["--conditions=@mta/source", "--import", "tsx", "src/main.ts", "audit", ...args],
      { cwd: packageDir, env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", ...env } }
    )
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (d: Buffer) => {
      stdout += d.toString()
    })
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString()
    })
    child.once("exit", (code) => resolve({ code, stdout, stderr }))
  })

const entry = (at: string, requestId: string) => ({
  at: Date.parse(at),
  caller: "ops",
  action: "lock",
  target: null,
  summary: { method: "POST", path: "/accounts/x/lock" },
  outcome: "accepted",
  status: 202,
  requestId
})

/** Appends the entries (in this order) and closes the store. */
const seed = async (open: () => Promise<Store.Store>, entries: ReadonlyArray<ReturnType<typeof entry>>) => {
  const s = await open()
  try {
    for (const e of entries) await s.finishCall({ audit: e })
  } finally {
    await s.close()
  }
}
const remaining = async (open: () => Promise<Store.Store>) => {
  const s = await open()
  try {
    return (await s.audit({ limit: 1_000 })).map((e) => e.requestId)
  } finally {
    await s.close()
  }
}
const lines = (text: string) =>
  text
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => JSON.parse(l) as { id: number; at: string; request_id: string; request: unknown })

const target = (
  name: string,
  skip: string | undefined,
  setup: () => Promise<{ env: Record<string, string>; open: () => Promise<Store.Store> }>
) =>
  describe.skipIf(skip !== undefined)(`mta-server audit export (${name})`, () => {
    let env: Record<string, string>
    let open: () => Promise<Store.Store>
    beforeAll(async () => {
      ;({ env, open } = await setup())
      await seed(open, [
        entry("2025-06-01T00:00:00Z", "a"),
        entry("2025-12-31T23:59:59.999Z", "b"),
        entry("2026-01-01T00:00:00Z", "at-the-date"),
        entry("2025-03-01T00:00:00Z", "c"),
        entry(new Date().toISOString(), "recent")
      ])
    }, 60_000)

    it("writes the entries before the date as JSON lines, oldest first, then deletes exactly those", async () => {
      const out = join(work, `${name}-1.jsonl`)
      const r = await cli(["export", "--before", "2026-01-01", "--out", out], env)
      expect(r.stderr).toMatch(/wrote 3 entries/)
      expect(r.code).toBe(0)
      const written = lines(readFileSync(out, "utf8"))
      expect(written.map((l) => l.request_id)).toEqual(["a", "b", "c"])
      expect(written.map((l) => l.id)).toEqual([...written.map((l) => l.id)].sort((x, y) => x - y))
      expect(written[0]).toMatchObject({
        at: "2025-06-01T00:00:00.000Z",
        caller: "ops",
        action: "lock",
        request: { method: "POST", path: "/accounts/x/lock" },
        outcome: "accepted",
        status: 202
      })
      expect(await remaining(open)).toEqual(["at-the-date", "recent"])
    }, 60_000)

    it("refuses an existing file and deletes nothing; writes to stdout with --out -", async () => {
      const existing = join(work, `${name}-existing.jsonl`)
      writeFileSync(existing, "keep me\n")
      const r = await cli(["export", "--before", "2026-01-01T00:00:01Z", "--out", existing], env)
      expect(r.code).toBe(1)
      expect(r.stderr).toMatch(/nothing deleted.*EEXIST/)
      expect(readFileSync(existing, "utf8")).toBe("keep me\n")
      expect(await remaining(open)).toEqual(["at-the-date", "recent"])
      const out = await cli(["export", "--before=2026-01-01T00:00:01Z", "--out=-"], env)
      expect(out.code).toBe(0)
      expect(lines(out.stdout).map((l) => l.request_id)).toEqual(["at-the-date"])
      expect(await remaining(open)).toEqual(["recent"])
    }, 60_000)
  })

target("embedded", undefined, async () => {
  const dataDir = join(work, "data")
  return {
    env: { MTA_DATA_DIR: dataDir },
    open: () => Store.embedded({ dataDir })
  }
})

describe("mta-server audit export: arguments", () => {
  it("refuses a malformed date as a process, with exit 2 and the usage", async () => {
    const r = await cli(["export", "--before", "yesterday"], { MTA_STORE: "memory" })
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/--before must be a day \(2026-01-01\) or an instant with its zone/)
  }, 60_000)

  it("refuses every malformed command with exit 2 before opening any store", async () => {
    const { auditCommand } = await import("../src/internal/auditExport.js")
    const { Writable } = await import("node:stream")
    for (const args of [
      ["export", "--before", "2026-01-01T00:00:00"],
      ["export", "--before", "2026-13-45"],
      ["export"],
      ["export", "--before"],
      ["export", "--before", "2026-01-01", "--force"],
      ["import"],
      []
    ]) {
      let err = ""
      let opened = false
      const code = await auditCommand(
        args,
        {},
        {
          stdout: new Writable({ write: (_c, _e, cb) => cb() }),
          stderr: new Writable({
            write: (c, _e, cb) => {
              err += String(c)
              cb()
            }
          }),
          openStore: async () => {
            opened = true
            return Store.memory()
          }
        }
      )
      expect(code, args.join(" ")).toBe(2)
      expect(opened).toBe(false)
      expect(err).toMatch(/usage|--before/)
    }
    // The memory store keeps nothing between processes: refused too.
    const code = await auditCommand(
      ["export", "--before", "2026-01-01"],
      { MTA_STORE: "memory" },
      {
        stdout: process.stdout,
        stderr: new Writable({ write: (_c, _e, cb) => cb() }),
        openStore: async () => Store.memory()
      }
    )
    expect(code).toBe(2)
  })
})

describe("mta-server audit export (embedded, while a proxy holds the directory)", () => {
  it("refuses to open it and writes nothing", async () => {
    const dataDir = join(work, "held")
    const s = await Store.embedded({ dataDir })
    try {
      await s.finishCall({ audit: entry("2025-01-01T00:00:00Z", "old") })
      const out = join(work, "held.jsonl")
      const r = await cli(["export", "--before", "2026-01-01", "--out", out], { MTA_DATA_DIR: dataDir })
      expect(r.code).toBe(1)
      expect(r.stderr).toMatch(/cannot open the store: the data directory .* is in use by process/)
      expect(existsSync(out)).toBe(false)
      expect((await s.audit({ limit: 10 })).map((e) => e.requestId)).toEqual(["old"])
    } finally {
      await s.close()
    }
  }, 60_000)
})

let cluster: PostgresCluster | undefined
afterAll(async () => {
  await cluster?.stop()
})
target("PostgreSQL", postgresUnavailable, async () => {
  cluster = await startPostgres()
  const url = await cluster.createDatabase("audit_export")
  return { env: { DATABASE_URL: url }, open: () => Store.postgres({ url }) }
})

describe.skipIf(postgresUnavailable !== undefined)("the audit log trigger (PostgreSQL)", () => {
  it("still refuses any UPDATE or DELETE but the export's", async () => {
    cluster ??= await startPostgres()
    const url = await cluster.createDatabase("audit_trigger")
    await seed(() => Store.postgres({ url }), [entry("2025-01-01T00:00:00Z", "x")])
    const client = new pg.Client({ connectionString: url })
    await client.connect()
    try {
      await expect(client.query("DELETE FROM mta_audit")).rejects.toThrow(/append-only/)
      await expect(client.query("UPDATE mta_audit SET outcome = 'y'")).rejects.toThrow(/append-only/)
      // The setting only lets a delete through in its own transaction, and only up to its id.
      await client.query("BEGIN")
      await client.query("SELECT set_config('mta.audit_export_through', '0', true)")
      await expect(client.query("DELETE FROM mta_audit")).rejects.toThrow(/append-only/)
      await client.query("ROLLBACK")
      await expect(client.query("DELETE FROM mta_audit")).rejects.toThrow(/append-only/)
      expect((await client.query("SELECT count(*)::int AS n FROM mta_audit")).rows[0].n).toBe(1)
    } finally {
      await client.end()
    }
  }, 60_000)
})
