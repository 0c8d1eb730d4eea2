/**
 * The state stores under load, and what persistence costs the proxy.
 *
 * 1. Store operations per second, embedded (PGlite on local disk) and PostgreSQL (a throwaway
 *    cluster with its production settings: fsync on), one caller at a time and 50 at once:
 *    idempotency check-and-insert (`claimIdempotencyKey` of a new key), audit append (`finishCall`)
 *    and webhook ingest (`ingest` of a new notification).
 * 2. The proxy's throughput on the same mutating load with each store: `POST /accounts/{zrn}/lock`
 *    with a new `Idempotency-Key` per request (claim, transition check, upstream call, key resolution
 *    and audit entry), autocannon on loopback in front of the instant stand-in, as `bench/run.ts`
 *    measures reads.
 *
 * Writes `bench/STORE-RESULTS.md`. Run with `pnpm -C packages/server bench` (after `bench/run.ts`) or
 * alone: `pnpm -C packages/server exec tsx --conditions=@mta/source bench/store.ts`. Bounded: each
 * store measurement lasts BENCH_STORE_S seconds (default 3), each proxy measurement BENCH_DURATION_S
 * (default 10) after a warm-up of BENCH_WARMUP_S (default 3). PostgreSQL parts are skipped (and say so) without its binaries.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process"
import { randomUUID } from "node:crypto"
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { cpus, loadavg, tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { Callers, Store } from "@mta/server"
import autocannon from "autocannon"
import { type PostgresCluster, postgresUnavailable, startPostgres } from "../test/support/postgres.js"

const STORE_S = Number(process.env.BENCH_STORE_S ?? 3)
const DURATION = Number(process.env.BENCH_DURATION_S ?? 10)
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50)
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3)
/** Seconds of load before each measurement (the JIT and WebAssembly tiers warm up). */
const WARMUP = Number(process.env.BENCH_WARMUP_S ?? 3)
/** Which parts to run: `ops` (store operations), `proxy` (the proxy with each store). */
const PARTS = new Set((process.env.BENCH_PARTS ?? "ops,proxy").split(","))
const TOKEN = "bench-token"
const pkg = fileURLToPath(new URL("..", import.meta.url))
const here = fileURLToPath(new URL(".", import.meta.url))
const ZRN = "zrn:zh:us:accounts:customer:c761fc96-5c44-40d4-8eb2-3fcd5d06754e"

const children: Array<ChildProcess> = []
const stopAll = () => {
  for (const child of children) if (child.exitCode === null) child.kill("SIGKILL")
  children.length = 0
}
process.on("exit", stopAll)

/** Starts `script` with node and tsx's loader (so a signal reaches it); resolves on `ready`. */
const launch = (
  args: ReadonlyArray<string>,
  env: Record<string, string>,
  ready: RegExp
): Promise<RegExpExecArray & { child: ChildProcess }> =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--conditions=@mta/source", "--import", "tsx", ...args], {
      cwd: pkg,
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "pipe"]
    })
    children.push(child)
    let out = ""
    let err = ""
    const timer = setTimeout(() => reject(new Error(`${args[0]} did not start: ${err}`)), 60_000)
    let started = false
    const scan = (d: Buffer) => {
      if (started) return // after startup: drain (the proxy logs a line per request), keep nothing
      out += d.toString()
      const m = ready.exec(out)
      if (m !== null) {
        started = true
        clearTimeout(timer)
        out = ""
        resolve(Object.assign(m, { child }))
      }
    }
    child.stdout!.on("data", scan)
    child.stderr!.on("data", (d: Buffer) => {
      if (!started) err += d.toString()
      scan(d)
    })
    child.once("exit", (code) => reject(new Error(`${args[0]} exited with ${code}: ${err}`)))
  })

// ---------------------------------------------------------------------------------------------
// 1. Store operations
// ---------------------------------------------------------------------------------------------

interface OpFigures {
  readonly store: string
  readonly op: string
  readonly concurrency: number
  readonly opsPerSecond: number
}

