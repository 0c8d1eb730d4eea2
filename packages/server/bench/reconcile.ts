/**
 * The background reconciliation's cost (`production.md` §3): with BENCH_RECONCILE_ACCOUNTS (10,000)
 * accounts known to the proxy, every one of them due for a re-read, how much of the vendor budget the
 * sweep takes and how much of a CPU the proxy then uses. Targets: at most 10% of the budget in any
 * rolling window, at most 5% of a core.
 *
 * The upstream is a standalone simulator in this process (its journal says which reads came when;
 * the sweep's carry `X-Request-Id: reconcile-…`). The accounts are created there, and the proxy's
 * embedded store is seeded with them directly (`Store.embedded`), each confirmed 20 minutes ago: past
 * the 15-minute maximum age, so all of them are due at once, the sweep's worst case. The store's
 * heartbeat is seeded too, as if a proxy had been running all along, so the start is no downtime.
 * The proxy runs as a process exactly as `pnpm start` runs it (node with tsx's loader on
 * `src/main.ts`), default settings, ZH_RATE_LIMIT 2000 per 10 s.
 *
 * Phases: **idle** (MTA_RECONCILE_SHARE=0: no sweep, the heartbeat only) for the baseline; **sweep**
 * (the defaults: 10%) for BENCH_RECONCILE_SWEEP_S (40 s); then the proxy is stopped for 6 s (over the
 * 5 s downtime) and started again: **catch-up** (the Decision: 50% of the budget while accounts
 * confirmed before the downtime remain) for BENCH_RECONCILE_CATCH_UP_S (25 s). For each: the sweep's
 * reads, the most in any rolling 10 s window (against the 2,000 of the budget) and the proxy's CPU
 * time (user + system, its PGlite thread included) over the wall time.
 *
 * Rerun from `packages/server`: `tsx --conditions=@mta/source bench/reconcile.ts` (about two minutes).
 * Writes `bench/RECONCILE-RESULTS.md`. On two or more CPUs the proxy runs alone on CPU 1 and this
 * process (the simulator) on CPU 0 (`taskset`; BENCH_PIN=0 turns it off).
 */
import { mkdtempSync, rmSync } from "node:fs"
import { cpus, loadavg, tmpdir } from "node:os"
import { join } from "node:path"
import { fetchTransport } from "@mta/client"
import { Callers, Store, Upstream } from "@mta/server"
import { type Server as SimServer, startSimulatorServer } from "@mta/testkit"
import { freePort, type ProxyProcess, startProxyProcess } from "../test/support.js"
import { cpuMs } from "./processes.js"
import { canPin, LOAD_CPU, pin, runBench, TEST_CPU, writeResults } from "./support.js"

const ACCOUNTS = Number(process.env.BENCH_RECONCILE_ACCOUNTS ?? 10_000)
const IDLE_S = Number(process.env.BENCH_RECONCILE_IDLE_S ?? 10)
const SWEEP_S = Number(process.env.BENCH_RECONCILE_SWEEP_S ?? 40)
const CATCH_UP_S = Number(process.env.BENCH_RECONCILE_CATCH_UP_S ?? 25)
const BUDGET = 2_000
const WINDOW_MS = 10_000
const SWEEP_SHARE = 0.1
const CATCH_UP_SHARE = 0.5
const CPU_TARGET = 0.05
const TOKEN = "reconcile-bench-token"
const WEBHOOK_SECRET = "reconcile-bench-webhook-secret"

const log = (line: string) => process.stdout.write(`${line}\n`)
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
const pct = (x: number) => `${(x * 100).toFixed(1)}%`

const running: Array<ProxyProcess> = []
const stopAll = () => {
  for (const proxy of running) if (proxy.child.exitCode === null) proxy.child.kill("SIGKILL")
}
process.on("exit", stopAll)

/** Creates the accounts at the simulator (in process, its rate limit off) and provisions them. */
const createAccounts = async (sim: SimServer.SimulatorServer): Promise<Array<string>> => {
  const upstream = Upstream.make({
    baseUrl: "http://simulator.bench",
    credentials: sim.simulator.credentials,
    transport: fetchTransport((url, init) => sim.simulator.fetch(new Request(url, init)))
  })
  const zrns: Array<string> = []
  for (let i = 0; i < ACCOUNTS; i += 200) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(200, ACCOUNTS - i) }, (_, k) =>
        upstream.createAccount({
          participant_code: `CUST${String(((i + k) % 20) + 1).padStart(2, "0")}`,
          account_label: `bench-${i + k}`,
          type: "individual",
          tier: "pro",
          prefunded: false
        } as never)
      )
    )
    for (const account of batch) zrns.push(String(account.zrn))
  }
  await sim.simulator.settle()
  return zrns
}

/**
 * The proxy's store, as a proxy that has known every account for 20 minutes leaves it: each open,
 * last confirmed 20 minutes ago; a proxy alive until now (the catch-up mark 30 minutes old).
 */
