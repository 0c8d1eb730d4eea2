/**
 * The embedded store's driver: PGlite (PostgreSQL compiled to WebAssembly, from npm, no native build)
 * with its data in `<dataDir>/pgdata` on local disk, and the same schema and SQL as the PostgreSQL
 * store. PGlite runs on a worker thread of its own (`pgliteWorker.ts`), off the event loop.
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
import { startPGliteThread } from "./pgliteWorker.js"
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
    const db = await startPGliteThread(join(dir, "pgdata"))
    // Statements are posted to the thread as they come (it runs them one at a time); only a
    // transaction holds the others back until it ends, so none of them lands inside it.
    let inTransaction: Promise<void> | undefined
    const raw: Query = async <R>(sql: string, params?: ReadonlyArray<unknown>) =>
      (await db.query(
        sql,
        params === undefined || params.length === 0 ? undefined : params
      )) as ReadonlyArray<R>
    const driver: Driver = {
      kind: "embedded",
      query: async (sql, params) => {
        while (inTransaction !== undefined) await inTransaction
        return raw(sql, params)
      },
      transaction: async (f) => {
        while (inTransaction !== undefined) await inTransaction
        let end = () => {}
        inTransaction = new Promise((resolve) => {
          end = resolve
        })
        try {
          await raw("BEGIN")
          try {
            const result = await f(raw)
            await raw("COMMIT")
            return result
          } catch (error) {
            await raw("ROLLBACK").catch(() => {})
            throw error
          }
        } finally {
          inTransaction = undefined
          end()
        }
      },
      concurrency: 1,
      // The steps of one event-loop turn go together: larger batches, fewer calls into PGlite (each
      // costs ~150 µs of the worker's time whatever it carries).
      deferred: true,
      close: () => db.close()
    }
    return await open(driver, { onClose: release, cacheProjection: true, localClaims: true })
  } catch (error) {
    release()
    throw error
  }
}
