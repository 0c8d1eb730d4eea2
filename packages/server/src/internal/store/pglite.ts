/**
 * The embedded store's driver: PGlite (PostgreSQL compiled to WebAssembly, from npm, no native build)
 * with its data in `<dataDir>/pgdata` on local disk, and the same schema and SQL as the PostgreSQL
 * store.
 *
 * Durability: PGlite writes each commit's WAL to the file system (Node's `fs`) before the query
 * resolves, so a step that resolved has reached the operating system and survives the process being
 * killed (checked by the SIGKILL test). It does not `fsync` (its Emscripten file system has no
 * fsync), so an operating-system crash or a power loss may lose the last commits; where that
 * matters, run PostgreSQL (`DATABASE_URL`).
 *
 * PGlite is single-process: two proxies on one data directory would corrupt it, so the directory is
 * locked (`<dataDir>/mta.lock`, holding the pid); a lock left by a process that is gone is taken over.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { join, resolve } from "node:path"
import type { EmbeddedOptions, Store } from "../../Store.js"
import { type Driver, open, type Query } from "./sql.js"

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM"
  }
}

/** Locks the data directory to this process; returns the release function. */
export const lockDataDir = (dir: string): (() => void) => {
  const path = join(dir, "mta.lock")
  const mine = String(process.pid)
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      writeFileSync(path, mine, { flag: "wx" })
      return () => {
        try {
          if (readFileSync(path, "utf8") === mine) rmSync(path)
        } catch {
          // already gone
        }
      }
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error
    }
    let holder = Number.NaN
    try {
      holder = Number(readFileSync(path, "utf8").trim())
    } catch {
      continue
    }
    if (Number.isInteger(holder) && holder > 0 && holder !== process.pid && alive(holder)) {
      throw new Error(
        `the data directory ${dir} is in use by process ${holder} (one proxy per MTA_DATA_DIR; use DATABASE_URL for replicas)`
      )
    }
    // Left by a process that is gone (killed): take it over.
    rmSync(path, { force: true })
  }
  throw new Error(`could not lock the data directory ${dir}`)
}

/** Opens the embedded store in `options.dataDir`. */
export const openEmbedded = async (options: EmbeddedOptions): Promise<Store> => {
  const dir = resolve(options.dataDir)
  mkdirSync(dir, { recursive: true })
  const release = lockDataDir(dir)
  try {
    const { PGlite } = await import("@electric-sql/pglite")
    const db = await PGlite.create({ dataDir: join(dir, "pgdata") })
    type Tx = Pick<typeof db, "query" | "exec">
    const queryOn =
      (tx: Tx): Query =>
      async <R>(sql: string, params?: ReadonlyArray<unknown>) => {
        if (params === undefined || params.length === 0) {
          // No parameters: the simple protocol, which also runs several statements (migrations).
          const results = await tx.exec(sql)
          return (results[results.length - 1]?.rows ?? []) as unknown as ReadonlyArray<R>
        }
        return (await tx.query<R>(sql, params as Array<unknown>)).rows
      }
    const driver: Driver = {
      kind: "embedded",
      query: queryOn(db),
      transaction: (f) => db.transaction((tx) => f(queryOn(tx))),
      concurrency: 1,
      close: async () => {
        await db.close()
      }
    }
    return await open(driver, { onClose: release, cacheProjection: true })
  } catch (error) {
    release()
    throw error
  }
}
