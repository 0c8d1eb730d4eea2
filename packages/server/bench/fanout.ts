/**
 * Fan-out at scale: the built proxy (`dist/main.js`) in front of a standalone simulator
 * (`mta-simulator`, `dist/bin.js`, webhooks held until the benchmark settles them), with
 * BENCH_FANOUT_POLLS long polls (`GET /accounts/{zrn}/status?wait_for=`, spread over 20 accounts) and
 * BENCH_FANOUT_STREAMS event-stream clients (`GET /events`, every event) waiting, all on loopback.
 *
 * Each round sends the 20 commands (lock, then unlock the round after), then has the simulator deliver
 * the 20 webhooks at once (`POST /__simulator/settle`, the instant `t0`). Measured per round:
 * - **notification latency**: from `t0` to the arrival at the waiting client of each long poll's answer
 *   and of each event frame on each stream (every stream gets all 20 events);
 * - **`/healthz` latency during the storm**: every BENCH_FANOUT_PROBE_MS a probe on an idle keep-alive
 *   connection and one on a new connection, from `t0` until the last notification arrived;
 * - **event-loop max**: prom-client's `nodejs_eventloop_lag_max_seconds`, scraped just before
 *   `t0` (which resets it) and after the storm;
 * - **the proxy's CPU time** during the storm, and its resident size before the waiters, before the
 *   storm and at its peak during it.
 * Round 0 is the same storm with nobody waiting (the baseline).
 *
 * Clients are raw sockets (one request text, arrival times taken on each chunk), so the load generator
 * stays cheap. On two or more CPUs the proxy runs alone on CPU 1 and this process and the simulator on
 * CPU 0 (`taskset`). Writes `bench/FANOUT-RESULTS.md`. Rerun from `packages/server`:
 * `tsx --conditions=@mta/source bench/fanout.ts` (builds first; BENCH_BUILD=0 skips that), or
 * `pnpm -C packages/server bench` (every benchmark). Bounded: BENCH_FANOUT_ROUNDS (default 5) rounds,
 * each waiting at most 30 s; BENCH_FANOUT_MAIN runs another build of the proxy (a path to its main.js).
 */
import { spawnSync } from "node:child_process"
import { existsSync, readFileSync, writeFileSync } from "node:fs"
import { connect, type Socket } from "node:net"
import { cpus } from "node:os"
import { monitorEventLoopDelay } from "node:perf_hooks"
import { fileURLToPath } from "node:url"
import { Callers } from "@mta/server"
import { canPin, cpuMs, cpuPressure, fileLimit, freePort, launch, memory, stopAll } from "./processes.js"

const POLLS = Number(process.env.BENCH_FANOUT_POLLS ?? 2_000)
const STREAMS = Number(process.env.BENCH_FANOUT_STREAMS ?? 1_000)
const ROUNDS = Number(process.env.BENCH_FANOUT_ROUNDS ?? 5)
const PROBE_MS = Number(process.env.BENCH_FANOUT_PROBE_MS ?? 5)
const ACCOUNTS = 20
const ROUND_TIMEOUT_MS = 30_000
const TOKEN = "fanout-token"
const WEBHOOK_SECRET = "fanout-webhook-secret"
const CREDENTIALS = {
  apiKey: "fanout-key",
  apiSecret: Buffer.from("fanout-secret-fanout-secret").toString("base64"),
  passphrase: "fanout-pass"
}
const pkg = fileURLToPath(new URL("..", import.meta.url))
const repo = fileURLToPath(new URL("../../..", import.meta.url))
const simulatorBin = fileURLToPath(new URL("../../testkit/dist/bin.js", import.meta.url))
const proxyMain = process.env.BENCH_FANOUT_MAIN ?? `${pkg}dist/main.js`

// ---------------------------------------------------------------------------------------------
// Raw HTTP clients
// ---------------------------------------------------------------------------------------------

let port = 0
/** Connections that failed once open (reset, refused): counted, never thrown. */
let socketErrors = 0
const open = (): Promise<Socket> =>
  new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1")
    socket.setNoDelay(true)
    socket.once("connect", () => {
      socket.off("error", reject)
      socket.on("error", () => socketErrors++)
      resolve(socket)
    })
    socket.once("error", reject)
  })
const get = (path: string) =>
  `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAuthorization: Bearer ${TOKEN}\r\n\r\n`

/** Opens `count` sockets, `batch` at a time (the listen backlog is finite). */
const openMany = async (count: number, batch = 100): Promise<Array<Socket>> => {
  const sockets: Array<Socket> = []
  while (sockets.length < count) {
    sockets.push(
      ...(await Promise.all(Array.from({ length: Math.min(batch, count - sockets.length) }, open)))
    )
  }
  return sockets
}

