/**
 * The proxy under load on loopback (autocannon), compared in the same run with (a) a minimal
 * `node:http` pass-through proxy that only signs and forwards and (b) the upstream called directly:
 * account reads (`GET /accounts/{zrn}/details`), all in front of the same upstream. First a cheap
 * stand-in that answers instantly (so the figures measure the proxies), then the testkit simulator.
 *
 * Fair by construction: on a machine with two or more CPUs, the process under test (either proxy, or
 * the upstream when it is called directly) runs alone on CPU 1, and the load generator (this
 * process) and the upstream share CPU 0 (`taskset`); every process is plain `node` running
 * JavaScript (the proxy as built by `tsc`, `bench/*.mjs`), except the row that runs the proxy through
 * tsx as `pnpm start` does. Targets are measured in turn, round after round (short rounds, the order
 * reversed every other round): each figure is the median of the rounds, and each ratio to (a) the
 * median of the rounds' ratios (the two measured seconds apart), so a burst of load from elsewhere on
 * the machine does not decide a comparison.
 *
 * Then the proxy and (a) again at a fixed 1,000 requests/s (an open-loop schedule, not autocannon's
 * per-second bursts), for the latency a caller sees below saturation.
 *
 * Writes `bench/RESULTS.md`. Rerun: `pnpm bench` at the repo root, or `pnpm -C packages/server bench`.
 * Bounded: BENCH_ROUNDS (default 10) rounds of BENCH_DURATION_S (default 2) seconds per target, after
 * a 2 s warm-up each; BENCH_CONNECTIONS (default 50) connections.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process"
import { existsSync, readFileSync } from "node:fs"
import { createServer } from "node:net"
import { cpus } from "node:os"
import { fileURLToPath } from "node:url"
import { Callers } from "@mta/server"
import { Signing } from "@mta/testkit"
import autocannon from "autocannon"
import { measurePaced, median, pacedTable, percentile, RATE, ratio } from "./paced.js"
import { canPin, LOAD_CPU, pin, runBench, TEST_CPU, writeResults } from "./support.js"

const DURATION = Number(process.env.BENCH_DURATION_S ?? 2)
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 10)
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50)
const WARMUP_S = 2
const TOKEN = "bench-token"
const pkg = fileURLToPath(new URL("..", import.meta.url))
const repo = fileURLToPath(new URL("../../..", import.meta.url))
const here = fileURLToPath(new URL(".", import.meta.url))
const simulatorBin = fileURLToPath(new URL("../../testkit/dist/bin.js", import.meta.url))
const UUID = "c761fc96-5c44-40d4-8eb2-3fcd5d06754e"
/** The stand-in answers a different record for this account every time (`standin.mjs`). */
const VARY_UUID = "0d5a4bd6-7c0e-4b8a-9a51-6f0e8b7c2d11"
const CREDENTIALS = {
  apiKey: "bench-key",
  apiSecret: Buffer.from("bench-secret-bench-secret").toString("base64"),
  passphrase: "bench-pass"
}

// ---------------------------------------------------------------------------------------------
// Processes and placement
// ---------------------------------------------------------------------------------------------

const children: Array<ChildProcess> = []
const stopAll = () => {
  for (const child of children) if (child.exitCode === null) child.kill("SIGKILL")
  children.length = 0
}
process.on("exit", stopAll)

const freePort = (): Promise<number> =>
  new Promise((resolve) => {
    const s = createServer()
    s.listen(0, "127.0.0.1", () => {
      const a = s.address()
      s.close(() => resolve(typeof a === "object" && a !== null ? a.port : 0))
    })
  })

interface Started {
  readonly pid: number
  readonly match: RegExpExecArray | undefined
}

/**
 * Starts `node <args>` on `cpu`; resolves with the first stdout match of `ready`, or at once when
 * `ready` is undefined (stdout is then discarded: the proxy's log lines go nowhere, at no cost here).
 */
