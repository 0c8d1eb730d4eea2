/**
 * Client benchmark, single-threaded (one core): request signing and webhook verification per second,
 * and the client's own overhead per call, against an in-process fake (no I/O: what the client adds)
 * and against a loopback HTTP server (fetch vs the pooled node:http transport). Writes `bench/RESULTS.md`.
 * Rerun: `pnpm bench` at the repository root, or `pnpm -C packages/client bench` (after a build).
 */
import { createHmac } from "node:crypto"
import { readFileSync, writeFileSync } from "node:fs"
import { Agent, createServer, request as httpRequest } from "node:http"
import type { AddressInfo } from "node:net"
import { cpus } from "node:os"
// Imports resolve to the built package (dist): the code consumers run.
import {
  createClient,
  makeSigner,
  nodeTransport,
  signRequest,
  verifyWebhook,
  ZeroHashClient
} from "@mta/client"
import { Effect } from "effect"
import { Bench } from "tinybench"

const vectors = JSON.parse(
  readFileSync(new URL("../../../../shared/spec/vectors.json", import.meta.url), "utf8")
)
const apiSecret: string = vectors.request_signing.api_secret_base64
const v3 = vectors.request_signing.vectors[2]
const hook = vectors.webhook_signing.vectors[0]
const hookHeaders = {
  "x-zh-hook-payload-type": "customer_account_status_changed",
  "x-zh-hook-notification-id": hook.notification_id,
  "x-zh-hook-timestamp": hook.timestamp,
  "x-zh-hook-signature": hook.signature
}
const key = Buffer.from(apiSecret, "base64")
const signer = makeSigner(apiSecret)
const message = `${v3.timestamp}${v3.method}${v3.path}${v3.body}`

const ZRN = "zrn:zh:us:accounts:customer:c761fc96-5c44-40d4-8eb2-3fcd5d06754e"
const ACCOUNT = JSON.stringify({
  message: {
    zrn: ZRN,
    participant_code: "CUST01",
    platform_code: "PLAT01",
    prefunded: false,
    account_label: "joint-1",
    account_group: "PLAT01",
    type: "jtic",
    tier: "pro",
    status: "open",
    tenants: ["CUST02"],
    financial_advisors: []
  }
})
const credentials = { apiKey: "key", apiSecret, passphrase: "pass" }

// In-process fake: answers every request with the account record, no I/O.
const fakeFetch = (_url: string, _init: RequestInit) =>
  Promise.resolve(new Response(ACCOUNT, { status: 200, headers: { "content-type": "application/json" } }))
const inProcess = createClient({ baseUrl: "http://fake.test", credentials, fetch: fakeFetch })
const service = inProcess.effect
const path = `/accounts/${ZRN}/details`
const bareInProcess = async () => {
  const timestamp = String(Math.floor(Date.now() / 1000))
  const response = await fakeFetch(`http://fake.test${path}`, {
    method: "GET",
    headers: {
      "X-SCX-API-KEY": "key",
      "X-SCX-PASSPHRASE": "pass",
      "X-SCX-TIMESTAMP": timestamp,
      "X-SCX-SIGNED": signer(timestamp, "GET", path)
    }
  })
  return JSON.parse(await response.text())
}

// Loopback server (same process, same core): what an upstream call of the proxy costs end to end.
const server = createServer({ keepAlive: true }, (_req, res) => {
  res.writeHead(200, { "content-type": "application/json" })
  res.end(ACCOUNT)
})
// Long idle time-out: with the default 5 s the server may close a pooled socket just as a client
// reuses it after a long synchronous task, and the row would measure a reset instead.
server.keepAliveTimeout = 60_000
await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
const pooled = nodeTransport()
const overFetch = createClient({ baseUrl: origin, credentials })
const overNode = createClient({ baseUrl: origin, credentials, transport: pooled })
const agent = new Agent({ keepAlive: true, maxSockets: 64 })
const bareHttp = () =>
  new Promise<unknown>((resolve, reject) => {
    const timestamp = String(Math.floor(Date.now() / 1000))
    const req = httpRequest(
      `${origin}${path}`,
      {
        agent,
        headers: {
          "X-SCX-API-KEY": "key",
          "X-SCX-PASSPHRASE": "pass",
          "X-SCX-TIMESTAMP": timestamp,
          "X-SCX-SIGNED": signer(timestamp, "GET", path)
        }
      },
      (res) => {
        const chunks: Array<Buffer> = []
        res.on("data", (c: Buffer) => chunks.push(c))
        res.on("end", () => resolve(JSON.parse(Buffer.concat(chunks).toString("utf8"))))
      }
    )
    req.on("error", reject)
    req.end()
  })
const bareFetch = async () => {
  const timestamp = String(Math.floor(Date.now() / 1000))
  const response = await fetch(`${origin}${path}`, {
    headers: {
      "X-SCX-API-KEY": "key",
      "X-SCX-PASSPHRASE": "pass",
      "X-SCX-TIMESTAMP": timestamp,
      "X-SCX-SIGNED": signer(timestamp, "GET", path)
    }
  })
  return JSON.parse(await response.text())
}

// Warm up each loopback path first, so the first row measured is not also paying for undici's start-up.
for (let i = 0; i < 2_000; i++) {
  await bareFetch()
  await bareHttp()
  await overFetch.getAccount(ZRN)
  await overNode.getAccount(ZRN)
}

