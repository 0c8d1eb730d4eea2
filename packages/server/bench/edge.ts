/**
 * The proxy's edge under hostile input (`production.md` §1), measured on the proxy process started as
 * `pnpm start` starts it (node with tsx's loader on `src/main.ts`, the embedded default, in-memory
 * store):
 *
 * - **Resident memory under a 50 MB body**: for each case (authenticated `POST /accounts` with
 *   `Content-Length` and chunked, `POST /webhooks/zerohash` unauthenticated with `Content-Length` and
 *   chunked, unauthenticated `POST /accounts` chunked), a fresh proxy is sent the body streamed from one
 *   reused 64 KiB chunk; the growth is the peak resident size (the kernel's `VmHWM`, reset just before,
 *   or 10 ms samples where that is not allowed) and the settled size after, each minus the size before.
 *   Target: < 64 MB.
 * - **Event-loop delay under the worst accepted inputs**: prom-client's
 *   `nodejs_eventloop_lag_max_seconds` (reset by each scrape) around the load: each input alone,
 *   one request at a time and EDGE_CONCURRENCY at a time, then all inputs mixed, EDGE_TOTAL requests,
 *   each with a fresh `Idempotency-Key`. Target: < 50 ms (no synchronous step over 50 ms).
 *
 * The inputs and probes are those of `test/Edge.test.ts` (`test/support/edge.ts`). On a machine with
 * two or more CPUs the proxy runs alone on CPU 1 and this process (the load) on CPU 0 (`taskset`).
 *
 * Writes `bench/EDGE-RESULTS.md`. Rerun: `pnpm -C packages/server bench` (all benchmarks), or this one
 * alone from `packages/server`: `tsx --conditions=@mta/source bench/edge.ts`. EDGE_BODY_MB (default
 * 50), EDGE_TOTAL (200), EDGE_CONCURRENCY (4), EDGE_ROUNDS (3) and BENCH_PIN=0 change the run.
 */
import { cpus, loadavg } from "node:os"
import {
  API_BODY_LIMIT,
  cpuMs,
  EVENT_LOOP_LAG_LIMIT_S,
  type HugeBodyCase,
  type HugeBodyOutcome,
  hugeBodyCases,
  idleEventLoopMax,
  MiB,
  mb,
  measureHugeBody,
  RSS_GROWTH_LIMIT,
  type RssGrowth,
  scrapeEventLoopMax,
  sendWorstLoad,
  type WorstInput,
  worstInputs
} from "../test/support/edge.js"
import { freePort, type ProxyProcess, startProxyProcess } from "../test/support.js"
import { canPin, LOAD_CPU, pin, runBench, TEST_CPU, writeResults } from "./support.js"

const BODY_MB = Number(process.env.EDGE_BODY_MB ?? 50)
const TOTAL = Number(process.env.EDGE_TOTAL ?? 200)
const CONCURRENCY = Number(process.env.EDGE_CONCURRENCY ?? 4)
const ROUNDS = Number(process.env.EDGE_ROUNDS ?? 3)
/** Requests per input and round when each input is measured alone. */
const PER_INPUT = 40
const TOKEN = "dev-token"
/** Over this idle lag the machine is too busy for the lag figures to describe the proxy alone. */
const IDLE_QUIET_S = 0.025

// ---------------------------------------------------------------------------------------------
// Processes (placed as in bench/run.ts: `bench/support.ts`)
// ---------------------------------------------------------------------------------------------

const running: Array<ProxyProcess> = []
const start = async (env: Record<string, string>): Promise<ProxyProcess> => {
  const proxy = await startProxyProcess(env, await freePort())
  running.push(proxy)
  pin(proxy.child.pid!, TEST_CPU)
  return proxy
}
const stopAll = () => {
  for (const proxy of running) if (proxy.child.exitCode === null) proxy.child.kill("SIGKILL")
  running.length = 0
}
process.on("exit", stopAll)

const log = (line: string) => process.stdout.write(`${line}\n`)
const ms = (seconds: number | undefined) => (seconds === undefined ? "–" : `${(seconds * 1000).toFixed(1)}`)

// ---------------------------------------------------------------------------------------------
// Resident memory under a huge body
// ---------------------------------------------------------------------------------------------

interface RssRow {
  readonly c: HugeBodyCase
  readonly outcome: HugeBodyOutcome
  readonly growth: RssGrowth
  readonly met: boolean
}

