/**
 * The contract scenarios: the documented flows and errors of the Customer Accounts API, written once
 * against a `ContractTarget` and registered with the test framework's `describe`/`it`, asserting with
 * `node:assert`. Re-exported by `Contract.ts`.
 */

import { strict as assert } from "node:assert"
import { randomUUID } from "node:crypto"
import type { EndpointName } from "../router.js"
import type { CallResult, ContractControl, ContractTarget } from "./targets.js"

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

/** Registers the contract scenarios for one target. Pass `{ skip: reason }` to register them skipped. */
export const contractSuite = (target: ContractTarget | { readonly skip: string }, api: TestApi): void => {
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
