/**
 * Webhook authenticity (production.md §4): the legacy signature alone is refused by default (401
 * `LegacyNotAllowed`, a metric, a log line) and changes nothing; with `ZH_WEBHOOK_ACCEPT_LEGACY` it is
 * accepted, and a body seen before is then a duplicate whatever its id; the same signed content under
 * a new notification id is a duplicate (no second event); several secrets verify during a rotation.
 * In process, then against the proxy as a process with the standalone simulator as the sender.
 */
import { createClient } from "@mta/client"
import { Zrn } from "@mta/domain"
import { Callers } from "@mta/server"
import { type Server as SimServer, startSimulatorServer } from "@mta/testkit"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import {
  freePort,
  harness,
  type ProxyProcess,
  signWebhook,
  startProxyProcess,
  upstreamEnv
} from "./support.js"

const UUID = "0b6f4a57-3c1e-4d0e-9a51-7f0e2d9c4b11"
const ZRN = `zrn:zh:us:accounts:customer:${UUID}`
const payload = (status: string) =>
  JSON.stringify({
    urn: `urn:zh:us:accounts:customer:${UUID}`,
    participant_code: "CUST01",
    status,
    type: "jtic"
  })

type H = ReturnType<typeof harness>
const post = (h: H, body: string, headers: Record<string, string>) =>
  h.request("/webhooks/zerohash", { method: "POST", token: null, headers, body })
const outcome = async (r: Response) => ((await r.json()) as { outcome?: string }).outcome

describe("webhook authenticity, in process", () => {
  it("refuses the legacy signature alone by default: 401, a metric and a log line, nothing changes", async () => {
    const h = harness()
    const body = payload("locked")
    const r = await post(h, body, signWebhook(body, { legacyOnly: true, id: "legacy-1" }))
    expect(r.status).toBe(401)
    const answer = (await r.json()) as { code: string; message: string }
    expect(answer.code).toBe("webhook_rejected")
    expect(answer.message).toMatch(/LegacyNotAllowed/)
    expect(answer.message).toMatch(/ZH_WEBHOOK_ACCEPT_LEGACY=true/)
    expect(await h.store.status(ZRN)).toBeUndefined()
    expect(await h.store.events({ after: 0, limit: 10 })).toEqual([])
    expect(await h.metrics.render()).toMatch(
      /mta_webhooks_received_total\{outcome="rejected",kind="account",reason="LegacyNotAllowed"\} 1/
    )
    const logged = h.logs.filter((l) => l.includes("webhook rejected"))
    expect(logged).toHaveLength(1)
    expect(JSON.parse(logged[0]!)).toMatchObject({ reason: "LegacyNotAllowed", notification_id: "legacy-1" })
    // Both signatures (what zerohash sends): accepted.
    expect(await outcome(await post(h, body, signWebhook(body)))).toBe("applied")
  })

  it("with ZH_WEBHOOK_ACCEPT_LEGACY, accepts it once: the same body again is a duplicate whatever its id", async () => {
    const h = harness({ webhookAcceptLegacy: true })
    const body = payload("locked")
    const first = Date.now() - 2_000
    expect(
      await outcome(await post(h, body, signWebhook(body, { legacyOnly: true, timestamp: first })))
    ).toBe("applied")
    // Replayed under a new id and a new (unsigned) timestamp: nothing changes.
    for (const timestamp of [first, Date.now()]) {
      const r = await post(h, body, signWebhook(body, { legacyOnly: true, timestamp }))
      expect(await outcome(r)).toBe("duplicate")
    }
    expect(await h.store.events({ after: 0, limit: 10 })).toHaveLength(1)
    expect((await h.store.status(ZRN))?.updatedAt).toBe(first)
    expect(await h.metrics.render()).toMatch(
      /mta_webhooks_received_total\{outcome="duplicate",kind="account"\} 2/
    )
    expect(h.logs.some((l) => l.includes('"duplicate_of":"body"'))).toBe(true)
  })

  it("takes the same signed content under a new notification id for a duplicate: no second event", async () => {
    const h = harness()
    const body = payload("locked")
    const timestamp = Date.now() - 1_000
    const events: Array<number> = []
    const off = h.store.subscribe((c) => {
      if (c.event !== undefined) events.push(c.event.id)
    })
    expect(await outcome(await post(h, body, signWebhook(body, { timestamp, id: "n-1" })))).toBe("applied")
    // The signature covers the body and the timestamp, not the id: a replay with a fresh id.
    const r = await post(h, body, signWebhook(body, { timestamp, id: "n-2" }))
    expect(r.status).toBe(200)
    expect(await outcome(r)).toBe("duplicate")
    // Even after a newer status: still a duplicate, not a stale notification.
    const later = payload("open")
    expect(await outcome(await post(h, later, signWebhook(later)))).toBe("applied")
    expect(await outcome(await post(h, body, signWebhook(body, { timestamp, id: "n-3" })))).toBe("duplicate")
    off()
    expect(events).toHaveLength(2)
    expect((await h.store.events({ after: 0, limit: 10 })).map((e) => e.notificationId)).toEqual([
      "n-1",
      expect.any(String)
    ])
    expect(h.logs.some((l) => l.includes('"duplicate_of":"content"'))).toBe(true)
  })

  it("verifies with any of several secrets (a rotation), and with none other", async () => {
    const h = harness({ webhookSecret: ["retiring-secret", "new-secret"] })
    const a = payload("locked")
    expect(await outcome(await post(h, a, signWebhook(a, { secret: "retiring-secret" })))).toBe("applied")
    const b = payload("open")
    expect(await outcome(await post(h, b, signWebhook(b, { secret: "new-secret" })))).toBe("applied")
    const c = payload("closed")
    expect((await post(h, c, signWebhook(c, { secret: "another-secret" }))).status).toBe(401)
    expect((await h.store.status(ZRN))?.status).toBe("open")
  })
})

