/**
 * The access decision and the participant projection under load (issue 14, "Speed").
 *
 * 1. `GET /accounts/{zrn}/access` through the proxy (a process on a real port, autocannon on
 *    loopback) for an account with 10 members (a primary, 7 tenants, 2 advisors), every action (50
 *    decisions an answer), served from the projection: the account's record and every member's status
 *    fed first by signed webhooks, so no answer calls the upstream (the upstream address is a closed
 *    port: a call would fail the run). Also one member and one action (one decision an answer).
 * 2. Webhook ingest through the proxy: signed `participant_status_changed` against signed
 *    `customer_account_status_changed` notifications, each a new subject (applied: inbox, projection,
 *    event log), autocannon signing each request; each kind on a fresh proxy process (an empty store) after
the same warm-up.
 * 3. The same two ingests at the store (`Store.ingestParticipant` against `Store.ingest`), 50 at once.
 *
 * With the memory store and the embedded store (PGlite on local disk). On a Linux machine with two or
 * more CPUs and `taskset`, the proxy runs alone on CPU 1 and the load generator on CPU 0.
 *
 * Writes `bench/ACCESS-RESULTS.md`. Run with `pnpm -C packages/server bench` or alone:
 * `pnpm -C packages/server exec tsx --conditions=@mta/source bench/access.ts`. Each measurement lasts
 * BENCH_DURATION_S seconds (default 10) after BENCH_WARMUP_S (default 3); store ingests BENCH_STORE_S
 * (default 3).
 */
import { type ChildProcess, spawn } from "node:child_process"
import { createHmac, randomUUID } from "node:crypto"
import { mkdtempSync, rmSync } from "node:fs"
import { createServer } from "node:net"
import { cpus, loadavg, tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { Callers, Store } from "@mta/server"
import autocannon from "autocannon"
import { canPin, LOAD_CPU, pin, runBench, TEST_CPU, writeResults } from "./support.js"

const DURATION = Number(process.env.BENCH_DURATION_S ?? 10)
const WARMUP = Number(process.env.BENCH_WARMUP_S ?? 3)
const STORE_S = Number(process.env.BENCH_STORE_S ?? 3)
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50)
const TOKEN = "bench-token"
const SECRET = "bench-webhook-secret"
const pkg = fileURLToPath(new URL("..", import.meta.url))
const ZRN = "zrn:zh:us:accounts:customer:3f0c1e9a-7b5d-4c8e-9a61-2d4f8b7e6c10"
const MEMBERS = [
  "PRIM01",
  "TEN001",
  "TEN002",
  "TEN003",
  "TEN004",
  "TEN005",
  "TEN006",
  "TEN007",
  "ADV001",
  "ADV002"
]

const children: Array<ChildProcess> = []
const stopAll = () => {
  for (const child of children) if (child.exitCode === null) child.kill("SIGKILL")
  children.length = 0
}
process.on("exit", stopAll)

const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as { port: number }).port
      server.close(() => resolve(port))
    })
  })

const startProxy = async (store: "memory" | "embedded") => {
  const port = await freePort()
  const closed = await freePort()
  const dataDir = mkdtempSync(join(tmpdir(), "mta-bench-access-"))
  const child = spawn(process.execPath, ["--conditions=@mta/source", "--import", "tsx", "src/main.ts"], {
    cwd: pkg,
    env: {
      ...process.env,
      PORT: String(port),
      HOST: "127.0.0.1",
      // Nothing answers there: every answer must come from the projection.
      ZH_BASE_URL: `http://127.0.0.1:${closed}`,
      ZH_API_KEY: "bench-key",
      ZH_API_SECRET: Buffer.from("bench-secret").toString("base64"),
      ZH_API_PASSPHRASE: "bench-passphrase",
      ZH_WEBHOOK_SECRET: SECRET,
      ZH_RATE_LIMIT: "0",
      MTA_STORE: store,
      ...(store === "embedded" ? { MTA_DATA_DIR: dataDir } : {}),
      LOG_LEVEL: "warn",
      MTA_CALLERS: JSON.stringify([
        { name: "bench", token_sha256: Callers.hashToken(TOKEN), scopes: ["accounts:read", "events:read"] }
      ])
    },
    stdio: ["ignore", "ignore", "pipe"]
  })
  children.push(child)
  pin(child.pid!, TEST_CPU)
  let err = ""
  child.stderr!.on("data", (d: Buffer) => {
    err += d.toString()
  })
  const url = `http://127.0.0.1:${port}`
  for (let i = 0; ; i++) {
    if (child.exitCode !== null || i >= 600) throw new Error(`the proxy did not start: ${err}`)
    try {
      const r = await fetch(`${url}/healthz`)
      await r.arrayBuffer()
      if (r.ok) break
    } catch {}
    await new Promise((r) => setTimeout(r, 100))
  }
  return {
    url,
    stop: () => {
      child.kill("SIGKILL")
      rmSync(dataDir, { recursive: true, force: true })
    }
  }
}

