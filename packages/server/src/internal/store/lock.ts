/**
 * The embedded store's data directory lock (`<dataDir>/mta.lock`): one proxy process per directory
 * (PGlite is single-process; two would corrupt it), and it must work when every process is PID 1
 * (containers), where "is the process named in the lock alive?" cannot be answered from the pid.
 *
 * The lock file holds JSON: the holder's pid, a random instance id, the kernel's boot id, its pid
 * namespace and the process's start time (from `/proc`, on Linux), and the holder refreshes the
 * file's mtime every `heartbeatMs` (a heartbeat). A lock found on start is judged:
 *
 * - Same boot and same pid namespace (the holder would be visible here): held only while a process
 *   with that pid is alive and started at the recorded time. A lock naming our own pid is stale (we
 *   did not write it: a previous incarnation, e.g. PID 1 of the container before a restart), and so
 *   is one whose pid now belongs to another process (reused: another start time).
 * - Anything else (another pid namespace or container, another boot, another host on shared storage,
 *   no `/proc`): the holder cannot be seen, so the heartbeat decides. A heartbeat older than
 *   `staleMs` is stale; a fresh one is watched until it moves (a live holder: refused) or grows stale
 *   (taken over), so a container restarted after a crash waits at most `staleMs`.
 * - A lock of the old format (just a pid) is judged by the pid alone (our own pid: stale).
 *
 * A stale lock is taken over under a second, short-lived file (`mta.lock.takeover`, created
 * exclusively), so two processes taking over at once cannot both win. The holder checks at each
 * heartbeat that the lock is still its own; if another process took it over (this one was frozen
 * longer than `staleMs`), `onLost` is called and the store refuses every further statement.
 */
import { randomUUID } from "node:crypto"
import { readFileSync, readlinkSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs"
import { hostname } from "node:os"
import { join } from "node:path"

/** Where the lock holder lives, as far as this machine can tell (each `undefined` when unknown). */
export interface LockIdentity {
  /** `/proc/sys/kernel/random/boot_id`: changes at every boot. */
  readonly boot: string | undefined
  /** `/proc/self/ns/pid`, e.g. `pid:[4026531836]`: one per container. */
  readonly pidns: string | undefined
}

/** The content of the lock file. */
export interface LockInfo extends LockIdentity {
  readonly pid: number
  readonly instance: string
  /** The holder's start time in clock ticks since boot (`/proc/<pid>/stat`, field 22). */
  readonly start: string | undefined
  readonly host: string
  /** When it was taken, ISO 8601 (for people). */
  readonly since: string
}

/** Options of `lockDataDir`. */
export interface LockOptions {
  /** How often the holder refreshes the lock. Default 2 s. */
  readonly heartbeatMs?: number | undefined
  /** A lock whose holder cannot be seen is stale after this long without a heartbeat. Default 15 s. */
  readonly staleMs?: number | undefined
  /** Called once if another process took the lock over. */
  readonly onLost?: (() => void) | undefined
  /** Overrides what this process reports of itself (tests: another container's process). */
  readonly identity?: Partial<LockIdentity> | undefined
}

/** The lock, held. */
export interface DataDirLock {
  /** Stops the heartbeat and removes the lock file if it is still ours. */
  readonly release: () => void
  /** Whether another process has taken the lock over. */
  readonly lost: () => boolean
}

const readText = (path: string): string | undefined => {
  try {
    return readFileSync(path, "utf8").trim()
  } catch {
    return undefined
  }
}

/** This process's boot and pid namespace (Linux), `undefined` elsewhere. */
export const ownIdentity = (): LockIdentity => {
  let pidns: string | undefined
  try {
    pidns = readlinkSync("/proc/self/ns/pid")
  } catch {
    pidns = undefined
  }
  return { boot: readText("/proc/sys/kernel/random/boot_id"), pidns }
}

/** A process's start time (clock ticks since boot), from `/proc/<pid>/stat`; `undefined` if unknown. */
export const startTimeOf = (pid: number): string | undefined => {
  const stat = readText(`/proc/${pid}/stat`)
  if (stat === undefined) return undefined
  // The command name (field 2) may hold spaces and parentheses: fields are counted after the last ")".
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
  return fields[19]
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM"
  }
}

const parse = (text: string): Partial<LockInfo> | undefined => {
  if (/^[0-9]+$/.test(text)) return { pid: Number(text) }
  try {
    const value = JSON.parse(text) as Partial<LockInfo>
    return typeof value === "object" && value !== null && Number.isInteger(value.pid) ? value : undefined
  } catch {
    return undefined
  }
}

/** What a lock found on disk is: held (by whom, in words), stale, or to be watched (heartbeat). */
type Verdict =
  | { readonly _tag: "held"; readonly by: string }
  | { readonly _tag: "stale" }
  | { readonly _tag: "watch" }