describe("webhook authenticity, against the proxy process with the standalone simulator", () => {
  const TOKEN = "authenticity-token"
  const OLD = "whsec-retiring"
  const NEW = "whsec-current"
  let sim: SimServer.SimulatorServer
  let proxy: ProxyProcess
  beforeAll(async () => {
    const port = await freePort()
    sim = await startSimulatorServer({
      seedDemo: true,
      asyncDelayMs: 0,
      webhook: { url: `http://127.0.0.1:${port}/webhooks/zerohash`, secret: NEW }
    })
    proxy = await startProxyProcess(
      {
        ...upstreamEnv(sim),
        // A rotation: the simulator signs with the second.
        ZH_WEBHOOK_SECRET: `${OLD}, ${NEW}`,
        MTA_CALLERS: JSON.stringify([
          { name: "ops", token_sha256: Callers.hashToken(TOKEN), scopes: Callers.allScopes }
        ]),
        LOG_LEVEL: "warn"
      },
      port
    )
  }, 60_000)
  afterAll(async () => {
    await proxy?.stop()
    await sim?.close()
  })

  const deliver = (body: string, headers: Record<string, string>) =>
    fetch(`${proxy.url}/webhooks/zerohash`, { method: "POST", headers, body })
  const metrics = async () => (await fetch(`${proxy.url}/metrics`)).text()
  const statusOf = async (id: string) =>
    (await (
      await fetch(`${proxy.url}/accounts/${id}/status`, { headers: { authorization: `Bearer ${TOKEN}` } })
    ).json()) as { status: string; updated_at: string }

  it("replays of a real delivery (new id, legacy signature alone) change nothing; the retiring secret still verifies", async () => {
    const client = createClient({ baseUrl: proxy.url, credentials: { bearerToken: TOKEN } })
    const account = await client.createAccount({
      participant_code: "CUST05",
      account_label: `authenticity-${Date.now()}`,
      type: "individual",
      tier: "gold",
      prefunded: true
    })
    await sim.simulator.settle()
    const opened = await client.waitForStatus(account.zrn, "open", { timeoutMs: 10_000 })
    expect(opened.status).toBe("open")
    const record = sim.simulator
      .webhooks()
      .find((w) => w.zrn === Zrn.format(account.zrn) && w.status === "open")
    expect(record?.outcome).toBe("delivered")
    const before = await statusOf(account.zrn.id)
    const applied = (await metrics()).match(
      /mta_webhooks_received_total\{outcome="applied",kind="account"} (\d+)/
    )?.[1]

    // The delivery's body, timestamp and signature again, under a new notification id.
    const replay = signWebhook(record!.rawBody, {
      secret: NEW,
      timestamp: record!.emittedAt,
      id: "replayed-1"
    })
    const r = await deliver(record!.rawBody, replay)
    expect(r.status).toBe(200)
    expect(await r.json()).toEqual({ received: true, outcome: "duplicate" })

    // The legacy signature alone: refused.
    const legacy = signWebhook(record!.rawBody, { secret: NEW, legacyOnly: true, id: "replayed-2" })
    const refused = await deliver(record!.rawBody, legacy)
    expect(refused.status).toBe(401)
    expect(await refused.json()).toMatchObject({ code: "webhook_rejected" })

    expect(await statusOf(account.zrn.id)).toEqual(before)
    const text = await metrics()
    expect(text).toMatch(
      /mta_webhooks_received_total\{outcome="rejected",kind="account",reason="LegacyNotAllowed"\} 1/
    )
    expect(text).toMatch(/mta_webhooks_received_total\{outcome="duplicate",kind="account"\} 1/)
    expect(text.match(/mta_webhooks_received_total\{outcome="applied",kind="account"} (\d+)/)?.[1]).toBe(
      applied
    )

    // Signed with the retiring secret (a notification sent before the vendor switched): accepted.
    const locked = JSON.stringify({ ...(record!.payload as object), status: "locked" })
    const old = await deliver(locked, signWebhook(locked, { secret: OLD }))
    expect(await old.json()).toEqual({ received: true, outcome: "applied" })
    expect((await statusOf(account.zrn.id)).status).toBe("locked")
    // And with neither secret: refused.
    const forged = JSON.stringify({ ...(record!.payload as object), status: "closed" })
    expect((await deliver(forged, signWebhook(forged, { secret: "whsec-forged" }))).status).toBe(401)
    expect((await statusOf(account.zrn.id)).status).toBe("locked")
  }, 60_000)
})
