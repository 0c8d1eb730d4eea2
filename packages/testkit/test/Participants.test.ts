/**
 * Endpoints 16–19 on the simulator (`participants.md`): submissions and their validation, background
 * KYC on the simulator's clock with `participant_status_changed` webhooks (each verified by the
 * client's `verifyWebhook`), the email and `X-Request-Id` rules, listing, the platform's lock and the
 * compliance moves of the control plane.
 */
import { Participants } from "@mta/domain"
import { Schema } from "effect"
import { describe, expect, it } from "vitest"
import { signWebhook } from "../src/Signing.js"
import type * as Simulator from "../src/Simulator.js"
import { call, simulator as demoSimulator } from "./support.js"

const DAY = 86_400_000

const adult = (sim: Simulator.Simulator, fields: Record<string, unknown> = {}) => ({
  first_name: "Ada",
  last_name: "Lovelace",
  email: `ada-${Math.random().toString(36).slice(2, 8)}@example.com`,
  address_one: "1 Main St",
  city: "Chicago",
  jurisdiction_code: "US-IL",
  date_of_birth: "1990-04-21",
  sanction_screening: "pass",
  sanction_screening_timestamp: sim.clock.now() - 60_000,
  ...fields
})

const minorOf = (sim: Simulator.Simulator, custodian: string, fields: Record<string, unknown> = {}) => {
  const year = new Date(sim.clock.now()).getUTCFullYear() - 10
  return {
    first_name: "Tim",
    last_name: "Lovelace",
    email: `tim-${Math.random().toString(36).slice(2, 8)}@example.com`,
    address_one: "1 Main St",
    city: "Chicago",
    jurisdiction_code: "US-IL",
    date_of_birth: `${year}-01-15`,
    custodian_participant_code: custodian,
    custodian_relationship: "parent",
    ...fields
  }
}

const delivered = new WeakMap<Simulator.Simulator, Array<Simulator.WebhookEvent>>()

/** A simulator with the demo participants whose webhooks are received in process (and kept). */
const simulator = (options: Simulator.SimulatorOptions = {}): Simulator.Simulator => {
  const sim = demoSimulator(options)
  const events: Array<Simulator.WebhookEvent> = []
  sim.onWebhook((event) => {
    events.push(event)
  })
  delivered.set(sim, events)
  return sim
}

/**
 * Every participant webhook delivered so far, checked as a receiver would (the signature over the raw
 * body and the timestamp, the payload type header, the domain's payload Schema): the decoded payloads.
 * (The client's `verifyWebhook` decodes them too: packages/client/test/Webhook.test.ts.)
 */
const verifiedParticipantHooks = (sim: Simulator.Simulator) =>
  (delivered.get(sim) ?? [])
    .filter((e) => e.headers["x-zh-hook-payload-type"] === "participant_status_changed")
    .map((e) => {
      expect(e.headers["x-zh-hook-signature"]).toBe(
        signWebhook(sim.webhookSecret, e.rawBody, e.headers["x-zh-hook-timestamp"]!)
      )
      return Schema.decodeUnknownSync(Participants.StatusChangedPayload)(JSON.parse(e.rawBody))
    })

