/**
 * Archiving the audit log: `mta-server audit export --before <date> [--out <file>]`.
 *
 * The audit log is append-only for the proxy (a trigger refuses any UPDATE or DELETE); this is the
 * one way out. The entries with `at` before the date are written as JSON lines (one entry per line,
 * oldest first, in the form `GET /audit` answers), the file is fsynced and closed, and only then are
 * exactly the entries written deleted, in the same transaction that read them (one snapshot: an
 * entry appended meanwhile is neither written nor deleted). If anything fails before the commit,
 * nothing is deleted and a file this command created is removed.
 *
 * The store is the one the proxy's environment names (`DATABASE_URL`, `MTA_STORE`, `MTA_DATA_DIR`).
 * The embedded store's directory is locked to one process: stop the proxy before exporting from it.
 */
import { open, rm } from "node:fs/promises"
import type { Writable } from "node:stream"
import { Either } from "effect"
import * as Config from "../Config.js"
import type { ArchiveResult, AuditEntry, Store } from "../Store.js"
import { entryBody } from "./routes/audit.js"

/** Where the lines go: a new file (refused if it exists), or a stream (stdout). */
export type ExportTarget = { readonly file: string } | { readonly stream: Writable }

/** What `exportAudit` did. */
export interface ExportResult extends ArchiveResult {
  /** Where it wrote: the file, or `"stdout"`. */
  readonly out: string
}

/** One entry's line. */
export const lineOf = (entry: AuditEntry): string => `${JSON.stringify(entryBody(entry))}\n`

const writeTo = (stream: Writable, text: string): Promise<void> =>
  new Promise((resolve, reject) => {
    const onError = (error: Error) => reject(error)
    stream.once("error", onError)
    stream.write(text, (error) => {
      stream.off("error", onError)
      if (error) reject(error)
      else resolve()
    })
  })

/**
 * Writes the audit entries with `at < before` (epoch ms) to `target` as JSON lines, oldest first, then
 * deletes exactly those entries. An existing file is never overwritten.
 */
export const exportAudit = async (
  store: Store,
  before: number,
  target: ExportTarget
): Promise<ExportResult> => {
  if ("stream" in target) {
    const result = await store.archiveAudit({
      before,
      write: (entries) => writeTo(target.stream, entries.map(lineOf).join("")),
      // What a stream can promise: everything handed to it was accepted.
      flush: () => writeTo(target.stream, "")
    })
    return { ...result, out: "stdout" }
  }
  const handle = await open(target.file, "wx", 0o600)
  let closed = false
  try {
    const result = await store.archiveAudit({
      before,
      write: async (entries) => {
        const bytes = Buffer.from(entries.map(lineOf).join(""), "utf8")
        for (let at = 0; at < bytes.length; ) {
          at += (await handle.write(bytes, at, bytes.length - at)).bytesWritten
        }
      },
      flush: async () => {
        await handle.sync()
        await handle.close()
        closed = true
      }
    })
    return { ...result, out: target.file }
  } catch (error) {
    if (!closed) await handle.close().catch(() => {})
    // Nothing was deleted: the partial file is not an archive.
    await rm(target.file, { force: true }).catch(() => {})
    throw error
  }
}

/** The settings that say where the state is: all the export reads of the environment. */
const STORE_SETTINGS = ["DATABASE_URL", "MTA_STORE", "MTA_DATA_DIR", "INIT_CWD"] as const

/**
 * The store configuration of an environment, as the proxy reads it (`Config.load`), whatever the
 * other settings (an operator's shell need not hold the upstream credentials).
 */
export const storeConfigOf = (env: Config.Env): Either.Either<Config.StoreConfig, Config.ConfigError> => {
  const only: Record<string, string | undefined> = {}
  for (const name of STORE_SETTINGS) only[name] = env[name]
  return Either.map(Config.load(only), (config) => config.store)
}

const DAY = /^[0-9]{4}-[0-9]{2}-[0-9]{2}$/
const INSTANT =
  /^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,3})?)?(Z|[+-][0-9]{2}:[0-9]{2})$/

/** `--before`: a day (UTC midnight) or an ISO 8601 instant with its zone; `undefined` if neither. */
export const parseBefore = (text: string): number | undefined => {
  if (!DAY.test(text) && !INSTANT.test(text)) return undefined
  const at = Date.parse(DAY.test(text) ? `${text}T00:00:00Z` : text)
  return Number.isNaN(at) ? undefined : at
}

