/**
 * The participant projection through the proxy (participants.md, "What the proxy adds"): signed
 * `participant_status_changed` webhooks ingested at `POST /webhooks/zerohash` (dedupe, ordering by the
 * payload's timestamp, unknown statuses kept), `GET /participants/{code}/status` (a long poll woken by
 * a webhook; a participant it does not know read upstream once; 404 for one zerohash does not list;
 * 400s naming the rule), and `participant_status_changed` events on `/events` beside the account
 * events, filtered by `?participant=` (and by `?zrn=`, or either).
 */
import { describe, expect, it } from "vitest"
import { type Harness, harness, readEvents, sampleOf, signWebhook } from "./support.js"

const postParticipant = async (
  h: Harness,
  fields: {
    readonly code: string
    readonly status: string
    readonly at: number
    readonly reason?: string
    readonly extra?: Record<string, unknown>
    readonly id?: string
  }
) => {
  const body = JSON.stringify({
    participant_code: fields.code,
    participant_status: fields.status,
    timestamp: fields.at,
    ...(fields.reason === undefined ? {} : { reason_code: fields.reason }),
    ...fields.extra
  })
  const response = await h.request("/webhooks/zerohash", {
    method: "POST",
    token: null,
    body,
    headers: signWebhook(body, {
      payloadType: "participant_status_changed",
      ...(fields.id === undefined ? {} : { id: fields.id })
    })
  })
  return { status: response.status, body: (await response.json()) as Record<string, unknown> }
}

const json = async (response: Response) => (await response.json()) as Record<string, unknown>