describe("POST /participants/customers/new (16)", () => {
  it("answers 201 submitted, then KYC approves it in the background with one webhook per change", async () => {
    const sim = simulator({ asyncDelayMs: { kyc: 5_000 } })
    const body = adult(sim, { occupation: "mathematician" })
    const res = await call(sim, "POST", "/participants/customers/new", { body })
    expect(res.status).toBe(201)
    const code = res.body.message.participant_code as string
    expect(code).toMatch(Participants.PARTICIPANT_CODE)
    // Every submitted field is echoed, the unknown one included (Decision).
    expect(res.body.message).toEqual({
      ...body,
      participant_code: code,
      platform_code: sim.platformCode,
      status: "submitted"
    })
    expect(sim.participant(code)?.status).toBe("submitted")
    expect(sim.pending()).toContain(`kyc ${code}`)
    await sim.settle()
    expect(sim.participant(code)?.status).toBe("approved")
    expect(verifiedParticipantHooks(sim).map((p) => [p.participant_code, p.participant_status])).toEqual([
      [code, "submitted"],
      [code, "approved"]
    ])
    // An approved participant can hold an account.
    const account = await call(sim, "POST", "/accounts", {
      body: {
        participant_code: code,
        account_label: "first",
        type: "individual",
        tier: "pro",
        prefunded: false
      }
    })
    expect(account.status).toBe(202)
  })

  it("refuses what the contract refuses, naming each field", async () => {
    const sim = simulator()
    const now = sim.clock.now()
    const cases: ReadonlyArray<[Record<string, unknown>, RegExp]> = [
      [{ email: undefined }, /^email: is required/],
      [{ date_of_birth: "2015-05-05" }, /^date_of_birth: a customer must be an adult/],
      [
        { sanction_screening_timestamp: now - 400 * DAY },
        /^sanction_screening_timestamp: must be at most one year in the past/
      ],
      [{ kyc_timestamp: now + 2 * DAY }, /^kyc_timestamp: must be at most one day in the future/],
      [{ kyc: "fail" }, /^kyc: zerohash does not accept/],
      [{ sanction_screening: "fail" }, /^sanction_screening: zerohash does not accept/],
      [{ jurisdiction_code: "IL" }, /^jurisdiction_code: expected an ISO 3166-2 code/]
    ]
    for (const [fields, message] of cases) {
      const res = await call(sim, "POST", "/participants/customers/new", { body: adult(sim, fields) })
      expect(res.status).toBe(400)
      expect(res.body.errors).toEqual(expect.arrayContaining([expect.stringMatching(message)]))
    }
    expect(sim.webhooks()).toEqual([])
  })

  it("email is unique per platform; the same payload is replayed only under the same X-Request-Id", async () => {
    const sim = simulator()
    const body = adult(sim)
    const first = await call(sim, "POST", "/participants/customers/new", {
      body,
      headers: { "x-request-id": "req-1" }
    })
    expect(first.status).toBe(201)
    const again = await call(sim, "POST", "/participants/customers/new", {
      body,
      headers: { "x-request-id": "req-1" }
    })
    expect(again).toMatchObject({ status: 201, body: first.body })
    const otherId = await call(sim, "POST", "/participants/customers/new", {
      body,
      headers: { "x-request-id": "req-2" }
    })
    expect(otherId).toMatchObject({
      status: 400,
      body: { errors: ["Participant data already used with different requestID"] }
    })
    const noId = await call(sim, "POST", "/participants/customers/new", { body })
    expect(noId.status).toBe(400)
    const otherData = await call(sim, "POST", "/participants/customers/new", {
      body: { ...body, city: "Springfield" },
      headers: { "x-request-id": "req-1" }
    })
    expect(otherData).toMatchObject({
      status: 400,
      body: { errors: ["Participant already exists with this email for this platform"] }
    })
    // The same email in another case is the same email.
    const upper = await call(sim, "POST", "/participants/customers/new", {
      body: { ...body, email: body.email.toUpperCase() }
    })
    expect(upper.status).toBe(400)
  })
})