const launch = (
  args: ReadonlyArray<string>,
  env: Record<string, string>,
  cpu: number,
  ready?: RegExp
): Promise<Started> =>
  new Promise((resolve, reject) => {
    const command = canPin ? "taskset" : process.execPath
    const argv = canPin ? ["-c", String(cpu), process.execPath, ...args] : [...args]
    const child = spawn(command, argv, {
      cwd: pkg,
      env: { ...process.env, ...env },
      stdio: ["ignore", ready === undefined ? "ignore" : "pipe", "pipe"]
    })
    children.push(child)
    let err = ""
    child.stderr!.on("data", (d: Buffer) => {
      err += d.toString()
    })
    child.once("exit", (code) => reject(new Error(`${args.at(-1)} exited with ${code}: ${err}`)))
    if (ready === undefined) {
      resolve({ pid: child.pid!, match: undefined })
      return
    }
    let out = ""
    const timer = setTimeout(() => reject(new Error(`${args[0]} did not start: ${err}`)), 30_000)
    child.stdout!.on("data", (d: Buffer) => {
      out += d.toString()
      const m = ready.exec(out)
      if (m !== null) {
        clearTimeout(timer)
        child.stdout!.removeAllListeners("data")
        child.stdout!.resume()
        resolve({ pid: child.pid!, match: m })
      }
    })
  })

const waitHealthy = async (url: string) => {
  for (let i = 0; i < 300; i++) {
    try {
      const r = await fetch(`${url}/healthz`)
      await r.arrayBuffer()
      if (r.ok) return
    } catch {}
    await new Promise((r) => setTimeout(r, 100))
  }
  throw new Error(`${url} did not become healthy`)
}

/** The mta proxy with a real-upstream configuration: built (`dist/main.js`) or through tsx. */
const startProxy = async (upstream: string, via: "built" | "tsx") => {
  const port = await freePort()
  const args =
    via === "built" ? ["dist/main.js"] : ["--conditions=@mta/source", "--import", "tsx", "src/main.ts"]
  const started = await launch(
    args,
    {
      PORT: String(port),
      HOST: "127.0.0.1",
      ZH_BASE_URL: upstream,
      ZH_API_KEY: CREDENTIALS.apiKey,
      ZH_API_SECRET: CREDENTIALS.apiSecret,
      ZH_API_PASSPHRASE: CREDENTIALS.passphrase,
      ZH_WEBHOOK_SECRET: "bench-webhook-secret",
      ZH_RATE_LIMIT: "0",
      // Reads do not touch the store; memory keeps runs independent of a data directory in use.
      MTA_STORE: "memory",
      LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? "info",
      MTA_CALLERS: JSON.stringify([
        { name: "bench", token_sha256: Callers.hashToken(TOKEN), scopes: ["accounts:read"] }
      ])
    },
    TEST_CPU
  )
  const url = `http://127.0.0.1:${port}`
  await waitHealthy(url)
  return { url, pid: started.pid }
}

const startPassthrough = async (upstream: string) => {
  const started = await launch(
    [`${here}passthrough.mjs`, upstream, CREDENTIALS.apiKey, CREDENTIALS.apiSecret, CREDENTIALS.passphrase],
    {},
    TEST_CPU,
    /READY (\d+)/
  )
  return { url: `http://127.0.0.1:${started.match![1]}`, pid: started.pid }
}

// ---------------------------------------------------------------------------------------------
// Measurement
// ---------------------------------------------------------------------------------------------

/** CPU time of a process so far, in ms (Linux), or undefined. */
const cpuMs = (pid: number): number | undefined => {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ")
    return (Number(fields[11]) + Number(fields[12])) * 10 // utime + stime, in 100 Hz ticks
  } catch {
    return undefined
  }
}

interface Target {
  readonly name: string
  readonly url: string
  readonly pid: number
  readonly headers: () => Record<string, string>
  /** Moves the process under test to the test CPU for its measurement (the upstream called directly). */
  readonly placeDuring?: boolean
}

interface Run {
  readonly rps: number
  readonly p50: number
  readonly p99: number
  readonly cpuUsPerRequest: number | undefined
  readonly busy: number | undefined
  readonly bad: number
}