const EVENT = "event: customer_account_status_changed"

/** An event stream: the arrival time (ms after `t0`) of each event frame since the last reset. */
interface Stream {
  readonly socket: Socket
  arrivals: Array<number>
  opened: boolean
  chunks: number
}

/** A long poll connection: the answer of its current request, when it arrived (ms after `t0`). */
interface Poll {
  readonly socket: Socket
  text: string
  at: number | undefined
}

let t0 = 0
/** Notifications still expected in the current round (an arrival counts down; none is counted twice). */
let remaining = 0
let onArrival = () => {}

const startStream = (socket: Socket): Stream => {
  const stream: Stream = { socket, arrivals: [], opened: false, chunks: 0 }
  let tail = ""
  socket.on("data", (chunk: Buffer) => {
    stream.chunks++
    const now = performance.now() - t0
    const text = tail + chunk.toString("latin1")
    if (!stream.opened && text.includes("\r\n\r\n")) stream.opened = true
    for (let i = text.indexOf(EVENT); i >= 0; i = text.indexOf(EVENT, i + 1)) {
      if (stream.arrivals.push(now) <= ACCOUNTS) remaining--
    }
    tail = text.slice(-(EVENT.length - 1))
    if (remaining === 0) onArrival()
  })
  socket.write(get("/events"))
  return stream
}

const startPoll = (socket: Socket): Poll => {
  const poll: Poll = { socket, text: "", at: undefined }
  socket.on("data", (chunk: Buffer) => {
    if (poll.at === undefined) {
      poll.at = performance.now() - t0
      remaining--
    }
    poll.text += chunk.toString("latin1")
    if (remaining === 0) onArrival()
  })
  return poll
}

/**
 * `/healthz` probes every PROBE_MS: one on an idle keep-alive connection (opened beforehand) and one on
 * a new connection, as a kubelet probes. Latency (ms) by send time (ms after `t0`).
 */
const prober = async () => {
  const idle = await openMany(8)
  const samples: Array<{ sent: number; ms: number; fresh: boolean }> = []
  const live = new Set<Socket>()
  const send = async (fresh: boolean) => {
    const socket = fresh ? await open() : (idle.pop() ?? (await open()))
    live.add(socket)
    const sent = performance.now()
    let text = ""
    const onData = (chunk: Buffer) => {
      text += chunk.toString("latin1")
      if (!text.includes("}")) return
      socket.off("data", onData)
      samples.push({ sent: sent - t0, ms: performance.now() - sent, fresh })
      if (fresh) {
        live.delete(socket)
        socket.destroy()
      } else idle.push(socket)
    }
    socket.on("data", onData)
    socket.write(get("/healthz"))
  }
  const timer = setInterval(() => {
    for (const fresh of [false, true]) send(fresh).catch(() => socketErrors++)
  }, PROBE_MS)
  return {
    samples,
    stop: () => {
      clearInterval(timer)
      for (const s of live) s.destroy()
    }
  }
}

// ---------------------------------------------------------------------------------------------
// The proxy's API
// ---------------------------------------------------------------------------------------------

let base = ""
let simUrl = ""
const auth = { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" }

const call = async (path: string, init: RequestInit = {}) => {
  const r = await fetch(`${base}${path}`, { ...init, headers: auth })
  const text = await r.text()
  if (r.status >= 300) throw new Error(`${init.method ?? "GET"} ${path}: ${r.status} ${text}`)
  return text
}
const settle = async () => {
  const r = await fetch(`${simUrl}/__simulator/settle`, { method: "POST" })
  if (!r.ok) throw new Error(`settle answered ${r.status}`)
}
const metric = async (name: string): Promise<number> => {
  const text = await (await fetch(`${base}/metrics`)).text()
  return Number(new RegExp(`^${name} (\\S+)$`, "m").exec(text)?.[1] ?? Number.NaN)
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const until = async (what: string, ok: () => boolean | Promise<boolean>, ms = ROUND_TIMEOUT_MS) => {
  const deadline = performance.now() + ms
  while (!(await ok())) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(50)
  }
}

// ---------------------------------------------------------------------------------------------
// Rounds
// ---------------------------------------------------------------------------------------------

const percentile = (xs: ReadonlyArray<number>, q: number): number => {
  if (xs.length === 0) return Number.NaN
  const s = Float64Array.from(xs).sort()
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))]!
}
const median = (xs: ReadonlyArray<number>) => percentile(xs, 0.5)