describe("KYC outcomes set by the control plane", () => {
  it("rejected with reasons; the same data may be submitted again, up to three rejections", async () => {
    const sim = simulator()
    const body = adult(sim)
    for (let attempt = 1; attempt <= 3; attempt++) {
      sim.setKycOutcome(
        { status: "rejected", reject_reasons: ["id_mismatch", "address_unverified"] },
        { email: body.email }
      )
      const res = await call(sim, "POST", "/participants/customers/new", {
        body,
        headers: { "x-request-id": `try-${attempt}` }
      })
      expect(res.status).toBe(201)
      await sim.settle()
      const p = sim.participant(res.body.message.participant_code)!
      expect(p).toMatchObject({ status: "rejected", kyc_attempts: attempt })
    }
    const last = verifiedParticipantHooks(sim).at(-1)!
    expect(last).toMatchObject({
      participant_status: "rejected",
      reason_code: "id_mismatch",
      reject_reasons: ["id_mismatch", "address_unverified"],
      kyc_attempts: 3
    })
    const fourth = await call(sim, "POST", "/participants/customers/new", {
      body,
      headers: { "x-request-id": "try-4" }
    })
    expect(fourth.status).toBe(400)
    expect(fourth.body.errors[0]).toMatch(/rejected 3 times; it cannot be submitted again/)
  })

  it("pending_approval, then approved by a later control call (attempts reset)", async () => {
    const sim = simulator()
    sim.setKycOutcome({ status: "pending_approval" })
    const res = await call(sim, "POST", "/participants/customers/new", { body: adult(sim) })
    const code = res.body.message.participant_code as string
    await sim.settle()
    expect(sim.participant(code)?.status).toBe("pending_approval")
    sim.decideParticipant(code, { status: "approved" })
    expect(sim.participant(code)).toMatchObject({ status: "approved", kyc_attempts: 0 })
    expect(verifiedParticipantHooks(sim).map((p) => p.participant_status)).toEqual([
      "submitted",
      "pending_approval",
      "approved"
    ])
    expect(() => sim.decideParticipant(code, { status: "approved" })).toThrow(
      /cannot kyc approved a participant in status approved/
    )
  })
})

describe("POST /participants/customers/minor (17)", () => {
  it("links a minor to an approved adult custodian; adults are refused", async () => {
    const sim = simulator()
    const ok = await call(sim, "POST", "/participants/customers/minor", { body: minorOf(sim, "CUST01") })
    expect(ok.status).toBe(201)
    expect(ok.body.message).toMatchObject({
      custodian_participant_code: "CUST01",
      platform_code: sim.platformCode
    })
    await sim.settle()
    const code = ok.body.message.participant_code as string
    expect(sim.participant(code)).toMatchObject({ status: "approved", minor: true })

    const adultAsMinor = await call(sim, "POST", "/participants/customers/minor", {
      body: minorOf(sim, "CUST01", { date_of_birth: "1990-01-01" })
    })
    expect(adultAsMinor.status).toBe(400)
    expect(adultAsMinor.body.errors[0]).toMatch(/^date_of_birth: a minor must be under 18/)
    const unknownCustodian = await call(sim, "POST", "/participants/customers/minor", {
      body: minorOf(sim, "NOBODY")
    })
    expect(unknownCustodian.body.errors).toEqual(["custodian_participant_code: participant NOBODY not found"])
    const minorCustodian = await call(sim, "POST", "/participants/customers/minor", {
      body: minorOf(sim, code)
    })
    expect(minorCustodian.body.errors).toEqual([`custodian_participant_code: participant ${code} is a minor`])
  })
})

describe("GET /participants (18)", () => {
  it("filters by code, email, status and minors; 15 per page; unknown filters refused", async () => {
    const sim = simulator()
    const all = await call(sim, "GET", "/participants")
    expect(all.status).toBe(200)
    const seeded = all.body.count as number
    expect(seeded).toBeGreaterThan(15)
    expect(all.body).toMatchObject({ page: 1, page_size: 15, total_pages: Math.ceil(seeded / 15) })
    expect(all.body.message).toHaveLength(15)
    const page2 = await call(sim, "GET", "/participants?page=2")
    expect(page2.body.message).toHaveLength(seeded - 15)
    const codes = [...all.body.message, ...page2.body.message].map(
      (e: { participant_code: string }) => e.participant_code
    )
    expect(new Set(codes).size).toBe(seeded)

    const one = await call(sim, "GET", "/participants?participant_code=CUST02")
    expect(one.body).toMatchObject({
      count: 1,
      message: [{ participant_code: "CUST02", status: "approved", reason_code: null }]
    })
    const body = adult(sim)
    sim.setKycOutcome({ status: "pending_approval" })
    const created = await call(sim, "POST", "/participants/customers/new", { body })
    await sim.settle()
    const byEmail = await call(sim, "GET", `/participants?email=${encodeURIComponent(body.email)}`)
    expect(byEmail.body.message).toEqual([
      expect.objectContaining({
        participant_code: created.body.message.participant_code,
        participant_name: "Ada Lovelace",
        status: "pending_approval",
        jurisdiction_code: "US-IL"
      })
    ])
    const pending = await call(sim, "GET", "/participants?status=pending_approval")
    expect(pending.body.count).toBe(1)
    const minors = await call(sim, "GET", "/participants?minors=true")
    expect(
      minors.body.message.every(
        (e: { participant_code: string }) => sim.participant(e.participant_code)?.minor === true
      )
    ).toBe(true)
    const bad = await call(sim, "GET", "/participants?state=approved")
    expect(bad).toMatchObject({
      status: 400,
      body: {
        errors: [
          "state: unknown query parameter; expected one of participant_code, email, status, minors, page"
        ]
      }
    })
  })
})