const sign = (body: string, type: string, timestamp = Date.now()) => ({
  "content-type": "application/json",
  "x-zh-hook-payload-type": type,
  "x-zh-hook-notification-id": randomUUID(),
  "x-zh-hook-timestamp": String(timestamp),
  "x-zh-hook-signature": createHmac("sha256", SECRET)
    .update(body + String(timestamp))
    .digest("hex")
})

const post = async (url: string, type: string, payload: Record<string, unknown>, timestamp?: number) => {
  const body = JSON.stringify(payload)
  const r = await fetch(`${url}/webhooks/zerohash`, {
    method: "POST",
    body,
    headers: sign(body, type, timestamp)
  })
  const text = await r.text()
  if (r.status !== 200) throw new Error(`webhook answered ${r.status}: ${text}`)
}

/** The account's record and every member's status, fed by signed webhooks. */
const feed = async (url: string) => {
  await post(
    url,
    "customer_account_status_changed",
    {
      zrn: ZRN,
      status: "open",
      participant_code: MEMBERS[0],
      account_label: "bench",
      type: "jtic",
      tenants: MEMBERS.slice(1, 8),
      financial_advisors: MEMBERS.slice(8)
    },
    Date.now()
  )
  for (const code of MEMBERS) {
    await post(url, "participant_status_changed", {
      participant_code: code,
      participant_status: code === "TEN003" ? "locked" : "approved",
      ...(code === "TEN003" ? { reason_code: "user_request" } : {}),
      timestamp: Date.now()
    })
  }
  const r = await fetch(`${url}/accounts/${ZRN}/access`, { headers: { authorization: `Bearer ${TOKEN}` } })
  const body = (await r.json()) as { decisions: ReadonlyArray<unknown> }
  if (r.status !== 200 || body.decisions.length !== 50) {
    throw new Error(`access answered ${r.status} with ${body.decisions?.length} decisions`)
  }
}

interface Measured {
  readonly rps: number
  readonly p50: number
  readonly p99: number
  readonly errors: number
}

const cannon = (opts: autocannon.Options): Promise<autocannon.Result> =>
  new Promise((resolve, reject) => {
    autocannon(opts, (error, result) => (error ? reject(error) : resolve(result)))
  })

const measure = async (opts: Omit<autocannon.Options, "duration">): Promise<Measured> => {
  await cannon({ ...opts, duration: WARMUP })
  const r = await cannon({ ...opts, duration: DURATION })
  return {
    rps: r.requests.average,
    p50: r.latency.p50,
    p99: r.latency.p99,
    errors: r.errors + r.timeouts + r.non2xx
  }
}

const accessLoad = (url: string, query: string) =>
  measure({
    url: `${url}/accounts/${ZRN}/access${query}`,
    connections: CONNECTIONS,
    headers: { authorization: `Bearer ${TOKEN}` }
  })

let seq = 0
const code6 = () => (seq++).toString(36).toUpperCase().padStart(6, "0").slice(-6)

