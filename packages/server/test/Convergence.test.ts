/**
 * Webhooks lost while the proxy is down (production.md §3), with real processes on real ports: a
 * standalone simulator as the upstream, the proxy as a process (`src/main.ts`, as `pnpm start` runs
 * it). The proxy is stopped, statuses change at the simulator (its control plane, `forceStatus`), the
 * simulator gives their webhooks up after the vendor's retry schedule (about 8 s), and the proxy is
 * started again on the same store:
 *
 * - embedded store: every account the proxy knows matches the simulator within 60 s of the proxy
 *   being up, and a command is never refused on a status older than the trust window (`unlock` on an
 *   account the proxy wrongly believed `withdraw_locked` goes through at once);
 * - two replicas on one PostgreSQL: both converge, and each account is re-read exactly once between
 *   them (the claims' leases keep replicas apart).
 *
 * Settings are short where the defaults would make the test wait: a 2 s trust window and a pass of the
 * background reconciliation every 250 ms. The catch-up itself runs with its defaults (a downtime
 * over 5 s; half the vendor budget).
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Callers } from "@mta/server"
import { type Server as SimServer, startSimulatorServer } from "@mta/testkit"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type PostgresCluster, postgresUnavailable, startPostgres } from "./support/postgres.js"
import {
  freePort,
  type ProxyProcess,
  readEvents,
  sampleOf,
  startProxyProcess,
  upstreamEnv
} from "./support.js"

const TOKEN = "converge-token"
const SECRET = "converge-webhook-secret"
const AUTH = { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" }

if (postgresUnavailable !== undefined)
  console.warn(`[Convergence.test] PostgreSQL skipped: ${postgresUnavailable}`)

const envOf = (sim: SimServer.SimulatorServer, store: Record<string, string>): Record<string, string> => ({
  ...upstreamEnv(sim),
  ZH_WEBHOOK_SECRET: SECRET,
  MTA_CALLERS: JSON.stringify([
    { name: "converge", token_sha256: Callers.hashToken(TOKEN), scopes: Callers.allScopes }
  ]),
  MTA_PROJECTION_TRUST_MS: "2000",
  MTA_RECONCILE_INTERVAL_MS: "250",
  LOG_LEVEL: "warn",
  ...store
})

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

const waitFor = async (what: string, check: () => Promise<boolean> | boolean, timeoutMs: number) => {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(100)
  }
}

const send = (url: string, path: string, method = "GET", body?: string) =>
  fetch(`${url}${path}`, { method, headers: AUTH, ...(body === undefined ? {} : { body }) })

const statusAt = async (url: string, zrn: string, waitFor = "") => {
  const r = await send(
    url,
    `/accounts/${zrn}/status${waitFor === "" ? "" : `?wait_for=${waitFor}&timeout_ms=10000`}`
  )
  return ((await r.json()) as { status: string | null }).status
}

/** Creates `n` accounts through the proxy and waits until each is open there (webhooks delivered). */
const createAccounts = async (url: string, n: number, tag: string): Promise<Array<string>> => {
  const zrns: Array<string> = []
  for (let i = 0; i < n; i++) {
    const r = await send(
      url,
      "/accounts",
      "POST",
      JSON.stringify({
        participant_code: `CUST${String((i % 9) + 1).padStart(2, "0")}`,
        account_label: `${tag}-${i}-${Date.now()}`,
        type: "individual",
        tier: "pro",
        prefunded: false
      })
    )
    expect(r.status).toBe(202)
    zrns.push(((await r.json()) as { message: { zrn: string } }).message.zrn)
  }
  for (const zrn of zrns) expect(await statusAt(url, zrn, "open")).toBe("open")
  return zrns
}

/** Sends a command through the proxy and waits for its webhook to reach the projection. */
const command = async (url: string, zrn: string, path: string, status: string) => {
  expect((await send(url, `/accounts/${zrn}/${path}`, "POST", "{}")).status).toBe(202)
  expect(await statusAt(url, zrn, status)).toBe(status)
}