/** Runs `op` from `concurrency` loops for STORE_S seconds; operations per second. */
const rate = async (concurrency: number, op: () => Promise<unknown>): Promise<number> => {
  const until = performance.now() + STORE_S * 1000
  let done = 0
  const loop = async () => {
    while (performance.now() < until) {
      await op()
      done++
    }
  }
  const started = performance.now()
  await Promise.all(Array.from({ length: concurrency }, loop))
  return Math.round(done / ((performance.now() - started) / 1000))
}

const storeOps = async (name: string, store: Store.Store): Promise<Array<OpFigures>> => {
  const out: Array<OpFigures> = []
  const now = Date.now()
  const ops: Record<string, () => Promise<unknown>> = {
    "idempotency check-and-insert": () =>
      store.claimIdempotencyKey({
        caller: "bench",
        key: randomUUID(),
        fingerprint: "f",
        now,
        expiresAt: now + 86_400_000,
        leaseUntil: now + 60_000
      }),
    "audit append": () =>
      store.finishCall({
        audit: {
          at: Date.now(),
          caller: "bench",
          action: "lock",
          target: ZRN,
          summary: { method: "POST", path: `/accounts/${ZRN}/lock`, idempotency_key: randomUUID() },
          outcome: "accepted",
          status: 202,
          requestId: randomUUID()
        }
      }),
    "webhook ingest": () => {
      const zrn = `zrn:zh:us:accounts:customer:${randomUUID()}`
      return store.ingest({
        notificationId: randomUUID(),
        zrn,
        status: "open",
        occurredAt: Date.now(),
        receivedAt: Date.now(),
        payload: { zrn, status: "open", participant_code: "CUST01", account_label: randomUUID() }
      })
    }
  }
  for (const [op, run] of Object.entries(ops)) {
    for (const concurrency of [1, CONNECTIONS]) {
      const opsPerSecond = await rate(concurrency, run)
      out.push({ store: name, op, concurrency, opsPerSecond })
      process.stdout.write(`${name}: ${op}, ${concurrency} at once: ${opsPerSecond} ops/s\n`)
    }
  }
  return out
}

// ---------------------------------------------------------------------------------------------
// 2. The proxy with each store
// ---------------------------------------------------------------------------------------------

interface ProxyFigures {
  readonly store: string
  readonly placement: Placement
  readonly rps: number
  /** CPU time of the proxy process per request (user + system), µs: independent of the machine's other load. */
  readonly cpuUs: number
  /** CPU time of the PostgreSQL server per request, µs (0 for the stores inside the proxy). */
  readonly dbUs: number
  /** CPU time of the stand-in and the load generator per request, µs. */
  readonly loadUs: number
  /** Busy CPU time of the whole machine per request, µs. */
  readonly machineUs: number
  readonly p50: number
  readonly p99: number
  readonly errors: number
  readonly non2xx: number
}

/** CPU time (user + system) a process has used, ms (Linux `/proc`; NaN elsewhere). */
const cpuMs = (pid: number | undefined): number => {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ")
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100
  } catch {
    return Number.NaN
  }
}

/** CPU time of a process and all its descendants (the PostgreSQL server and its backends), ms. */
const treeCpuMs = (root: number | undefined): number => {
  if (root === undefined) return Number.NaN
  const parent = new Map<number, number>()
  try {
    for (const entry of readdirSync("/proc")) {
      if (!/^\d+$/.test(entry)) continue
      try {
        const fields = readFileSync(`/proc/${entry}/stat`, "utf8").split(") ")[1]!.split(" ")
        parent.set(Number(entry), Number(fields[1]))
      } catch {
        // The process ended while we looked.
      }
    }
  } catch {
    return Number.NaN
  }
  const inTree = (pid: number): boolean => {
    for (let p: number | undefined = pid, hops = 0; p !== undefined && p > 1 && hops < 64; hops++) {
      if (p === root) return true
      p = parent.get(p)
    }
    return false
  }
  let total = 0
  for (const pid of parent.keys()) if (inTree(pid)) total += cpuMs(pid)
  return total
}

/** Busy CPU time of the whole machine (every core, all processes), ms. */
const machineCpuMs = (): number => {
  try {
    const [, ...f] = readFileSync("/proc/stat", "utf8").split("\n")[0]!.trim().split(/\s+/)
    const n = f.map(Number)
    const busy = n.slice(0, 8).reduce((a, b) => a + b, 0) - n[3]! - n[4]!
    return (busy * 1000) / 100
  } catch {
    return Number.NaN
  }
}