interface Figures {
  readonly name: string
  /** Median over the rounds of this target's throughput over (a)'s in the same round. */
  readonly rpsVsPass: number
  /** The same for p99. */
  readonly p99VsPass: number
  readonly rps: number
  readonly p50: number
  readonly p99: number
  readonly cpuUsPerRequest: number | undefined
  readonly busy: number | undefined
  readonly bad: number
}

/**
 * One load of `duration` seconds. Latencies are taken from autocannon's per-response times (fractions
 * of a millisecond) rather than its histogram, which keeps whole milliseconds: at a few milliseconds
 * that would make the p99 ratios coarse.
 */
const load = (target: Target, duration: number) =>
  new Promise<{ readonly result: autocannon.Result; readonly times: Array<number> }>((resolve, reject) => {
    const times: Array<number> = []
    const instance = autocannon(
      { url: target.url, connections: CONNECTIONS, duration, headers: target.headers() },
      (error: unknown, result: autocannon.Result) => (error ? reject(error) : resolve({ result, times }))
    )
    // autocannon emits (client, status, bytes, milliseconds); its typings leave out the client.
    ;(instance as NodeJS.EventEmitter).on("response", (...args: Array<unknown>) => {
      const status = args[1] as number
      if (status >= 200 && status < 300) times.push(args[3] as number)
    })
  })

const measureOnce = async (target: Target): Promise<Run> => {
  if (target.placeDuring === true) pin(target.pid, TEST_CPU)
  try {
    const c0 = cpuMs(target.pid)
    const t0 = performance.now()
    const { result: r, times } = await load(target, DURATION)
    const elapsed = performance.now() - t0
    const c1 = cpuMs(target.pid)
    const used = c0 === undefined || c1 === undefined ? undefined : c1 - c0
    const sorted = Float64Array.from(times).sort()
    return {
      rps: r.requests.average,
      p50: percentile(sorted, 0.5),
      p99: percentile(sorted, 0.99),
      cpuUsPerRequest:
        used === undefined || r.requests.total === 0 ? undefined : (used * 1000) / r.requests.total,
      busy: used === undefined ? undefined : used / elapsed,
      bad: r.errors + r.timeouts + r.non2xx
    }
  } finally {
    if (target.placeDuring === true) pin(target.pid, LOAD_CPU)
  }
}

const medianOf = (xs: ReadonlyArray<number | undefined>): number | undefined =>
  xs.some((x) => x === undefined) ? undefined : median(xs as ReadonlyArray<number>)

/** Warms every target up, then measures them in turn, ROUNDS times; the median of each figure. */
const measureAll = async (label: string, targets: ReadonlyArray<Target>): Promise<Array<Figures>> => {
  for (const target of targets) {
    if (target.placeDuring === true) pin(target.pid, TEST_CPU)
    await load(target, WARMUP_S)
    if (target.placeDuring === true) pin(target.pid, LOAD_CPU)
  }
  const runs = targets.map(() => [] as Array<Run>)
  for (let round = 0; round < ROUNDS; round++) {
    const order = [...targets.keys()]
    if (round % 2 === 1) order.reverse()
    for (const i of order) {
      const target = targets[i]!
      const run = await measureOnce(target)
      runs[i]!.push(run)
      process.stdout.write(
        `${label} round ${round + 1}/${ROUNDS} ${target.name}: ${Math.round(run.rps)} req/s, p50 ${run.p50.toFixed(2)} ms, p99 ${run.p99.toFixed(2)} ms, ${run.cpuUsPerRequest?.toFixed(1) ?? "?"} µs CPU/req, bad ${run.bad}\n`
      )
    }
  }
  const passIndex = targets.findIndex((t) => t.name.startsWith("(a)"))
  const pass = runs[passIndex]!
  return targets.map((target, i) => {
    const r = runs[i]!
    return {
      name: target.name,
      rpsVsPass: median(r.map((x, round) => ratio(x.rps, pass[round]!.rps))),
      p99VsPass: median(r.map((x, round) => ratio(x.p99, pass[round]!.p99))),
      rps: median(r.map((x) => x.rps)),
      p50: median(r.map((x) => x.p50)),
      p99: median(r.map((x) => x.p99)),
      cpuUsPerRequest: medianOf(r.map((x) => x.cpuUsPerRequest)),
      busy: medianOf(r.map((x) => x.busy)),
      bad: r.reduce((n, x) => n + x.bad, 0)
    }
  })
}