const USAGE = `usage: mta-server audit export --before <date> [--out <file>]
  --before  a day (2026-01-01, UTC midnight) or an instant with its zone (2026-01-01T12:00:00Z):
            the entries that arrived before it are exported
  --out     a new file to write (an existing one is refused); "-" or absent: stdout
Writes one JSON object per line (oldest first), then deletes exactly the entries written.
The store is the one DATABASE_URL / MTA_STORE / MTA_DATA_DIR name (stop the proxy first when it is the
embedded store: its data directory is locked to one process).`

/** What the CLI writes to and opens the store with. */
export interface AuditCommandIo {
  readonly stdout: Writable
  readonly stderr: Writable
  /** Opens the store a configuration names (`Server.openStore`). */
  readonly openStore: (config: Config.StoreConfig) => Promise<Store>
}

/**
 * `mta-server audit <args>`: returns the exit code (0 done, 1 failed, 2 usage or configuration).
 * Reads `args` after `audit`, e.g. `["export", "--before", "2026-01-01", "--out", "audit.jsonl"]`.
 */
export const auditCommand = async (
  args: ReadonlyArray<string>,
  env: Config.Env,
  io: AuditCommandIo
): Promise<number> => {
  const say = (text: string) => io.stderr.write(`${text}\n`)
  const [command, ...rest] = args
  if (command === "--help" || command === "-h" || (command === "export" && rest.includes("--help"))) {
    io.stdout.write(`${USAGE}\n`)
    return 0
  }
  if (command !== "export") {
    say(`mta-server audit: unknown command ${JSON.stringify(command ?? "")} (expected export)\n${USAGE}`)
    return 2
  }
  const options = new Map<string, string>()
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i]!
    const eq = arg.indexOf("=")
    const [name, inline] = eq > 0 ? [arg.slice(0, eq), arg.slice(eq + 1)] : [arg, undefined]
    if (name !== "--before" && name !== "--out") {
      say(`mta-server audit export: unknown option ${JSON.stringify(arg)}\n${USAGE}`)
      return 2
    }
    const value = inline ?? rest[++i]
    if (value === undefined || value === "") {
      say(`mta-server audit export: ${name} needs a value\n${USAGE}`)
      return 2
    }
    options.set(name, value)
  }
  const beforeText = options.get("--before")
  if (beforeText === undefined) {
    say(`mta-server audit export: --before is required\n${USAGE}`)
    return 2
  }
  const before = parseBefore(beforeText)
  if (before === undefined) {
    say(
      `mta-server audit export: --before must be a day (2026-01-01) or an instant with its zone (2026-01-01T12:00:00Z), got ${JSON.stringify(beforeText.slice(0, 40))}`
    )
    return 2
  }
  const storeConfig = storeConfigOf(env)
  if (Either.isLeft(storeConfig)) {
    say(`mta-server audit export: ${storeConfig.left.message}`)
    return 2
  }
  if (storeConfig.right.kind === "memory") {
    say(
      "mta-server audit export: MTA_STORE=memory keeps nothing between processes: there is nothing to export"
    )
    return 2
  }
  const out = options.get("--out")
  let store: Store
  try {
    store = await io.openStore(storeConfig.right)
  } catch (error) {
    say(
      `mta-server audit export: cannot open the store: ${error instanceof Error ? error.message : String(error)}`
    )
    return 1
  }
  try {
    const result = await exportAudit(
      store,
      before,
      out === undefined || out === "-" ? { stream: io.stdout } : { file: out }
    )
    say(
      result.count === 0
        ? `mta-server audit export: no entry before ${new Date(before).toISOString()}; nothing deleted (${result.out})`
        : `mta-server audit export: wrote ${result.count} entries (ids ${result.firstId}..${result.lastId}, before ${new Date(before).toISOString()}) to ${result.out}, then deleted them from the audit log`
    )
    return 0
  } catch (error) {
    say(
      `mta-server audit export: failed, nothing deleted: ${error instanceof Error ? error.message : String(error)}`
    )
    return 1
  } finally {
    await store.close().catch(() => {})
  }
}
