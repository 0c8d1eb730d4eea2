/**
 * The projection converges with zerohash (production.md §3), in process: the app in front of an
 * in-process simulator whose webhooks do not reach it (`webhooks: false`: every webhook is lost), so
 * only a re-read can repair what the proxy believes.
 *
 * - `POST /accounts/{zrn}/status/refresh`: the status record afterwards (the body of `GET .../status`),
 *   scope `accounts:access`, audited, a repair on `/events` with `source: reconcile`, a long poll woken,
 *   `mta_reconcile_total`.
 * - The trust window: a status command is refused at once only on a record confirmed within
 *   `projectionTrustMs`; an older one is re-read first, and when that read fails the upstream decides.
 * - A webhook naming the status held only confirms it (no event), and webhook events say `source: webhook`.
 * - The background reconciliation (`App.reconciler`): provisioning accounts after their wait, records
 *   older than the maximum age, the catch-up after a start, at most its share of the vendor budget.
 */
import { randomUUID } from "node:crypto"
import { Fault } from "@mta/testkit"
import { describe, expect, it } from "vitest"
import { createBody, type Harness, harness, readEvents, sampleOf, signWebhook, TOKENS } from "./support.js"

/**
 * A status change the platform made without this proxy (another service holding the API keys), so
 * the platform may undo it: a change authored by zerohash could not be unlocked by the platform at all
 * ("who unlocks", participants.md), which is not what these tests are about.
 */
const PLATFORM = { author_type: "platform", reason: "user_request" } as const

/** Creates an account through the proxy and provisions it at the simulator (its webhook is lost). */
const createAccount = async (h: Harness, label = `rec-${randomUUID().slice(0, 8)}`): Promise<string> => {
  const r = await h.request("/accounts", { method: "POST", json: createBody(label) })
  expect(r.status).toBe(202)
  const zrn = ((await r.json()) as { message: { zrn: string } }).message.zrn
  await h.simulator.settle()
  return zrn
}

/** Makes the proxy believe `status`, as a webhook at `at` said (the later ones lost). */
const believe = async (h: Harness, zrn: string, status: string, at: number) => {
  const outcome = await h.store.ingest({
    notificationId: randomUUID(),
    zrn,
    status,
    occurredAt: at,
    receivedAt: at,
    payload: { zrn, status }
  })
  expect(outcome._tag).toBe("applied")
}

const metric = async (h: Harness, sample: string): Promise<number> =>
  sampleOf(await (await h.request("/metrics", { token: null })).text(), sample)

const upstreamCalls = (h: Harness, endpoint: string, since = 0) =>
  h.simulator.journal().filter((e) => e.seq > since && e.endpoint === endpoint)

const lastSeq = (h: Harness) => h.simulator.journal().at(-1)?.seq ?? 0