describe("POST /participants/customers/{code}/lock (19) and the compliance moves", () => {
  it("locks with the platform's reason (text OK), then only zerohash moves it", async () => {
    const sim = simulator()
    const res = await call(sim, "POST", "/participants/customers/CUST03/lock", {
      body: { reason_code: "user_request", notes: "customer closed their relationship" }
    })
    expect(res.status).toBe(200)
    expect(res.headers.get("content-type")).toMatch(/^text\/plain/)
    expect(res.body).toBe("OK")
    expect(sim.participant("CUST03")).toMatchObject({
      status: "locked",
      reason_code: "user_request",
      locked_by: "platform"
    })
    const again = await call(sim, "POST", "/participants/customers/CUST03/lock", {
      body: { reason_code: "user_request", notes: "again" }
    })
    expect(again.status).toBe(400)
    expect(again.body.errors[0]).toMatch(/already locked.*only zerohash/)
    sim.moveParticipant("CUST03", "request_disable")
    sim.moveParticipant("CUST03", "disable")
    sim.moveParticipant("CUST03", "close")
    expect(sim.participant("CUST03")?.status).toBe("closed")
    // pending_disable is never sent by webhook.
    expect(verifiedParticipantHooks(sim).map((p) => [p.participant_status, p.reason_code])).toEqual([
      ["locked", "user_request"],
      ["disabled", "user_request"],
      ["closed", "user_request"]
    ])
  })

  it("a compliance lock, then unlock through pending_unlock with risk_cleared", async () => {
    const sim = simulator()
    sim.moveParticipant("CUST04", "compliance_lock", "compliance_issue")
    sim.moveParticipant("CUST04", "request_unlock")
    expect(sim.participant("CUST04")?.status).toBe("pending_unlock")
    const listed = await call(sim, "GET", "/participants?participant_code=CUST04")
    expect(listed.body.message[0]).toMatchObject({
      status: "pending_unlock",
      reason_code: "compliance_issue"
    })
    sim.moveParticipant("CUST04", "unlock")
    expect(sim.participant("CUST04")).toMatchObject({ status: "approved", reason_code: "risk_cleared" })
    expect(verifiedParticipantHooks(sim).map((p) => p.participant_status)).toEqual(["locked", "approved"])
    expect(() => sim.moveParticipant("CUST04", "divest")).toThrow(
      /cannot divest a participant in status approved/
    )
    expect(() => sim.moveParticipant("NOBODY", "unlock")).toThrow(/participant NOBODY not found/)
  })

  it("refuses a malformed body, an unknown participant and a bad code", async () => {
    const sim = simulator()
    const bad = await call(sim, "POST", "/participants/customers/CUST05/lock", {
      body: { reason_code: "fraud" }
    })
    expect(bad.status).toBe(400)
    expect(bad.body.errors).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^reason_code: /),
        expect.stringMatching(/^notes: is required/)
      ])
    )
    const unknown = await call(sim, "POST", "/participants/customers/NOBODY/lock", {
      body: { reason_code: "user_request", notes: "x" }
    })
    expect(unknown).toMatchObject({
      status: 404,
      body: { error: "Not Found", message: "participant not found" }
    })
    const code = await call(sim, "POST", "/participants/customers/CUST5/lock", {
      body: { reason_code: "user_request", notes: "x" }
    })
    expect(code.status).toBe(400)
    expect(code.body.errors[0]).toMatch(
      /^participant_code: expected a participant code of exactly 6 characters/
    )
  })
})
