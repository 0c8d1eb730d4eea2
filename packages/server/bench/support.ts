/**
 * What the benchmarks `bench/run.ts` and `bench/edge.ts` share: where their processes run (on a Linux
 * machine with two or more CPUs and `taskset`, the process under test alone on CPU 1 and the load
 * generator on CPU 0; BENCH_PIN=0 turns it off), where their results go, and how a run ends.
 */
import { spawnSync } from "node:child_process"
import { writeFileSync } from "node:fs"
import { cpus } from "node:os"
import { fileURLToPath } from "node:url"

/** The CPU of the load generator (and, in `run.ts`, of the upstream). */
export const LOAD_CPU = 0
/** The CPU of the process under test, alone. */
export const TEST_CPU = 1

export const canPin =
  process.env.BENCH_PIN !== "0" &&
  cpus().length >= 2 &&
  process.platform === "linux" &&
  spawnSync("taskset", ["-V"]).status === 0

/** Moves a process (all its threads) to one CPU; nothing when pinning is off. */
export const pin = (pid: number, cpu: number) => {
  if (canPin) spawnSync("taskset", ["-a", "-p", "-c", String(cpu), String(pid)], { stdio: "ignore" })
}

/** Writes a results file next to the benchmarks (`bench/<name>`); returns its path. */
export const writeResults = (name: string, markdown: string): string => {
  const path = fileURLToPath(new URL(name, import.meta.url))
  writeFileSync(path, markdown)
  return path
}

/** Runs a benchmark's `main`, then stops its processes (`stopAll`) and exits: 0, or 1 with the error. */
export const runBench = (main: () => Promise<void>, stopAll: () => void): void => {
  main().then(
    () => {
      stopAll()
      process.exit(0)
    },
    (error: unknown) => {
      process.stderr.write(`bench failed: ${error instanceof Error ? error.stack : String(error)}\n`)
      stopAll()
      process.exit(1)
    }
  )
}
