/**
 * End to end over real ports: the proxy started as a process (`tsx --conditions=@mta/source
 * src/main.ts`, what `pnpm start` runs), driven by `@mta/client` in bearer mode and by the testkit's
 * contract suite.
 *
 * - In front of a standalone simulator server (`ZH_BASE_URL`, as against a real upstream): the
 *   contract suite passes through the proxy; webhooks flow from the simulator over HTTP into the
 *   projection; a long poll wakes on the event; a shutdown lets a request in flight finish.
 * - In its embedded default: the README's walk-through (create a JTIC account, wait for open, lock it,
 *   watch the event), and server-sent events resuming after a reconnect.
 */
import { createClient, verifyWebhook } from "@mta/client"
import { Zrn } from "@mta/domain"
import { Callers } from "@mta/server"
import { Contract, Fault, type Server as SimServer, startSimulatorServer } from "@mta/testkit"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import {
  freePort,
  type ProxyProcess,
  proxyTarget,
  readEvents,
  startProxyProcess,
  upstreamEnv
} from "./support.js"

const TOKEN = "e2e-token"
const WEBHOOK_SECRET = "e2e-webhook-secret"
const callers = JSON.stringify([
  { name: "e2e", token_sha256: Callers.hashToken(TOKEN), scopes: Callers.allScopes }
])

/** A standalone simulator delivering webhooks to the proxy, and the proxy process in front of it. */
const startRemote = async (
  options: { readonly asyncDelayMs?: number; readonly logLevel?: string } = {}
): Promise<{ sim: SimServer.SimulatorServer; proxy: ProxyProcess }> => {
  const port = await freePort()
  const sim = await startSimulatorServer({
    seedDemo: true,
    asyncDelayMs: options.asyncDelayMs ?? 0,
    webhook: { url: `http://127.0.0.1:${port}/webhooks/zerohash`, secret: WEBHOOK_SECRET }
  })
  const proxy = await startProxyProcess(
    {
      ...upstreamEnv(sim),
      ZH_WEBHOOK_SECRET: WEBHOOK_SECRET,
      MTA_CALLERS: callers,
      LOG_LEVEL: options.logLevel ?? "warn"
    },
    port
  )
  return { sim, proxy }
}

// The testkit's contract suite, through the proxy.
Contract.contractSuite(
  Contract.deferred(
    "proxy (process) in front of a standalone simulator",
    async () => {
      const { sim, proxy } = await startRemote()
      return {
        target: proxyTarget("proxy", proxy.url, TOKEN, Contract.simulatorControl(sim.simulator)),
        stop: async () => {
          await proxy.stop()
          await sim.close()
        }
      }
    },
    { control: true }
  ),
  { describe, it, beforeAll, afterAll },
  // Every participant webhook the simulator delivered (to the proxy, and to the suite's listener) must
  // pass the client's `verifyWebhook`, as a platform's receiver would run it.
  { verifyWebhook: ({ headers, rawBody }) => verifyWebhook({ secret: WEBHOOK_SECRET, headers, rawBody }) }
)

describe("proxy (process) in front of a standalone simulator: webhooks, long poll, shutdown", () => {
  let sim: SimServer.SimulatorServer
  let proxy: ProxyProcess
  beforeAll(async () => {
    // Background work runs only on `settle()`, so the test decides when the webhook fires.
    ;({ sim, proxy } = await startRemote({ asyncDelayMs: 600_000, logLevel: "info" }))
  }, 60_000)
  afterAll(async () => {
    await proxy?.stop("SIGKILL")
    await sim?.close()
  })

  it("webhooks flow from the simulator into the projection, and a long poll wakes on the event", async () => {
    const client = createClient({ baseUrl: proxy.url, credentials: { bearerToken: TOKEN } })
    const account = await client.createAccount({
      participant_code: "CUST05",
      account_label: `e2e-${Date.now()}`,
      type: "individual",
      tier: "gold",
      prefunded: true
    })
    // The long poll is waiting before the simulator provisions the account.
    const waiting = client.waitForStatus(account.zrn, "open", { timeoutMs: 10_000 })
    await new Promise((resolve) => setTimeout(resolve, 100))
    const metrics = await (await fetch(`${proxy.url}/metrics`)).text()
    expect(metrics).toMatch(/mta_long_polls_waiting 1/)
    await sim.simulator.settle()
    const reached = await waiting
    expect(reached.status).toBe("open")
    // The simulator delivered it over HTTP, signed, and the proxy took it.
    const record = sim.simulator.webhooks().find((w) => w.zrn === Zrn.format(account.zrn))
    expect(record?.outcome).toBe("delivered")
    const status = await fetch(`${proxy.url}/accounts/${account.zrn.id}/status`, {
      headers: { authorization: `Bearer ${TOKEN}` }
    })
    expect(await status.json()).toMatchObject({ status: "open", timed_out: false })
    expect(await (await fetch(`${proxy.url}/metrics`)).text()).toMatch(
      /mta_webhooks_received_total\{outcome="applied",kind="account"\} [1-9]/
    )
  })

  it("shuts down gracefully on SIGTERM: the request in flight finishes, new connections are refused, exit 0", async () => {
    const client = createClient({ baseUrl: proxy.url, credentials: { bearerToken: TOKEN }, maxRetries: 0 })
    const fault = sim.simulator.injectFault(Fault.latency(800, "listLedgerAccounts"))
    const started = Date.now()
    const inFlight = client.getLedgerPage({}, { requestId: "in-flight-1" })
    await new Promise((resolve) => setTimeout(resolve, 200))
    proxy.child.kill("SIGTERM")
    const page = await inFlight
    expect(page.page).toBe(1)
    expect(Date.now() - started).toBeGreaterThanOrEqual(700)
    expect(await proxy.exited).toBe(0)
    await expect(fetch(`${proxy.url}/healthz`)).rejects.toThrow()
    fault.remove()
    const log = proxy.stdout()
    expect(log).toContain('"msg":"signal received"')
    expect(log).toContain('"msg":"stopped"')
  })
})