interface Round {
  readonly round: number
  readonly command: "lock" | "unlock"
  readonly waiters: number
  readonly notifications: number
  readonly missing: number
  readonly p50: number
  readonly p99: number
  readonly pollP99: number
  readonly streamP99: number
  readonly last: number
  readonly healthzP99: number
  readonly freshP99: number
  readonly probes: number
  readonly writes: number
  readonly pressure: number
  readonly loopMaxMs: number
  readonly cpuMs: number
  readonly benchLoopMaxMs: number
  readonly rssBefore: number
  readonly rssPeak: number
}

const runRound = async (
  round: number,
  zrns: ReadonlyArray<string>,
  streams: ReadonlyArray<Stream>,
  polls: ReadonlyArray<Poll>,
  pid: number
): Promise<Round> => {
  const command = round % 2 === 0 ? "lock" : "unlock"
  const target = command === "lock" ? "locked" : "open"
  for (const s of streams) {
    s.arrivals = []
    s.chunks = 0
  }
  polls.forEach((p, i) => {
    p.text = ""
    p.at = undefined
    p.socket.write(get(`/accounts/${zrns[i % ACCOUNTS]}/status?wait_for=${target}&timeout_ms=60000`))
  })
  await until("the long polls", async () => (await metric("mta_long_polls_waiting")) >= polls.length)
  await Promise.all(zrns.map((zrn) => call(`/accounts/${zrn}/${command}`, { method: "POST", body: "{}" })))
  await sleep(500)
  const probes = await prober()
  await sleep(500)
  const rssBefore = memory(pid).rss
  let rssPeak = rssBefore
  const sampler = setInterval(() => {
    rssPeak = Math.max(rssPeak, memory(pid).rss)
  }, 20)
  await metric("nodejs_eventloop_lag_max_seconds") // resets the proxy's histogram
  const benchLoop = monitorEventLoopDelay({ resolution: 5 })
  benchLoop.enable()
  const done = new Promise<void>((resolve) => {
    onArrival = resolve
  })
  remaining = polls.length + streams.length * ACCOUNTS
  const cpu0 = cpuMs(pid)
  t0 = performance.now()
  const settled = settle()
  if (polls.length + streams.length > 0) await Promise.race([done, sleep(ROUND_TIMEOUT_MS)])
  await settled
  const end = performance.now() - t0
  const cpu = cpuMs(pid) - cpu0
  onArrival = () => {}
  await sleep(100)
  const loopMax = await metric("nodejs_eventloop_lag_max_seconds")
  benchLoop.disable()
  clearInterval(sampler)
  probes.stop()

  const pollTimes = polls.map((p) => p.at ?? Number.POSITIVE_INFINITY)
  const streamTimes = streams.flatMap((s) => s.arrivals)
  const all = [...pollTimes, ...streamTimes]
  const expected = polls.length + streams.length * ACCOUNTS
  const answered = polls.filter(
    (p) => p.text.includes(`"status":"${target}"`) && p.text.includes('"timed_out":false')
  )
  const missing = polls.length - answered.length + Math.max(0, streams.length * ACCOUNTS - streamTimes.length)
  const last = all.length === 0 ? end : Math.max(...all.filter(Number.isFinite), 0)
  const storm = probes.samples.filter((s) => s.sent >= 0 && s.sent <= Math.max(last, end))
  return {
    round,
    command,
    waiters: polls.length + streams.length,
    notifications: expected,
    missing,
    p50: median(all),
    p99: percentile(all, 0.99),
    pollP99: percentile(pollTimes, 0.99),
    streamP99: percentile(streamTimes, 0.99),
    last,
    healthzP99: percentile(
      storm.filter((s) => !s.fresh).map((s) => s.ms),
      0.99
    ),
    freshP99: percentile(
      storm.filter((s) => s.fresh).map((s) => s.ms),
      0.99
    ),
    probes: storm.length,
    writes: median(streams.map((s) => s.chunks)),
    pressure: cpuPressure(),
    loopMaxMs: loopMax * 1000,
    cpuMs: cpu,
    benchLoopMaxMs: benchLoop.max / 1e6,
    rssBefore,
    rssPeak
  }
}

// ---------------------------------------------------------------------------------------------
// The run
// ---------------------------------------------------------------------------------------------

const ms = (x: number) => (Number.isFinite(x) ? x.toFixed(x < 10 ? 1 : 0) : "–")

