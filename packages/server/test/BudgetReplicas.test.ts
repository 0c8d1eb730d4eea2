/**
 * Two proxy processes on one PostgreSQL (a throwaway cluster started here) share one vendor budget
 * (`production.md` §6), in front of the standalone simulator, whose journal records every request
 * it received with its time: under load from both, more than the budget (100 per 2 s here, so the
 * test is short), the upstream calls of both in any rolling 2 s window, counted from the journal as
 * the vendor counts (on arrival), stay within 100; callers get 429 with `Retry-After`; the
 * simulator's own limit (the same 100 per 2 s) never locks the platform out.
 *
 * Also `mta_budget_lease` (migration 6) on its own: many concurrent leases never grant more than the
 * limit in a window.
 *
 * Skipped, with the reason, when the PostgreSQL server binaries are absent.
 */
import { Callers } from "@mta/server"
import { type Server as SimServer, startSimulatorServer } from "@mta/testkit"
import pg from "pg"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type PostgresCluster, postgresUnavailable, startPostgres } from "./support/postgres.js"
import { freePort, type ProxyProcess, startProxyProcess, upstreamEnv } from "./support.js"

const TOKEN = "budget-token"
const SECRET = "budget-webhook-secret"
const LIMIT = 100
const WINDOW_MS = 2_000
const LOAD_MS = 5_000

if (postgresUnavailable !== undefined) console.warn(`[BudgetReplicas.test] skipped: ${postgresUnavailable}`)

/** The most entries of `times` (sorted) in any window `[t, t + windowMs)`. */
const busiestWindow = (times: ReadonlyArray<number>, windowMs: number): number => {
  let best = 0
  let start = 0
  for (let end = 0; end < times.length; end++) {
    while (times[end]! - times[start]! >= windowMs) start++
    best = Math.max(best, end - start + 1)
  }
  return best
}

