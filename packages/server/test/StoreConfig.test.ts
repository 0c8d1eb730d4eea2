/** Where state lives, from the environment: embedded by default, PostgreSQL with DATABASE_URL, memory on request. */
import { resolve } from "node:path"
import { Config } from "@mta/server"
import { Redacted } from "effect"
import { describe, expect, it } from "vitest"
import { ok, problems } from "./support/config.js"

describe("Config.load: the store", () => {
  it("defaults to the embedded store in ./.mta-data and keys for 24 hours", () => {
    const c = ok({})
    expect(c.store).toEqual({ kind: "embedded", dataDir: resolve(".mta-data") })
    expect(c.idempotencyTtlMs).toBe(86_400_000)
    expect(Config.describeStore(c.store)).toBe(
      `embedded PGlite store in ${resolve(".mta-data")} (MTA_DATA_DIR)`
    )
    expect(ok({ MTA_DATA_DIR: "/var/lib/mta" }).store).toEqual({ kind: "embedded", dataDir: "/var/lib/mta" })
    expect(ok({ MTA_IDEMPOTENCY_TTL_MS: "3600000" }).idempotencyTtlMs).toBe(3_600_000)
  })

  it("reads a relative data directory from where the command was typed (pnpm's INIT_CWD)", () => {
    expect(ok({ INIT_CWD: "/srv/mta" }).store).toEqual({ kind: "embedded", dataDir: "/srv/mta/.mta-data" })
    expect(ok({ INIT_CWD: "/srv/mta", MTA_DATA_DIR: "state" }).store).toEqual({
      kind: "embedded",
      dataDir: "/srv/mta/state"
    })
    expect(ok({ INIT_CWD: "/srv/mta", MTA_DATA_DIR: "/var/lib/mta" }).store).toEqual({
      kind: "embedded",
      dataDir: "/var/lib/mta"
    })
  })

  it("selects PostgreSQL with DATABASE_URL and never repeats its password", () => {
    const url = "postgres://mta:hunter2-secret@db.internal:5432/mta"
    const c = ok({ DATABASE_URL: url })
    expect(c.store.kind).toBe("postgres")
    expect(c.store.kind === "postgres" && Redacted.value(c.store.url)).toBe(url)
    expect(Config.describeStore(c.store)).toBe(
      "PostgreSQL at postgres://mta:***@db.internal:5432/mta (DATABASE_URL)"
    )
    expect(JSON.stringify(Config.redacted(c))).not.toContain("hunter2")
    const bad = problems({ DATABASE_URL: "mysql://root:hunter2-secret@db/x" })
    expect(bad.problems.map((p) => p.setting)).toEqual(["DATABASE_URL"])
    expect(bad.message).not.toContain("hunter2")
  })

  it("takes MTA_STORE=memory, and names contradictions", () => {
    expect(ok({ MTA_STORE: "memory" }).store).toEqual({ kind: "memory" })
    expect(problems({ MTA_STORE: "postgres" }).problems.map((p) => p.setting)).toEqual(["DATABASE_URL"])
    expect(
      problems({ MTA_STORE: "memory", DATABASE_URL: "postgres://h/db" }).problems.map((p) => p.setting)
    ).toEqual(["MTA_STORE"])
    expect(
      problems({ MTA_DATA_DIR: "/x", DATABASE_URL: "postgres://h/db" }).problems.map((p) => p.setting)
    ).toEqual(["MTA_DATA_DIR"])
    expect(
      problems({ MTA_STORE: "disk", MTA_IDEMPOTENCY_TTL_MS: "5" })
        .problems.map((p) => p.setting)
        .sort()
    ).toEqual(["MTA_IDEMPOTENCY_TTL_MS", "MTA_STORE"])
  })
})