const ingestLoad = (url: string, kind: "participant" | "account") =>
  measure({
    url: `${url}/webhooks/zerohash`,
    connections: CONNECTIONS,
    method: "POST",
    requests: [
      {
        setupRequest: (req) => {
          const now = Date.now()
          const payload =
            kind === "participant"
              ? { participant_code: code6(), participant_status: "approved", timestamp: now }
              : {
                  zrn: `zrn:zh:us:accounts:customer:${randomUUID()}`,
                  status: "open",
                  participant_code: "PRIM01",
                  account_label: `bench-${seq++}`,
                  type: "individual"
                }
          const body = JSON.stringify(payload)
          return {
            ...req,
            body,
            headers: sign(
              body,
              kind === "participant" ? "participant_status_changed" : "customer_account_status_changed",
              now
            )
          }
        }
      }
    ]
  })

/** Ingests at the store, `CONNECTIONS` at once, for `STORE_S` seconds: ops per second. */
const storeIngest = async (store: Store.Store, kind: "participant" | "account"): Promise<number> => {
  const deadline = performance.now() + STORE_S * 1000
  let done = 0
  const worker = async () => {
    while (performance.now() < deadline) {
      const now = Date.now()
      if (kind === "participant") {
        const c = code6()
        await store.ingestParticipant({
          notificationId: randomUUID(),
          participantCode: c,
          status: "approved",
          reasonCode: null,
          occurredAt: now,
          receivedAt: now,
          payload: { participant_code: c, participant_status: "approved", timestamp: now }
        })
      } else {
        const zrn = `zrn:zh:us:accounts:customer:${randomUUID()}`
        await store.ingest({
          notificationId: randomUUID(),
          zrn,
          status: "open",
          occurredAt: now,
          receivedAt: now,
          payload: { zrn, status: "open", participant_code: "PRIM01", account_label: `b-${seq++}` }
        })
      }
      done++
    }
  }
  const started = performance.now()
  await Promise.all(Array.from({ length: CONNECTIONS }, worker))
  return done / ((performance.now() - started) / 1000)
}

const fmt = (n: number) => Math.round(n).toLocaleString("en-US")

