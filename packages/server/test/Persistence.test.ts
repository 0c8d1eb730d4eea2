/**
 * The embedded store under a real process: the proxy is killed with SIGKILL in the middle of
 * mutating traffic and restarted on the same data directory; every request that was answered has its
 * audit entry and its idempotency record (a repeat replays the same answer), and the store opens
 * cleanly. Then a create whose upstream call times out while zerohash still holds it: the retry with
 * the same key sends it again and answers the account, and the simulator holds one account.
 */
import { randomUUID } from "node:crypto"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Callers } from "@mta/server"
import { type Server as SimServer, startSimulatorServer } from "@mta/testkit"
import { afterAll, describe, expect, it } from "vitest"
import { freePort, type ProxyProcess, startProxyProcess, upstreamEnv } from "./support.js"

const DEV = { authorization: "Bearer dev-token", "content-type": "application/json" }

interface Answered {
  readonly key: string
  readonly body: string
  readonly status: number
  readonly requestId: string
  readonly text: string
}

/** Every audit entry, all pages. */
const auditOf = async (url: string, headers: Record<string, string>, query = "") => {
  const entries: Array<{ request_id: string; status: number; outcome: string; caller: string }> = []
  let cursor: string | null = null
  do {
    const r = await fetch(`${url}/audit?limit=1000${query}${cursor === null ? "" : `&cursor=${cursor}`}`, {
      headers
    })
    expect(r.status).toBe(200)
    const page = (await r.json()) as { entries: typeof entries; next_cursor: string | null }
    entries.push(...page.entries)
    cursor = page.next_cursor
  } while (cursor !== null)
  return entries
}

describe("embedded store: SIGKILL in the middle of traffic, then a restart on the same data directory", () => {
  const dataDir = mkdtempSync(join(tmpdir(), "mta-durability-"))
  let proxy: ProxyProcess | undefined
  afterAll(async () => {
    await proxy?.stop("SIGKILL")
    rmSync(dataDir, { recursive: true, force: true })
  })

  it("keeps the audit entry and the idempotency record of every answered request", async () => {
    const env = { MTA_DATA_DIR: dataDir, LOG_LEVEL: "warn" }
    proxy = await startProxyProcess(env, await freePort())
    expect(proxy.stderr()).toContain(`state: embedded PGlite store in ${dataDir}`)
    const url = proxy.url
    const answered: Array<Answered> = []
    let killed = false
    const worker = async (w: number) => {
      for (let i = 0; !killed; i++) {
        const key = randomUUID()
        const requestId = `dur-${w}-${i}`
        const body = JSON.stringify({
          participant_code: `CUST${String((i % 9) + 1).padStart(2, "0")}`,
          account_label: `dur-${w}-${i}-${key.slice(0, 8)}`,
          type: "individual",
          tier: "pro",
          prefunded: false
        })
        try {
          const r = await fetch(`${url}/accounts`, {
            method: "POST",
            headers: { ...DEV, "idempotency-key": key, "x-request-id": requestId },
            body
          })
          const text = await r.text()
          // Only a whole answer counts as answered.
          answered.push({ key, body, status: r.status, requestId, text })
        } catch {
          return // the connection died with the process
        }
      }
    }
    const workers = Array.from({ length: 8 }, (_, w) => worker(w))
    while (answered.length < 150) await new Promise((resolve) => setTimeout(resolve, 10))
    proxy.child.kill("SIGKILL")
    killed = true
    expect(await proxy.exited).toBeNull()
    await Promise.all(workers)
    const snapshot = [...answered]
    expect(snapshot.length).toBeGreaterThanOrEqual(150)
    expect(snapshot.every((a) => a.status === 202)).toBe(true)

    // The same data directory (its lock was left by the killed process, and is taken over).
    proxy = await startProxyProcess(env, await freePort())
    const ready = await fetch(`${proxy.url}/readyz`)
    expect(ready.status).toBe(200)
    const audit = new Map((await auditOf(proxy.url, DEV)).map((e) => [e.request_id, e]))
    for (const a of snapshot) {
      expect(audit.get(a.requestId), a.requestId).toMatchObject({
        status: a.status,
        outcome: "accepted",
        caller: "dev"
      })
    }
    // Every answered request's record is there: a repeat answers the same, from the store.
    for (const a of snapshot) {
      const r = await fetch(`${proxy.url}/accounts`, {
        method: "POST",
        headers: { ...DEV, "idempotency-key": a.key },
        body: a.body
      })
      expect(r.headers.get("idempotent-replayed"), a.requestId).toBe("true")
      expect(r.status).toBe(a.status)
      expect(await r.text()).toBe(a.text)
    }
    // And it goes on working.
    const fresh = await fetch(`${proxy.url}/accounts`, {
      method: "POST",
      headers: { ...DEV, "idempotency-key": randomUUID() },
      body: JSON.stringify({
        participant_code: "CUST01",
        account_label: `after-restart-${randomUUID().slice(0, 8)}`,
        type: "individual",
        tier: "pro",
        prefunded: false
      })
    })
    expect(fresh.status).toBe(202)
    expect(proxy.stdout()).not.toMatch(/"level":(50|60)/)
  }, 120_000)
})