const rssCase = async (c: HugeBodyCase): Promise<RssRow> => {
  const proxy = await start({ MTA_STORE: "memory", LOG_LEVEL: "warn" })
  try {
    const { growth, result } = await measureHugeBody(proxy, c, BODY_MB * MiB)
    const statusOk =
      result.status === undefined
        ? result.errorCode === "EPIPE" || result.errorCode === "ECONNRESET"
        : c.statuses.includes(result.status)
    const met =
      statusOk &&
      !result.stalled &&
      growth.peakGrowth < RSS_GROWTH_LIMIT &&
      growth.settledGrowth < RSS_GROWTH_LIMIT &&
      (!c.mustStopReading || !result.wroteAll)
    log(
      `rss ${c.name}: status ${result.status ?? result.errorCode ?? "none"}, ${mb(result.bytesWritten)} written, growth peak ${mb(growth.peakGrowth)} settled ${mb(growth.settledGrowth)}: ${met ? "met" : "MISSED"}`
    )
    return { c, outcome: result, growth, met }
  } finally {
    await proxy.stop("SIGKILL")
  }
}

// ---------------------------------------------------------------------------------------------
// Event-loop delay under the worst accepted inputs
// ---------------------------------------------------------------------------------------------

interface InputRow {
  readonly input: WorstInput
  readonly status: string
  readonly responseBytes: number
  /** Max lag per round, one request at a time. */
  readonly sequential: ReadonlyArray<number | undefined>
  /** Max lag per round, CONCURRENCY at a time. */
  readonly concurrent: ReadonlyArray<number | undefined>
  /** The proxy's CPU time per request, one at a time (median of the rounds), in ms. */
  readonly cpuPerRequest: number | undefined
}

const median = (xs: ReadonlyArray<number | undefined>): number | undefined => {
  const d = xs.filter((x): x is number => x !== undefined).sort((a, b) => a - b)
  if (d.length === 0) return undefined
  const mid = Math.floor(d.length / 2)
  return d.length % 2 === 1 ? d[mid]! : (d[mid - 1]! + d[mid]!) / 2
}

interface Lag {
  readonly max: number | undefined
  /** The proxy's CPU time per request over the load, in ms. */
  readonly cpu: number | undefined
  readonly statuses: string
}

const lagOf = async (
  url: string,
  pid: number,
  inputs: ReadonlyArray<WorstInput>,
  total: number,
  concurrency: number
): Promise<Lag> => {
  await scrapeEventLoopMax(url)
  const cpu0 = cpuMs(pid)
  const load = await sendWorstLoad(url, TOKEN, inputs, { total, concurrency })
  const max = await scrapeEventLoopMax(url)
  const cpu1 = cpuMs(pid)
  const cpu = cpu0 === undefined || cpu1 === undefined ? undefined : (cpu1 - cpu0) / total
  const statuses = Object.entries(load.statuses)
    .map(([name, s]) => `${name} ${JSON.stringify(s)}`)
    .join("; ")
  return {
    max,
    cpu,
    statuses: load.failures.length > 0 ? `${statuses}; ${load.failures.length} failed` : statuses
  }
}

const eventLoop = async () => {
  const proxy = await start({ MTA_STORE: "memory" })
  try {
    const inputs = worstInputs()
    const pid = proxy.child.pid!
    const idle = await idleEventLoopMax(proxy.url)
    const rows: Array<InputRow> = []
    for (const input of inputs) {
      const r = await fetch(`${proxy.url}${input.path}`, {
        method: "POST",
        headers: {
          authorization: `Bearer ${TOKEN}`,
          "content-type": "application/json",
          "idempotency-key": crypto.randomUUID()
        },
        body: input.body
      })
      const text = await r.text()
      const sequential: Array<number | undefined> = []
      const concurrent: Array<number | undefined> = []
      const cpu: Array<number | undefined> = []
      for (let round = 0; round < ROUNDS; round++) {
        const alone = await lagOf(proxy.url, pid, [input], PER_INPUT, 1)
        sequential.push(alone.max)
        cpu.push(alone.cpu)
        concurrent.push((await lagOf(proxy.url, pid, [input], PER_INPUT, CONCURRENCY)).max)
      }
      const cpuPerRequest = median(cpu)
      log(
        `lag ${input.name}: ${r.status}, answer ${Buffer.byteLength(text)} bytes, CPU ${cpuPerRequest?.toFixed(1) ?? "?"} ms/request; max ms alone ${sequential.map(ms).join(" ")}, ${CONCURRENCY} at a time ${concurrent.map(ms).join(" ")}`
      )
      rows.push({
        input,
        status: String(r.status),
        responseBytes: Buffer.byteLength(text),
        sequential,
        concurrent,
        cpuPerRequest
      })
    }
    const mixed: Array<Lag> = []
    for (let round = 0; round < ROUNDS; round++) {
      const m = await lagOf(proxy.url, pid, inputs, TOTAL, CONCURRENCY)
      log(
        `lag mixed round ${round + 1}: max ${ms(m.max)} ms, CPU ${m.cpu?.toFixed(1) ?? "?"} ms/request (${m.statuses})`
      )
      mixed.push(m)
    }
    return { idle, rows, mixed }
  } finally {
    await proxy.stop("SIGKILL")
  }
}