const judge = (found: Partial<LockInfo>, me: LockIdentity): Verdict => {
  const pid = found.pid!
  const by = `process ${pid}${found.host === undefined ? "" : ` on ${found.host}`}`
  const oldFormat = found.instance === undefined
  const visible =
    oldFormat ||
    (found.boot !== undefined &&
      found.pidns !== undefined &&
      found.boot === me.boot &&
      found.pidns === me.pidns) ||
    (found.boot === undefined && found.pidns === undefined && me.boot === undefined && me.pidns === undefined)
  if (!visible) return { _tag: "watch" }
  if (pid === process.pid || pid <= 0 || !alive(pid)) return { _tag: "stale" }
  if (found.start !== undefined) {
    const start = startTimeOf(pid)
    if (start !== undefined && start !== found.start) return { _tag: "stale" }
  }
  return { _tag: "held", by }
}

const mtimeOf = (path: string): number | undefined => {
  try {
    return statSync(path).mtimeMs
  } catch {
    return undefined
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/**
 * Locks the data directory to this process (see the module comment); rejects naming the holder when
 * it is in use. Resolves with the held lock.
 */
export const lockDataDir = async (dir: string, options: LockOptions = {}): Promise<DataDirLock> => {
  const path = join(dir, "mta.lock")
  const takeoverPath = join(dir, "mta.lock.takeover")
  const heartbeatMs = options.heartbeatMs ?? 2_000
  const staleMs = options.staleMs ?? 15_000
  const me: LockIdentity = { ...ownIdentity(), ...options.identity }
  const info: LockInfo = {
    pid: process.pid,
    instance: randomUUID(),
    boot: me.boot,
    pidns: me.pidns,
    start: startTimeOf(process.pid),
    host: hostname(),
    since: new Date().toISOString()
  }
  const mine = JSON.stringify(info)
  const refuse = (by: string): never => {
    throw new Error(
      `the data directory ${dir} is in use by ${by} (one proxy per MTA_DATA_DIR): stop that proxy, or give this one its own directory (MTA_DATA_DIR=<another dir> pnpm start, or MTA_STORE=memory for a throwaway run); replicas share PostgreSQL (DATABASE_URL)`
    )
  }

  /**
   * Removes the stale lock whose text is `stale`, unless someone changed it meanwhile; `false` when
   * another process is taking it over (then wait a little before looking again).
   */
  const takeOver = (stale: string): boolean => {
    try {
      writeFileSync(takeoverPath, mine, { flag: "wx" })
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error
      // Another process is taking over; a takeover file left by a killed one is removed.
      const age = Date.now() - (mtimeOf(takeoverPath) ?? Date.now())
      if (age > 5_000) rmSync(takeoverPath, { force: true })
      return false
    }
    try {
      if (readText(path) === stale) rmSync(path, { force: true })
      return true
    } finally {
      rmSync(takeoverPath, { force: true })
    }
  }

  for (let attempt = 0; attempt < 20; attempt++) {
    try {
      writeFileSync(path, mine, { flag: "wx" })
      return hold(path, mine, heartbeatMs, options.onLost)
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error
    }
    const text = readText(path)
    if (text === undefined) continue // removed meanwhile: try again
    const found = parse(text)
    if (found === undefined) {
      // Not a lock this proxy writes (truncated by a crash while written?): judged by its age alone.
      const age = Date.now() - (mtimeOf(path) ?? 0)
      if (age <= staleMs) refuse(`an unreadable lock file written ${Math.round(age / 1000)} s ago`)
      if (!takeOver(text)) await sleep(100)
      continue
    }
    const verdict = judge(found, me)
    if (verdict._tag === "held") refuse(verdict.by)
    if (verdict._tag === "watch") {
      // The holder cannot be seen from here: its heartbeat says whether it lives.
      const by = `process ${found.pid} of another container or machine${found.host === undefined ? "" : ` (${found.host})`}`
      const first = mtimeOf(path)
      if (first === undefined) continue
      for (;;) {
        if (Date.now() - first > staleMs) break
        await sleep(Math.min(heartbeatMs, 250))
        const now = mtimeOf(path)
        if (now === undefined) break
        if (now !== first || readText(path) !== text) refuse(`${by}, whose lock is refreshed`)
      }
      if (readText(path) !== text) continue
    }
    if (!takeOver(text)) await sleep(100)
  }
  throw new Error(`could not lock the data directory ${dir} (the lock file keeps changing)`)
}

const hold = (
  path: string,
  mine: string,
  heartbeatMs: number,
  onLost: (() => void) | undefined
): DataDirLock => {
  let lost = false
  let released = false
  const timer = setInterval(() => {
    let current: string | undefined
    try {
      current = readFileSync(path, "utf8").trim()
    } catch (error) {
      // Gone (removed by hand or by a process that took it over): lost. Anything else: next beat.
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") return
    }
    if (current !== mine) {
      lost = true
      clearInterval(timer)
      onLost?.()
      return
    }
    try {
      const now = new Date()
      utimesSync(path, now, now)
    } catch {
      // The next beat tries again.
    }
  }, heartbeatMs)
  timer.unref()
  return {
    lost: () => lost,
    release: () => {
      if (released) return
      released = true
      clearInterval(timer)
      if (readText(path) === mine) rmSync(path, { force: true })
    }
  }
}