describe("POST /accounts/{zrn}/status/refresh", () => {
  it("re-reads the account now and answers its status record, the body of GET .../status", async () => {
    const h = harness({ webhooks: false })
    const zrn = await createAccount(h)
    // The webhook that opened it was lost: the proxy still believes it is provisioning.
    expect(await (await h.request(`/accounts/${zrn}/status`)).json()).toMatchObject({ status: null })
    const waiting = h.request(`/accounts/${zrn}/status?wait_for=open&timeout_ms=5000`)
    const events = h.request("/events?last_event_id=0")
    const before = lastSeq(h)
    const r = await h.request(`/accounts/${zrn}/status/refresh`, { method: "POST" })
    expect(r.status).toBe(200)
    const body = (await r.json()) as Record<string, unknown>
    expect(body).toMatchObject({ zrn, status: "open", timed_out: false })
    expect(typeof body.updated_at).toBe("string")
    expect(typeof body.confirmed_at).toBe("string")
    expect(await (await h.request(`/accounts/${zrn}/status`)).json()).toEqual(body)
    // One upstream read, sent with the caller's request id.
    const reads = upstreamCalls(h, "getAccount", before)
    expect(reads).toHaveLength(1)
    expect(reads[0]?.headers["x-request-id"]).toBe(r.headers.get("x-request-id"))
    // The long poll waiting for it woke, and the event stream has the repair.
    expect(await (await waiting).json()).toMatchObject({ zrn, status: "open", timed_out: false })
    const [event] = await readEvents(await events, 1)
    expect(event?.data).toMatchObject({
      type: "customer_account_status_changed",
      source: "reconcile",
      zrn,
      status: "open",
      notification_id: null,
      account: { zrn, status: "open", participant_code: "CUST01" }
    })
    expect(await metric(h, 'mta_reconcile_total{trigger="refresh",outcome="repaired",kind="account"}')).toBe(
      1
    )
    // Again: nothing changed, so no event; the record is only confirmed.
    const again = await h.request(`/accounts/${zrn}/status/refresh`, { method: "POST", json: {} })
    expect(await again.json()).toMatchObject({ status: "open", updated_at: body.updated_at })
    expect(await metric(h, 'mta_reconcile_total{trigger="refresh",outcome="confirmed",kind="account"}')).toBe(
      1
    )
    expect(await h.store.events({ after: 0, zrn, limit: 10 })).toHaveLength(1)
  })

  it("needs accounts:access, and is audited whatever its outcome", async () => {
    const h = harness({ webhooks: false })
    const zrn = await createAccount(h)
    const forbidden = await h.request(`/accounts/${zrn}/status/refresh`, {
      method: "POST",
      token: TOKENS.reader
    })
    expect(forbidden.status).toBe(403)
    expect(await forbidden.json()).toMatchObject({ code: "forbidden" })
    expect((await h.request(`/accounts/${zrn}/status/refresh`, { method: "POST", token: null })).status).toBe(
      401
    )
    const ok = await h.request(`/accounts/${zrn}/status/refresh`, {
      method: "POST",
      headers: { "x-request-id": "refresh-ok" }
    })
    expect(ok.status).toBe(200)
    const unknown = `zrn:zh:us:accounts:customer:${randomUUID()}`
    const missing = await h.request(`/accounts/${unknown}/status/refresh`, {
      method: "POST",
      headers: { "x-request-id": "refresh-missing" }
    })
    expect(missing.status).toBe(404)
    const bad = await h.request("/accounts/not-a-zrn/status/refresh", {
      method: "POST",
      headers: { "x-request-id": "refresh-bad" }
    })
    expect(bad.status).toBe(400)
    expect(await bad.json()).toMatchObject({ code: "invalid_zrn" })
    const body = await h.request(`/accounts/${zrn}/status/refresh`, {
      method: "POST",
      json: { force: true },
      headers: { "x-request-id": "refresh-body" }
    })
    expect(body.status).toBe(400)
    const audit = (await (await h.request("/audit?caller=admin")).json()) as {
      entries: Array<Record<string, unknown>>
    }
    const byRequest = new Map(audit.entries.map((e) => [e.request_id, e]))
    expect(byRequest.get("refresh-ok")).toMatchObject({
      action: "refreshStatus",
      target: zrn,
      outcome: "accepted",
      status: 200,
      request: { method: "POST", path: `/accounts/${zrn}/status/refresh` }
    })
    expect(byRequest.get("refresh-missing")).toMatchObject({
      action: "refreshStatus",
      target: unknown,
      status: 404
    })
    expect(byRequest.get("refresh-bad")).toMatchObject({ target: null, outcome: "invalid_zrn", status: 400 })
    expect(byRequest.get("refresh-body")).toMatchObject({
      outcome: "invalid_request",
      request: { body: { force: true } }
    })
    // Refusals before the handler (authentication, scope) are not audited, as for the other routes.
    expect(audit.entries.filter((e) => e.action === "refreshStatus")).toHaveLength(4)
  })

  it("is refused with 429 when the caller's share of the vendor budget is spent, without a read", async () => {
    // A caller's share is half of it: 2 calls, the create's and one refresh.
    const h = harness({ webhooks: false, egressLimit: { requests: 4, window_ms: 60_000 } })
    const zrn = await createAccount(h)
    const first = await h.request(`/accounts/${zrn}/status/refresh`, { method: "POST" })
    expect(first.status).toBe(200)
    const before = lastSeq(h)
    const r = await h.request(`/accounts/${zrn}/status/refresh`, { method: "POST" })
    expect(r.status).toBe(429)
    expect(await r.json()).toMatchObject({ code: "upstream_rate_limited" })
    expect(upstreamCalls(h, "getAccount", before)).toHaveLength(0)
    expect(await metric(h, 'mta_reconcile_total{trigger="refresh",outcome="failed",kind="account"}')).toBe(1)
  })
})

