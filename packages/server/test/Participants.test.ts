/**
 * Endpoints 16–19 mirrored by the proxy (`participants.md`, "What the proxy adds"): scopes, the same
 * validation before anything goes upstream (the body's Schema and the rules that need a clock), the
 * idempotency and audit of every mutation, and the upstream's answers passed on (201 with the
 * participant, the page, the lock's text `OK`).
 */
import { Callers } from "@mta/server"
import { describe, expect, it } from "vitest"
import { harness } from "./support.js"

const adult = (now: number, fields: Record<string, unknown> = {}) => ({
  first_name: "Ada",
  last_name: "Lovelace",
  email: `ada-${Math.random().toString(36).slice(2, 8)}@example.com`,
  address_one: "1 Main St",
  city: "Chicago",
  jurisdiction_code: "US-IL",
  date_of_birth: "1990-04-21",
  sanction_screening: "pass",
  sanction_screening_timestamp: now - 60_000,
  ...fields
})

describe("participants through the proxy (16-19)", () => {
  it("creates an adult (201), keeps the fields it does not name, and replays it under the same key", async () => {
    const h = harness()
    const body = adult(Date.now(), { occupation: "mathematician" })
    const first = await h.request("/participants/customers/new", {
      method: "POST",
      json: body,
      headers: { "idempotency-key": "p-1" }
    })
    expect(first.status).toBe(201)
    const created = (await first.json()) as { message: Record<string, unknown> }
    expect(created.message).toMatchObject({ ...body, status: "submitted" })
    const code = created.message.participant_code as string
    expect(code).toMatch(/^[A-Z0-9]{6}$/)
    const before = h.upstreamCount()
    const again = await h.request("/participants/customers/new", {
      method: "POST",
      json: body,
      headers: { "idempotency-key": "p-1" }
    })
    expect(again.status).toBe(201)
    expect(again.headers.get("idempotent-replayed")).toBe("true")
    expect(await again.json()).toEqual(created)
    expect(h.upstreamCount()).toBe(before)
    // Audited like every mutation.
    const audit = await h.request("/audit?caller=admin")
    const entries = ((await audit.json()) as { entries: Array<Record<string, unknown>> }).entries
    expect(entries.map((e) => [e.action, e.outcome, e.status])).toEqual([
      ["createParticipant", "accepted", 201],
      ["createParticipant", "replayed", 201]
    ])
  })

  it("refuses before anything goes upstream: the Schema's problems and the clock's", async () => {
    const h = harness()
    const now = Date.now()
    const cases: ReadonlyArray<[string, Record<string, unknown>, RegExp]> = [
      ["/participants/customers/new", adult(now, { email: "nope" }), /^email: expected an email address/],
      [
        "/participants/customers/new",
        adult(now, { date_of_birth: "2016-01-01" }),
        /a customer must be an adult/
      ],
      [
        "/participants/customers/new",
        adult(now, { sanction_screening_timestamp: now - 400 * 86_400_000 }),
        /^sanction_screening_timestamp: must be at most one year in the past/
      ],
      ["/participants/customers/new", adult(now, { kyc: "fail" }), /^kyc: zerohash does not accept/],
      [
        "/participants/customers/minor",
        adult(now, { custodian_participant_code: "CUST01" }),
        /a minor must be under 18/
      ]
    ]
    for (const [path, body, message] of cases) {
      const r = await h.request(path, { method: "POST", json: body })
      expect(r.status).toBe(400)
      const answer = (await r.json()) as { errors: Array<string>; code: string }
      expect(answer.code).toBe("invalid_request")
      expect(answer.errors).toEqual(expect.arrayContaining([expect.stringMatching(message)]))
    }
    expect(h.upstreamCount()).toBe(0)
  })

  it("lists with filters (the upstream's page as it is) and refuses unknown filters", async () => {
    const h = harness()
    const page = await h.request("/participants?participant_code=CUST02")
    expect(page.status).toBe(200)
    expect(await page.json()).toMatchObject({
      message: [{ participant_code: "CUST02", status: "approved" }],
      count: 1,
      page: 1,
      page_size: 15
    })
    const bad = await h.request("/participants?state=approved")
    expect(bad.status).toBe(400)
    expect(((await bad.json()) as { errors: Array<string> }).errors).toEqual([
      "state: unknown query parameter; expected one of participant_code, email, status, minors, page"
    ])
  })

  it("locks a participant: text OK; a bad code or body is refused with the field named", async () => {
    const h = harness()
    const ok = await h.request("/participants/customers/CUST06/lock", {
      method: "POST",
      json: { reason_code: "user_request", notes: "customer left" }
    })
    expect(ok.status).toBe(200)
    expect(ok.headers.get("content-type")).toMatch(/^text\/plain/)
    expect(await ok.text()).toBe("OK")
    expect(h.simulator.participant("CUST06")).toMatchObject({ status: "locked", reason_code: "user_request" })
    const twice = await h.request("/participants/customers/CUST06/lock", {
      method: "POST",
      json: { reason_code: "user_request", notes: "again" }
    })
    expect(twice.status).toBe(400)
    expect(((await twice.json()) as { errors: Array<string> }).errors[0]).toMatch(/already locked/)
    const code = await h.request("/participants/customers/CUST6/lock", {
      method: "POST",
      json: { reason_code: "user_request", notes: "x" }
    })
    expect(code.status).toBe(400)
    const body = await h.request("/participants/customers/CUST07/lock", {
      method: "POST",
      json: { notes: "x" }
    })
    expect(((await body.json()) as { errors: Array<string> }).errors).toEqual(["reason_code: is required"])
  })

  it("guards 16-19 with participants:read and participants:write", async () => {
    const h = harness({
      authenticator: Callers.makeAuthenticator([
        {
          name: "accounts",
          token_sha256: Callers.hashToken("acc"),
          scopes: ["accounts:read", "accounts:write"]
        },
        { name: "viewer", token_sha256: Callers.hashToken("view"), scopes: ["participants:read"] }
      ])
    })
    const list = (token: string) => h.request("/participants", { token })
    expect((await list("acc")).status).toBe(403)
    expect((await list("view")).status).toBe(200)
    const create = await h.request("/participants/customers/new", {
      method: "POST",
      token: "view",
      json: adult(Date.now())
    })
    expect(create.status).toBe(403)
    expect(((await create.json()) as { message: string }).message).toMatch(/participants:write/)
  })
})