const seedStore = async (dataDir: string, zrns: ReadonlyArray<string>) => {
  const store = await Store.embedded({ dataDir })
  const now = Date.now()
  await store.alive(now - 30 * 60_000, 5_000)
  for (let i = 0; i < zrns.length; i += 1_000) {
    await Promise.all(
      zrns
        .slice(i, i + 1_000)
        .map((zrn) => store.observe({ zrn, status: "open", source: "read", at: now - 20 * 60_000 }))
    )
  }
  await store.alive(Date.now(), 24 * 3_600_000)
  await store.close()
}

interface Phase {
  readonly name: string
  readonly seconds: number
  readonly reads: number
  readonly maxWindow: number
  readonly cpuMs: number
  readonly share: number
}

/** Measures a phase of `seconds` on a running proxy: its reads (from the journal) and its CPU. */
const measure = async (
  name: string,
  sim: SimServer.SimulatorServer,
  proxy: ProxyProcess,
  seconds: number
): Promise<Phase> => {
  const pid = proxy.child.pid!
  const startSeq = sim.simulator.journal().at(-1)?.seq ?? 0
  const cpu0 = cpuMs(pid)
  const t0 = performance.now()
  await sleep(seconds * 1_000)
  const cpu = cpuMs(pid) - cpu0
  const wall = performance.now() - t0
  const reads = sim.simulator
    .journal()
    .filter(
      (e) =>
        e.seq > startSeq && e.endpoint === "getAccount" && e.headers["x-request-id"]?.startsWith("reconcile-")
    )
    .map((e) => e.at)
  let maxWindow = 0
  for (let i = 0, j = 0; i < reads.length; i++) {
    while (reads[j]! < reads[i]! - WINDOW_MS + 1) j++
    maxWindow = Math.max(maxWindow, i - j + 1)
  }
  const phase = { name, seconds: wall / 1_000, reads: reads.length, maxWindow, cpuMs: cpu, share: cpu / wall }
  log(
    `${name}: ${phase.reads} reads, at most ${maxWindow} in any 10 s (${pct(maxWindow / BUDGET)} of the budget); proxy CPU ${cpu} ms in ${(wall / 1_000).toFixed(1)} s (${pct(phase.share)} of a core)`
  )
  return phase
}