describe("the trust window: no command refused on a status older than it", () => {
  /** The app on a clock the test moves, an account it created at `t`, believed `status` since then. */
  const setup = async (status: string, projectionTrustMs = 60_000) => {
    const clock = { t: Date.now() }
    const h = harness({ webhooks: false, projectionTrustMs, now: () => clock.t })
    const zrn = await createAccount(h)
    await believe(h, zrn, status, clock.t + 1)
    return { h, zrn, clock }
  }

  it("re-reads a record older than the window before refusing, and judges the command on the fresh status", async () => {
    const { h, zrn, clock } = await setup("withdraw_locked")
    // zerohash locked it since; the proxy missed that, and its belief is now 2 minutes old.
    h.simulator.forceStatus(zrn, "locked", PLATFORM)
    clock.t += 120_000
    const before = lastSeq(h)
    // `unlock` cannot leave withdraw_locked, but can leave locked: after the re-read it goes through.
    const r = await h.request(`/accounts/${zrn}/unlock`, { method: "POST" })
    expect(r.status).toBe(202)
    expect(upstreamCalls(h, "getAccount", before)).toHaveLength(1)
    expect(upstreamCalls(h, "unlock", before)).toHaveLength(1)
    const events = await h.store.events({ after: 0, zrn, limit: 10 })
    expect(events.map((e) => [e.status, e.source])).toEqual([
      ["withdraw_locked", "webhook"],
      ["locked", "reconcile"]
    ])
    expect(await metric(h, 'mta_reconcile_total{trigger="command",outcome="repaired",kind="account"}')).toBe(
      1
    )
  })

  it("refuses at once, without an upstream call, on a record confirmed within the window", async () => {
    const { h, zrn, clock } = await setup("withdraw_locked")
    clock.t += 59_000
    const before = lastSeq(h)
    const r = await h.request(`/accounts/${zrn}/unlock`, { method: "POST" })
    expect(r.status).toBe(400)
    expect(await r.json()).toMatchObject({ code: "transition_rejected" })
    expect(lastSeq(h)).toBe(before)
  })

  it("refuses after the re-read when zerohash confirms the status, and the record is trusted again", async () => {
    const { h, zrn, clock } = await setup("withdraw_locked")
    h.simulator.forceStatus(zrn, "withdraw_locked", PLATFORM)
    clock.t += 120_000
    const before = lastSeq(h)
    const r = await h.request(`/accounts/${zrn}/unlock`, { method: "POST" })
    expect(r.status).toBe(400)
    expect(await r.json()).toMatchObject({ code: "transition_rejected" })
    expect(upstreamCalls(h, "getAccount", before)).toHaveLength(1)
    expect(upstreamCalls(h, "unlock", before)).toHaveLength(0)
    expect(await metric(h, 'mta_reconcile_total{trigger="command",outcome="confirmed",kind="account"}')).toBe(
      1
    )
    expect(await h.store.status(zrn)).toMatchObject({ confirmedAt: clock.t, updatedAt: clock.t - 119_999 })
    // Confirmed just now: the next refusal needs no read.
    clock.t += 1_000
    const next = lastSeq(h)
    expect((await h.request(`/accounts/${zrn}/unlock`, { method: "POST" })).status).toBe(400)
    expect(lastSeq(h)).toBe(next)
  })

  it("lets the upstream decide when the re-read fails", async () => {
    const { h, zrn, clock } = await setup("withdraw_locked")
    h.simulator.forceStatus(zrn, "locked", PLATFORM)
    clock.t += 120_000
    h.simulator.injectFault(Fault.failNext(1, { endpoint: "getAccount", status: 503 }))
    const before = lastSeq(h)
    const r = await h.request(`/accounts/${zrn}/unlock`, { method: "POST" })
    expect(r.status).toBe(202)
    expect(upstreamCalls(h, "unlock", before)).toHaveLength(1)
    expect(await metric(h, 'mta_reconcile_total{trigger="command",outcome="failed",kind="account"}')).toBe(1)
    // The read failed: nothing was repaired, nothing made up.
    expect((await h.store.status(zrn))?.status).toBe("withdraw_locked")
  })

  it("with a window of 0 re-reads before every refusal", async () => {
    const { h, zrn, clock } = await setup("withdraw_locked", 0)
    h.simulator.forceStatus(zrn, "withdraw_locked", PLATFORM)
    clock.t += 2
    const before = lastSeq(h)
    expect((await h.request(`/accounts/${zrn}/unlock`, { method: "POST" })).status).toBe(400)
    clock.t += 1
    expect((await h.request(`/accounts/${zrn}/unlock`, { method: "POST" })).status).toBe(400)
    expect(upstreamCalls(h, "getAccount", before)).toHaveLength(2)
  })
})

