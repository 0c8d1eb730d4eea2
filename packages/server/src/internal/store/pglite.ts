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
 * locked (`<dataDir>/mta.lock`, `lock.ts`: pid, instance, boot, pid namespace, start time and a
 * heartbeat, so it works when every process is PID 1); a lock left by a process that is gone is taken
 * over. If another process ever takes it over, this store refuses every further statement.
 */
import { mkdirSync } from "node:fs"
import { join, resolve } from "node:path"
import type { EmbeddedOptions, Store } from "../../Store.js"
import { lockDataDir } from "./lock.js"
import { startPGliteThread } from "./pgliteWorker.js"
import { type Driver, open, type Query } from "./sql.js"

export { lockDataDir } from "./lock.js"

/** Opens the embedded store in `options.dataDir`. */
export const openEmbedded = async (options: EmbeddedOptions): Promise<Store> => {
  const dir = resolve(options.dataDir)
  mkdirSync(dir, { recursive: true })
  const lock = await lockDataDir(dir, {
    onLost: () => {
      process.emitWarning(
        `the data directory lock of ${dir} was taken over by another process: the embedded store refuses every further statement`
      )
    }
  })
  const release = lock.release
  const held = () => {
    if (lock.lost()) throw new Error(`the data directory lock of ${dir} was taken over by another process`)
  }
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
        held()
        return raw(sql, params)
      },
      transaction: async (f) => {
        while (inTransaction !== undefined) await inTransaction
        held()
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
