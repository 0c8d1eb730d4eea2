/**
 * The contract scenarios: the documented flows and errors of the Customer Accounts API, written once
 * against a `ContractTarget` and registered with the test framework's `describe`/`it`, asserting with
 * `node:assert`. Re-exported by `Contract.ts`.
 */

import { strict as assert } from "node:assert"
import { randomUUID } from "node:crypto"
import type { EndpointName } from "../router.js"
import type { CallResult, ContractControl, ContractTarget, WebhookVerifier } from "./targets.js"

/** The shape of the test framework the suite registers with (vitest, jest, node:test wrappers). */
export interface TestApi {
  readonly describe: (name: string, fn: () => void) => void
  readonly it: ((name: string, fn: () => Promise<void>, timeout?: number) => void) & {
    readonly skip: (name: string, fn: () => Promise<void>) => void
  }
  readonly beforeAll: (fn: () => Promise<void>, timeout?: number) => void
  readonly afterAll: (fn: () => Promise<void>, timeout?: number) => void
}

const show = (r: CallResult): string => `${r.status} ${JSON.stringify(r.body)}`

/** Asserts a status, showing the body when it differs. */
const expectStatus = (r: CallResult, status: number, what: string): void => {
  assert.equal(r.status, status, `${what}: expected ${status}, got ${show(r)}`)
}

const record = (r: CallResult): Record<string, unknown> => {
  const message = (r.body as { message?: unknown } | undefined)?.message
  if (typeof message !== "object" || message === null)
    assert.fail(`expected {message: {...}}, got ${show(r)}`)
  return message as Record<string, unknown>
}