describe.skipIf(postgresUnavailable !== undefined)("two proxies sharing one vendor budget", () => {
  let cluster: PostgresCluster
  let url: string
  let sim: SimServer.SimulatorServer
  let a: ProxyProcess
  let b: ProxyProcess

  beforeAll(async () => {
    cluster = await startPostgres()
    url = await cluster.createDatabase("budget_e2e")
    const portA = await freePort()
    sim = await startSimulatorServer({
      seedDemo: true,
      asyncDelayMs: 600_000,
      // The vendor's limit, as the vendor would apply it: above it, everything is refused for 2 s.
      rateLimit: { limit: LIMIT, windowMs: WINDOW_MS, lockoutMs: WINDOW_MS },
      webhook: { url: `http://127.0.0.1:${portA}/webhooks/zerohash`, secret: SECRET }
    })
    const env = {
      ...upstreamEnv(sim),
      ZH_WEBHOOK_SECRET: SECRET,
      ZH_TIMEOUT_MS: "2000",
      ZH_RATE_LIMIT: String(LIMIT),
      ZH_RATE_WINDOW_MS: String(WINDOW_MS),
      MTA_BUDGET_BLOCK: "10",
      MTA_BUDGET_LEASE_MS: "500",
      // One caller may use the whole budget: the load is one caller's, on both proxies.
      MTA_UPSTREAM_SHARE: "1",
      MTA_CALLERS: JSON.stringify([
        { name: "load", token_sha256: Callers.hashToken(TOKEN), scopes: Callers.allScopes }
      ]),
      DATABASE_URL: url,
      LOG_LEVEL: "warn"
    }
    ;[a, b] = await Promise.all([startProxyProcess(env, portA), startProxyProcess(env, await freePort())])
  }, 120_000)
  afterAll(async () => {
    await a?.stop("SIGKILL")
    await b?.stop("SIGKILL")
    await sim?.close()
    await cluster?.stop()
  })

  it("keeps both proxies' upstream calls in any rolling window within the budget, counted at the upstream", async () => {
    sim.simulator.reset()
    const started = Date.now()
    const until = started + LOAD_MS
    const outcomes = { a: new Map<number, number>(), b: new Map<number, number>() }
    const retryAfters: Array<string | null> = []
    const codes = new Set<string>()
    const worker = async (proxy: "a" | "b") => {
      const base = (proxy === "a" ? a : b).url
      while (Date.now() < until) {
        const r = await fetch(`${base}/accounts`, { headers: { authorization: `Bearer ${TOKEN}` } })
        const seen = outcomes[proxy]
        seen.set(r.status, (seen.get(r.status) ?? 0) + 1)
        if (r.status === 429) {
          retryAfters.push(r.headers.get("retry-after"))
          codes.add(((await r.json()) as { code: string }).code)
          // A client that backs off a little, so the two CPUs are not spent on refusals.
          await new Promise((resolve) => setTimeout(resolve, 10))
        } else {
          await r.arrayBuffer()
        }
      }
    }
    await Promise.all([
      ...Array.from({ length: 4 }, () => worker("a")),
      ...Array.from({ length: 4 }, () => worker("b"))
    ])

    const journal = (
      (await (await fetch(`${sim.url}/__simulator/journal`)).json()) as {
        journal: Array<{ at: number; path: string; status: number; fault?: string }>
      }
    ).journal.filter((e) => e.path !== "/time" && e.at >= started)
    const times = journal.map((e) => e.at).sort((x, y) => x - y)
    const busiest = busiestWindow(times, WINDOW_MS)
    console.info(
      `[BudgetReplicas.test] ${times.length} upstream calls in ${LOAD_MS} ms; busiest ${WINDOW_MS} ms window: ${busiest}; a: ${JSON.stringify([...outcomes.a])}; b: ${JSON.stringify([...outcomes.b])}`
    )
    // The budget holds at the upstream, and the vendor never locked the platform out.
    expect(busiest).toBeLessThanOrEqual(LIMIT)
    expect(journal.filter((e) => e.status === 429)).toEqual([])
    // The load was over the budget, and both proxies were served from it and refused by it.
    expect(times.length).toBeGreaterThan(LIMIT)
    for (const seen of [outcomes.a, outcomes.b]) {
      expect(seen.get(200) ?? 0).toBeGreaterThan(0)
      expect(seen.get(429) ?? 0).toBeGreaterThan(0)
      expect([...seen.keys()].filter((s) => s !== 200 && s !== 429)).toEqual([])
    }
    expect((outcomes.a.get(200) ?? 0) + (outcomes.b.get(200) ?? 0)).toBe(times.length)
    expect(codes).toEqual(new Set(["upstream_rate_limited"]))
    expect(retryAfters.every((h) => h !== null && /^[1-9]\d*$/.test(h))).toBe(true)
  }, 60_000)

  it("never grants more than the limit in a window to concurrent leases (mta_budget_lease)", async () => {
    const db = new pg.Pool({ connectionString: url, max: 8 })
    try {
      await db.query("DELETE FROM mta_budget_grants")
      const lease = async (caller: string): Promise<number> => {
        const r = await db.query<{ r: { granted: number } }>(
          "SELECT mta_budget_lease($1, 7, 50, 50, 60000, 60000, '[]'::jsonb) AS r",
          [caller]
        )
        return r.rows[0]!.r.granted
      }
      const granted = await Promise.all(Array.from({ length: 40 }, (_, i) => lease(`c${i % 3}`)))
      const total = granted.reduce((s, g) => s + g, 0)
      expect(total).toBe(50)
      const stored = await db.query<{ n: string }>("SELECT sum(slots) AS n FROM mta_budget_grants")
      expect(Number(stored.rows[0]!.n)).toBe(50)
      // Spent: the answer says why and for how long.
      const refused = await db.query<{ r: { granted: number; reason: string; wait: number } }>(
        "SELECT mta_budget_lease('c0', 7, 50, 50, 60000, 60000, '[]'::jsonb) AS r"
      )
      expect(refused.rows[0]!.r).toMatchObject({ granted: 0, reason: "budget" })
      expect(refused.rows[0]!.r.wait).toBeGreaterThan(60_000)
      // A caller's cap: another caller's grants do not count against it, its own do.
      await db.query("DELETE FROM mta_budget_grants")
      const capped = await db.query<{ r: { granted: number; reason: string | null } }>(
        "SELECT mta_budget_lease('c0', 30, 100, 10, 60000, 60000, '[]'::jsonb) AS r"
      )
      expect(capped.rows[0]!.r.granted).toBeLessThanOrEqual(10)
      // A report only shrinks a grant.
      const id = (await db.query<{ id: string }>("SELECT id FROM mta_budget_grants")).rows[0]!.id
      await db.query("SELECT mta_budget_lease('c0', 0, 100, 10, 60000, 60000, $1::jsonb)", [
        JSON.stringify([{ id: Number(id), used: 1_000, ago: -100_000 }])
      ])
      const row = (
        await db.query<{ slots: number; ends_at: string; granted_at: string }>(
          "SELECT slots, ends_at, granted_at FROM mta_budget_grants"
        )
      ).rows[0]!
      expect(row.slots).toBe(capped.rows[0]!.r.granted)
      expect(Number(row.ends_at)).toBeLessThanOrEqual(Number(row.granted_at) + 60_000)
    } finally {
      await db.end()
    }
  })
})