const main = async () => {
  if (canPin) pin(process.pid, LOAD_CPU)
  const load = loadavg()
  const port = await freePort()
  // No webhook URL: nothing changes during the benchmark, and the creates' webhooks would only be
  // retried against a proxy that is not there yet.
  const sim = await startSimulatorServer({
    seedDemo: true,
    rateLimit: 0,
    webhook: { secret: WEBHOOK_SECRET }
  })
  const dataDir = mkdtempSync(join(tmpdir(), "mta-reconcile-bench-"))
  try {
    let t = performance.now()
    const zrns = await createAccounts(sim)
    log(
      `created ${zrns.length} accounts at the simulator in ${((performance.now() - t) / 1_000).toFixed(1)} s`
    )
    t = performance.now()
    await seedStore(dataDir, zrns)
    log(`seeded the proxy's store in ${((performance.now() - t) / 1_000).toFixed(1)} s`)

    const env = (share: string, downtimeMs: string): Record<string, string> => ({
      ZH_BASE_URL: sim.url,
      ZH_API_KEY: sim.simulator.credentials.apiKey,
      ZH_API_SECRET: sim.simulator.credentials.apiSecret,
      ZH_API_PASSPHRASE: sim.simulator.credentials.passphrase,
      ZH_WEBHOOK_SECRET: WEBHOOK_SECRET,
      MTA_CALLERS: JSON.stringify([
        { name: "bench", token_sha256: Callers.hashToken(TOKEN), scopes: Callers.allScopes }
      ]),
      MTA_DATA_DIR: dataDir,
      MTA_RECONCILE_SHARE: share,
      MTA_RECONCILE_DOWNTIME_MS: downtimeMs,
      LOG_LEVEL: "warn"
    })
    /**
     * Starts the proxy. Until the catch-up phase, a restart is no downtime however slowly the proxy
     * starts on a busy machine (120 s); then the default 5 s.
     */
    const start = async (share: string, downtimeMs = "120000") => {
      const proxy = await startProxyProcess(env(share, downtimeMs), port)
      running.push(proxy)
      pin(proxy.child.pid!, TEST_CPU)
      // Let start-up work (module loading, the store's migrations) settle before measuring.
      await sleep(2_000)
      return proxy
    }

    let proxy = await start("0")
    const idle = await measure("idle (no sweep)", sim, proxy, IDLE_S)
    await proxy.stop()
    proxy = await start(String(SWEEP_SHARE))
    const sweep = await measure("sweep (10%)", sim, proxy, SWEEP_S)
    await proxy.stop()
    // Down for longer than MTA_RECONCILE_DOWNTIME_MS (5 s): webhooks may have been lost meanwhile.
    await sleep(6_000)
    proxy = await start(String(SWEEP_SHARE), "5000")
    const catchUp = await measure("catch-up (50%)", sim, proxy, CATCH_UP_S)
    await proxy.stop()

    const sweepMet = sweep.maxWindow <= BUDGET * SWEEP_SHARE && sweep.share <= CPU_TARGET
    const overIdle = (p: Phase) => `${pct(p.share - idle.share)}`
    const row = (p: Phase, share: string) =>
      `| ${p.name} | ${p.seconds.toFixed(1)} s | ${p.reads.toLocaleString("en-US")} | ${(p.reads / p.seconds).toFixed(1)} | ${p.maxWindow.toLocaleString("en-US")} (${pct(p.maxWindow / BUDGET)}) | ${share} | ${p.cpuMs.toLocaleString("en-US")} ms | ${pct(p.share)} | ${p === idle ? "–" : overIdle(p)} |`
    const placement = canPin
      ? `CPU ${TEST_CPU}: the proxy alone; CPU ${LOAD_CPU}: this process (the simulator) (\`taskset\`).`
      : "no CPU pinning (fewer than two CPUs, no `taskset`, or BENCH_PIN=0): the proxy and the simulator share the machine."
    const md = `# @mta/server reconciliation benchmark

What the background reconciliation costs (\`production.md\` §3) with ${ACCOUNTS.toLocaleString("en-US")} known
accounts, every one due for a re-read (confirmed 20 minutes ago, past the 15-minute maximum age): its
share of the vendor budget (${BUDGET.toLocaleString("en-US")} requests per rolling 10 s) and of the proxy's CPU. The proxy
runs as \`pnpm start\` runs it (node with tsx's loader on \`src/main.ts\`), embedded store (PGlite), default
settings; the upstream is a standalone simulator in the benchmark's process.
${cpus().length} × ${cpus()[0]?.model.trim() ?? "CPU"}, Node.js ${process.version}, ${new Date().toISOString().slice(0, 10)}
(load average at the start ${load.map((l) => l.toFixed(2)).join(" ")}).

**Placement**: ${placement}

| phase | measured | sweep reads | per s | most in any 10 s (of the budget) | share allowed | proxy CPU | of a core | over idle |
|---|---:|---:|---:|---:|---:|---:|---:|---:|
${row(idle, "0 (off)")}
${row(sweep, pct(SWEEP_SHARE))}
${row(catchUp, pct(CATCH_UP_SHARE))}

- **idle**: \`MTA_RECONCILE_SHARE=0\`; the proxy only beats its heartbeat (one store step a second).
- **sweep**: the defaults. Every account is due, so the sweep reads as fast as its share allows,
  at most 200 per 10 s (10% of 2,000): a pass a second, each taking 1/11 of that (a window overlaps
  the reads of 11 passes once an answer takes any time), claims the due records under a lease
  (\`mta_claim_due\`), reads them upstream at once, and applies the reads in one store step
  (\`mta_reconcile_many\`). Applying a pass's reads one store step each (one PGlite query
  per read, about a millisecond of CPU whatever the query does) measured 5.0% of a core in an earlier
  run of this benchmark; batched, the figure above.
- **catch-up**: the proxy stopped for 6 s (over \`MTA_RECONCILE_DOWNTIME_MS\`, 5 s) and started again:
  every account confirmed before the start is re-read at \`MTA_RECONCILE_CATCH_UP_SHARE\` (the Decision:
  half the budget), 1,000 per 10 s at most (91 a second). At that pace ${ACCOUNTS.toLocaleString("en-US")} accounts take about
  ${Math.ceil(ACCOUNTS / ((CATCH_UP_SHARE * BUDGET) / 11))} s: the 60 s target holds up to about ${(Math.floor((CATCH_UP_SHARE * BUDGET * 60) / 11 / 100) * 100).toLocaleString("en-US")} accounts at the default budget
  (README "Reconciliation").

**Target** (the sweep: at most 10% of the budget in any 10 s window, at most ${pct(CPU_TARGET)} of a core):
**${sweepMet ? "met" : "MISSED"}** (${sweep.maxWindow} reads in the busiest window; ${pct(sweep.share)} of a core for the whole
proxy while it swept, of which the idle proxy alone, heartbeat and Node's own timers, used ${pct(idle.share)}).

## Rerun

From \`packages/server\`: \`tsx --conditions=@mta/source bench/reconcile.ts\` (about two minutes).
\`BENCH_RECONCILE_ACCOUNTS\` (default 10000), \`BENCH_RECONCILE_IDLE_S\` (10), \`BENCH_RECONCILE_SWEEP_S\`
(40), \`BENCH_RECONCILE_CATCH_UP_S\` (25) and \`BENCH_PIN=0\` change the run. The read counts come from
the simulator's journal, the CPU time from \`/proc/<pid>/stat\` of the proxy (every thread). On a busy
machine (see the load average above) a CPU figure grows with the cache and scheduler contention
of the other work; compare phases of one run rather than runs.
`
    const results = writeResults("RECONCILE-RESULTS.md", md)
    log(`\nsweep: ${sweepMet ? "met" : "MISSED"}; wrote ${results}`)
  } finally {
    await sim.close()
    rmSync(dataDir, { recursive: true, force: true })
  }
}

runBench(main, stopAll)