/** The processes of a PostgreSQL server: the postmaster and every process it started. */
const treePids = (root: number | undefined): Array<number> => {
  if (root === undefined) return []
  const out: Array<number> = [root]
  try {
    for (const entry of readdirSync("/proc")) {
      if (!/^\d+$/.test(entry)) continue
      try {
        const fields = readFileSync(`/proc/${entry}/stat`, "utf8").split(") ")[1]!.split(" ")
        if (Number(fields[1]) === root) out.push(Number(entry))
      } catch {
        // The process ended while we looked.
      }
    }
  } catch {
    // No /proc: nothing to place.
  }
  return out
}

const canPin =
  process.env.BENCH_PIN !== "0" &&
  cpus().length >= 2 &&
  process.platform === "linux" &&
  spawnSync("taskset", ["-V"]).status === 0

/** Moves processes (all their threads) to the CPUs listed (`"1"`, `"0,1"`). */
const place = (pids: ReadonlyArray<number | undefined>, list: string) => {
  for (const pid of pids) {
    if (pid !== undefined) spawnSync("taskset", ["-a", "-p", "-c", list, String(pid)], { stdio: "ignore" })
  }
}

/**
 * Where the processes run during a measurement: `dedicated`, the proxy under test alone on CPU 1 and
 * everything else (load generator, stand-in, PostgreSQL, the idle proxies) on CPU 0, as when the
 * database runs on its own host; `shared`, every process on every CPU.
 */
type Placement = "dedicated" | "shared"

/** The processes whose CPU a proxy measurement accounts for. */
interface Pids {
  readonly proxy: number | undefined
  readonly standin: number | undefined
  /** The PostgreSQL server (postmaster), for the PostgreSQL store. */
  readonly database?: number | undefined
}

const startProxy = async (
  upstream: string,
  storeEnv: Record<string, string>
): Promise<{ url: string; pid: number | undefined; stop: () => Promise<void> }> => {
  const launched = await launch(
    ["src/main.ts"],
    {
      PORT: "0",
      HOST: "127.0.0.1",
      ZH_BASE_URL: upstream,
      ZH_API_KEY: "bench-key",
      ZH_API_SECRET: Buffer.from("bench-secret-bench-secret").toString("base64"),
      ZH_API_PASSPHRASE: "bench-pass",
      ZH_WEBHOOK_SECRET: "bench-webhook-secret",
      ZH_RATE_LIMIT: "0",
      LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? "info",
      MTA_CALLERS: JSON.stringify([
        { name: "bench", token_sha256: Callers.hashToken(TOKEN), scopes: ["accounts:access"] }
      ]),
      ...storeEnv
    },
    /mta proxy listening on http:\/\/127\.0\.0\.1:(\d+)/
  )
  const child = launched.child
  return {
    url: `http://127.0.0.1:${launched[1]}`,
    pid: child.pid,
    stop: async () => {
      if (child.exitCode !== null) return
      const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()))
      child.kill("SIGTERM")
      await exited
    }
  }
}

const measureProxy = async (
  store: string,
  placement: Placement,
  url: string,
  pids: Pids
): Promise<ProxyFigures> => {
  const options = {
    url: `${url}/accounts/${ZRN}/lock`,
    connections: CONNECTIONS,
    requests: [
      {
        method: "POST" as const,
        body: "{}",
        headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
        // A new key per request: every call claims, resolves and audits.
        setupRequest: (req: autocannon.Request) => ({
          ...req,
          headers: { ...(req.headers as Record<string, string>), "idempotency-key": randomUUID() }
        })
      }
    ]
  }
  await autocannon({ ...options, duration: WARMUP })
  const sample = () => ({
    proxy: cpuMs(pids.proxy),
    db: pids.database === undefined ? 0 : treeCpuMs(pids.database),
    standin: cpuMs(pids.standin),
    self: process.cpuUsage(),
    machine: machineCpuMs()
  })
  const before = sample()
  const r = await autocannon({ ...options, duration: DURATION })
  const after = sample()
  const self = process.cpuUsage(before.self)
  const per = (ms: number) => Math.round((ms * 1000) / Math.max(1, r.requests.total))
  const figures = {
    store,
    placement,
    rps: Math.round(r.requests.average),
    cpuUs: per(after.proxy - before.proxy),
    dbUs: per(after.db - before.db),
    loadUs: per(after.standin - before.standin + (self.user + self.system) / 1000),
    machineUs: per(after.machine - before.machine),
    p50: r.latency.p50,
    p99: r.latency.p99,
    errors: r.errors + r.timeouts,
    non2xx: r.non2xx
  }
  process.stdout.write(
    `proxy with ${store} (${placement}): ${figures.rps} req/s, p50 ${figures.p50} ms, p99 ${figures.p99} ms, CPU µs/request: proxy ${figures.cpuUs}, database ${figures.dbUs}, stand-in + load ${figures.loadUs}, machine ${figures.machineUs}\n`
  )
  return figures
}