/** Changes statuses at the simulator and waits until it has given up delivering their webhooks. */
const changeWhileDown = async (sim: SimServer.SimulatorServer, changes: ReadonlyArray<[string, string]>) => {
  const before = sim.simulator.webhooks().length
  // Authored by the platform (another of its services, say): a zerohash-authored lock is not the
  // platform's to lift ("who unlocks", participants.md), and the test unlocks one afterwards.
  for (const [zrn, status] of changes) {
    sim.simulator.forceStatus(zrn, status as never, { author_type: "platform", reason: "user_request" })
  }
  const emitted = () => sim.simulator.webhooks().slice(before)
  expect(emitted()).toHaveLength(changes.length)
  // The vendor's schedule: 4 retries 250 ms apart, then 1 s, 2 s, 4 s; then the notification is dropped.
  await waitFor("the webhooks to be given up", () => emitted().every((w) => w.outcome === "dropped"), 20_000)
}

const simulatorStatus = (sim: SimServer.SimulatorServer, zrn: string) =>
  sim.simulator.accounts().find((a) => String(a.zrn) === zrn)?.status ?? null

/** Waits until every proxy shows every account as the simulator has it; the time it took. */
const converge = async (
  sim: SimServer.SimulatorServer,
  urls: ReadonlyArray<string>,
  zrns: ReadonlyArray<string>,
  upAt: number
): Promise<number> => {
  const mismatches = async () => {
    const out: Array<string> = []
    for (const url of urls) {
      for (const zrn of zrns) {
        const mine = await statusAt(url, zrn)
        const theirs = simulatorStatus(sim, zrn)
        if (mine !== theirs) out.push(`${url} ${zrn}: ${mine} (zerohash: ${theirs})`)
      }
    }
    return out
  }
  const deadline = upAt + 60_000
  let left = await mismatches()
  while (left.length > 0 && Date.now() < deadline) {
    await sleep(100)
    left = await mismatches()
  }
  expect(left).toEqual([])
  return Date.now() - upAt
}

const metricValue = async (url: string, sample: string) =>
  sampleOf(await (await fetch(`${url}/metrics`)).text(), sample)

describe("webhooks lost while the proxy is down (embedded store, process)", () => {
  const dataDir = mkdtempSync(join(tmpdir(), "mta-converge-"))
  let sim: SimServer.SimulatorServer
  let proxy: ProxyProcess | undefined
  let port: number
  beforeAll(async () => {
    port = await freePort()
    sim = await startSimulatorServer({
      seedDemo: true,
      asyncDelayMs: 50,
      webhook: { url: `http://127.0.0.1:${port}/webhooks/zerohash`, secret: SECRET }
    })
  })
  afterAll(async () => {
    await proxy?.stop("SIGKILL")
    await sim?.close()
    rmSync(dataDir, { recursive: true, force: true })
  })

  it("matches zerohash within 60 s of being up again, and refuses no command on a stale status", async () => {
    const env = envOf(sim, { MTA_DATA_DIR: dataDir })
    proxy = await startProxyProcess(env, port)
    const zrns = await createAccounts(proxy.url, 12, "converge")
    for (const zrn of zrns.slice(0, 4)) await command(proxy.url, zrn, "lock", "locked")
    for (const zrn of zrns.slice(4, 8)) await command(proxy.url, zrn, "withdraw_lock", "withdraw_locked")

    expect(await proxy.stop()).toBe(0)
    const unlockMe = zrns[4]!
    await changeWhileDown(sim, [
      [zrns[0]!, "open"],
      [zrns[1]!, "open"],
      [zrns[2]!, "divesting"],
      [unlockMe, "locked"],
      [zrns[5]!, "open"],
      [zrns[7]!, "closed"],
      [zrns[8]!, "locked"],
      [zrns[9]!, "withdraw_locked"]
    ])

    proxy = await startProxyProcess(env, port)
    const upAt = Date.now()
    // The proxy believed withdraw_locked (confirmed before the downtime, older than the 2 s trust
    // window): `unlock` is judged on a fresh read, never refused on the stale status.
    const unlock = await send(proxy.url, `/accounts/${unlockMe}/unlock`, "POST", "{}")
    expect(unlock.status).toBe(202)
    const took = await converge(sim, [proxy.url], zrns, upAt)
    expect(took).toBeLessThan(60_000)
    console.info(
      `[Convergence.test] embedded store: every account matched zerohash ${took} ms after the start`
    )

    // A repair is an event of its own (source reconcile), after the webhook's.
    const events = await readEvents(
      await fetch(`${proxy.url}/events?last_event_id=0&zrn=${encodeURIComponent(zrns[8]!)}`, {
        headers: AUTH
      }),
      2
    )
    expect(events.map((e) => [e.data.status, e.data.source, e.data.notification_id === null])).toEqual([
      ["open", "webhook", false],
      ["locked", "reconcile", true]
    ])
    expect(events[1]!.id).toBeGreaterThan(events[0]!.id)
    const repairs =
      (await metricValue(
        proxy.url,
        'mta_reconcile_total{trigger="catch_up",outcome="repaired",kind="account"}'
      )) +
      (await metricValue(
        proxy.url,
        'mta_reconcile_total{trigger="command",outcome="repaired",kind="account"}'
      ))
    expect(repairs).toBeGreaterThanOrEqual(8)
    expect(proxy.stdout()).not.toMatch(/"level":(50|60)/)
  }, 120_000)
})