describe("webhooks and the event stream", () => {
  it("tags webhook events with source webhook; a notification naming the status held only confirms it", async () => {
    const h = harness({ webhooks: false })
    const zrn = `zrn:zh:us:accounts:customer:${randomUUID()}`
    const events = h.request("/events?last_event_id=0")
    const send = async (status: string, timestamp: number) => {
      const body = JSON.stringify({ urn: zrn, status, participant_code: "CUST01" })
      const r = await h.request("/webhooks/zerohash", {
        method: "POST",
        token: null,
        headers: signWebhook(body, { timestamp }),
        body
      })
      return ((await r.json()) as { outcome: string }).outcome
    }
    const now = Date.now()
    expect(await send("open", now - 2_000)).toBe("applied")
    expect(await send("open", now - 1_000)).toBe("confirmed")
    // The confirmation moved the record's confirmedAt, nothing the stream or the status shows.
    expect(await h.store.status(zrn)).toMatchObject({ updatedAt: now - 2_000, confirmedAt: now - 1_000 })
    expect(await send("locked", now)).toBe("applied")
    const received = await readEvents(await events, 2)
    expect(received.map((e) => [e.data.status, e.data.source, typeof e.data.notification_id])).toEqual([
      ["open", "webhook", "string"],
      ["locked", "webhook", "string"]
    ])
    expect(received[1]!.id).toBe(received[0]!.id + 1)
    expect(await metric(h, 'mta_webhooks_received_total{outcome="confirmed",kind="account"}')).toBe(1)
  })
})

