/**
 * Two proxy processes on different ports sharing one PostgreSQL (a throwaway cluster started here),
 * in front of one standalone simulator whose webhooks go to the first proxy only:
 *
 * - the same `Idempotency-Key` sent to both at once creates exactly one upstream account (the
 *   simulator's journal shows one create);
 * - a webhook delivered to one wakes a long poll on the other, and the other's event stream has it;
 * - the audit log (read on either) holds every call made to both.
 *
 * Skipped, with the reason, when the PostgreSQL server binaries are absent.
 */
import { randomUUID } from "node:crypto"
import { Callers } from "@mta/server"
import { type Server as SimServer, startSimulatorServer } from "@mta/testkit"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type PostgresCluster, postgresUnavailable, startPostgres } from "./support/postgres.js"
import { freePort, type ProxyProcess, startProxyProcess, upstreamEnv } from "./support.js"

const TOKEN = "replica-token"
const SECRET = "replica-webhook-secret"
const AUTH = { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" }

if (postgresUnavailable !== undefined) console.warn(`[Replicas.test] skipped: ${postgresUnavailable}`)

describe.skipIf(postgresUnavailable !== undefined)("two proxies sharing one PostgreSQL", () => {
  let cluster: PostgresCluster
  let sim: SimServer.SimulatorServer
  let a: ProxyProcess
  let b: ProxyProcess
  const sent: Array<{ proxy: "a" | "b"; requestId: string }> = []

  const call = async (proxy: "a" | "b", path: string, init: RequestInit & { key?: string } = {}) => {
    const requestId = `replica-${proxy}-${randomUUID()}`
    const { key, ...rest } = init
    const r = await fetch(`${(proxy === "a" ? a : b).url}${path}`, {
      ...rest,
      headers: {
        ...AUTH,
        "x-request-id": requestId,
        ...(key === undefined ? {} : { "idempotency-key": key })
      }
    })
    if ((rest.method ?? "GET") !== "GET") sent.push({ proxy, requestId })
    return r
  }
  const createBody = (label: string) =>
    JSON.stringify({
      participant_code: "CUST04",
      account_label: label,
      type: "individual",
      tier: "pro",
      prefunded: false
    })

  beforeAll(async () => {
    cluster = await startPostgres()
    const url = await cluster.createDatabase("replicas_e2e")
    const [portA, portB] = [await freePort(), await freePort()]
    // Background work runs only on `settle()`, so the test decides when a webhook fires.
    sim = await startSimulatorServer({
      seedDemo: true,
      asyncDelayMs: 600_000,
      webhook: { url: `http://127.0.0.1:${portA}/webhooks/zerohash`, secret: SECRET }
    })
    const env = {
      ...upstreamEnv(sim),
      ZH_WEBHOOK_SECRET: SECRET,
      MTA_CALLERS: JSON.stringify([
        { name: "replicas", token_sha256: Callers.hashToken(TOKEN), scopes: Callers.allScopes }
      ]),
      DATABASE_URL: url,
      LOG_LEVEL: "warn"
    }
    // Both start at once on an empty database: the migrations must cope.
    ;[a, b] = await Promise.all([startProxyProcess(env, portA), startProxyProcess(env, portB)])
  }, 120_000)
  afterAll(async () => {
    await a?.stop("SIGKILL")
    await b?.stop("SIGKILL")
    await sim?.close()
    await cluster?.stop()
  })

  it("prints the database without its password at startup", () => {
    expect(a.stderr()).toMatch(/state: PostgreSQL at postgres:\/\/postgres@127\.0\.0\.1:\d+\/replicas_e2e/)
  })

  it("creates exactly one upstream account for one key sent to both at once", async () => {
    const label = `replica-${randomUUID().slice(0, 8)}`
    const key = randomUUID()
    // The create stays in flight long enough for the second request to find its key claimed.
    sim.simulator.injectFault({ endpoint: "createAccount", latencyMs: 500, times: 1 })
    const [ra, rb] = await Promise.all([
      call("a", "/accounts", { method: "POST", body: createBody(label), key }),
      call("b", "/accounts", { method: "POST", body: createBody(label), key })
    ])
    const statuses = [ra.status, rb.status].sort()
    expect(statuses).toEqual([202, 409])
    const loser = ra.status === 409 ? ra : rb
    expect(await loser.json()).toMatchObject({ code: "idempotency_in_flight" })
    const winner = (await (ra.status === 202 ? ra : rb).json()) as { message: { zrn: string } }
    const journal = sim.simulator
      .journal()
      .filter((e) => e.endpoint === "createAccount" && e.requestBody.includes(label))
    expect(journal).toHaveLength(1)
    // Either replica now replays the one answer.
    for (const proxy of ["a", "b"] as const) {
      const replay = await call(proxy, "/accounts", { method: "POST", body: createBody(label), key })
      expect(replay.status).toBe(202)
      expect(replay.headers.get("idempotent-replayed")).toBe("true")
      expect(((await replay.json()) as { message: { zrn: string } }).message.zrn).toBe(winner.message.zrn)
    }
  })

  it("wakes a long poll on one proxy when the webhook lands on the other", async () => {
    const label = `wake-${randomUUID().slice(0, 8)}`
    const created = await call("a", "/accounts", { method: "POST", body: createBody(label) })
    expect(created.status).toBe(202)
    const zrn = ((await created.json()) as { message: { zrn: string } }).message.zrn
    const polling = call("b", `/accounts/${zrn}/status?wait_for=open&timeout_ms=30000`)
    // Wait until b's long poll is registered (b's own metric), then let the simulator provision the
    // account: its webhook goes to a only.
    for (let i = 0; i < 200; i++) {
      const metrics = await (await fetch(`${b.url}/metrics`)).text()
      if (/mta_long_polls_waiting 1/.test(metrics)) break
      await new Promise((resolve) => setTimeout(resolve, 25))
    }
    await sim.simulator.settle()
    const answer = await polling
    expect(await answer.json()).toMatchObject({ zrn, status: "open", timed_out: false })
    expect(sim.simulator.webhooks().find((w) => w.zrn === zrn)?.outcome).toBe("delivered")
    expect(await (await fetch(`${a.url}/metrics`)).text()).toMatch(
      /mta_webhooks_received_total\{outcome="applied",kind="account"\} [1-9]/
    )
    expect(await (await fetch(`${b.url}/metrics`)).text()).not.toMatch(
      /mta_webhooks_received_total\{outcome="applied",kind="account"\}/
    )
    // b's event stream replays it from the shared log (resume by Last-Event-ID works on any replica).
    const controller = new AbortController()
    const events = await fetch(`${b.url}/events?last_event_id=0&zrn=${encodeURIComponent(zrn)}`, {
      headers: AUTH,
      signal: controller.signal
    })
    const reader = events.body!.getReader()
    let text = ""
    while (!/data: .*"status":"open"/.test(text)) {
      const { value, done } = await reader.read()
      if (done) break
      text += new TextDecoder().decode(value)
    }
    controller.abort()
    expect(text).toMatch(/event: customer_account_status_changed\ndata: .*"status":"open"/)
  })

  it("keeps every call made to either proxy in the one audit log", async () => {
    const label = `audit-${randomUUID().slice(0, 8)}`
    const created = await call("b", "/accounts", {
      method: "POST",
      body: createBody(label),
      key: randomUUID()
    })
    const zrn = ((await created.json()) as { message: { zrn: string } }).message.zrn
    await sim.simulator.settle()
    expect((await call("a", `/accounts/${zrn}/lock`, { method: "POST", body: "{}" })).status).toBe(202)
    const seen = new Set<string>()
    let cursor: string | null = null
    do {
      const r: Response = await fetch(
        `${a.url}/audit?caller=replicas&limit=2${cursor === null ? "" : `&cursor=${cursor}`}`,
        {
          headers: AUTH
        }
      )
      const page = (await r.json()) as { entries: Array<{ request_id: string }>; next_cursor: string | null }
      for (const e of page.entries) seen.add(e.request_id)
      cursor = page.next_cursor
    } while (cursor !== null)
    expect(sent.some((s) => s.proxy === "a") && sent.some((s) => s.proxy === "b")).toBe(true)
    expect(sent.filter((s) => !seen.has(s.requestId))).toEqual([])
    const onB = (await (
      await fetch(`${b.url}/audit?zrn=${encodeURIComponent(zrn)}`, { headers: AUTH })
    ).json()) as {
      entries: Array<{ action: string }>
    }
    expect(onB.entries.map((e) => e.action)).toEqual(["createAccount", "lock"])
  })
})