describe.skipIf(postgresUnavailable !== undefined)(
  "webhooks lost while two replicas on one PostgreSQL are down (processes)",
  () => {
    let cluster: PostgresCluster
    let sim: SimServer.SimulatorServer
    let a: ProxyProcess | undefined
    let b: ProxyProcess | undefined
    let ports: [number, number]
    beforeAll(async () => {
      cluster = await startPostgres()
      ports = [await freePort(), await freePort()]
      sim = await startSimulatorServer({
        seedDemo: true,
        asyncDelayMs: 50,
        webhook: { url: `http://127.0.0.1:${ports[0]}/webhooks/zerohash`, secret: SECRET }
      })
    }, 120_000)
    afterAll(async () => {
      await a?.stop("SIGKILL")
      await b?.stop("SIGKILL")
      await sim?.close()
      await cluster?.stop()
    })

    it("both match zerohash within 60 s, and each account is re-read once between them", async () => {
      const env = envOf(sim, { DATABASE_URL: await cluster.createDatabase("converge") })
      ;[a, b] = await Promise.all([startProxyProcess(env, ports[0]), startProxyProcess(env, ports[1])])
      const zrns = await createAccounts(a.url, 10, "replicas")
      for (const zrn of zrns.slice(0, 3)) await command(a.url, zrn, "lock", "locked")
      await Promise.all([a.stop(), b.stop()])
      await changeWhileDown(sim, [
        [zrns[0]!, "open"],
        [zrns[1]!, "divesting"],
        [zrns[3]!, "locked"],
        [zrns[4]!, "withdraw_locked"],
        [zrns[5]!, "closed"]
      ])
      const before = sim.simulator.journal().at(-1)?.seq ?? 0
      ;[a, b] = await Promise.all([startProxyProcess(env, ports[0]), startProxyProcess(env, ports[1])])
      const upAt = Date.now()
      const took = await converge(sim, [a.url, b.url], zrns, upAt)
      console.info(
        `[Convergence.test] two replicas: every account matched zerohash ${took} ms after the start`
      )
      // Every account the proxies know was confirmed before the downtime: each is re-read, once.
      const reads = sim.simulator.journal().filter((e) => e.seq > before && e.endpoint === "getAccount")
      const perAccount = new Map<string, number>()
      for (const e of reads) {
        const zrn = /\/accounts\/([^/]+)\/details/.exec(e.path)?.[1]
        if (zrn !== undefined)
          perAccount.set(decodeURIComponent(zrn), (perAccount.get(decodeURIComponent(zrn)) ?? 0) + 1)
      }
      expect([...perAccount.keys()].sort()).toEqual([...zrns].sort())
      expect([...perAccount.values()].every((n) => n === 1)).toBe(true)
      const catchUp = async (url: string, outcome: string) =>
        metricValue(url, `mta_reconcile_total{trigger="catch_up",outcome="${outcome}",kind="account"}`)
      expect((await catchUp(a.url, "repaired")) + (await catchUp(b.url, "repaired"))).toBe(5)
      expect((await catchUp(a.url, "confirmed")) + (await catchUp(b.url, "confirmed"))).toBe(5)
    }, 180_000)
  }
)