// ---------------------------------------------------------------------------------------------
// The run
// ---------------------------------------------------------------------------------------------

const defined = (xs: ReadonlyArray<number | undefined>) => xs.filter((x): x is number => x !== undefined)
const least = (xs: ReadonlyArray<number | undefined>) =>
  defined(xs).length === 0 ? undefined : Math.min(...defined(xs))
const most = (xs: ReadonlyArray<number | undefined>) =>
  defined(xs).length === 0 ? undefined : Math.max(...defined(xs))

const main = async () => {
  if (canPin) pin(process.pid, LOAD_CPU)
  const load = loadavg()
  const rss: Array<RssRow> = []
  for (const c of hugeBodyCases(TOKEN)) rss.push(await rssCase(c))
  const lag = await eventLoop()

  const mixedBest = least(lag.mixed.map((m) => m.max))
  const mixedWorst = most(lag.mixed.map((m) => m.max))
  const lagMet = mixedBest !== undefined && mixedBest < EVENT_LOOP_LAG_LIMIT_S
  const busy = lag.idle === undefined || lag.idle >= IDLE_QUIET_S
  const rssMet = rss.every((r) => r.met)
  const placement = canPin
    ? `CPU ${TEST_CPU}: the proxy alone; CPU ${LOAD_CPU}: this process, which sends the load (\`taskset\`).`
    : "no CPU pinning (fewer than two CPUs, no `taskset`, or BENCH_PIN=0): the load and the proxy share the machine."

  const rssTable = [
    "| case | answer | body written | RSS before | peak growth | settled growth | target |",
    "|---|---|---:|---:|---:|---:|---|",
    ...rss.map(
      (r) =>
        `| ${r.c.name} | ${r.outcome.status ?? `no status (${r.outcome.errorCode ?? "none"})`}${r.outcome.stalled ? ", stalled" : ""} | ${mb(r.outcome.bytesWritten)}${r.outcome.wroteAll ? " (all)" : ""} | ${mb(r.growth.before)} | ${mb(r.growth.peakGrowth)} (${r.growth.peakSource}) | ${mb(r.growth.settledGrowth)} | ${r.met ? "met" : "**MISSED**"} |`
    )
  ].join("\n")

  const lagTable = [
    `| input | bytes | answer | answer bytes | proxy CPU per request, alone (ms) | max lag, alone (ms, per round) | max lag, ${CONCURRENCY} at a time (ms, per round) |`,
    "|---|---:|---|---:|---:|---|---|",
    ...lag.rows.map(
      (r) =>
        `| ${r.input.name} | ${Buffer.byteLength(r.input.body).toLocaleString("en-US")} | ${r.status} | ${r.responseBytes.toLocaleString("en-US")} | ${r.cpuPerRequest?.toFixed(1) ?? "–"} | ${r.sequential.map(ms).join(", ")} | ${r.concurrent.map(ms).join(", ")} |`
    )
  ].join("\n")

  const md = `# @mta/server edge benchmark

What a hostile or broken request can cost the proxy (\`production.md\` §1), on the proxy process as
\`pnpm start\` runs it (node with tsx's loader on \`src/main.ts\`), embedded default, \`MTA_STORE=memory\`.
${cpus().length} × ${cpus()[0]?.model ?? "CPU"}, Node.js ${process.version}, ${new Date().toISOString().slice(0, 10)}
(load average at the start ${load.map((l) => l.toFixed(2)).join(" ")}).

**Placement**: ${placement}

## Resident memory while a ${BODY_MB} MB body is sent

A fresh proxy per case; the body is streamed from one reused 64 KiB chunk, and the sender stops at the
first answer (or when the proxy closes the connection). Growth is the resident size minus the size
before: **peak** is the kernel's high-water mark (\`VmHWM\`, reset just before the send) or, where that
is not allowed, the highest of samples every 10 ms; **settled** is the lowest of four readings 250 ms
apart after the send. Target: under ${mb(RSS_GROWTH_LIMIT)} for every case, a 413 (a 401 allowed for the
unauthenticated API request), and for every 413 the body not read to its end.

${rssTable}

**Target ${rssMet ? "met" : "MISSED"}.**

## Event-loop delay under the worst inputs that pass the limits

prom-client's \`nodejs_eventloop_lag_max_seconds\` (Node's \`monitorEventLoopDelay\`, reset at each
scrape): scraped, the load sent, scraped again. Every input is under ${API_BODY_LIMIT.toLocaleString("en-US")} bytes and within
the field limits (nesting ≤ 32, arrays ≤ 100 items, strings ≤ 1,024 characters); every request has a
fresh \`Idempotency-Key\`. Idle (1 s, no load): ${ms(lag.idle)} ms.${busy ? ` **The machine was busy** (the idle figure is ${IDLE_QUIET_S * 1000} ms or more): the lags below include time the proxy waited for a CPU; the CPU time per request is the figure of the proxy alone.` : ""}

**Proxy CPU per request** is the proxy process's CPU time (user + system, 10 ms ticks) over a round of
one request at a time, divided by its requests (median of the rounds): work that other load on the
machine does not inflate, unlike the lag. Most of it is one synchronous run per request (read, parse,
check, answer), so a figure near or over 50 ms points at a step over the target.

- **many-keys**: a create with as many short extra keys as fit, shuffled;
- **deep-wide**: as many 32-deep chains (objects and arrays alternating) as fit;
- **arrays-100**: \`tenants\` and \`financial_advisors\` of 100 items each, strings as long as fit;
- **arrays-1024**: 1,024-character strings, as many as fit;
- **long-strings**: 1,024-character keys with 1,024-character values, as many as fit;
- **schema-valid**: a create that decodes (fingerprinted, checked, sent to the simulator): a
  255-character label, 100 distinct tenants and 100 distinct advisors.

Each input alone, ${PER_INPUT} requests per round, ${ROUNDS} rounds:

${lagTable}

All inputs mixed, ${TOTAL} requests, ${CONCURRENCY} at a time, ${ROUNDS} rounds: max lag per round
${lag.mixed.map((m) => `${ms(m.max)} ms`).join(", ")} (proxy CPU per request ${lag.mixed.map((m) => `${m.cpu?.toFixed(1) ?? "–"} ms`).join(", ")}) (best ${ms(mixedBest)} ms, worst ${ms(mixedWorst)} ms). Answers:
${lag.mixed[0]?.statuses ?? "–"}.

**Target** (max < ${EVENT_LOOP_LAG_LIMIT_S * 1000} ms in the best round; a step that long on some input recurs in
every round, while other work on the machine does not): **${lagMet ? "met" : "MISSED"}**.

## Rerun

From \`packages/server\`: \`tsx --conditions=@mta/source bench/edge.ts\` (or \`pnpm bench\`, which runs every
benchmark of the package). \`EDGE_BODY_MB\` (default 50), \`EDGE_TOTAL\` (200), \`EDGE_CONCURRENCY\` (4),
\`EDGE_ROUNDS\` (3) and \`BENCH_PIN=0\` change the run. The same probes run as assertions in
\`test/Edge.test.ts\`. Event-loop figures include any time the proxy's CPU was taken by other work, so
they are only comparable on a quiet machine.
`
  const results = writeResults("EDGE-RESULTS.md", md)
  log(
    `\nRSS: ${rssMet ? "met" : "MISSED"}; event-loop max (best round): ${ms(mixedBest)} ms: ${lagMet ? "met" : "MISSED"}`
  )
  log(`wrote ${results}`)
}

runBench(main, stopAll)
