/**
 * The deploy folder (`production.md` §8): its install size, and the proxy's cold start from it with
 * plain `node` (process spawned → `/readyz` answers 200) in remote mode against the folder's own
 * standalone simulator, with the memory store and with the embedded store (a fresh data directory).
 * Each start is a new process, `RUNS` times; the figures are the median, the fastest and the slowest.
 *
 *   tsx --conditions=@mta/source bench/deploy.ts
 *
 * BENCH_DEPLOY_BEFORE=<dir> also measures an older deploy folder (e.g. one made at the commit before
 * issue 13 with `pnpm --filter @mta/server deploy --prod --legacy <dir>`), for the before/after table.
 * Results: `bench/DEPLOY-RESULTS.md`.
 */
import { execFileSync } from "node:child_process"
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs"
import { cpus, loadavg, tmpdir } from "node:os"
import { join } from "node:path"
import { Simulator } from "@mta/testkit"
import {
  installedPackages,
  makeDeployFolder,
  type NodeProcess,
  spawnNode,
  startDeployedSimulator
} from "../test/support/deploy.js"
import { freePort } from "../test/support.js"
import { runBench, writeResults } from "./support.js"

const RUNS = Number(process.env.BENCH_DEPLOY_RUNS ?? 10)
const running: Array<NodeProcess> = []
const work = mkdtempSync(join(tmpdir(), "mta-bench-deploy-"))

const bytes = (dir: string): number =>
  Number(execFileSync("du", ["-sb", dir], { encoding: "utf8" }).split("\t")[0])
const mb = (n: number) => `${(n / 1_000_000).toFixed(1)} MB`

/** CPU time (user + system, every thread) a process has used so far, ms (Linux: /proc/<pid>/stat, 100 ticks/s). */
const cpuMs = (pid: number): number => {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
  return (Number(fields[11]) + Number(fields[12])) * 10
}

/**
 * From spawning the proxy until `/readyz` answers 200 (polled every 5 ms): the wall time, and the CPU
 * time the process used by then (what the start costs, whatever else the machine runs), ms.
 */
const coldStart = async (
  appDir: string,
  env: Record<string, string>
): Promise<{ wall: number; cpu: number }> => {
  const port = await freePort()
  const started = performance.now()
  const proxy = spawnNode([join(appDir, "dist/main.js")], appDir, {
    ...env,
    PORT: String(port),
    LOG_LEVEL: "warn"
  })
  running.push(proxy)
  for (;;) {
    if (proxy.child.exitCode !== null) throw new Error(`proxy exited: ${proxy.stderr()}`)
    try {
      const r = await fetch(`http://127.0.0.1:${port}/readyz`)
      await r.arrayBuffer()
      if (r.status === 200) break
    } catch {
      // not listening yet
    }
    if (performance.now() - started > 60_000) throw new Error("no /readyz in 60 s")
    await new Promise((r) => setTimeout(r, 5))
  }
  const wall = performance.now() - started
  const cpu = cpuMs(proxy.child.pid!)
  await proxy.stop("SIGTERM")
  return { wall, cpu }
}

const summary = (ms: ReadonlyArray<number>) => {
  const sorted = [...ms].sort((a, b) => a - b)
  const median = sorted[Math.floor(sorted.length / 2)]!
  return { median, min: sorted[0]!, max: sorted[sorted.length - 1]! }
}

const measure = async (appDir: string) => {
  const simPort = await freePort()
  const sim = await startDeployedSimulator(appDir, simPort, ["--seed-demo"])
  running.push(sim)
  const credentials = Simulator.defaultCredentials
  const remote = {
    ZH_BASE_URL: `http://127.0.0.1:${simPort}`,
    ZH_API_KEY: credentials.apiKey,
    ZH_API_SECRET: credentials.apiSecret,
    ZH_API_PASSPHRASE: credentials.passphrase,
    ZH_WEBHOOK_SECRET: "bench-webhook-secret",
    MTA_CALLERS: JSON.stringify([{ name: "bench", token_sha256: "0".repeat(64), scopes: ["accounts:read"] }]),
    HOST: "127.0.0.1"
  }
  const memory: Array<{ wall: number; cpu: number }> = []
  const embedded: Array<{ wall: number; cpu: number }> = []
  for (let i = 0; i < RUNS; i++) memory.push(await coldStart(appDir, { ...remote, MTA_STORE: "memory" }))
  for (let i = 0; i < Math.min(RUNS, 3); i++) {
    const dataDir = join(work, `data-${i}-${Math.random().toString(36).slice(2)}`)
    embedded.push(await coldStart(appDir, { ...remote, MTA_DATA_DIR: dataDir }))
    rmSync(dataDir, { recursive: true, force: true })
  }
  await sim.stop("SIGTERM")
  const packages = installedPackages(appDir)
  return {
    size: bytes(appDir),
    packages: packages.length,
    dev: ["tsx", "typescript", "esbuild", "msw", "graphql"].filter((p) => packages.includes(p)),
    memory: { wall: summary(memory.map((m) => m.wall)), cpu: summary(memory.map((m) => m.cpu)) },
    embedded: { wall: summary(embedded.map((m) => m.wall)), cpu: summary(embedded.map((m) => m.cpu)) }
  }
}

