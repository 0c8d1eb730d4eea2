/**
 * PGlite on a worker thread: the database (PostgreSQL compiled to WebAssembly) runs its queries on a
 * thread of its own, so the proxy's event loop keeps serving requests while a batch is written, and on
 * a machine with a free core the store's work runs beside the proxy's, as a PostgreSQL server's would.
 *
 * The worker is a short script (below, run with `eval`, so it needs no file of its own in `src/` or
 * `dist/` and no TypeScript loader) that opens PGlite and answers `{ id, sql, params }` messages one
 * at a time with the rows or the error (its message, SQLSTATE `code` and detail). A query resolves
 * once PGlite has committed it, as on the main thread, so durability is unchanged.
 */
import { createRequire } from "node:module"
import { pathToFileURL } from "node:url"
import { Worker } from "node:worker_threads"

const WORKER = `
const { parentPort, workerData } = require("node:worker_threads")
const failure = (error) => {
  const e = error !== null && typeof error === "object" ? error : { message: String(error) }
  return { message: String(e.message), name: e.name, code: e.code, detail: e.detail, severity: e.severity }
}
;(async () => {
  const { PGlite } = await import(workerData.module)
  const db = await PGlite.create({ dataDir: workerData.dataDir })
  let chain = Promise.resolve()
  parentPort.on("message", (m) => {
    chain = chain.then(async () => {
      try {
        if (m.close === true) {
          await db.close()
          parentPort.postMessage({ id: m.id, rows: [] })
          parentPort.close()
          return
        }
        let rows
        if (m.params === undefined) {
          const results = await db.exec(m.sql)
          rows = results.length === 0 ? [] : results[results.length - 1].rows
        } else {
          rows = (await db.query(m.sql, m.params)).rows
        }
        parentPort.postMessage({ id: m.id, rows })
      } catch (error) {
        parentPort.postMessage({ id: m.id, error: failure(error) })
      }
    })
  })
  parentPort.postMessage({ ready: true })
})().catch((error) => parentPort.postMessage({ fatal: failure(error) }))
`

/** PGlite's ES module, as a URL the worker can import. */
const pgliteModule = (): string => {
  const resolve = (import.meta as { resolve?: (specifier: string) => string }).resolve
  if (typeof resolve === "function") {
    try {
      return resolve("@electric-sql/pglite")
    } catch {
      // Fall through to require's resolution (its CommonJS build).
    }
  }
  return pathToFileURL(createRequire(import.meta.url).resolve("@electric-sql/pglite")).href
}

/** An error as the database reported it (message, SQLSTATE `code`, detail). */
export class DatabaseError extends Error {
  readonly code: string | undefined
  readonly detail: string | undefined
  readonly severity: string | undefined
  constructor(e: { message: string; code?: string; detail?: string; severity?: string }) {
    super(e.message)
    this.name = "DatabaseError"
    this.code = e.code
    this.detail = e.detail
    this.severity = e.severity
  }
}

/** A PGlite database on a worker thread. */
export interface PGliteThread {
  /** Runs SQL: with `params`, one statement (extended protocol); without, one or more (simple). */
  readonly query: (sql: string, params?: ReadonlyArray<unknown>) => Promise<ReadonlyArray<unknown>>
  readonly close: () => Promise<void>
}

/** Starts the worker and opens PGlite in `dataDir`; resolves once it is open. */
export const startPGliteThread = (dataDir: string): Promise<PGliteThread> =>
  new Promise((resolveOpen, rejectOpen) => {
    const worker = new Worker(WORKER, {
      eval: true,
      workerData: { module: pgliteModule(), dataDir },
      // The worker needs none of the proxy's flags (a TypeScript loader among them).
      execArgv: []
    })
    const pending = new Map<
      number,
      { resolve: (rows: ReadonlyArray<unknown>) => void; reject: (e: Error) => void }
    >()
    let next = 0
    let opened = false
    let gone: Error | undefined
    const failAll = (error: Error) => {
      gone = error
      for (const p of pending.values()) p.reject(error)
      pending.clear()
    }
    worker.on(
      "message",
      (m: {
        ready?: true
        fatal?: { message: string }
        id?: number
        rows?: ReadonlyArray<unknown>
        error?: { message: string; code?: string }
      }) => {
        if (m.ready === true) {
          opened = true
          resolveOpen(thread)
          return
        }
        if (m.fatal !== undefined) {
          const error = new DatabaseError(m.fatal)
          failAll(error)
          if (!opened) rejectOpen(error)
          void worker.terminate()
          return
        }
        const p = pending.get(m.id!)
        if (p === undefined) return
        pending.delete(m.id!)
        if (m.error !== undefined) p.reject(new DatabaseError(m.error))
        else p.resolve(m.rows ?? [])
      }
    )
    worker.on("error", (error) => {
      failAll(error)
      if (!opened) rejectOpen(error)
    })
    worker.on("exit", (code) => {
      const error = new Error(`the embedded database's thread ended (exit code ${code})`)
      failAll(error)
      if (!opened) rejectOpen(error)
    })
    const send = (message: Record<string, unknown>): Promise<ReadonlyArray<unknown>> =>
      new Promise((resolve, reject) => {
        if (gone !== undefined) return reject(gone)
        const id = next++
        pending.set(id, { resolve, reject })
        worker.postMessage({ ...message, id })
      })
    const thread: PGliteThread = {
      query: (sql, params) => send(params === undefined ? { sql } : { sql, params }),
      close: async () => {
        if (gone !== undefined) return
        const exited = new Promise<void>((resolve) => worker.once("exit", () => resolve()))
        await send({ close: true })
        await exited
      }
    }
  })