const path = (uuid: string) => `/accounts/zrn:zh:us:accounts:customer:${uuid}/details`
const bearer = () => ({ authorization: `Bearer ${TOKEN}` })
/** Signed anew for each measurement: the simulator accepts a timestamp within 60 s. */
const signed = (p: string) => () => Signing.signedHeaders(CREDENTIALS, { method: "GET", path: p })

// ---------------------------------------------------------------------------------------------
// The run
// ---------------------------------------------------------------------------------------------

const build = () => {
  if (process.env.BENCH_BUILD === "0") return
  process.stdout.write("building @mta/server and its workspace dependencies (tsc)...\n")
  const r = spawnSync("pnpm", ["--filter", "@mta/server...", "run", "build"], { cwd: repo, stdio: "inherit" })
  if (r.status !== 0) throw new Error("the build failed")
  if (!existsSync(`${pkg}dist/main.js`) || !existsSync(simulatorBin)) throw new Error("no build output")
}

const standinRun = async () => {
  const standin = await launch([`${here}standin.mjs`], {}, LOAD_CPU, /READY (\d+)/)
  const upstream = `http://127.0.0.1:${standin.match![1]}`
  const pass = await startPassthrough(upstream)
  const mta = await startProxy(upstream, "built")
  // A process of its own, so its decode-every-answer load does not shape the other row's process.
  const mtaDistinct = await startProxy(upstream, "built")
  const mtaTsx = await startProxy(upstream, "tsx")
  const figures = await measureAll("stand-in", [
    {
      name: "upstream called directly",
      url: `${upstream}${path(UUID)}`,
      pid: standin.pid,
      headers: signed(path(UUID)),
      placeDuring: true
    },
    {
      name: "(a) node:http pass-through",
      url: `${pass.url}${path(UUID)}`,
      pid: pass.pid,
      headers: () => ({})
    },
    { name: "mta proxy", url: `${mta.url}${path(UUID)}`, pid: mta.pid, headers: bearer },
    {
      name: "mta proxy, every answer different",
      url: `${mtaDistinct.url}${path(VARY_UUID)}`,
      pid: mtaDistinct.pid,
      headers: bearer
    },
    {
      name: "mta proxy through tsx (`pnpm start`)",
      url: `${mtaTsx.url}${path(UUID)}`,
      pid: mtaTsx.pid,
      headers: bearer
    }
  ])
  const fixedRate = await measurePaced({ rounds: ROUNDS, seconds: DURATION, warmupSeconds: WARMUP_S }, [
    { name: "(a) node:http pass-through", url: `${pass.url}${path(UUID)}`, headers: () => ({}) },
    { name: "mta proxy", url: `${mta.url}${path(UUID)}`, headers: bearer }
  ])
  stopAll()
  return { figures, fixedRate }
}

