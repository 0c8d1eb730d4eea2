/**
 * The embedded store's data directory lock when every process may be PID 1 (containers): a live
 * holder (a child process) is refused; a holder killed with SIGKILL, a lock naming our own pid with
 * another instance (PID reuse across container restarts), a lock whose pid now belongs to another
 * process (another start time), and a lock of another container whose heartbeat stopped are taken
 * over; a lock of another container whose heartbeat moves is refused; and a holder whose lock was
 * taken over learns it.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import { lockDataDir, ownIdentity, startTimeOf } from "../src/internal/store/lock.js"
import { packageDir } from "./support.js"

const dirs: Array<string> = []
const children: Array<ChildProcess> = []
const freshDir = () => {
  const dir = mkdtempSync(join(tmpdir(), "mta-lock-"))
  dirs.push(dir)
  return dir
}
afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill("SIGKILL")
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true })
})

/** A child process that takes the lock (with `options`) and holds it until killed. */
const holder = async (dir: string, options: Record<string, unknown> = {}): Promise<ChildProcess> => {
  const child = spawn(
    process.execPath,
    [
      "--conditions=@mta/source",
      "--import",
      "tsx",
      "--input-type=module",
      "-e",
      `const { lockDataDir } = await import(process.argv[1])
       await lockDataDir(process.argv[2], JSON.parse(process.argv[3]))
       process.stdout.write("locked\\n")
       setInterval(() => {}, 60_000)`,
      join(packageDir, "src/internal/store/lock.ts"),
      dir,
      JSON.stringify(options)
    ],
    { cwd: packageDir, stdio: ["ignore", "pipe", "pipe"] }
  )
  children.push(child)
  await new Promise<void>((resolve, reject) => {
    let err = ""
    child.stderr!.on("data", (d: Buffer) => {
      err += d.toString()
    })
    child.stdout!.on("data", (d: Buffer) => {
      if (d.toString().includes("locked")) resolve()
    })
    child.once("exit", (code) => reject(new Error(`holder exited with ${code}: ${err}`)))
  })
  return child
}

const killed = (child: ChildProcess) =>
  new Promise<void>((resolve) => {
    child.once("exit", () => resolve())
    child.kill("SIGKILL")
  })

const lockFile = (dir: string) => join(dir, "mta.lock")
const me = ownIdentity()
const lockOf = (fields: Record<string, unknown>) =>
  JSON.stringify({
    pid: process.pid,
    instance: "another-instance",
    boot: me.boot,
    pidns: me.pidns,
    start: startTimeOf(process.pid),
    host: "elsewhere",
    since: new Date().toISOString(),
    ...fields
  })

describe("the data directory lock", () => {
  it("refuses a live holder (a child process) and takes over once it was killed", async () => {
    const dir = freshDir()
    const child = await holder(dir)
    const held = JSON.parse(readFileSync(lockFile(dir), "utf8")) as { pid: number; instance: string }
    expect(held.pid).toBe(child.pid)
    // What to do is said too: stop that proxy, or give this one its own directory.
    await expect(lockDataDir(dir)).rejects.toThrow(
      new RegExp(
        `in use by process ${child.pid}.*: stop that proxy, or give this one its own directory \\(MTA_DATA_DIR=<another dir> pnpm start, or MTA_STORE=memory`
      )
    )
    await killed(child)
    // The killed holder's lock is still there, and stale: taken over at once.
    expect(readFileSync(lockFile(dir), "utf8")).toContain(held.instance)
    const lock = await lockDataDir(dir)
    const now = JSON.parse(readFileSync(lockFile(dir), "utf8")) as { pid: number; instance: string }
    expect(now.pid).toBe(process.pid)
    expect(now.instance).not.toBe(held.instance)
    lock.release()
    expect(() => readFileSync(lockFile(dir))).toThrow(/ENOENT/)
  })

  it("takes over a lock naming our own pid with another instance (PID 1 of the previous container)", async () => {
    const dir = freshDir()
    writeFileSync(lockFile(dir), lockOf({}))
    const lock = await lockDataDir(dir)
    expect(readFileSync(lockFile(dir), "utf8")).not.toContain("another-instance")
    lock.release()
    // The old format (a bare pid) naming our pid is stale too.
    writeFileSync(lockFile(dir), String(process.pid))
    ;(await lockDataDir(dir)).release()
  })

  it("takes over a lock whose pid now belongs to another process (another start time)", async () => {
    const dir = freshDir()
    const child = await holder(freshDir())
    // The child is alive, but it is not the process that wrote this lock.
    writeFileSync(lockFile(dir), lockOf({ pid: child.pid, start: "1" }))
    const lock = await lockDataDir(dir)
    expect(JSON.parse(readFileSync(lockFile(dir), "utf8"))).toMatchObject({ pid: process.pid })
    lock.release()
    // With its real start time it is held.
    writeFileSync(lockFile(dir), lockOf({ pid: child.pid, start: startTimeOf(child.pid!) }))
    await expect(lockDataDir(dir)).rejects.toThrow(/in use by process/)
  })

  it("another container's lock: refused while its heartbeat moves, taken over once it stopped", async () => {
    const dir = freshDir()
    const other = { pidns: "pid:[4026531999]" }
    // PID 1 of another container, alive: its heartbeat moves.
    const child = await holder(dir, { identity: other, heartbeatMs: 50 })
    expect(JSON.parse(readFileSync(lockFile(dir), "utf8"))).toMatchObject(other)
    await expect(lockDataDir(dir, { staleMs: 2_000, heartbeatMs: 50 })).rejects.toThrow(
      /another container or machine.*refreshed/
    )
    // Killed: its heartbeat stops, and after `staleMs` the lock is taken over.
    await killed(child)
    const lock = await lockDataDir(dir, { staleMs: 400, heartbeatMs: 50 })
    expect(JSON.parse(readFileSync(lockFile(dir), "utf8"))).toMatchObject({ pid: process.pid })
    lock.release()
    // A lock of another container whose heartbeat is long past is taken over at once.
    writeFileSync(lockFile(dir), lockOf({ pid: 1, pidns: "pid:[1]" }))
    const past = new Date(Date.now() - 60_000)
    utimesSync(lockFile(dir), past, past)
    ;(await lockDataDir(dir, { staleMs: 30_000 })).release()
  })

  it("tells a holder whose lock was taken over", async () => {
    const dir = freshDir()
    let told = 0
    const lock = await lockDataDir(dir, { heartbeatMs: 20, onLost: () => told++ })
    writeFileSync(lockFile(dir), lockOf({ instance: "usurper" }))
    await expect.poll(() => lock.lost(), { timeout: 5_000 }).toBe(true)
    expect(told).toBe(1)
    // Its release leaves the other's lock alone.
    lock.release()
    expect(readFileSync(lockFile(dir), "utf8")).toContain("usurper")
  })
})