const messages = (r: CallResult): string => {
  const body = r.body as { errors?: Array<string>; message?: string; error?: unknown }
  return [...(body?.errors ?? []), ...(typeof body?.message === "string" ? [body.message] : [])].join("\n")
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** Options of `contractSuite`. */
export interface ContractOptions {
  /**
   * Checks each webhook the target's simulator delivered for the suite's participants (the client's
   * `verifyWebhook`, say). Only where the target's control plane shows its webhooks (`webhooks`).
   */
  readonly verifyWebhook?: WebhookVerifier
}

/** A `YYYY-MM-DD` date `years` before today (UTC), on the 15th of January: far from any birthday edge. */
const yearsAgo = (years: number): string => `${new Date().getUTCFullYear() - years}-01-15`

/** Registers the contract scenarios for one target. Pass `{ skip: reason }` to register them skipped. */
export const contractSuite = (
  target: ContractTarget | { readonly skip: string },
  api: TestApi,
  options: ContractOptions = {}
): void => {
  const { describe, it, beforeAll, afterAll } = api
  if ("skip" in target) {
    describe("contract suite", () => {
      it.skip(`skipped: ${target.skip}`, async () => {})
    })
    console.warn(`contract suite skipped: ${target.skip}`)
    return
  }
  const t = target
  const run = randomUUID().slice(0, 8)
  let counter = 0
  const label = (what: string) => `ct-${run}-${what}-${++counter}`
  const p = t.participants
  const [a, b, c, d] = p.individuals as [string, string, string, string]
  const [advisor1, advisor2] = p.advisors as [string, string]
  const timeoutMs = t.control === undefined ? (t.asyncTimeoutMs ?? 30_000) : 5_000

  const details = async (zrn: string) => record(await t.call("getAccount", { zrn }))

  /**
   * Reads the account back (after running the target's pending work) until `done` holds, or fails
   * with `failure` of the last read once the target's time for background work is over.
   */
  const waitForDetails = async (
    zrn: string,
    done: (r: Record<string, unknown>) => boolean,
    failure: (r: Record<string, unknown>) => string
  ): Promise<Record<string, unknown>> => {
    if (t.control !== undefined) await t.control.settle()
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const r = await details(zrn)
      if (done(r)) return r
      if (Date.now() > deadline) assert.fail(failure(r))
      await sleep(500)
    }
  }

  const waitForStatus = (zrn: string, status: string | undefined): Promise<Record<string, unknown>> =>
    waitForDetails(
      zrn,
      (r) => r.status === status,
      (r) => `account ${zrn} did not reach ${status} (still ${String(r.status)})`
    )

  const create = async (fields: Record<string, unknown>, what = "account") =>
    t.call("createAccount", {
      body: {
        account_label: label(what),
        tier: "pro",
        prefunded: false,
        type: "individual",
        participant_code: a,
        ...fields
      }
    })

  const open = async (fields: Record<string, unknown> = {}, what?: string): Promise<string> => {
    const r = await create(fields, what)
    expectStatus(r, 202, "create")
    const zrn = record(r).zrn as string
    await waitForStatus(zrn, "open")
    return zrn
  }

  const command = async (zrn: string, name: EndpointName, expected = 202) => {
    const r = await t.call(name, { zrn })
    expectStatus(r, expected, name)
    return r
  }

  // -------------------------------------------------------------------------------------------
  // Participants (16–19): unique emails per run, since certification is shared state.
  // -------------------------------------------------------------------------------------------

  const emailOf = (what: string) => `${label(what)}@example.com`

  const adultBody = (what: string, fields: Record<string, unknown> = {}): Record<string, unknown> => ({
    first_name: "Ada",
    last_name: `Contract ${run}`,
    email: emailOf(what),
    address_one: "1 Main St",
    city: "Chicago",
    zip: "60601",
    jurisdiction_code: "US-IL",
    date_of_birth: yearsAgo(36),
    sanction_screening: "pass",
    sanction_screening_timestamp: Date.now() - 60_000,
    ...fields
  })

  const minorBody = (
    custodian: string,
    what: string,
    fields: Record<string, unknown> = {}
  ): Record<string, unknown> => ({
    first_name: "Tim",
    last_name: `Contract ${run}`,
    email: emailOf(what),
    address_one: "1 Main St",
    city: "Chicago",
    jurisdiction_code: "US-IL",
    date_of_birth: yearsAgo(10),
    custodian_participant_code: custodian,
    custodian_relationship: "parent",
    utma_signed_timestamp: Date.now() - 60_000,
    ...fields
  })

  /** Submits a participant (16 or 17) and checks the 201: the fields echoed, a code, the platform. */
  const submit = async (
    endpoint: "createParticipant" | "createMinor",
    body: Record<string, unknown>,
    requestId?: string
  ): Promise<string> => {
    const r = await t.call(endpoint, {
      body,
      ...(requestId === undefined ? {} : { headers: { "x-request-id": requestId } })
    })
    expectStatus(r, 201, endpoint)
    const created = record(r)
    assert.match(String(created.participant_code), /^[A-Za-z0-9]{6}$/, "a 6-character participant code")
    assert.equal(created.email, body.email)
    assert.equal(created.first_name, body.first_name)
    assert.equal(typeof created.platform_code, "string", "the 201 names the platform")
    return String(created.participant_code)
  }

  /** The participant's entry in `GET /participants?participant_code=` (exactly one). */
  const entryOf = async (code: string): Promise<Record<string, unknown>> => {
    const r = await t.call("listParticipants", { query: { participant_code: code } })
    expectStatus(r, 200, "list participants")
    const entries = (r.body as { message?: Array<Record<string, unknown>> }).message ?? []
    assert.equal(entries.length, 1, `exactly one entry for ${code}, got ${show(r)}`)
    return entries[0]!
  }

  /** Reads the participant (after the target's pending work) until it has `status`. */
  const waitForParticipant = async (code: string, status: string): Promise<Record<string, unknown>> => {
    if (t.control !== undefined) await t.control.settle()
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const entry = await entryOf(code)
      if (entry.status === status) return entry
      if (Date.now() > deadline)
        assert.fail(`participant ${code} did not reach ${status} (still ${String(entry.status)})`)
      await sleep(500)
    }
  }

  /** An adult customer, submitted and approved: its code. */
  const approvedAdult = async (what: string): Promise<string> => {
    const code = await submit("createParticipant", adultBody(what))
    await waitForParticipant(code, "approved")
    return code
  }

  let unverifiedNoted = false
  /**
   * The `participant_status_changed` webhooks the target delivered for `code`, each checked with the
   * suite's verifier: their decoded payloads, oldest first; `undefined` where the suite cannot see
   * webhooks (no control plane, or one that does not show them) or was given no verifier.
   */
  const participantHooks = async (code: string): Promise<Array<Record<string, unknown>> | undefined> => {
    const control = t.control
    if (control?.webhooks === undefined) return undefined
    await control.settle()
    const received = await control.webhooks()
    if (received === undefined) return undefined
    if (options.verifyWebhook === undefined) {
      if (!unverifiedNoted)
        console.warn(`contract suite: ${t.name}: webhooks not verified (no verifyWebhook)`)
      unverifiedNoted = true
      return undefined
    }
    const mine = received.filter((hook) => {
      if (hook.headers["x-zh-hook-payload-type"] !== "participant_status_changed") return false
      try {
        return (JSON.parse(hook.rawBody) as { participant_code?: unknown }).participant_code === code
      } catch {
        return false
      }
    })
    const payloads: Array<Record<string, unknown>> = []
    for (const hook of mine) {
      const verified = await options.verifyWebhook(hook)
      assert.equal(verified.type, "participant_status_changed", "the verified payload type")
      payloads.push(verified.payload as Record<string, unknown>)
    }
    return payloads
  }

  /** Asserts the participant's verified webhooks, in order, where the suite can see them. */
  const expectHooks = async (code: string, statuses: ReadonlyArray<string>) => {
    const payloads = await participantHooks(code)
    if (payloads === undefined) return undefined
    assert.deepEqual(
      payloads.map((p) => p.participant_status),
      statuses,
      `the participant_status_changed webhooks of ${code}`
    )
    for (const p of payloads) assert.equal(typeof p.timestamp, "number", "every payload has its timestamp")
    return payloads
  }

  /** A scenario that needs the target's control plane. */
  const withControl = (
    name: string,
    fn: (control: ContractControl) => Promise<void>,
    need?: keyof ContractControl
  ) => {
    if (t.control === undefined || (need !== undefined && t.control[need] === undefined)) {
      const reason = `${t.name} has no control plane${need === undefined ? "" : ` for ${need}`}`
      it.skip(`${name} (skipped: ${reason})`, async () => {})
      // The title alone is easy to miss in a summary: the reason goes to the output as well.
      console.warn(`contract suite: "${name}" skipped: ${reason}`)
    } else {
      const control = t.control
      it(name, () => fn(control), timeoutMs * 4)
    }
  }
  const scenario = (name: string, fn: () => Promise<void>) => it(name, fn, timeoutMs * 4)

  describe(`contract suite: ${t.name}`, () => {
    beforeAll(async () => {
      await t.setup?.()
    }, 60_000)
    afterAll(async () => {
      await t.control?.clearFaults?.()
      await t.teardown?.()
    }, 60_000)

    describe("account flows", () => {
      scenario("individual: created without a status, open once provisioned", async () => {
        const r = await create({}, "individual")
        expectStatus(r, 202, "create")
        const created = record(r)
        assert.equal(created.status, undefined, "a new account has no status while provisioning")
        assert.match(String(created.zrn), /^zrn:zh:[a-z]{2}:accounts:customer:[0-9a-f-]{36}$/)
        const opened = await waitForStatus(String(created.zrn), "open")
        assert.equal(opened.participant_code, a)
        assert.equal(opened.type, "individual")
        assert.deepEqual(opened.tenants ?? [], [])
      })

      scenario("JTIC with a secondary holder", async () => {
        const zrn = await open({ type: "jtic", tenants: [b] }, "jtic")
        const r = await details(zrn)
        assert.deepEqual(r.tenants, [b])
        assert.equal(r.type, "jtic")
      })

      scenario("UTMA with a minor and a custodian", async () => {
        const zrn = await open({ type: "utma", participant_code: p.minor, tenants: [p.custodian] }, "utma")
        const r = await details(zrn)
        assert.equal(r.participant_code, p.minor)
        assert.deepEqual(r.tenants, [p.custodian])
      })

      scenario("trust with a trustee", async () => {
        const zrn = await open({ type: "trust", participant_code: p.trust, tenants: [p.trustee] }, "trust")
        assert.deepEqual((await details(zrn)).tenants, [p.trustee])
      })

      scenario("business with an individual", async () => {
        const zrn = await open({ type: "business", participant_code: p.business, tenants: [c] }, "business")
        assert.equal((await details(zrn)).type, "business")
      })

      scenario("update: tier and prefunded", async () => {
        const zrn = await open()
        const r = await t.call("updateAccount", { zrn, body: { prefunded: true, tier: "gold" } })
        expectStatus(r, 202, "update")
        assert.equal(record(r).tier, "gold")
        await waitForDetails(
          zrn,
          (r) => r.tier === "gold",
          () => "the update was not applied"
        )
        assert.equal((await details(zrn)).prefunded, true)
      })
    })

    describe("access controls", () => {
      scenario("lock, then unlock", async () => {
        const zrn = await open()
        await command(zrn, "lock")
        await waitForStatus(zrn, "locked")
        await command(zrn, "unlock")
        await waitForStatus(zrn, "open")
      })

      scenario("withdraw lock, then withdraw unlock", async () => {
        const zrn = await open()
        await command(zrn, "withdrawLock")
        await waitForStatus(zrn, "withdraw_locked")
        await command(zrn, "withdrawUnlock")
        await waitForStatus(zrn, "open")
      })

      scenario("a refused transition is a 400 that names the command to use", async () => {
        const zrn = await open()
        await command(zrn, "lock")
        await waitForStatus(zrn, "locked")
        const r = await command(zrn, "withdrawUnlock", 400)
        assert.match(messages(r), /unlock/)
      })

      scenario("commands on an account still provisioning are refused", async () => {
        const r = await create({}, "provisioning")
        expectStatus(r, 202, "create")
        const zrn = String(record(r).zrn)
        const lock = await t.call("lock", { zrn })
        // The vendor may finish provisioning very fast; either it was still provisioning (400) or open.
        if (lock.status === 400) assert.match(messages(lock), /provisioning/)
        else expectStatus(lock, 202, "lock")
      })
    })

    describe("wind-down", () => {
      scenario("divest to closed", async () => {
        const zrn = await open()
        await command(zrn, "divest")
        await waitForStatus(zrn, "closed")
      })

      scenario("close an account without a balance", async () => {
        const zrn = await open()
        await command(zrn, "close")
        await waitForStatus(zrn, "closed")
        const again = await command(zrn, "lock", 400)
        assert.match(messages(again), /closed/)
      })

      withControl("close with a balance is refused; divest moves it out, then closes", async (control) => {
        const zrn = await open()
        await control.setBalance({ zrn, asset: "BTC", balance: "0.5" })
        const refused = await command(zrn, "close", 400)
        assert.match(messages(refused), /divest/)
        await command(zrn, "divest")
        await waitForStatus(zrn, "closed")
        const ledger = await t.call("listLedgerAccounts", { query: { zrn } })
        expectStatus(ledger, 200, "ledger")
        assert.deepEqual((ledger.body as { message: unknown[] }).message, [])
      })
    })

    describe("tenants and advisors", () => {
      scenario("add and remove a tenant", async () => {
        const zrn = await open({ type: "jtwros", tenants: [b] }, "jtwros")
        expectStatus(await t.call("addTenant", { zrn, body: { participant_code: c } }), 202, "add tenant")
        expectStatus(await t.call("removeTenant", { zrn, participant: b }), 202, "remove tenant")
        await waitForDetails(
          zrn,
          (r) => JSON.stringify(r.tenants) === JSON.stringify([c]),
          (r) => `the tenant changes were not applied (tenants ${JSON.stringify(r.tenants)})`
        )
      })

      scenario("add and remove an advisor", async () => {
        const zrn = await open()
        // An account without advisors may omit the field.
        const advisors = (r: Record<string, unknown>) => JSON.stringify(r.financial_advisors ?? [])
        expectStatus(
          await t.call("addAdvisor", { zrn, body: { participant_code: advisor1 } }),
          202,
          "add advisor"
        )
        await waitForDetails(
          zrn,
          (r) => advisors(r) === JSON.stringify([advisor1]),
          (r) => `the advisor was not added (financial_advisors ${advisors(r)})`
        )
        expectStatus(await t.call("removeAdvisor", { zrn, participant: advisor1 }), 202, "remove advisor")
        await waitForDetails(
          zrn,
          (r) => advisors(r) === "[]",
          (r) => `the advisor was not removed (financial_advisors ${advisors(r)})`
        )
      })

      scenario("conflicts: a tenant as advisor, a duplicate advisor", async () => {
        const zrn = await open({ type: "jtic", tenants: [b], financial_advisors: [advisor2] }, "conflicts")
        const tenantAsAdvisor = await t.call("addAdvisor", { zrn, body: { participant_code: b } })
        expectStatus(tenantAsAdvisor, 409, "tenant as advisor")
        assert.match(messages(tenantAsAdvisor), /participant already exists as tenant/)
        const duplicate = await t.call("addAdvisor", { zrn, body: { participant_code: advisor2 } })
        expectStatus(duplicate, 409, "duplicate advisor")
        assert.match(messages(duplicate), /duplicated financial advisors are not allowed/)
      })

      withControl("a participant who is not approved cannot join", async (control) => {
        const code = `L${run.slice(0, 5)}`.toUpperCase()
        await control.addParticipant({
          participant_code: code,
          status: "locked",
          reason_code: "compliance_issue"
        })
        const zrn = await open({ type: "jtic", tenants: [b] }, "unapproved")
        const r = await t.call("addTenant", { zrn, body: { participant_code: code } })
        expectStatus(r, 400, "locked participant as tenant")
        assert.match(messages(r), /not approved/)
      })

      scenario("an unknown participant is 400, an unknown account 404", async () => {
        const zrn = await open({ type: "jtic", tenants: [b] }, "unknown")
        const nobody = await t.call("addTenant", { zrn, body: { participant_code: "ZZ9999" } })
        expectStatus(nobody, 400, "unknown participant")
        assert.match(messages(nobody), /participant not found/)
        const missing = await t.call("addTenant", {
          zrn: `zrn:zh:us:accounts:customer:${randomUUID()}`,
          body: { participant_code: d }
        })
        expectStatus(missing, 404, "unknown account")
      })
    })

    describe("status reason", () => {
      withControl("refused with 403 while disabled, detailed once enabled", async (control) => {
        const zrn = await open()
        await control.enableFeature("status_reason", false)
        const off = await t.call("getStatusReason", { zrn })
        expectStatus(off, 403, "status reason disabled")
        assert.match(messages(off), /status reason is not enabled/)
        await control.enableFeature("status_reason", true)
        await command(zrn, "lock")
        await waitForStatus(zrn, "locked")
        await control.setStatusReason?.(zrn, {
          author_type: "admin",
          reason: "compliance_issue",
          compliance_reasons: ["fraud"],
          notes: "contract suite",
          case_number: "CT-1"
        })
        const on = await t.call("getStatusReason", { zrn })
        expectStatus(on, 200, "status reason")
        const r = record(on)
        assert.equal(r.status, "locked")
        if (control.setStatusReason !== undefined) {
          assert.equal(r.reason, "compliance_issue")
          assert.deepEqual(r.compliance_reasons, ["fraud"])
          assert.equal(r.case_number, "CT-1")
        }
        await control.enableFeature("status_reason", false)
      })
    })

    describe("ledger accounts", () => {
      withControl("lists non-zero balances by customer account, owner and asset", async (control) => {
        const zrn = await open({}, "ledger")
        await control.setBalance({ zrn, asset: "BTC", balance: "0.00000001" })
        await control.setBalance({ zrn, asset: "USD", balance: "10.50" })
        await control.setBalance({ zrn, asset: "ETH", balance: "0" })
        const byZrn = await t.call("listLedgerAccounts", { query: { zrn } })
        expectStatus(byZrn, 200, "list by zrn")
        const page = byZrn.body as {
          message: Array<Record<string, unknown>>
          page: number
          total_pages: number
        }
        assert.deepEqual(page.message.map((e) => `${e.asset}=${e.balance}`).sort(), [
          "BTC=0.00000001",
          "USD=10.50"
        ])
        for (const e of page.message) assert.match(String(e.zrn), /^zrn:zh:[a-z]{2}:accounts:ledger:/)
        const byAsset = await t.call("listLedgerAccounts", { query: { zrn, asset: "USD" } })
        assert.deepEqual(
          (byAsset.body as typeof page).message.map((e) => e.asset),
          ["USD"]
        )
      })

      scenario("answers a page with message, page and total_pages", async () => {
        const r = await t.call("listLedgerAccounts", { query: { account_owner: a, page: "1" } })
        expectStatus(r, 200, "list")
        const body = r.body as { message: unknown; page: unknown; total_pages: unknown }
        assert.ok(Array.isArray(body.message))
        assert.equal(body.page, 1)
        assert.equal(typeof body.total_pages, "number")
      })
    })

    describe("participants and onboarding", () => {
      scenario("adult customer: submitted, then approved, listed with the entry's shape", async () => {
        const body = adultBody("adult")
        const r = await t.call("createParticipant", { body })
        expectStatus(r, 201, "create customer")
        const created = record(r)
        const code = String(created.participant_code)
        assert.match(code, /^[A-Za-z0-9]{6}$/)
        assert.equal(created.status, "submitted", "KYC completes in the background")
        for (const field of ["first_name", "last_name", "email", "jurisdiction_code", "date_of_birth"])
          assert.equal(created[field], body[field], `the 201 echoes ${field}`)
        const entry = await waitForParticipant(code, "approved")
        assert.equal(entry.participant_code, code)
        assert.equal(entry.participant_name, `${body.first_name} ${body.last_name}`)
        assert.equal(entry.email, body.email)
        assert.equal(entry.jurisdiction_code, "US-IL")
        assert.equal(entry.reason_code ?? null, null, "no reason code when approved")
        assert.equal(typeof entry.updated_at, "number", "updated_at in ms")
        // The email filter finds the same participant; a status filter that excludes it does not.
        const byEmail = await t.call("listParticipants", { query: { email: String(body.email) } })
        expectStatus(byEmail, 200, "list by email")
        const page = byEmail.body as {
          message: Array<Record<string, unknown>>
          count?: unknown
          page?: unknown
        }
        assert.deepEqual(
          page.message.map((e) => e.participant_code),
          [code]
        )
        assert.equal(page.page, 1)
        const rejectedOnly = await t.call("listParticipants", {
          query: { participant_code: code, status: "rejected" }
        })
        assert.deepEqual((rejectedOnly.body as typeof page).message, [])
        const unknown = await t.call("listParticipants", { query: { colour: "blue" } })
        expectStatus(unknown, 400, "an unknown filter")
        assert.match(messages(unknown), /colour/)
        await expectHooks(code, ["submitted", "approved"])
      })

      scenario("minor with a custodian, then a UTMA account for them", async () => {
        const custodian = await approvedAdult("custodian")
        const minor = await submit("createMinor", minorBody(custodian, "minor"))
        const entry = await waitForParticipant(minor, "approved")
        assert.equal(entry.participant_name, `Tim Contract ${run}`)
        const minors = await t.call("listParticipants", {
          query: { participant_code: minor, minors: "true" }
        })
        expectStatus(minors, 200, "list minors")
        assert.deepEqual(
          (minors.body as { message: Array<Record<string, unknown>> }).message.map((e) => e.participant_code),
          [minor]
        )
        const adults = await t.call("listParticipants", {
          query: { participant_code: minor, minors: "false" }
        })
        assert.deepEqual(
          (adults.body as { message: unknown[] }).message,
          [],
          "a minor is not listed as an adult"
        )
        // The domain's UTMA composition: the minor is the primary (utma_beneficiary), the custodian the
        // one tenant (utma_custodian).
        const zrn = await open(
          { type: "utma", participant_code: minor, tenants: [custodian] },
          "onboarded-utma"
        )
        const account = await details(zrn)
        assert.equal(account.type, "utma")
        assert.equal(account.participant_code, minor)
        assert.deepEqual(account.tenants, [custodian])
        await expectHooks(custodian, ["submitted", "approved"])
        await expectHooks(minor, ["submitted", "approved"])
      })

      scenario("a minor's custodian must exist", async () => {
        const r = await t.call("createMinor", { body: minorBody("ZZ9999", "orphan") })
        expectStatus(r, 400, "unknown custodian")
        assert.match(messages(r), /custodian_participant_code/)
      })

      scenario("adult and minor date checks", async () => {
        const young = await t.call("createParticipant", {
          body: adultBody("too-young", { date_of_birth: yearsAgo(12) })
        })
        expectStatus(young, 400, "a customer under 18")
        assert.match(messages(young), /date_of_birth/)
        const custodian = await approvedAdult("custodian-dates")
        const old = await t.call("createMinor", {
          body: minorBody(custodian, "too-old", { date_of_birth: yearsAgo(30) })
        })
        expectStatus(old, 400, "a minor who is an adult")
        assert.match(messages(old), /date_of_birth/)
        const unborn = await t.call("createParticipant", {
          body: adultBody("unborn", { date_of_birth: `${new Date().getUTCFullYear() + 1}-01-15` })
        })
        expectStatus(unborn, 400, "a date of birth in the future")
        assert.match(messages(unborn), /date_of_birth/)
      })

      scenario("an email is unique per platform: the same email with other data is refused", async () => {
        const body = adultBody("dup-email")
        await submit("createParticipant", body)
        const other = await t.call("createParticipant", { body: { ...body, first_name: "Grace" } })
        expectStatus(other, 400, "the same email, other data")
        assert.match(messages(other), /Participant already exists with this email for this platform/)
      })

      scenario(
        "X-Request-Id: the same payload again answers the first 201; another id is refused",
        async () => {
          const body = adultBody("replay")
          const requestId = `${label("rid")}`
          const first = await t.call("createParticipant", { body, headers: { "x-request-id": requestId } })
          expectStatus(first, 201, "first submission")
          const again = await t.call("createParticipant", { body, headers: { "x-request-id": requestId } })
          expectStatus(again, 201, "the same payload and X-Request-Id")
          assert.equal(
            record(again).participant_code,
            record(first).participant_code,
            "the first answer again"
          )
          const otherId = await t.call("createParticipant", {
            body,
            headers: { "x-request-id": `${label("rid")}` }
          })
          expectStatus(otherId, 400, "the same payload with another X-Request-Id")
          assert.match(messages(otherId), /Participant data already used with different requestID/)
          const code = String(record(first).participant_code)
          await waitForParticipant(code, "approved")
          // One participant, not two: one submission's webhooks.
          await expectHooks(code, ["submitted", "approved"])
        }
      )

      scenario("lock a participant at its own request; a second lock is refused", async () => {
        const code = await approvedAdult("lock")
        const r = await t.call("lockParticipant", {
          participant: code,
          body: { reason_code: "user_request", notes: "customer closed the relationship" }
        })
        expectStatus(r, 200, "lock participant")
        assert.equal(r.body, "OK")
        const entry = await waitForParticipant(code, "locked")
        assert.equal(entry.reason_code, "user_request")
        const again = await t.call("lockParticipant", {
          participant: code,
          body: { reason_code: "user_request", notes: "again" }
        })
        expectStatus(again, 400, "second lock")
        assert.notEqual(messages(again), "", "the refusal says why")
        const bad = await t.call("lockParticipant", { participant: code, body: { reason_code: "bored" } })
        expectStatus(bad, 400, "a lock without notes and with an unknown reason")
        assert.match(messages(bad), /reason_code/)
        assert.match(messages(bad), /notes/)
        const hooks = await expectHooks(code, ["submitted", "approved", "locked"])
        if (hooks !== undefined) assert.equal(hooks[2]!.reason_code, "user_request")
      })

      withControl(
        "KYC rejected with reasons, then submitted again and approved",
        async (control) => {
          const body = adultBody("rejected")
          await control.setKycOutcome!(
            { status: "rejected", reject_reasons: ["id_document_expired", "address_mismatch"] },
            { email: String(body.email) }
          )
          const code = await submit("createParticipant", body, label("rid"))
          const entry = await waitForParticipant(code, "rejected")
          assert.equal(entry.reason_code, "id_document_expired", "the first reject reason")
          // A rejected participant may be submitted again with the same email and data.
          const again = await submit("createParticipant", body, label("rid"))
          assert.equal(again, code, "the same participant, submitted again")
          await waitForParticipant(code, "approved")
          const hooks = await expectHooks(code, ["submitted", "rejected", "submitted", "approved"])
          if (hooks !== undefined) {
            assert.deepEqual(hooks[1]!.reject_reasons, ["id_document_expired", "address_mismatch"])
            assert.equal(hooks[1]!.kyc_attempts, 1)
            assert.equal(hooks[1]!.reason_code, "id_document_expired")
            assert.equal(hooks[3]!.reject_reasons, undefined, "an approval carries no reject reasons")
          }
        },
        "setKycOutcome"
      )

      withControl(
        "KYC pending, then approved by compliance",
        async (control) => {
          const body = adultBody("pending")
          await control.setKycOutcome!({ status: "pending_approval" }, { email: String(body.email) })
          const code = await submit("createParticipant", body)
          await waitForParticipant(code, "pending_approval")
          await control.decideParticipant!(code, { status: "approved" })
          const entry = await waitForParticipant(code, "approved")
          assert.equal(entry.reason_code ?? null, null)
          await expectHooks(code, ["submitted", "pending_approval", "approved"])
        },
        "decideParticipant"
      )
    })

    describe("documented errors", () => {
      scenario("400: missing required fields, every one listed", async () => {
        const r = await t.call("createAccount", { body: { participant_code: a } })
        expectStatus(r, 400, "incomplete create")
        for (const field of ["account_label", "type", "tier", "prefunded"])
          assert.match(messages(r), new RegExp(field))
      })

      scenario("400: the older guides' `tenant` and bare-string tenants", async () => {
        const singular = await create({ type: "jtic", tenant: [b] })
        expectStatus(singular, 400, "tenant (singular)")
        assert.match(messages(singular), /tenants/)
        const bare = await create({ type: "jtic", tenants: b })
        expectStatus(bare, 400, "bare string tenants")
        assert.match(messages(bare), /array/)
      })

      scenario("400: a body wrapped in message", async () => {
        const r = await t.call("createAccount", {
          body: {
            message: {
              participant_code: a,
              account_label: label("wrapped"),
              type: "individual",
              tier: "pro",
              prefunded: false
            }
          }
        })
        expectStatus(r, 400, "wrapped body")
        assert.match(messages(r), /wrapped/)
      })

      scenario("400: a composition the account type does not allow", async () => {
        const r = await create({ type: "utma", participant_code: p.minor, tenants: [p.custodian, d] })
        expectStatus(r, 400, "utma with two tenants")
      })

      scenario("409: the same (participant_code, account_label) twice", async () => {
        const account_label = label("dup")
        expectStatus(await create({ account_label }), 202, "first create")
        expectStatus(await create({ account_label }), 409, "second create")
      })

      scenario("404: an account that does not exist", async () => {
        const r = await t.call("getAccount", { zrn: `zrn:zh:us:accounts:customer:${randomUUID()}` })
        expectStatus(r, 404, "unknown account")
      })

      scenario("400: a malformed ZRN", async () => {
        const r = await t.call("getAccount", { zrn: "zrn:zh:us:accounts:customer:not-a-uuid" })
        expectStatus(r, 400, "malformed ZRN")
      })

      withControl(
        "503 carries zh-allow-retry; 500 and 429 have the vendor's bodies",
        async (control) => {
          for (const [status, body] of [
            [503, { error: "Service Unavailable" }],
            [500, { error: "Internal Server Error" }],
            [429, { error: "Too Many Requests" }]
          ] as const) {
            await control.injectFault!({ endpoint: "listLedgerAccounts", status, times: 1 })
            const r = await t.call("listLedgerAccounts")
            expectStatus(r, status, `fault ${status}`)
            assert.deepEqual({ error: (r.body as { error: unknown }).error }, body)
            if (status === 503 && r.headers !== undefined) assert.equal(r.headers["zh-allow-retry"], "true")
          }
          expectStatus(await t.call("listLedgerAccounts"), 200, "after the faults")
        },
        "injectFault"
      )
    })
  })
}