const simulatorRun = async () => {
  const simPort = await freePort()
  const sim = await launch(
    [
      simulatorBin,
      "--port",
      String(simPort),
      "--rate-limit",
      "0",
      "--seed-demo",
      "--api-key",
      CREDENTIALS.apiKey,
      "--api-secret",
      CREDENTIALS.apiSecret,
      "--passphrase",
      CREDENTIALS.passphrase
    ],
    {},
    LOAD_CPU,
    /listening on (\S+)/
  )
  const upstream = `http://127.0.0.1:${simPort}`
  const body = JSON.stringify({
    participant_code: "CUST01",
    account_label: "bench",
    type: "individual",
    tier: "pro",
    prefunded: false
  })
  const created = await fetch(`${upstream}/accounts`, {
    method: "POST",
    headers: {
      ...Signing.signedHeaders(CREDENTIALS, { method: "POST", path: "/accounts", body }),
      "content-type": "application/json"
    },
    body
  })
  const zrn = ((await created.json()) as { message: { zrn: string } }).message.zrn
  const simPath = `/accounts/${zrn}/details`
  const pass = await startPassthrough(upstream)
  const mta = await startProxy(upstream, "built")
  const figures = await measureAll("simulator", [
    {
      name: "upstream called directly",
      url: `${upstream}${simPath}`,
      pid: sim.pid,
      headers: signed(simPath),
      placeDuring: true
    },
    { name: "(a) node:http pass-through", url: `${pass.url}${simPath}`, pid: pass.pid, headers: () => ({}) },
    { name: "mta proxy", url: `${mta.url}${simPath}`, pid: mta.pid, headers: bearer }
  ])
  stopAll()
  return figures
}

const percent = (x: number) => `${(x * 100).toFixed(0)}%`

const table = (rows: ReadonlyArray<Figures>) =>
  [
    "| target | requests/s | p50 ms | p99 ms | throughput vs (a) | p99 vs (a) | CPU µs per request | CPU busy | errors + non-2xx |",
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ...rows.map(
      (f) =>
        `| ${f.name} | ${Math.round(f.rps).toLocaleString("en-US")} | ${f.p50.toFixed(1)} | ${f.p99.toFixed(1)} | ${percent(f.rpsVsPass)} | ${f.p99VsPass.toFixed(2)} × | ${f.cpuUsPerRequest?.toFixed(0) ?? "–"} | ${f.busy === undefined ? "–" : percent(f.busy)} | ${f.bad} |`
    )
  ].join("\n")

