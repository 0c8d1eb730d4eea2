/**
 * A throwaway PostgreSQL cluster for the tests and the benchmark: `initdb` into a temporary
 * directory, `pg_ctl start` on a free loopback port (Unix socket in the same directory), and
 * `stop()` shuts it down (`-m immediate`) and removes the directory.
 *
 * The server binaries are looked up on `PATH`, then in Debian's `/usr/lib/postgresql/<version>/bin`
 * (where `apt-get install postgresql` puts them; `.ci/run` installs it when missing). PostgreSQL
 * refuses to run as root, so as root the directory is given to the `postgres` user and the commands
 * run through `runuser`. When the binaries are absent, `postgresUnavailable` says why (tests skip).
 */
import { execFileSync, spawnSync } from "node:child_process"
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import pg from "pg"
import { freePort } from "../support.js"

const which = (name: string): string | undefined => {
  for (const dir of (process.env.PATH ?? "").split(":")) {
    const path = join(dir, name)
    if (dir !== "" && existsSync(path)) return path
  }
  return undefined
}

const findBinDir = (): string | undefined => {
  const initdb = which("initdb")
  if (initdb !== undefined && which("pg_ctl") !== undefined) return undefined
  const base = "/usr/lib/postgresql"
  if (!existsSync(base)) return undefined
  const versions = readdirSync(base)
    .filter((v) => existsSync(join(base, v, "bin", "initdb")))
    .sort((a, b) => Number(b) - Number(a))
  return versions[0] === undefined ? undefined : join(base, versions[0], "bin")
}

const binDir = findBinDir()
const bin = (name: string): string | undefined => (binDir !== undefined ? join(binDir, name) : which(name))

const isRoot = typeof process.getuid === "function" && process.getuid() === 0
const postgresUser = (): { uid: number; gid: number } | undefined => {
  try {
    const uid = Number(execFileSync("id", ["-u", "postgres"], { encoding: "utf8" }).trim())
    const gid = Number(execFileSync("id", ["-g", "postgres"], { encoding: "utf8" }).trim())
    return { uid, gid }
  } catch {
    return undefined
  }
}

/** Why PostgreSQL tests cannot run here, or `undefined` when they can. */
export const postgresUnavailable: string | undefined = (() => {
  if (bin("initdb") === undefined || bin("pg_ctl") === undefined) {
    return "PostgreSQL server binaries (initdb, pg_ctl) not found on PATH or in /usr/lib/postgresql/*/bin; `.ci/run` installs them with apt-get (package postgresql)"
  }
  if (isRoot && postgresUser() === undefined) {
    return "running as root and there is no `postgres` user to run the server as (PostgreSQL refuses root)"
  }
  return undefined
})()

/** A running throwaway cluster. */
export interface PostgresCluster {
  /** `postgres://postgres@127.0.0.1:<port>/postgres` */
  readonly url: string
  readonly port: number
  /** The data directory (its `postmaster.pid` names the server process). */
  readonly dataDir: string
  /** A URL of a new, empty database in this cluster. */
  readonly createDatabase: (name: string) => Promise<string>
  /** Stops the server (immediate) and removes its directory. */
  readonly stop: () => Promise<void>
}

const run = (command: string, args: ReadonlyArray<string>) => {
  const full = isRoot ? ["-u", "postgres", "--", command, ...args] : [...args]
  const result = spawnSync(isRoot ? "runuser" : command, full, { encoding: "utf8", timeout: 60_000 })
  if (result.status !== 0) {
    throw new Error(`${command} failed (${result.status}): ${result.stderr || result.stdout}`)
  }
}

/**
 * Starts a cluster. `durable: false` (the default, for tests) turns `fsync` off to keep the suite
 * fast; the benchmark passes `durable: true` to measure what production pays.
 */
export const startPostgres = async (
  options: {
    readonly durable?: boolean
    /** More server settings, each `name=value` (passed as `-c name=value`). */
    readonly settings?: ReadonlyArray<string>
  } = {}
): Promise<PostgresCluster> => {
  if (postgresUnavailable !== undefined) throw new Error(postgresUnavailable)
  const dir = mkdtempSync(join(tmpdir(), "mta-pg-"))
  const data = join(dir, "data")
  if (isRoot) {
    const user = postgresUser()!
    chownSync(dir, user.uid, user.gid)
  }
  const port = await freePort()
  try {
    run(bin("initdb")!, ["-D", data, "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8"])
    const settings = [
      `-p ${port}`,
      `-k ${dir}`,
      "-c listen_addresses=127.0.0.1",
      "-c max_connections=200",
      ...(options.durable === true
        ? []
        : ["-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off"]),
      ...(options.settings ?? []).map((s) => `-c ${s}`)
    ].join(" ")
    run(bin("pg_ctl")!, [
      "-D",
      data,
      "-o",
      settings,
      "-l",
      join(dir, "server.log"),
      "-w",
      "-t",
      "60",
      "start"
    ])
  } catch (error) {
    rmSync(dir, { recursive: true, force: true })
    throw error
  }
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`
  let stopped = false
  return {
    url,
    port,
    dataDir: data,
    createDatabase: async (name) => {
      const client = new pg.Client({ connectionString: url })
      await client.connect()
      try {
        await client.query(`CREATE DATABASE "${name.replace(/"/g, "")}"`)
      } finally {
        await client.end()
      }
      return `postgres://postgres@127.0.0.1:${port}/${encodeURIComponent(name)}`
    },
    stop: async () => {
      if (stopped) return
      stopped = true
      try {
        run(bin("pg_ctl")!, ["-D", data, "-m", "immediate", "-w", "stop"])
      } finally {
        rmSync(dir, { recursive: true, force: true })
      }
    }
  }
}