describe("a create whose upstream call times out after zerohash accepted it (process, standalone simulator)", () => {
  const TOKEN = "persist-token"
  let sim: SimServer.SimulatorServer | undefined
  let proxy: ProxyProcess | undefined
  afterAll(async () => {
    await proxy?.stop("SIGKILL")
    await sim?.close()
  })

  it("is answered with the account on the retry with the same key, and is created once", async () => {
    const port = await freePort()
    sim = await startSimulatorServer({
      seedDemo: true,
      asyncDelayMs: 0,
      webhook: { url: `http://127.0.0.1:${port}/webhooks/zerohash`, secret: "persist-webhook-secret" }
    })
    proxy = await startProxyProcess(
      {
        ...upstreamEnv(sim),
        ZH_WEBHOOK_SECRET: "persist-webhook-secret",
        ZH_TIMEOUT_MS: "300",
        MTA_CALLERS: JSON.stringify([
          { name: "p", token_sha256: Callers.hashToken(TOKEN), scopes: Callers.allScopes }
        ]),
        LOG_LEVEL: "warn"
      },
      port
    )
    const label = `timeout-${randomUUID().slice(0, 8)}`
    const key = randomUUID()
    const body = JSON.stringify({
      participant_code: "CUST07",
      account_label: label,
      type: "individual",
      tier: "gold",
      prefunded: true
    })
    const send = () =>
      fetch(`${proxy!.url}/accounts`, {
        method: "POST",
        headers: {
          authorization: `Bearer ${TOKEN}`,
          "content-type": "application/json",
          "idempotency-key": key
        },
        body
      })
    // zerohash takes the create but answers after the proxy's 300 ms deadline (then drops it).
    sim.simulator.injectFault({
      endpoint: "createAccount",
      latencyMs: 800,
      afterApply: true,
      drop: true,
      times: 1
    })
    const first = await send()
    expect(first.status).toBe(504)
    expect(await first.json()).toMatchObject({ code: "upstream_outcome_unknown" })
    // The retry sends the create again (production.md §5): while zerohash still holds the first
    // attempt, the re-send creates the account, which is the answer; once the first has landed, the
    // re-send meets its duplicate guard and the retry is told to come back until the webhook names it.
    let retry = await send()
    const deadline = Date.now() + 20_000
    while (retry.status === 409 && Date.now() < deadline) {
      expect(await retry.json()).toMatchObject({ code: "idempotency_outcome_pending" })
      await new Promise((resolve) => setTimeout(resolve, 100))
      retry = await send()
    }
    expect(retry.status).toBe(202)
    const account = sim.simulator.accounts().find((a) => a.account_label === label)
    const zrn = ((await retry.json()) as { message: { zrn: string } }).message.zrn
    expect(zrn).toBe(String(account?.zrn))
    // Whichever landed first, the other met the vendor's duplicate guard: one account.
    await new Promise((resolve) => setTimeout(resolve, 1_000))
    expect(sim.simulator.accounts().filter((a) => a.account_label === label)).toHaveLength(1)
    const creates = sim.simulator
      .journal()
      .filter((e) => e.endpoint === "createAccount" && e.requestBody.includes(label))
    expect(creates.length).toBeGreaterThanOrEqual(2)
    expect(creates.filter((e) => e.status === 202).length).toBeLessThanOrEqual(1)
    // Stored: replayed.
    const again = await send()
    expect(again.headers.get("idempotent-replayed")).toBe("true")
    expect(((await again.json()) as { message: { zrn: string } }).message.zrn).toBe(zrn)
  }, 60_000)
})
