/**
 * The processes of `bench/fanout.ts`: placement on a CPU (`taskset`), the open-file limit its
 * thousands of sockets need, and what is read of a process from `/proc` (CPU time, resident size, the
 * machine's CPU pressure).
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process"
import { readFileSync } from "node:fs"
import { createServer } from "node:net"
import { cpus } from "node:os"
import { fileURLToPath } from "node:url"

export const canPin =
  process.env.BENCH_PIN !== "0" &&
  cpus().length >= 2 &&
  process.platform === "linux" &&
  spawnSync("taskset", ["-V"]).status === 0
const children: Array<ChildProcess> = []
export const stopAll = () => {
  for (const child of children) if (child.exitCode === null) child.kill("SIGKILL")
}
process.on("exit", stopAll)

/** Open files this process may hold (the soft limit); sockets count. */
export const fileLimit = (): number => {
  const line = readFileSync("/proc/self/limits", "utf8")
    .split("\n")
    .find((l) => l.startsWith("Max open files"))
  const soft = line?.split(/\s{2,}/)[1]
  return soft === undefined || soft === "unlimited" ? Number.POSITIVE_INFINITY : Number(soft)
}

export const freePort = (): Promise<number> =>
  new Promise((resolve) => {
    const s = createServer()
    s.listen(0, "127.0.0.1", () => {
      const a = s.address()
      s.close(() => resolve(typeof a === "object" && a !== null ? a.port : 0))
    })
  })

/**
 * `node <args>` on `cpu` with room for `files` open files; resolves once `ready` is printed. Both
 * output streams are read to the end (and discarded: the proxy's log lines go to a pipe, as in
 * production).
 */
export const launch = (
  args: ReadonlyArray<string>,
  env: Record<string, string>,
  cpu: number,
  ready: RegExp,
  files: number
) =>
  new Promise<{ pid: number }>((resolve, reject) => {
    const node = [process.execPath, ...args].map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(" ")
    const pinned = canPin ? `taskset -c ${cpu} ${node}` : node
    const child = spawn("sh", ["-c", `ulimit -n ${files} 2>/dev/null; exec ${pinned}`], {
      cwd: fileURLToPath(new URL("..", import.meta.url)),
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "pipe"]
    })
    children.push(child)
    let seen = ""
    const timer = setTimeout(() => reject(new Error(`${args.at(-1)} did not start: ${seen}`)), 30_000)
    const look = (d: Buffer) => {
      if (!ready.test(seen)) {
        seen += d.toString()
        if (ready.test(seen)) {
          clearTimeout(timer)
          resolve({ pid: child.pid! })
        }
      }
    }
    child.stdout!.on("data", look)
    child.stderr!.on("data", look)
    child.once("exit", (code) => reject(new Error(`${args.at(-1)} exited with ${code}: ${seen}`)))
  })

/** CPU time (user + system) of a process so far, in ms (100 Hz ticks). */
export const cpuMs = (pid: number): number => {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ")
  return (Number(fields[11]) + Number(fields[12])) * 10
}

/** Resident size of a process now and at its peak (`VmHWM`), in MB. */
export const memory = (pid: number) => {
  const status = readFileSync(`/proc/${pid}/status`, "utf8")
  const kb = (name: string) => Number(new RegExp(`${name}:\\s+(\\d+)`).exec(status)?.[1] ?? 0)
  return { rss: kb("VmRSS") / 1024, peak: kb("VmHWM") / 1024 }
}

/** Share of the last 10 s in which runnable tasks waited for a CPU, machine-wide (`/proc/pressure/cpu`). */
export const cpuPressure = (): number => {
  try {
    return Number(/avg10=([\d.]+)/.exec(readFileSync("/proc/pressure/cpu", "utf8"))?.[1] ?? Number.NaN)
  } catch {
    return Number.NaN
  }
}