const main = async () => {
  pin(process.pid, LOAD_CPU)
  const rows: Array<string> = []
  const ingestRows: Array<string> = []
  const load = loadavg()[0]!
  /** Answers per second of the 50-decision answer, per store. */
  const fullRps: Array<number> = []
  /** Participant over account ingest, through the proxy, per store. */
  const ingestRatio: Array<number> = []
  for (const kind of ["memory", "embedded"] as const) {
    const proxy = await startProxy(kind)
    try {
      await feed(proxy.url)
      const all = await accessLoad(proxy.url, "")
      fullRps.push(all.rps)
      rows.push(
        `| ${kind} | 10 members × 5 actions (50) | ${fmt(all.rps)} | ${fmt(all.rps * 50)} | ${all.p50} | ${all.p99} | ${all.errors} |`
      )
      const one = await accessLoad(proxy.url, `?participant=${MEMBERS[3]}&action=withdraw`)
      rows.push(
        `| ${kind} | 1 member × 1 action (1) | ${fmt(one.rps)} | ${fmt(one.rps)} | ${one.p50} | ${one.p99} | ${one.errors} |`
      )
      const account = await ingestLoad(proxy.url, "account")
      // A fresh proxy for the other kind: each ingest measured on an empty store after the same warm-up.
      const second = await startProxy(kind)
      let participant: Measured
      try {
        participant = await ingestLoad(second.url, "participant")
      } finally {
        second.stop()
      }
      ingestRatio.push(participant.rps / account.rps)
      ingestRows.push(
        `| ${kind} | account | ${fmt(account.rps)} | ${account.p50} | ${account.p99} | ${account.errors} |`,
        `| ${kind} | participant | ${fmt(participant.rps)} | ${participant.p50} | ${participant.p99} | ${participant.errors} |`
      )
      process.stdout.write(
        `${kind}: access ${fmt(all.rps)}/s, ingest account ${fmt(account.rps)}/s participant ${fmt(participant.rps)}/s\n`
      )
    } finally {
      proxy.stop()
    }
  }
  const storeRows: Array<string> = []
  for (const kind of ["memory", "embedded"] as const) {
    // A fresh store for each kind: a store's bounds (the memory store's 100,000 inbox entries) and
    // table sizes must not favour the kind measured first.
    const rate = async (which: "account" | "participant") => {
      const dir = mkdtempSync(join(tmpdir(), "mta-bench-ingest-"))
      const store = kind === "memory" ? Store.memory() : await Store.embedded({ dataDir: dir })
      try {
        await storeIngest(store, which)
        return await storeIngest(store, which)
      } finally {
        await store.close()
        rmSync(dir, { recursive: true, force: true })
      }
    }
    const account = await rate("account")
    const participant = await rate("participant")
    storeRows.push(
      `| ${kind} | ${fmt(account)} | ${fmt(participant)} | ${(participant / account).toFixed(2)} × |`
    )
  }
  const placement = canPin
    ? `the proxy alone on CPU ${TEST_CPU}; autocannon (the benchmark's process) on CPU ${LOAD_CPU} (\`taskset\`)`
    : "no CPU pinning: the load generator and the proxy share the machine"
  const markdown = `# @mta/server access decision and participant projection benchmark

\`bench/access.ts\`, ${new Date().toISOString().slice(0, 10)}, ${cpus().length} × ${cpus()[0]?.model ?? "CPU"}, Node.js ${process.version}.
The proxy runs from source through tsx (as \`pnpm start\` runs it, within a few per cent of the built
\`dist/main.js\` in \`RESULTS.md\`), bearer auth with scope check, request id, metrics, \`LOG_LEVEL=warn\`;
autocannon with ${CONNECTIONS} connections on loopback, ${WARMUP} s warm-up then ${DURATION} s measured.
Placement: ${placement}.

## \`GET /accounts/{zrn}/access\` from the projection

A \`jtic\` account with 10 members (a primary, 7 tenants, 2 advisors; one tenant locked with
\`user_request\`, so the answer has denials with reasons), its record and every member's status fed by
signed webhooks first; the upstream is a closed port, so every answer came from the projection.

| store | decisions per answer | answers/s | decisions/s | p50 ms | p99 ms | errors + non-2xx |
|---|---|---:|---:|---:|---:|---:|
${rows.join("\n")}

**Target** (issue 14: at least 20,000 answers per second for 10 members, all actions). Read as
decisions (one answer per member and action), it is **${Math.min(...fullRps) * 50 >= 20_000 ? "met" : "not met"}**:
${fmt(Math.min(...fullRps) * 50)} decisions/s at the lower of the two stores. Read as HTTP responses, it is
**${Math.min(...fullRps) >= 20_000 ? "met" : "not met"}** on this machine: ${fmt(Math.min(...fullRps))} responses/s,
each carrying all 50 decisions. The access route costs about what any read costs: the proxy's request
path (auth, scope check, request id, metrics, the Node HTTP server) bounds its responses per second as it
bounds every read (\`RESULTS.md\`: about 4,000 reads/s for \`GET /accounts/{zrn}/details\` on one
CPU), and an answer served from the projection is a kept text (decided and serialised again only after
a change). Load average when the run started: ${load.toFixed(1)} on ${cpus().length} CPUs (other work on
the machine lowers every figure here).

## Webhook ingest through the proxy

Signed notifications, each of a new account or participant (so each is applied: inbox, projection,
event log), autocannon signing each request.

| store | kind | notifications/s | p50 ms | p99 ms | errors + non-2xx |
|---|---|---:|---:|---:|---:|
${ingestRows.join("\n")}

**Target** (issue 14: participant ingest at least as fast as account ingest): participant / account
through the proxy ${ingestRatio.map((r) => `${r.toFixed(2)} ×`).join(" (memory), ")} (embedded): **${Math.min(...ingestRatio) >= 1 ? "met" : "not met"}**.

## Webhook ingest at the store

\`Store.ingest\` against \`Store.ingestParticipant\`, ${CONNECTIONS} at once, ${STORE_S} s each after as long a warm-up, each on a fresh store.

| store | account ingests/s | participant ingests/s | participant / account |
|---|---:|---:|---:|
${storeRows.join("\n")}
`
  const path = writeResults("ACCESS-RESULTS.md", markdown)
  process.stdout.write(`${markdown}\nwritten to ${path}\n`)
}

runBench(main, stopAll)
