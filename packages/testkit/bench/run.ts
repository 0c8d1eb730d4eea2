/**
 * Throughput of the simulator: signed account reads per second through `fetch` in process, and over
 * HTTP (the standalone server in its own process, loaded by autocannon), next to Prism mocking the
 * vendor's OpenAPI on the same read, in the same run. Loopback only; bounded in count and time.
 *
 * Run: `pnpm -C packages/testkit bench` (or `pnpm bench` at the root). Writes `bench/RESULTS.md`.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { existsSync, writeFileSync } from "node:fs"
import { cpus, loadavg } from "node:os"
import { fileURLToPath } from "node:url"
import autocannon from "autocannon"
import { createSimulator, Signing, Simulator } from "../src/index.js"

const here = (path: string) => fileURLToPath(new URL(path, import.meta.url))
const packageDir = here("..")
const openApi = here("../../../../shared/reference/zerohash-openapi-1.7.0-customer-accounts.json")
const HTTP_SECONDS = 10
const CONNECTIONS = 32
const IN_PROCESS_REQUESTS = 50_000

const ACCOUNT = {
  participant_code: "CUST01",
  account_label: "bench",
  type: "individual",
  tier: "pro",
  prefunded: false
}

// ---------------------------------------------------------------------------------------------
// In process
// ---------------------------------------------------------------------------------------------

const inProcess = async () => {
  const sim = createSimulator({ seedDemo: true, rateLimit: false, journalLimit: 1000 })
  const credentials = sim.credentials
  const createBody = JSON.stringify(ACCOUNT)
  const created = await sim.fetch(
    new Request("http://sim/accounts", {
      method: "POST",
      headers: Signing.signedHeaders(credentials, { method: "POST", path: "/accounts", body: createBody }),
      body: createBody
    })
  )
  const zrn = ((await created.json()) as { message: { zrn: string } }).message.zrn
  await sim.settle()
  const path = `/accounts/${zrn}/details`
  const url = `http://sim${path}`

  // `sign: true`: each request signed by the caller, as a client does (sign, build the Request, fetch,
  // read the body). `sign: false`: the caller's HMAC is left out (headers signed once, still inside
  // the window); the simulator verifies every request either way.
  const fixed = Signing.signedHeaders(credentials, { method: "GET", path })
  const run = async (n: number, sign: boolean) => {
    const start = process.hrtime.bigint()
    for (let i = 0; i < n; i++) {
      const headers = sign ? Signing.signedHeaders(credentials, { method: "GET", path }) : fixed
      const response = await sim.fetch(new Request(url, { headers }))
      await response.text()
      if (response.status !== 200) throw new Error(`unexpected ${response.status}`)
    }
    return Number(process.hrtime.bigint() - start) / 1e9
  }
  await run(5_000, true) // warm-up
  const seconds = await run(IN_PROCESS_REQUESTS, true)
  const unsignedSeconds = await run(IN_PROCESS_REQUESTS, false)
  return {
    requests: IN_PROCESS_REQUESTS,
    perSecond: IN_PROCESS_REQUESTS / seconds,
    withoutCallerSigning: IN_PROCESS_REQUESTS / unsignedSeconds
  }
}

// ---------------------------------------------------------------------------------------------
// Over HTTP
// ---------------------------------------------------------------------------------------------

const waitForLine = (child: ChildProcess, pattern: RegExp, timeoutMs: number) =>
  new Promise<RegExpExecArray>((resolve, reject) => {
    let text = ""
    const timer = setTimeout(
      () => reject(new Error(`no ${pattern} within ${timeoutMs} ms:\n${text}`)),
      timeoutMs
    )
    const onData = (chunk: Buffer) => {
      text += chunk.toString()
      const m = pattern.exec(text)
      if (m !== null) {
        clearTimeout(timer)
        child.stdout?.off("data", onData)
        child.stderr?.off("data", onData)
        resolve(m)
      }
    }
    child.stdout?.on("data", onData)
    child.stderr?.on("data", onData)
    child.once("exit", (code) => {
      clearTimeout(timer)
      reject(new Error(`exited with ${code} before ${pattern}:\n${text}`))
    })
  })

const stop = async (child: ChildProcess) => {
  if (child.exitCode !== null) return
  const exited = new Promise((resolve) => child.once("exit", resolve))
  child.kill("SIGTERM")
  await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 3000))])
  if (child.exitCode === null) child.kill("SIGKILL")
}

const load = async (url: string, headers: Record<string, string>) => {
  // Warm-up, then the measured run.
  await autocannon({ url, connections: CONNECTIONS, duration: 2, headers })
  const result = await autocannon({ url, connections: CONNECTIONS, duration: HTTP_SECONDS, headers })
  return {
    perSecond: result.requests.average,
    total: result.requests.total,
    non2xx: result.non2xx,
    errors: result.errors,
    latencyP50: result.latency.p50,
    latencyP99: result.latency.p99
  }
}

const simulatorOverHttp = async () => {
  const child = spawn(
    process.execPath,
    [
      "--conditions=@mta/source",
      "--import",
      "tsx",
      "src/bin.ts",
      "--port",
      "0",
      "--rate-limit",
      "0",
      "--seed-demo"
    ],
    { cwd: packageDir, stdio: ["ignore", "pipe", "pipe"] }
  )
  try {
    const base = (await waitForLine(child, /listening on (http:\/\/\S+)/, 30_000))[1]!
    const credentials = Simulator.defaultCredentials
    const body = JSON.stringify(ACCOUNT)
    const created = await fetch(`${base}/accounts`, {
      method: "POST",
      headers: Signing.signedHeaders(credentials, { method: "POST", path: "/accounts", body }),
      body
    })
    const zrn = ((await created.json()) as { message: { zrn: string } }).message.zrn
    await fetch(`${base}/__simulator/settle`, { method: "POST" })
    const path = `/accounts/${zrn}/details`
    // One signature for the run: the timestamp stays inside the 60 s window, and the server
    // verifies the HMAC on every request all the same.
    const headers = Signing.signedHeaders(credentials, { method: "GET", path })
    return await load(`${base}${path}`, headers)
  } finally {
    await stop(child)
  }
}

const prismOverHttp = async () => {
  const bin = here("../node_modules/.bin/prism")
  if (!existsSync(bin)) return { skipped: "@stoplight/prism-cli is not installed" }
  if (!existsSync(openApi)) return { skipped: `the vendor OpenAPI is absent (${openApi})` }
  const port = 4600 + Math.floor(Math.random() * 300)
  const child = spawn(
    bin,
    ["mock", "-h", "127.0.0.1", "-p", String(port), "--verboseLevel", "warn", openApi],
    {
      cwd: packageDir,
      stdio: ["ignore", "pipe", "pipe"]
    }
  )
  try {
    const base = `http://127.0.0.1:${port}`
    const deadline = Date.now() + 60_000
    for (;;) {
      const ok = await fetch(`${base}/accounts?page=1`, {
        headers: { "X-SCX-API-KEY": "k", "X-SCX-PASSPHRASE": "p" }
      })
        .then(async (r) => {
          await r.arrayBuffer()
          return true
        })
        .catch(() => false)
      if (ok) break
      if (Date.now() > deadline) throw new Error("prism did not start within 60 s")
      await new Promise((resolve) => setTimeout(resolve, 250))
    }
    const path = "/accounts/zrn:zh:us:accounts:customer:c761fc96-5c44-40d4-8eb2-3fcd5d06754e/details"
    const headers = Signing.signedHeaders(Simulator.defaultCredentials, { method: "GET", path })
    return await load(`${base}${path}`, headers)
  } finally {
    await stop(child)
  }
}

// ---------------------------------------------------------------------------------------------
// Report
// ---------------------------------------------------------------------------------------------

const fmt = (n: number) => Math.round(n).toLocaleString("en-US")

const main = async () => {
  const loadBefore = loadavg()[0]!
  console.log("in process ...")
  const local = await inProcess()
  console.log(`  ${fmt(local.perSecond)} signed requests/s`)
  console.log("simulator over HTTP ...")
  const http = await simulatorOverHttp()
  console.log(`  ${fmt(http.perSecond)} requests/s`)
  console.log("Prism over HTTP ...")
  const prism = await prismOverHttp().catch((error: unknown) => ({
    skipped: `Prism could not be run: ${error instanceof Error ? error.message : String(error)}`
  }))
  console.log("skipped" in prism ? `  skipped: ${prism.skipped}` : `  ${fmt(prism.perSecond)} requests/s`)

  const ratio = "skipped" in prism ? undefined : http.perSecond / prism.perSecond
  const lines = [
    "# Simulator throughput",
    "",
    `Measured ${new Date().toISOString()} on ${cpus().length} × ${cpus()[0]?.model ?? "unknown CPU"}, Node.js ${process.version}.`,
    `Load average when the run started: ${loadBefore.toFixed(2)} (other work on the machine lowers every figure).`,
    "Rerun with `pnpm -C packages/testkit bench` (or `pnpm bench` at the root).",
    "",
    "The read is `GET /accounts/{zrn}/details` of a provisioned account, every request carrying the four",
    "`X-SCX-*` headers; the simulator recomputes and checks the HMAC and the timestamp window on each one.",
    "",
    "| what | result | target |",
    "|---|---|---|",
    `| in process: caller signs + \`new Request\` + \`simulator.fetch\` + reads the body, one core, ${fmt(local.requests)} requests | **${fmt(local.perSecond)} req/s** | ≥ 10,000 req/s ${local.perSecond >= 10_000 ? "✅" : "❌"} |`,
    `| in process, the caller's signing left out (\`new Request\` + \`simulator.fetch\` + read body) | **${fmt(local.withoutCallerSigning)} req/s** | — |`,
    `| over HTTP: standalone server (own process), autocannon ${CONNECTIONS} connections × ${HTTP_SECONDS} s | **${fmt(http.perSecond)} req/s** (p50 ${http.latencyP50} ms, p99 ${http.latencyP99} ms, non-2xx ${http.non2xx}, errors ${http.errors}) | ≥ 5 × Prism |`,
    "skipped" in prism
      ? `| Prism 5 mocking the vendor OpenAPI, same read | skipped: ${prism.skipped} | — |`
      : `| Prism 5 (\`prism mock\`, verbose level warn) on the vendor OpenAPI, same read, same load | **${fmt(prism.perSecond)} req/s** (p50 ${prism.latencyP50} ms, p99 ${prism.latencyP99} ms, non-2xx ${prism.non2xx}) | — |`,
    ratio === undefined
      ? ""
      : `| simulator ÷ Prism over HTTP | **${ratio.toFixed(1)} ×** | ≥ 5 × ${ratio >= 5 ? "✅" : "❌"} |`,
    "",
    "Prism checks no signature and keeps no state; the simulator does both. The rate limit is turned off",
    "for the runs (`--rate-limit 0`), since the vendor's 2,000 requests per 10 s would otherwise answer 429.",
    "autocannon and both servers share the machine's cores, so the HTTP figures are lower bounds.",
    ""
  ].filter((l, i, all) => l !== "" || all[i - 1] !== "")
  writeFileSync(here("RESULTS.md"), `${lines.join("\n")}\n`)
  console.log(`written to ${here("RESULTS.md")}`)
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error)
    process.exit(1)
  }
)