describe("embedded default (process): the README walk-through and event stream resume", () => {
  let proxy: ProxyProcess
  beforeAll(async () => {
    proxy = await startProxyProcess({ MTA_SIM_DELAY_MS: "100", LOG_LEVEL: "warn" }, await freePort())
  }, 60_000)
  afterAll(async () => {
    if (proxy !== undefined) expect(await proxy.stop("SIGINT")).toBe(0)
  })

  it("prints the URL and the dev token at startup, and a try: command that answers 200", async () => {
    expect(proxy.stderr()).toContain(`mta proxy listening on ${proxy.url}`)
    expect(proxy.stderr()).toContain("token: dev-token")
    const [, token, url] = /try: curl -H "Authorization: Bearer (\S+)" "(\S+)"/.exec(proxy.stderr()) ?? []
    expect(url?.startsWith(proxy.url)).toBe(true)
    const tried = await fetch(url!, { headers: { authorization: `Bearer ${token}` } })
    expect(tried.status).toBe(200)
    expect(await tried.json()).toMatchObject({
      message: [{ participant_code: "CUST01", status: "approved" }]
    })
  })

  it("creates a JTIC account, waits for open, locks it, and the event stream shows both changes", async () => {
    const client = createClient({ baseUrl: proxy.url, credentials: { bearerToken: "dev-token" } })
    const events = await fetch(`${proxy.url}/events`, { headers: { authorization: "Bearer dev-token" } })
    expect(events.headers.get("content-type")).toMatch(/text\/event-stream/)
    const account = await client.createAccount({
      participant_code: "CUST01",
      account_label: `walkthrough-${Date.now()}`,
      type: "jtic",
      tier: "pro",
      prefunded: false,
      tenants: ["CUST02"]
    })
    expect(account.status).toBeUndefined()
    expect((await client.waitForStatus(account.zrn, "open", { timeoutMs: 10_000 })).status).toBe("open")
    await client.lock(account.zrn)
    expect((await client.waitForStatus(account.zrn, "locked", { timeoutMs: 10_000 })).status).toBe("locked")
    const seen = await readEvents(events, 2)
    expect(seen.map((e) => e.data.status)).toEqual(["open", "locked"])
    expect(seen[1]!.id).toBeGreaterThan(seen[0]!.id)
    // A second lock is a no-op upstream; withdraw_lock is refused by the proxy from the projection.
    await expect(client.withdrawLock(account.zrn)).rejects.toMatchObject({
      _tag: "ValidationError",
      status: 400,
      code: "transition_rejected"
    })
  })

  it("resumes the event stream after a reconnect with Last-Event-ID", async () => {
    const client = createClient({ baseUrl: proxy.url, credentials: { bearerToken: "dev-token" } })
    const auth = { authorization: "Bearer dev-token" }
    const account = await client.createAccount({
      participant_code: "CUST03",
      account_label: `resume-${Date.now()}`,
      type: "individual",
      tier: "pro",
      prefunded: false
    })
    const filter = `zrn=${encodeURIComponent(Zrn.format(account.zrn))}`
    const first = await fetch(`${proxy.url}/events?${filter}`, { headers: auth })
    await client.waitForStatus(account.zrn, "open", { timeoutMs: 10_000 })
    const [opened] = await readEvents(first, 1)
    expect(opened?.data.status).toBe("open")
    // Disconnected (readEvents cancelled the stream) while two more changes happen.
    await client.lock(account.zrn)
    await client.waitForStatus(account.zrn, "locked", { timeoutMs: 10_000 })
    await client.unlock(account.zrn)
    await client.waitForStatus(account.zrn, "open", { timeoutMs: 10_000 })
    const resumed = await fetch(`${proxy.url}/events?${filter}`, {
      headers: { ...auth, "last-event-id": String(opened!.id) }
    })
    const missed = await readEvents(resumed, 2)
    expect(missed.map((e) => e.data.status)).toEqual(["locked", "open"])
    expect(missed.every((e) => e.id > opened!.id && e.data.zrn === Zrn.format(account.zrn))).toBe(true)
  })
})