const main = async () => {
  const app = join(work, "app")
  process.stderr.write(`making the deploy folder in ${app}\n`)
  makeDeployFolder(app)
  const after = await measure(app)
  const beforeDir = process.env.BENCH_DEPLOY_BEFORE
  const before = beforeDir !== undefined && existsSync(beforeDir) ? await measure(beforeDir) : undefined
  const cell = (s: ReturnType<typeof summary>) =>
    `${s.median.toFixed(0)} (${s.min.toFixed(0)}–${s.max.toFixed(0)})`
  const row = (label: string, r: Awaited<ReturnType<typeof measure>>) =>
    `| ${label} | ${mb(r.size)} | ${r.packages} | ${r.dev.length === 0 ? "none" : r.dev.join(", ")} | ${cell(r.memory.wall)} | ${cell(r.memory.cpu)} | ${cell(r.embedded.wall)} | ${cell(r.embedded.cpu)} |`
  const markdown = `# The deploy folder: size and cold start

\`tsx --conditions=@mta/source bench/deploy.ts\` (from \`packages/server\`; BENCH_DEPLOY_BEFORE=<dir> adds an
older folder, BENCH_DEPLOY_RUNS the starts per store, default 10; the embedded store at most 3). The
folder is made by \`node scripts/deploy.mjs <dir>\` (turbo's build, then
\`pnpm --filter @mta/server deploy --prod\`), what the Dockerfile runs. Cold start: a new \`node dist/main.js\`
process, remote mode against the folder's own standalone simulator, from the spawn until \`/readyz\`
answers 200 (polled every 5 ms): the wall time, and the CPU time (user + system, all threads) the
process had used by then, in milliseconds, median (fastest–slowest). The CPU time is what a start
costs whatever else runs; on an otherwise idle machine the wall time is close to it (plus a few tens
of ms of I/O). Size: \`du -sb\` of the folder. Machine: ${cpus().length} × ${cpus()[0]?.model ?? "unknown CPU"},
Node ${process.version}, load average ${loadavg()[0]!.toFixed(1)} when the run ended.

| folder | size | packages | development tools inside | memory store: wall | memory store: CPU | embedded store, new data directory: wall | embedded: CPU |
| --- | --- | --- | --- | --- | --- | --- | --- |
${before === undefined ? "" : `${row("before (tsx a dependency, the testkit and msw imported statically)", before)}\n`}${row("after (this commit)", after)}

Target (issue 13): under 2 000 ms to \`/readyz\` with a real upstream and the memory store.

Where a start's CPU goes (a \`node --cpu-prof\` of one start, memory store): mostly loading modules, and
most of those are \`effect\`'s: \`await import("effect")\` alone costs about 0.8 s of CPU here against
0.5 s for \`effect/Schema\` and 0.1 s for a bare \`node\`, because the barrel loads every module of
the library. Importing from subpaths (\`effect/Schema\`, \`effect/Either\`, …) in all four packages is
the lever left; it touches every module, so it is left to its own change. Removing the static import
of the testkit (and with it msw) saved about 0.16 s of CPU per start.
`
  const path = writeResults("DEPLOY-RESULTS.md", markdown)
  process.stdout.write(`${markdown}\nwritten to ${path}\n`)
}

runBench(main, () => {
  for (const p of running) p.child.kill("SIGKILL")
  rmSync(work, { recursive: true, force: true })
})