describe("participant projection through the proxy", () => {
  it("ingests participant webhooks: applied, duplicate, stale by the payload's timestamp, unknown status kept", async () => {
    const h = harness()
    const t = Date.now()
    const id = crypto.randomUUID()
    expect(await postParticipant(h, { code: "CUST07", status: "approved", at: t - 5_000, id })).toEqual({
      status: 200,
      body: { received: true, outcome: "applied" }
    })
    // The same notification id again.
    expect((await postParticipant(h, { code: "CUST07", status: "locked", at: t, id })).body.outcome).toBe(
      "duplicate"
    )
    expect(
      (await postParticipant(h, { code: "CUST07", status: "locked", reason: "user_request", at: t - 1_000 }))
        .body.outcome
    ).toBe("applied")
    // Older than the record (ordered by the payload's timestamp, not by arrival): kept, not applied.
    expect(
      (await postParticipant(h, { code: "CUST07", status: "approved", at: t - 3_000 })).body.outcome
    ).toBe("stale")
    expect(
      (await postParticipant(h, { code: "CUST07", status: "locked", reason: "user_request", at: t - 500 }))
        .body.outcome
    ).toBe("confirmed")
    expect(
      (
        await postParticipant(h, {
          code: "CUST07",
          status: "frozen_by_regulator",
          at: t,
          extra: { regulator: "FINRA", kyc_attempts: 0 }
        })
      ).body.outcome
    ).toBe("applied")
    const status = await h.request("/participants/CUST07/status")
    expect(status.status).toBe(200)
    expect(await json(status)).toMatchObject({
      participant_code: "CUST07",
      status: "frozen_by_regulator",
      reason_code: null,
      updated_at: new Date(t).toISOString(),
      timed_out: false
    })
    const events = await h.store.log({ after: 0, participant: "CUST07", limit: 10 })
    expect(events.map((e) => e.status)).toEqual(["approved", "locked", "frozen_by_regulator"])
    // Unknown fields are kept in the payload.
    expect(events[2]!.payload).toMatchObject({ regulator: "FINRA", kyc_attempts: 0 })
    const metrics = await h.metrics.render()
    expect(sampleOf(metrics, 'mta_webhooks_received_total{outcome="applied",kind="participant"}')).toBe(3)
    expect(sampleOf(metrics, 'mta_webhooks_received_total{outcome="stale",kind="participant"}')).toBe(1)
    expect(sampleOf(metrics, 'mta_webhooks_received_total{outcome="duplicate",kind="participant"}')).toBe(1)
    expect(sampleOf(metrics, 'mta_webhooks_received_total{outcome="applied",kind="account"}')).toBe(0)
  })

  it("refuses a participant webhook that is not signed, or whose payload does not decode", async () => {
    const h = harness()
    const body = JSON.stringify({
      participant_code: "CUST01",
      participant_status: "locked",
      timestamp: Date.now()
    })
    const forged = await h.request("/webhooks/zerohash", {
      method: "POST",
      token: null,
      body,
      headers: { ...signWebhook(body, { payloadType: "participant_status_changed", secret: "whsec_wrong" }) }
    })
    // A signature that does not match is 401, as for account notifications.
    expect(forged.status).toBe(401)
    const missing = JSON.stringify({ participant_code: "CUST01", timestamp: Date.now() })
    const bad = await h.request("/webhooks/zerohash", {
      method: "POST",
      token: null,
      body: missing,
      headers: signWebhook(missing, { payloadType: "participant_status_changed" })
    })
    expect(bad.status).toBe(400)
    expect(JSON.stringify(await bad.json())).toMatch(/participant_status/)
    expect(await h.store.participants(["CUST01"])).toEqual([undefined])
  })

  it("a long poll waits for a status, wakes on the simulator's webhook, and /events?participant= shows it", async () => {
    const h = harness()
    const start = await h.store.lastEventId()
    const poll = h.request("/participants/CUST02/status?wait_for=locked&timeout_ms=10000")
    // Let the poll read CUST02 upstream (approved) and start waiting.
    await expect
      .poll(async () => (await h.store.participants(["CUST02"]))[0]?.status, { timeout: 5_000 })
      .toBe("approved")
    // zerohash compliance locks the participant: the simulator sends the webhook to the proxy.
    h.simulator.moveParticipant("CUST02", "compliance_lock", "compliance_issue")
    await h.simulator.settle()
    const answer = await poll
    expect(answer.status).toBe(200)
    expect(await json(answer)).toMatchObject({
      participant_code: "CUST02",
      status: "locked",
      reason_code: "compliance_issue",
      timed_out: false
    })
    const stream = await h.request(`/events?participant=CUST02&last_event_id=${start}`)
    expect(stream.status).toBe(200)
    const [event] = await readEvents(stream, 1)
    expect(event!.data).toMatchObject({
      type: "participant_status_changed",
      source: "webhook",
      participant_code: "CUST02",
      status: "locked",
      reason_code: "compliance_issue",
      payload: { participant_code: "CUST02", participant_status: "locked", reason_code: "compliance_issue" }
    })
    expect(event!.id).toBeGreaterThan(start)
  })

  it("times out a long poll with the status held, and answers at once without wait_for", async () => {
    const h = harness()
    const timed = await h.request("/participants/CUST03/status?wait_for=locked&timeout_ms=50")
    expect(await json(timed)).toMatchObject({
      participant_code: "CUST03",
      status: "approved",
      timed_out: true
    })
    const now = await h.request("/participants/CUST03/status")
    expect(await json(now)).toMatchObject({ status: "approved", timed_out: false })
  })

  it("reads a participant it does not know upstream once, then answers from the projection", async () => {
    const h = harness()
    h.simulator.addParticipant({ participant_code: "LOCKD1", status: "locked", reason_code: "user_request" })
    const before = h.upstreamCount()
    const first = await h.request("/participants/LOCKD1/status")
    expect(await json(first)).toMatchObject({ status: "locked", reason_code: "user_request" })
    expect(h.upstreamCount()).toBe(before + 1)
    expect(h.simulator.journal().at(-1)!.path).toMatch(/\/participants\?participant_code=LOCKD1$/)
    // Concurrent requests about an unknown participant share one read.
    h.simulator.addParticipant("FRESH1")
    await Promise.all([1, 2, 3, 4].map(() => h.request("/participants/FRESH1/status")))
    await h.request("/participants/LOCKD1/status")
    expect(h.upstreamCount()).toBe(before + 2)
    // A first sighting appends no event.
    expect(await h.store.log({ after: 0, participant: "LOCKD1", limit: 10 })).toEqual([])
  })

  it("answers 404 for a participant zerohash does not list, and 400s naming the rule", async () => {
    const h = harness()
    const missing = await h.request("/participants/NOPE99/status")
    expect(missing.status).toBe(404)
    expect(await json(missing)).toMatchObject({
      code: "not_found",
      message: expect.stringMatching(/participant NOPE99 is not known: zerohash lists no participant/)
    })
    for (const bad of ["cust01", "CUST0", "CUST001", "CUST-1"]) {
      const r = await h.request(`/participants/${bad}/status`)
      expect(r.status).toBe(400)
      expect(JSON.stringify(await r.json())).toMatch(
        /participant_code must be exactly 6 characters A-Z or 0-9/
      )
    }
    const waitFor = await h.request("/participants/CUST01/status?wait_for=Locked!")
    expect(waitFor.status).toBe(400)
    expect(JSON.stringify(await waitFor.json())).toMatch(/wait_for must be a participant status/)
    const timeout = await h.request("/participants/CUST01/status?timeout_ms=soon")
    expect(timeout.status).toBe(400)
    expect(JSON.stringify(await timeout.json())).toMatch(
      /timeout_ms: Unable to decode \\"soon\\" into a number/
    )
    const unknown = await h.request("/participants/CUST01/status?waitFor=locked")
    expect(unknown.status).toBe(400)
    expect(JSON.stringify(await unknown.json())).toMatch(
      /unknown query parameter \\"waitFor\\": accepted are wait_for, timeout_ms/
    )
    const events = await h.request("/events?participant=abc")
    expect(events.status).toBe(400)
    expect(JSON.stringify(await events.json())).toMatch(/participant must be exactly 6 characters A-Z or 0-9/)
    // The scope: a caller with accounts:read only may not read participants.
    const reader = await h.request("/participants/CUST01/status", { token: "test-reader-token" })
    expect(reader.status).toBe(403)
    expect(h.upstreamCount()).toBe(1) // only the 404's read went upstream
  })

  it("streams participant events live beside account events; ?zrn= and ?participant= keep either", async () => {
    const h = harness()
    const created = await h.request("/accounts", {
      method: "POST",
      json: {
        participant_code: "CUST04",
        account_label: "sse",
        type: "individual",
        tier: "pro",
        prefunded: false
      }
    })
    expect(created.status).toBe(202)
    const zrn = ((await created.json()) as { message: { zrn: string } }).message.zrn
    await h.simulator.settle()
    const both = await h.request(`/events?zrn=${zrn}&participant=CUST04`)
    const onlyParticipant = await h.request("/events?participant=CUST04")
    const all = await h.request("/events")
    const t = Date.now()
    await postParticipant(h, { code: "CUST05", status: "locked", reason: "user_request", at: t })
    await postParticipant(h, { code: "CUST04", status: "locked", reason: "user_request", at: t })
    h.simulator.forceStatus(zrn, "locked")
    await h.simulator.settle()
    const [b1, b2] = await readEvents(both, 2)
    expect([b1!.data.type, b2!.data.type]).toEqual([
      "participant_status_changed",
      "customer_account_status_changed"
    ])
    expect(b1!.data).toMatchObject({ participant_code: "CUST04", status: "locked" })
    expect(b2!.data).toMatchObject({ zrn, status: "locked" })
    const [p1] = await readEvents(onlyParticipant, 1)
    expect(p1!.id).toBe(b1!.id)
    const three = await readEvents(all, 3)
    // One log: ids only grow across both kinds.
    expect(three.map((e) => e.data.type)).toEqual([
      "participant_status_changed",
      "participant_status_changed",
      "customer_account_status_changed"
    ])
    expect(three.map((e) => e.id)).toEqual([...three.map((e) => e.id)].sort((a, b) => a - b))
    expect(three[1]!.id).toBe(b1!.id)
  })
  it("the background reconciliation re-reads stale participants and repairs them with a reconcile event", async () => {
    // No webhooks reach this proxy: only the re-read can tell it the participant was locked.
    const h = harness({ webhooks: false, reconcileMaxAgeMs: 1, reconcileShare: 1 })
    expect(await json(await h.request("/participants/CUST06/status"))).toMatchObject({ status: "approved" })
    const start = await h.store.lastEventId()
    h.simulator.moveParticipant("CUST06", "compliance_lock", "compliance_issue")
    await new Promise((resolve) => setTimeout(resolve, 5))
    expect(await h.app.reconciler.pass()).toBeGreaterThanOrEqual(1)
    expect(await json(await h.request("/participants/CUST06/status"))).toMatchObject({
      status: "locked",
      reason_code: "compliance_issue"
    })
    const events = await h.store.log({ after: start, participant: "CUST06", limit: 10 })
    expect(events).toEqual([
      expect.objectContaining({
        type: "participant_status_changed",
        source: "reconcile",
        notificationId: null,
        status: "locked",
        reasonCode: "compliance_issue"
      })
    ])
    const metrics = await h.metrics.render()
    expect(
      sampleOf(metrics, 'mta_reconcile_total{trigger="sweep",outcome="repaired",kind="participant"}')
    ).toBe(1)
    expect(
      sampleOf(metrics, 'mta_reconcile_total{trigger="read",outcome="repaired",kind="participant"}')
    ).toBe(1)
    // Nothing changed since: the next re-read only confirms.
    await new Promise((resolve) => setTimeout(resolve, 5))
    await h.app.reconciler.pass()
    expect(await h.store.log({ after: start, participant: "CUST06", limit: 10 })).toHaveLength(1)
    expect(
      sampleOf(
        await h.metrics.render(),
        'mta_reconcile_total{trigger="sweep",outcome="confirmed",kind="participant"}'
      )
    ).toBe(1)
  })
})