const main = async () => {
  const needed = POLLS + STREAMS + 200
  if (fileLimit() < needed) {
    throw new Error(`this process may open ${fileLimit()} files, the run needs ${needed}: raise ulimit -n`)
  }
  if (canPin) spawnSync("taskset", ["-a", "-p", "-c", "0", String(process.pid)], { stdio: "ignore" })
  if (process.env.BENCH_BUILD !== "0") {
    process.stdout.write("building @mta/server and its workspace dependencies (tsc)...\n")
    const r = spawnSync("pnpm", ["--filter", "@mta/server...", "run", "build"], {
      cwd: repo,
      stdio: "inherit"
    })
    if (r.status !== 0) throw new Error("the build failed")
  }
  port = await freePort()
  base = `http://127.0.0.1:${port}`
  const simPort = await freePort()
  simUrl = `http://127.0.0.1:${simPort}`
  // Every status change waits for `settle`: the benchmark decides when the webhooks leave.
  await launch(
    [
      simulatorBin,
      ...["--port", String(simPort), "--rate-limit", "0", "--seed-demo", "--async-delay-ms", "3600000"],
      ...["--api-key", CREDENTIALS.apiKey, "--api-secret", CREDENTIALS.apiSecret],
      ...["--passphrase", CREDENTIALS.passphrase, "--webhook-secret", WEBHOOK_SECRET],
      ...["--webhook-url", `${base}/webhooks/zerohash`]
    ],
    {},
    0,
    /listening on/,
    1_000
  )
  const nodeArgs = (process.env.BENCH_FANOUT_NODE_ARGS ?? "").split(" ").filter((a) => a !== "")
  const proxy = await launch(
    [...nodeArgs, proxyMain],
    {
      PORT: String(port),
      HOST: "127.0.0.1",
      ZH_BASE_URL: simUrl,
      ZH_API_KEY: CREDENTIALS.apiKey,
      ZH_API_SECRET: CREDENTIALS.apiSecret,
      ZH_API_PASSPHRASE: CREDENTIALS.passphrase,
      ZH_WEBHOOK_SECRET: WEBHOOK_SECRET,
      ZH_RATE_LIMIT: "0",
      MTA_STORE: process.env.BENCH_FANOUT_STORE ?? "memory",
      LOG_LEVEL: process.env.BENCH_FANOUT_LOG_LEVEL ?? "info",
      MTA_CALLERS: JSON.stringify([
        { name: "fanout", token_sha256: Callers.hashToken(TOKEN), scopes: Callers.allScopes }
      ])
    },
    1,
    /mta proxy listening/,
    POLLS + STREAMS + 1_000
  )
  const zrns: Array<string> = []
  for (let i = 1; i <= ACCOUNTS; i++) {
    const body = JSON.stringify({
      participant_code: `CUST${String(i).padStart(2, "0")}`,
      account_label: `fanout-${i}`,
      type: "individual",
      tier: "pro",
      prefunded: false
    })
    const created = JSON.parse(await call("/accounts", { method: "POST", body })) as Record<string, unknown>
    zrns.push(((created.message ?? created) as { zrn: string }).zrn)
  }
  await settle()
  for (const zrn of zrns)
    await until(`${zrn} open`, async () => (await call(`/accounts/${zrn}/status`)).includes('"open"'))
  const idle = memory(proxy.pid).rss

  const rounds: Array<Round> = []
  // Round 0: the same storm with nobody waiting.
  rounds.push(await runRound(0, zrns, [], [], proxy.pid))
  const streams = (await openMany(STREAMS)).map(startStream)
  await until("the event streams", () => streams.every((s) => s.opened))
  const polls = (await openMany(POLLS)).map(startPoll)
  for (let round = 1; round <= ROUNDS; round++)
    rounds.push(await runRound(round, zrns, streams, polls, proxy.pid))
  // A graceful stop (SIGTERM drains the hub), so a profile asked for in BENCH_FANOUT_NODE_ARGS is written.
  process.kill(proxy.pid, "SIGTERM")
  await until("the proxy to stop", () => !existsSync(`/proc/${proxy.pid}`), 20_000).catch(() => {})
  for (const s of [...streams.map((x) => x.socket), ...polls.map((x) => x.socket)]) s.destroy()
  stopAll()

  const loaded = rounds.slice(1)
  const pick = (f: (r: Round) => number) => median(loaded.map(f))
  const row = (r: Round) =>
    `| ${[r.round, r.command, r.notifications.toLocaleString("en-US"), r.missing]
      .concat([r.p50, r.p99, r.pollP99, r.streamP99, r.last, r.healthzP99, r.freshP99].map(ms))
      .concat([r.loopMaxMs, r.cpuMs, r.writes, r.rssBefore, r.rssPeak, r.benchLoopMaxMs].map(ms))
      .concat([ms(r.pressure)])
      .join(" | ")} |`
  for (const r of rounds) process.stdout.write(`${row(r)}\n`)
  const p99 = pick((r) => r.p99)
  const healthz = pick((r) => r.healthzP99)
  const met = p99 <= 250 && healthz <= 50 && loaded.every((r) => r.missing === 0)
  const main = proxyMain === `${pkg}dist/main.js` ? "dist/main.js" : proxyMain
  const md = `# @mta/server fan-out benchmark

${POLLS.toLocaleString("en-US")} long polls (\`GET /accounts/{zrn}/status?wait_for=\`, ${POLLS / ACCOUNTS} on each of ${ACCOUNTS} accounts) and
${STREAMS.toLocaleString("en-US")} event-stream clients (\`GET /events\`, every event) wait on the built proxy (\`${main}\`,
\`MTA_STORE=${process.env.BENCH_FANOUT_STORE ?? "memory"}\`, log lines at \`info\` to a pipe) in front of a standalone simulator; then
${ACCOUNTS} accounts change status at once (the simulator delivers the ${ACCOUNTS} webhooks together at \`t0\`); every stream gets
all ${ACCOUNTS} events, ${(POLLS + STREAMS * ACCOUNTS).toLocaleString("en-US")} notifications a round. ${cpus().length} × ${cpus()[0]?.model ?? "CPU"}, Node.js
${process.version}, ${new Date().toISOString().slice(0, 10)}. ${canPin ? "The proxy on CPU 1; this process (the clients) and the simulator on CPU 0 (`taskset`)." : "No CPU pinning."}

| round | command | notifications | missing | p50 ms | p99 ms | long poll p99 | stream p99 | last ms | /healthz p99 (kept-alive) | /healthz p99 (new connection) | event loop max ms | proxy CPU ms | writes per stream | RSS before MB | RSS peak MB | client loop max ms | CPU pressure % |
|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|
${rounds.map(row).join("\n")}

Round 0 is the storm with nobody waiting. Over rounds 1–${ROUNDS} (medians): notification p99 **${ms(p99)} ms**,
\`/healthz\` p99 **${ms(healthz)} ms** (kept-alive; ${ms(pick((r) => r.freshP99))} ms on a new connection), event-loop max
**${ms(pick((r) => r.loopMaxMs))} ms**, **${ms(pick((r) => r.cpuMs))} ms** of the proxy's CPU per storm; resident size ${ms(idle)} MB idle,
${ms(pick((r) => r.rssBefore))} MB with everyone waiting, peak ${ms(pick((r) => r.rssPeak))} MB during a storm; ${socketErrors} connection errors. Target (notification p99 ≤ 250 ms,
\`/healthz\` p99 ≤ 50 ms, every waiter notified): **${met ? "met" : "MISSED"}**.

- Times are taken in this process when a chunk arrives, so they include its own delays ("client loop
  max": its event loop's longest stall in the round). "Proxy CPU" is the proxy's user + system time from
  \`t0\` to the last notification (10 ms ticks); "CPU pressure" the kernel's share of the last 10 s in which
  runnable tasks waited for a CPU, machine-wide, at the end of the round (the machine is shared).
- \`/healthz\` is probed every ${PROBE_MS} ms from \`t0\` to the last notification: once on an idle keep-alive
  connection, once on a new connection (as a kubelet probes).

${readFileSync(fileURLToPath(new URL("FANOUT-ANALYSIS.md", import.meta.url)), "utf8").trim()}

Rerun from \`packages/server\`: \`tsx --conditions=@mta/source bench/fanout.ts\` (builds first;
\`BENCH_BUILD=0\` skips that), or \`pnpm -C packages/server bench\` (every benchmark). \`BENCH_FANOUT_POLLS\`,
\`BENCH_FANOUT_STREAMS\`, \`BENCH_FANOUT_ROUNDS\`, \`BENCH_FANOUT_PROBE_MS\`, \`BENCH_FANOUT_STORE\`,
\`BENCH_FANOUT_MAIN\` (another build's \`main.js\`) and \`BENCH_PIN=0\` change the run; the process needs
about ${needed.toLocaleString("en-US")} open files (\`ulimit -n\`).
`
  writeFileSync(fileURLToPath(new URL("FANOUT-RESULTS.md", import.meta.url)), md)
  process.stdout.write(
    `\nnotification p99 ${ms(p99)} ms, /healthz p99 ${ms(healthz)} ms: ${met ? "met" : "MISSED"}\n`
  )
  process.exit(0)
}

main().catch((error: unknown) => {
  process.stderr.write(`fanout bench failed: ${error instanceof Error ? error.stack : String(error)}\n`)
  stopAll()
  process.exit(1)
})