const targets: Record<string, number> = { "signRequest (vector 3, POST with body)": 400_000 }

let sink: unknown
const bench = new Bench({ time: 1500, warmupTime: 300 })
bench
  .add("raw HMAC-SHA256 (node:crypto, decoded key)", () => {
    sink = createHmac("sha256", key).update(message).digest("base64")
  })
  .add("signRequest (vector 3, POST with body)", () => {
    sink = signRequest({
      apiSecret,
      timestamp: v3.timestamp,
      method: v3.method,
      path: v3.path,
      body: v3.body
    })
  })
  .add("client's bound signer (makeSigner)", () => {
    sink = signer(v3.timestamp, v3.method, v3.path, v3.body)
  })
  .add("verifyWebhook (vector, current signature, payload decoded)", () => {
    sink = verifyWebhook({
      secret: vectors.webhook_signing.secret,
      headers: hookHeaders,
      rawBody: hook.raw_body,
      now: Number(hook.timestamp)
    })
  })
  .add("in-process fake: bare fetch (sign, call, JSON.parse)", async () => {
    sink = await bareInProcess()
  })
  .add("in-process fake: client.getAccount (Promise API)", async () => {
    sink = await inProcess.getAccount(ZRN)
  })
  .add("in-process fake: ZeroHashClient.getAccount (Effect API)", async () => {
    sink = await Effect.runPromise(service.getAccount(ZRN))
  })
  .add("loopback HTTP: bare fetch", async () => {
    sink = await bareFetch()
  })
  .add("loopback HTTP: bare node:http keep-alive agent", async () => {
    sink = await bareHttp()
  })
  .add("loopback HTTP: client.getAccount over fetch (default)", async () => {
    sink = await overFetch.getAccount(ZRN)
  })
  .add("loopback HTTP: client.getAccount over nodeTransport", async () => {
    sink = await overNode.getAccount(ZRN)
  })

await bench.run()
void sink
for (const t of bench.tasks) {
  const error = (t.result as { error?: unknown } | undefined)?.error
  if (error !== undefined) throw new Error(`benchmark task "${t.name}" failed`, { cause: error })
}
void ZeroHashClient
pooled.close()
agent.destroy()
server.close()

const ops = (name: string) => bench.tasks.find((t) => t.name === name)?.result?.throughput.mean ?? Number.NaN
const rows = bench.tasks.map((t) => {
  const r = t.result!
  const rate = Math.round(r.throughput.mean)
  const target = targets[t.name]
  return {
    name: t.name,
    ops: rate,
    p50Us: Math.round((r.latency.p50 ?? Number.NaN) * 1000 * 10) / 10,
    target:
      target === undefined
        ? "—"
        : `${rate >= target ? "met" : "MISSED"} (≥ ${target.toLocaleString("en-US")}/s)`
  }
})
console.table(rows)

const us = (name: string) => 1e6 / ops(name)
const overheadPromise =
  us("in-process fake: client.getAccount (Promise API)") -
  us("in-process fake: bare fetch (sign, call, JSON.parse)")
const overheadEffect =
  us("in-process fake: ZeroHashClient.getAccount (Effect API)") -
  us("in-process fake: bare fetch (sign, call, JSON.parse)")
const nodeVsFetch =
  ops("loopback HTTP: client.getAccount over nodeTransport") /
  ops("loopback HTTP: client.getAccount over fetch (default)")
const bareNodeVsFetch =
  ops("loopback HTTP: bare node:http keep-alive agent") / ops("loopback HTTP: bare fetch")

const md = [
  "# @mta/client benchmark",
  "",
  `Measured ${new Date().toISOString().slice(0, 10)} on ${cpus()[0]?.model ?? "unknown CPU"} (${cpus().length} cores; the benchmark runs on one), Node.js ${process.version}.`,
  "",
  "Rerun: `pnpm bench` at the repository root (all packages), or `pnpm -C packages/client bench` after `pnpm build`.",
  "",
  "| operation | ops/s | median latency (µs) | target |",
  "|---|---:|---:|---|",
  ...rows.map((r) => `| ${r.name} | ${r.ops.toLocaleString("en-US")} | ${r.p50Us} | ${r.target} |`),
  "",
  "Reading the figures:",
  "",
  `- The client's own overhead per call (in-process fake, so no I/O): about ${overheadPromise.toFixed(1)} µs through the Promise API and ${overheadEffect.toFixed(1)} µs through the Effect API, over a bare \`fetch\` that signs and parses the same call. It covers ZRN parsing, body and response Schemas, the request id, the retry loop and the Effect runtime.`,
  `- Over loopback HTTP the pooled \`nodeTransport\` moves ${nodeVsFetch.toFixed(1)}× the calls per second of the default \`fetch\` transport (bare, without the client: ${bareNodeVsFetch.toFixed(1)}×). The server runs in the same process on the same core, so it takes its share of the time in every loopback row; these rows are noisier than the others.`,
  "- Throughput is the mean over the run (ops/s); the median latency leaves out the garbage-collection pauses that the mean includes.",
  ""
].join("\n")
writeFileSync(new URL("./RESULTS.md", import.meta.url), md)
console.log("wrote packages/client/bench/RESULTS.md")
