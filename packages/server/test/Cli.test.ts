/**
 * The `mta-server` command (`internal/cli.ts`), run in process with its output captured: `--help`
 * from the table of commands, `--version` from `package.json`, usage errors (exit 2), `check-config`
 * on good and bad environments, `migrate` on the embedded store (PGlite) and on PostgreSQL (the schema
 * is there afterwards; a second run finds nothing to do). `Deploy.test.ts` runs the same command with
 * plain `node` from the deploy folder.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { PGlite } from "@electric-sql/pglite"
import pg from "pg"
import { afterAll, describe, expect, it } from "vitest"
import { commands, run } from "../src/internal/cli.js"
import { migrations } from "../src/internal/store/migrations.js"
import { remote } from "./support/config.js"
import { type PostgresCluster, postgresUnavailable, startPostgres } from "./support/postgres.js"
import { packageDir } from "./support.js"

const cli = async (argv: ReadonlyArray<string>, env: Record<string, string> = {}) => {
  let out = ""
  let err = ""
  const code = await run(argv, {
    env,
    out: (t) => {
      out += t
    },
    err: (t) => {
      err += t
    }
  })
  return { code, out, err }
}

const work = mkdtempSync(join(tmpdir(), "mta-cli-test-"))
afterAll(() => rmSync(work, { recursive: true, force: true }))

const latest = Math.max(...migrations.map((m) => m.version))

describe("mta-server", () => {
  it("--help lists every command of the table and the options, and exits 0", async () => {
    for (const flag of ["--help", "-h", "help"]) {
      const { code, out, err } = await cli([flag])
      expect(code).toBe(0)
      expect(err).toBe("")
      expect(out).toMatch(/^Usage: mta-server \[command\] \[options\]/)
      for (const command of commands) expect(out).toContain(`  ${command.words.join(" ")}`)
      expect(out).toContain("--version")
    }
    const one = await cli(["migrate", "--help"])
    expect(one.code).toBe(0)
    expect(one.out).toContain("Usage: mta-server migrate")
    // `pnpm start -- audit export --help` passes the `--` on: it is not a command.
    const dashed = await cli(["--", "audit", "export", "--help"])
    expect(dashed.code).toBe(0)
    expect(dashed.out).toContain("Usage: mta-server audit export --before <date>")
  })

  it("--version prints package.json's version", async () => {
    const pkg = JSON.parse(readFileSync(join(packageDir, "package.json"), "utf8")) as { version: string }
    for (const flag of ["--version", "-v"]) {
      const { code, out } = await cli([flag])
      expect(code).toBe(0)
      expect(out).toBe(`${pkg.version}\n`)
    }
  })

  it("an unknown command, an unknown option or an argument to a command is a usage error (exit 2)", async () => {
    for (const argv of [
      ["bogus"],
      ["--port", "8080"],
      ["check-config", "--strict"],
      ["migrate", "now"],
      ["serve", "-x"]
    ]) {
      const { code, out, err } = await cli(argv)
      expect(code, argv.join(" ")).toBe(2)
      expect(out).toBe("")
      expect(err).toContain("Usage: mta-server")
      expect(err.split("\n")[0]).toMatch(/unknown|Unknown|Unexpected|unexpected/)
    }
  })

  it("check-config: a valid environment exits 0 and says what it would run", async () => {
    const embedded = await cli(["check-config"], { MTA_STORE: "memory" })
    expect(embedded).toMatchObject({ code: 0, err: "" })
    expect(embedded.out).toContain("the embedded simulator")
    const real = await cli(["check-config"], remote)
    expect(real).toMatchObject({ code: 0, err: "" })
    expect(real.out).toContain("upstream: http://127.0.0.1:4010")
    expect(real.out).toContain("callers: ops")
    expect(real.out).not.toContain(remote.ZH_API_SECRET)
  })

  it("check-config: an invalid environment exits 2 naming every problem, and repeats no secret", async () => {
    const { code, out, err } = await cli(["check-config"], {
      ...remote,
      ZH_API_SECRET: "not base64!",
      PORT: "http",
      ZH_WEBHOOK_SECRET_FILE: join(work, "missing"),
      MTA_CALLERS: "[]"
    })
    expect(code).toBe(2)
    expect(out).toBe("")
    for (const setting of ["ZH_API_SECRET", "PORT", "ZH_WEBHOOK_SECRET", "MTA_CALLERS"]) {
      expect(err).toContain(`  - ${setting}`)
    }
    expect(err).not.toContain("not base64!")
  })

  it("migrate: the embedded store (PGlite) gets every migration, and a second run changes nothing", async () => {
    const dataDir = join(work, "pglite")
    const first = await cli(["migrate"], { MTA_DATA_DIR: dataDir })
    expect(first.err).toBe("")
    expect(first.code).toBe(0)
    expect(first.out).toContain(`schema version ${latest}`)
    expect((await cli(["migrate"], { MTA_DATA_DIR: dataDir })).code).toBe(0)
    const db = new PGlite(join(dataDir, "pgdata"))
    try {
      const { rows } = await db.query<{ version: number }>(
        "SELECT version FROM mta_schema_migrations ORDER BY version"
      )
      expect(rows.map((r) => r.version)).toEqual(migrations.map((m) => m.version))
    } finally {
      await db.close()
    }
  }, 60_000)

  it("migrate: the memory store has nothing to migrate; a bad store setting exits 2", async () => {
    const memory = await cli(["migrate"], { MTA_STORE: "memory" })
    expect(memory.code).toBe(0)
    expect(memory.out).toContain("nothing to migrate")
    const bad = await cli(["migrate"], { DATABASE_URL: "mysql://x" })
    expect(bad.code).toBe(2)
    expect(bad.err).toContain("DATABASE_URL")
  })

  describe.skipIf(postgresUnavailable !== undefined)("on PostgreSQL", () => {
    let cluster: PostgresCluster | undefined
    afterAll(async () => {
      await cluster?.stop()
    })

    it("migrate: a new database gets every migration (DATABASE_URL_FILE), a second run changes nothing", async () => {
      cluster = await startPostgres()
      const url = await cluster.createDatabase("cli_migrate")
      const file = join(work, "database-url")
      writeFileSync(file, `${url}\n`)
      const first = await cli(["migrate"], { DATABASE_URL_FILE: file })
      expect(first.err).toBe("")
      expect(first.code).toBe(0)
      expect(first.out).toContain("PostgreSQL")
      expect((await cli(["migrate"], { DATABASE_URL: url })).code).toBe(0)
      const client = new pg.Client({ connectionString: url })
      await client.connect()
      try {
        const { rows } = await client.query<{ version: number }>(
          "SELECT version FROM mta_schema_migrations ORDER BY version"
        )
        expect(rows.map((r) => r.version)).toEqual(migrations.map((m) => m.version))
      } finally {
        await client.end()
      }
    }, 60_000)

    it("migrate: an unreachable database fails (exit 1), naming no password", async () => {
      const { code, err } = await cli(["migrate"], { DATABASE_URL: "postgres://u:hunter2@127.0.0.1:9/db" })
      expect(code).toBe(1)
      expect(err).toContain("cannot migrate PostgreSQL at postgres://u:***@127.0.0.1:9/db")
      expect(err).not.toContain("hunter2")
    })
  })
})