describe("background reconciliation (App.reconciler)", () => {
  it("re-reads accounts still provisioning after their wait, and records older than the maximum age", async () => {
    const T = Date.now()
    const clock = { t: T - 1_000_000 }
    const h = harness({
      webhooks: false,
      now: () => clock.t,
      reconcileProvisioningMs: 30_000,
      reconcileMaxAgeMs: 900_000
    })
    // Known open for 1 000 s without a word since.
    const old = await createAccount(h)
    await believe(h, old, "open", clock.t + 1)
    clock.t = T
    // Created now; its first webhook (open) is lost.
    const provisioning = await createAccount(h)
    const fresh = await createAccount(h)
    await believe(h, fresh, "open", clock.t + 1)
    const before = lastSeq(h)
    // The old one is due, the provisioning one not yet.
    expect(await h.app.reconciler.pass()).toBe(1)
    expect(upstreamCalls(h, "getAccount", before).map((e) => e.path)).toEqual([`/accounts/${old}/details`])
    expect(await metric(h, 'mta_reconcile_total{trigger="sweep",outcome="confirmed",kind="account"}')).toBe(1)
    expect(await h.store.status(old)).toMatchObject({ status: "open", confirmedAt: T })
    // 30 s on, its webhook has still not come: it is re-read, and found open.
    clock.t += 31_000
    expect(await h.app.reconciler.pass()).toBe(1)
    const repairs = (await h.store.events({ after: 0, limit: 100 })).filter((e) => e.source === "reconcile")
    expect(repairs.map((e) => [e.zrn, e.status])).toEqual([[provisioning, "open"]])
    expect(await h.store.status(provisioning)).toMatchObject({ status: "open", source: "reconcile" })
    expect(await metric(h, 'mta_reconcile_total{trigger="sweep",outcome="repaired",kind="account"}')).toBe(1)
    // Nothing else is due; the sweep reads with its own request ids.
    expect(await h.app.reconciler.pass()).toBe(0)
    const reads = upstreamCalls(h, "getAccount", before)
    expect(reads).toHaveLength(2)
    expect(reads.every((e) => e.headers["x-request-id"]?.startsWith("reconcile-"))).toBe(true)
  })

  it("retries a failed read 30 s later, and an account zerohash does not know after the maximum age", async () => {
    const clock = { t: Date.now() - 2_000_000 }
    const h = harness({ webhooks: false, now: () => clock.t, reconcileMaxAgeMs: 900_000 })
    const known = await createAccount(h)
    await believe(h, known, "open", clock.t + 1)
    // An account the upstream has never heard of (a store kept across a simulator's restart, say).
    const gone = `zrn:zh:us:accounts:customer:${randomUUID()}`
    await h.store.observe({ zrn: gone, status: "open", source: "read", at: clock.t + 1 })
    clock.t += 1_000_000
    h.simulator.injectFault(Fault.failNext(1, { endpoint: "getAccount", status: 503 }))
    expect(await h.app.reconciler.pass()).toBe(2)
    expect(await metric(h, 'mta_reconcile_total{trigger="sweep",outcome="failed",kind="account"}')).toBe(2)
    const readsOf = (zrn: string) => upstreamCalls(h, "getAccount").filter((e) => e.path.includes(zrn)).length
    // Neither is due again at once; the failed one is 30 s later, the unknown one only after 15 min.
    clock.t += 1_000
    expect(await h.app.reconciler.pass()).toBe(0)
    clock.t += 30_000
    expect(await h.app.reconciler.pass()).toBe(1)
    expect(await h.store.status(known)).toMatchObject({ status: "open", confirmedAt: clock.t })
    expect([readsOf(known), readsOf(gone)]).toEqual([2, 1])
    clock.t += 900_000
    await h.app.reconciler.pass()
    expect(readsOf(gone)).toBe(2)
  })

  it("takes at most its share of the vendor budget (10% by default)", async () => {
    const clock = { t: Date.now() - 200_000 }
    const h = harness({
      webhooks: false,
      now: () => clock.t,
      egressLimit: { requests: 100, window_ms: 10_000 },
      reconcileMaxAgeMs: 60_000
    })
    const zrns: Array<string> = []
    for (let i = 0; i < 30; i++) zrns.push(await createAccount(h, `share-${i}-${randomUUID().slice(0, 6)}`))
    for (const zrn of zrns) await believe(h, zrn, "open", clock.t + 1)
    clock.t += 200_000
    const before = lastSeq(h)
    // 25 passes of 1 s: every account is due, but 10% of 100 per 10 s is 10 per 10 s.
    const readAt: Array<number> = []
    for (let i = 0; i < 25; i++) {
      const n = upstreamCalls(h, "getAccount", before).length
      await h.app.reconciler.pass()
      for (let k = upstreamCalls(h, "getAccount", before).length - n; k > 0; k--) readAt.push(clock.t)
      clock.t += 1_000
    }
    expect(readAt.length).toBeGreaterThanOrEqual(20)
    for (const at of readAt) {
      expect(readAt.filter((other) => other >= at && other < at + 10_000).length).toBeLessThanOrEqual(10)
    }
    // Callers keep the rest: a caller's read right now is admitted.
    expect((await h.request(`/accounts/${zrns[0]}/details`)).status).toBe(200)
  })

  it("catches up after a start: every account confirmed before it is re-read at the catch-up share", async () => {
    const h = harness({
      webhooks: false,
      reconcileIntervalMs: 50,
      reconcileDowntimeMs: 300,
      egressLimit: { requests: 2_000, window_ms: 10_000 }
    })
    const zrns: Array<string> = []
    for (let i = 0; i < 12; i++) zrns.push(await createAccount(h, `catch-${i}-${randomUUID().slice(0, 6)}`))
    // Confirmed just now, well inside the 15 min maximum age: only the catch-up re-reads them.
    for (const zrn of zrns) await believe(h, zrn, "withdraw_locked", Date.now())
    h.app.reconciler.start()
    try {
      const deadline = Date.now() + 10_000
      const statuses = async () =>
        (await Promise.all(zrns.map((zrn) => h.store.status(zrn)))).map((r) => r?.status)
      while (Date.now() < deadline && !(await statuses()).every((s) => s === "open")) {
        await new Promise((resolve) => setTimeout(resolve, 50))
      }
      expect(await statuses()).toEqual(zrns.map(() => "open"))
      expect(
        await metric(h, 'mta_reconcile_total{trigger="catch_up",outcome="repaired",kind="account"}')
      ).toBe(12)
      // 50% of 2 000 per 10 s, every 50 ms: 5 a pass.
      while (h.app.reconciler.catchingUp() && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 50))
      }
      expect(h.app.reconciler.catchingUp()).toBe(false)
      expect(await metric(h, "mta_reconcile_catching_up")).toBe(0)
    } finally {
      await h.app.reconciler.stop()
    }
  })
})