const table = (
  header: ReadonlyArray<string>,
  rows: ReadonlyArray<ReadonlyArray<string>>,
  right: ReadonlySet<number>
) => {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)))
  const line = (cells: ReadonlyArray<string>) =>
    `| ${cells.map((c, i) => (right.has(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join(" | ")} |`
  const rule = `| ${widths.map((w, i) => (right.has(i) ? `${"-".repeat(w - 1)}:` : "-".repeat(w))).join(" | ")} |`
  return [line(header), rule, ...rows.map(line)].join("\n")
}

const main = async () => {
  const loadStart = loadavg()[0]!
  const dirs: Array<string> = []
  const tmp = (prefix: string) => {
    const d = mkdtempSync(join(tmpdir(), prefix))
    dirs.push(d)
    return d
  }
  let cluster: PostgresCluster | undefined
  try {
    if (postgresUnavailable === undefined) cluster = await startPostgres({ durable: true })
    else process.stdout.write(`PostgreSQL skipped: ${postgresUnavailable}\n`)

    // 1. Store operations.
    const ops: Array<OpFigures> = []
    if (PARTS.has("ops")) {
      const embedded = await Store.embedded({ dataDir: tmp("mta-bench-store-") })
      ops.push(...(await storeOps("embedded (PGlite)", embedded)))
      await embedded.close()
      if (cluster !== undefined) {
        const pgStore = await Store.postgres({ url: await cluster.createDatabase("bench_ops") })
        ops.push(...(await storeOps("PostgreSQL", pgStore)))
        await pgStore.close()
      }
    }

    // 2. The proxy, one store after the other, in front of the same stand-in.
    const standin = await launch([`${here}standin.ts`], {}, /READY (\d+)/)
    const standinPort = standin[1]
    const upstream = `http://127.0.0.1:${standinPort}`
    const runs: Array<[string, Record<string, string>]> = [
      ["memory", { MTA_STORE: "memory" }],
      ["embedded (PGlite)", { MTA_DATA_DIR: tmp("mta-bench-proxy-") }]
    ]
    if (cluster !== undefined)
      runs.push(["PostgreSQL", { DATABASE_URL: await cluster.createDatabase("bench_proxy") }])
    const postmaster =
      cluster === undefined
        ? undefined
        : Number(readFileSync(join(cluster.dataDir, "postmaster.pid"), "utf8").split("\n")[0])
    // The stores are measured in turns, ROUNDS times in each placement, and each keeps its median
    // round: a machine whose load drifts during the run then favours none of them. The persistent
    // stores' proxies run throughout (their data grows as in production); the in-memory store keeps
    // every record in the heap (it is for tests), so its proxy starts afresh before each measurement,
    // or the baseline would slow down round after round and flatter the others.
    const placements: Array<Placement> = canPin ? ["dedicated", "shared"] : ["shared"]
    const best = new Map<string, Array<ProxyFigures>>()
    const running = new Map<string, Awaited<ReturnType<typeof startProxy>>>()
    for (const [name, env] of runs) if (name !== "memory") running.set(name, await startProxy(upstream, env))
    for (const placement of placements) {
      for (let round = 0; round < ROUNDS; round++) {
        for (const [name, env] of runs) {
          const fresh = name === "memory"
          const started = fresh ? await startProxy(upstream, env) : running.get(name)!
          if (canPin) {
            const others = [...running.values()].filter((p) => p !== started).map((p) => p.pid)
            place(
              [process.pid, standin.child.pid, ...treePids(postmaster), ...others],
              placement === "dedicated" ? "0" : "0,1"
            )
            place([started.pid], placement === "dedicated" ? "1" : "0,1")
          }
          try {
            const f = await measureProxy(name, placement, started.url, {
              proxy: started.pid,
              standin: standin.child.pid,
              database: name === "PostgreSQL" ? postmaster : undefined
            })
            const id = `${placement}\u0000${name}`
            best.set(id, [...(best.get(id) ?? []), f])
          } finally {
            if (fresh) await started.stop()
          }
        }
      }
    }
    if (canPin) place([process.pid], "0,1")
    // Each store's median round (by requests/s): one round disturbed by the machine moves no figure.
    const median = (rounds: ReadonlyArray<ProxyFigures>) =>
      [...rounds].sort((a, b) => a.rps - b.rps)[Math.floor((rounds.length - 1) / 2)]!
    const figuresOf = (placement: Placement) =>
      runs.map(([name]) => median(best.get(`${placement}\u0000${name}`)!))
    const verdicts = placements.map((placement) => {
      const all = figuresOf(placement)
      const worst = Math.min(...all.slice(1).map((p) => p.rps / all[0]!.rps))
      return { placement, all, worst }
    })
    const cpu = cpus()[0]?.model.trim() ?? "unknown CPU"
    const verdictLine = (v: (typeof verdicts)[number]) =>
      `${v.placement}: the slowest persistent store reaches **${Math.round(v.worst * 100)}%** of memory (**${v.worst >= 0.75 ? "met" : "MISSED"}**)`
    const proxyTable = (all: ReadonlyArray<ProxyFigures>) =>
      table(
        [
          "store",
          "requests/s",
          "p50 ms",
          "p99 ms",
          "vs memory",
          "proxy µs",
          "database µs",
          "stand-in + load µs",
          "machine µs",
          "errors + non-2xx"
        ],
        all.map((p) => [
          p.store,
          p.rps.toLocaleString("en-US"),
          String(p.p50),
          String(p.p99),
          `${Math.round((p.rps / all[0]!.rps) * 100)}%`,
          String(p.cpuUs),
          p.store === "PostgreSQL" ? String(p.dbUs) : "-",
          String(p.loadUs),
          String(p.machineUs),
          String(p.errors + p.non2xx)
        ]),
        new Set([1, 2, 3, 4, 5, 6, 7, 8, 9])
      )
    const md = `# @mta/server store benchmark

Written by \`bench/store.ts\` (\`pnpm -C packages/server bench\` runs it after \`bench/run.ts\`), on
${cpus().length} × ${cpu}, Node.js ${process.version}; the machine's load average was
${loadStart.toFixed(1)} when the run started and ${loadavg()[0]!.toFixed(1)} when it ended (above the
core count, other work shared the cores and the throughput figures are noisy: compare the CPU per
request). PostgreSQL is a throwaway local cluster with its
production settings (fsync and synchronous commit on); PGlite writes to the local disk (see the README,
"State and persistence", for what each survives).

## Store operations per second

Each figure: operations completed in ${STORE_S} s, by 1 caller awaiting each operation, or by
${CONNECTIONS} callers at once (what a busy proxy does: the SQL store writes the claims and the
finished calls that arrive together in one transaction, "group commit").

${table(
  ["store", "operation", "1 at a time", `${CONNECTIONS} at once`],
  [...new Set(ops.map((o) => `${o.store}\u0000${o.op}`))].map((k) => {
    const [store, op] = k.split("\u0000") as [string, string]
    const at = (c: number) => ops.find((o) => o.store === store && o.op === op && o.concurrency === c)!
    return [
      store,
      op,
      at(1).opsPerSecond.toLocaleString("en-US"),
      at(CONNECTIONS).opsPerSecond.toLocaleString("en-US")
    ]
  }),
  new Set([2, 3])
)}

- idempotency check-and-insert: \`claimIdempotencyKey\` of a new key. PostgreSQL: one set-based
  \`INSERT … ON CONFLICT DO NOTHING\` per batch inside \`mta_batch\`. PGlite: a batched read (does the
  key have a record?) and a claim in the proxy's memory; the record is written when the call finishes.
- audit append: \`finishCall\` without a key (one audit row).
- webhook ingest: \`ingest\` of a new notification (inbox row, projection upsert, event-id counter,
  event row, \`NOTIFY\`), the ingests that arrive together in one \`mta_batch\` call, in order.

## The proxy with persistence on

\`POST /accounts/{zrn}/lock\` with a new \`Idempotency-Key\` per request (so every request claims a key,
reads the projection for the transition check, calls the upstream, resolves the key and appends an
audit entry), autocannon with ${CONNECTIONS} connections for ${DURATION} s after a ${WARMUP} s warm-up, in
front of the instant stand-in (\`bench/standin.ts\`); the proxy logs one line per request at
\`${process.env.BENCH_LOG_LEVEL ?? "info"}\`. Same load on each store in turn, ${ROUNDS} rounds in each
placement; each store's median round (by requests/s).

${verdicts
  .map(
    (
      v
    ) => `### ${v.placement === "dedicated" ? "Dedicated: the proxy alone on CPU 1; load generator, stand-in and PostgreSQL on CPU 0" : "Shared: every process on every CPU"}

${proxyTable(v.all)}`
  )
  .join("\n\n")}

CPU columns are CPU time (user + system, from \`/proc\`) per answered request: "proxy" of the proxy
process (PGlite runs inside it), "database" of the PostgreSQL server and its backends, "stand-in +
load" of the upstream stand-in and autocannon, "machine" of every process on the machine (busy time of
all CPUs). They hold whatever else the machine is doing; requests/s does not.

**Target** (persistence costs the proxy at most 25% of its in-memory throughput on the same load):
${verdicts.map(verdictLine).join("; ")}.${
      verdicts.length > 1
        ? ` The target is judged on the shared placement, the default of every deployment and of the
in-memory proxy it is compared with: the same load on the same machine. The dedicated placement shows
what each store costs when the proxy has one CPU and no more: PostgreSQL's work then runs on its own
CPU, as on a database host, while PGlite's (a thread of the proxy) shares the proxy's one CPU.`
        : ""
    }

### How the stores keep their cost down

- Group commit: every step that arrives while a batch is being written (idempotency claims, finished
  calls with their audit entries, projection reads, webhook ingests, observations) goes into the next
  batch, and a batch is one call of the \`mta_batch\` SQL function: one statement, one transaction,
  one round trip, one commit. Under this load a batch carries tens of steps, so the round trip, the
  statement and the commit (PostgreSQL's WAL flush) are paid once for all of them.
- PostgreSQL: one batch in flight per proxy, statements prepared once per connection (named), and the
  statements inside \`mta_batch\` keep their plans for the session: nothing is parsed or planned per
  request.
- PGlite (PostgreSQL compiled to WebAssembly) runs on a worker thread of the proxy, off the event
  loop: its work is in the proxy column (the difference between memory and PGlite), on a second CPU
  when there is one. Its data directory is locked to the one process, so the projection is cached in
  memory and the new key of a call that is not a create is claimed in memory, its record written
  whole when the call finishes: one write per call.

Figures vary with the machine and its load; the ratios, measured in the same run, are the comparable
figures. Rerun: \`pnpm -C packages/server exec tsx --conditions=@mta/source bench/store.ts\`
(\`BENCH_STORE_S\`, \`BENCH_DURATION_S\`, \`BENCH_CONNECTIONS\`, \`BENCH_ROUNDS\`, \`BENCH_LOG_LEVEL\`,
\`BENCH_PIN=0\` for the shared placement only, \`BENCH_PARTS=proxy\` to skip the store operations and
leave this file as it is).
`
    if (PARTS.has("ops")) {
      writeFileSync(join(here, "STORE-RESULTS.md"), md)
      process.stdout.write("\nwrote bench/STORE-RESULTS.md\n")
    } else process.stdout.write("\n(not all parts ran: bench/STORE-RESULTS.md left as it was)\n")
    process.stdout.write(`\n${verdicts.map(verdictLine).join("\n")}\n`)
  } finally {
    stopAll()
    await cluster?.stop()
    for (const d of dirs) rmSync(d, { recursive: true, force: true })
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`store bench failed: ${error instanceof Error ? error.stack : String(error)}\n`)
    stopAll()
    process.exit(1)
  }
)