const main = async () => {
  if (canPin) pin(process.pid, LOAD_CPU)
  build()
  const { figures: standin, fixedRate } = await standinRun()
  const simulated = await simulatorRun()

  const mta = standin.find((r) => r.name === "mta proxy")!
  const distinct = standin.find((r) => r.name.startsWith("mta proxy, every"))!
  const throughput = mta.rpsVsPass
  const p99 = mta.p99VsPass
  const met = throughput >= 0.7 && p99 <= 1.5
  const pacedMta = fixedRate.find((r) => r.name === "mta proxy")!
  const budgetMet = throughput >= 0.5 && (pacedMta.p99VsPass <= 1.5 || pacedMta.p99OverPass <= 1)
  const placement = canPin
    ? `CPU ${TEST_CPU}: the process under test alone (either proxy, or the upstream while it is called directly); CPU ${LOAD_CPU}: autocannon (the benchmark's process) and the upstream (\`taskset\`).`
    : "no CPU pinning (fewer than two CPUs, or no `taskset`): the load generator, the upstream and the proxy share the machine."
  const md = `# @mta/server benchmark

Account reads (\`GET /accounts/{zrn}/details\`) on loopback, autocannon with ${CONNECTIONS} connections for every
target, ${ROUNDS} rounds of ${DURATION} s per target after a ${WARMUP_S} s warm-up each, targets measured in turn in
each round (the order reversed every other round); every figure is the median of the rounds, and every ratio to (a) the median of the rounds' ratios
(each round measures (a) and the proxies seconds apart). Latencies are autocannon's per-response times
(2xx only). ${cpus().length} × ${cpus()[0]?.model ?? "CPU"}, Node.js
${process.version}, ${new Date().toISOString().slice(0, 10)}.

**Placement**: ${placement} Every process is plain \`node\` running JavaScript: the proxy as built by \`tsc\`
(\`dist/main.js\`, what the \`mta-server\` bin runs), \`bench/passthrough.mjs\`, \`bench/standin.mjs\`, the
simulator's \`dist/bin.js\`; one extra row runs the proxy through tsx as \`pnpm start\` does.

- **mta proxy**: \`dist/main.js\` with a real-upstream configuration: bearer auth with scope check, ZRN
  parsing, request id, metrics, one JSON log line per request at \`info\` (to \`/dev/null\` here), signing,
  the upstream answer checked with the domain's response Schema and answered as the upstream's bytes;
  the vendor budget (\`ZH_RATE_LIMIT\`) off so it does not cap the run, \`MTA_STORE=memory\` (reads do not
  touch the store).
- **mta proxy, every answer different**: the same proxy (another process) reading an account whose
  record the stand-in changes on every answer, so no answer text repeats and every one is decoded
  (see below).
- **(a) node:http pass-through**: \`bench/passthrough.mjs\`, signs and forwards over a keep-alive agent;
  no caller auth, no validation, no logs.
- **upstream called directly**: the same requests without a proxy (the upstream moved to CPU ${TEST_CPU} meanwhile).
- **CPU µs per request**: CPU time (user + system) of the process under test over the measurement,
  divided by the requests answered; **CPU busy**: that CPU time over the wall time (100% = its whole CPU).

## In front of the instant stand-in (\`bench/standin.mjs\`)

${table(standin)}

**Target** (mta proxy ≥ 70% of (a)'s throughput at the same concurrency, p99 ≤ 1.5 × (a)'s): throughput
**${percent(throughput)}** of (a), p99 **${p99.toFixed(2)} ×** (a)'s — **${met ? "met" : "MISSED"}**. With every answer different:
${percent(distinct.rpsVsPass)} of (a)'s throughput, p99 ${distinct.p99VsPass.toFixed(2)} ×.

### At a fixed ${RATE.toLocaleString("en-US")} requests/s

The same stand-in, (a) and proxy, ${ROUNDS} alternated rounds of ${DURATION} s each after a ${WARMUP_S} s warm-up: requests
sent on an open-loop schedule (each when its time comes) over a keep-alive agent; medians of the rounds.

${pacedTable(fixedRate)}

**Budget** (issue 11: the proxy keeps ≥ 50% of (a)'s saturation throughput, and at ${RATE.toLocaleString("en-US")} requests/s
its p99 stays within 1.5 × (a)'s or 1 ms above it): throughput **${percent(throughput)}**, p99 at
${RATE.toLocaleString("en-US")}/s **${pacedMta.p99VsPass.toFixed(2)} ×** (a)'s, **${pacedMta.p99OverPass.toFixed(2)} ms** above it — **${budgetMet ? "met" : "MISSED"}**.

## In front of the testkit simulator (\`mta-simulator\`, rate limit off)

${table(simulated)}

The simulator costs about twice the stand-in's CPU per request and shares CPU ${LOAD_CPU} with the load generator;
the proxy under test on CPU ${TEST_CPU} is still what limits each row.

${readFileSync(`${here}ANALYSIS.md`, "utf8").trim()}

Rerun: \`pnpm bench\` at the repository root (all packages), or \`pnpm -C packages/server bench\` (builds
\`@mta/server\` and its workspace dependencies first; \`BENCH_BUILD=0\` skips that). \`BENCH_ROUNDS\`,
\`BENCH_DURATION_S\`, \`BENCH_CONNECTIONS\`, \`BENCH_LOG_LEVEL\` and \`BENCH_PIN=0\` change the run. Absolute
figures vary with the machine and its load (other work on the same machine shows as lower, more spread
rounds); the ratios to (a), measured in the same run, are the comparable figures.
`
  writeResults("RESULTS.md", md)
  process.stdout.write(
    `\nthroughput ${percent(throughput)} of (a), p99 ${p99.toFixed(2)}x: ${met ? "met" : "MISSED"} (every answer different: ${percent(distinct.rpsVsPass)}, ${distinct.p99VsPass.toFixed(2)}x); at ${RATE}/s p99 ${pacedMta.p99VsPass.toFixed(2)}x, +${pacedMta.p99OverPass.toFixed(2)} ms; budget ${budgetMet ? "met" : "MISSED"}\n`
  )
}

runBench(main, stopAll)
