/**
 * Every endpoint and every documented error, against the testkit's simulator through msw, written
 * once over the Promise-shaped client so both APIs run the same scenarios (the Effect API through an
 * adapter in `ZeroHashClient.test.ts`, the Promise API as it is in `PromiseClient.test.ts`).
 */
import {
  type Client,
  type ClientConfig,
  Conflict,
  type CreateAccountInput,
  DecodeError,
  InvalidInput,
  isClientError,
  NetworkError,
  NotFound,
  OutcomeUnknown,
  PermissionDenied,
  RateLimited,
  ServerError,
  Unavailable,
  ValidationError
} from "@mta/client"
import { createSimulator, Fault, type Simulator as SimulatorModule } from "@mta/testkit"
import { handlers } from "@mta/testkit/msw"
import { setupServer } from "msw/node"
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest"

/** The base URL the simulator answers under (msw intercepts it; nothing leaves the process). */
export const BASE_URL = "https://api.cert.zerohash.com"

/** Starts msw for the file with a fresh simulator per test; returns accessors. */
export const useSimulator = (options: Parameters<typeof createSimulator>[0] = {}) => {
  let current: SimulatorModule.Simulator = createSimulator({ seedDemo: true, pageSize: 2, ...options })
  const server = setupServer()
  beforeAll(() => server.listen({ onUnhandledRequest: "error" }))
  afterAll(() => server.close())
  beforeEach(() => {
    current = createSimulator({ seedDemo: true, pageSize: 2, ...options })
    server.resetHandlers(...handlers(current, { baseUrl: BASE_URL }))
  })
  return {
    simulator: () => current,
    config: (overrides: Partial<ClientConfig> = {}): ClientConfig => ({
      baseUrl: BASE_URL,
      credentials: current.credentials,
      // Small real waits keep the Promise API's retries quick; the TestClock tests check the real ones.
      retry: { baseDelayMs: 1, maxDelayMs: 5, jitter: false },
      ...overrides
    })
  }
}

/** What a failed call rejected with. */
export const rejection = async (promise: Promise<unknown>): Promise<unknown> => {
  try {
    await promise
  } catch (error) {
    return error
  }
  throw new Error("expected the call to fail")
}

const JOINT: CreateAccountInput = {
  participant_code: "CUST01",
  account_label: "joint-1",
  type: "jtic",
  tier: "pro",
  prefunded: false,
  tenants: ["CUST02"]
}

/** The shared scenarios, over a client factory. */
export const endpointScenarios = (label: string, makeClient: (config: ClientConfig) => Client) =>
  describe(label, () => {
    const kit = useSimulator()
    const client = (overrides: Partial<ClientConfig> = {}) => makeClient(kit.config(overrides))

    /** Creates the joint account and lets provisioning finish: an open account. */
    const openAccount = async (c: Client = client(), body: CreateAccountInput = JOINT) => {
      const created = await c.createAccount(body)
      await kit.simulator().settle()
      return String(created.zrn)
    }

    describe("every endpoint", () => {
      it("createAccount answers the provisioning record; getAccount shows it open once provisioned", async () => {
        const c = client()
        const created = await c.createAccount(JOINT)
        expect(created.zrn.subdomain).toBe("customer")
        expect(created.status).toBeUndefined()
        expect(created.tenants).toEqual(["CUST02"])
        await kit.simulator().settle()
        const read = await c.getAccount(created.zrn)
        expect(read.status).toBe("open")
        expect(read.account_label).toBe("joint-1")
        // Sent exactly as signed: the simulator verified the signature of the serialised body.
        const [entry] = kit.simulator().journal()
        expect(entry!.requestBody).toBe(
          '{"participant_code":"CUST01","account_label":"joint-1","type":"jtic","tier":"pro","prefunded":false,"tenants":["CUST02"]}'
        )
      })

      it("updateAccount sends both fields and answers the record", async () => {
        const c = client()
        const zrn = await openAccount(c)
        const updated = await c.updateAccount(zrn, { prefunded: true, tier: "gold" })
        expect(updated.tier).toBe("gold")
        await kit.simulator().settle()
        expect((await c.getAccount(zrn)).prefunded).toBe(true)
      })

      it("getStatusReason reads why the account is in its status", async () => {
        const c = client()
        const zrn = await openAccount(c)
        kit.simulator().enableFeature("status_reason")
        kit.simulator().forceStatus(zrn, "locked", { author_type: "admin", reason: "compliance_issue" })
        const reason = await c.getStatusReason(zrn)
        expect(reason.status).toBe("locked")
        expect(reason.reason).toBe("compliance_issue")
        expect(reason.author_type).toBe("admin")
      })

      it("lock, unlock, withdrawLock, withdrawUnlock, divest and close move the status", async () => {
        const c = client()
        const zrn = await openAccount(c)
        const sim = kit.simulator()
        const statusAfter = async (step: () => Promise<void>) => {
          await step()
          await sim.settle()
          return (await c.getAccount(zrn)).status
        }
        expect(await statusAfter(() => c.lock(zrn))).toBe("locked")
        expect(await statusAfter(() => c.unlock(zrn))).toBe("open")
        expect(await statusAfter(() => c.withdrawLock(zrn))).toBe("withdraw_locked")
        expect(await statusAfter(() => c.withdrawUnlock(zrn))).toBe("open")
        expect(await statusAfter(() => c.close(zrn))).toBe("closed")
        const other = await openAccount(c, { ...JOINT, account_label: "joint-2" })
        sim.setBalance({ zrn: other, asset: "BTC", balance: "0.5" })
        expect(await statusAfter(() => c.divest(other)).then(() => c.getAccount(other))).toMatchObject({
          status: "closed"
        })
        // Every command sent and signed `{}` as its body.
        const commands = sim.journal().filter((e) => e.method === "POST" && e.path !== "/accounts")
        expect(commands.map((e) => e.requestBody)).toEqual(Array(commands.length).fill("{}"))
      })

      it("addTenant, removeTenant, addAdvisor and removeAdvisor change the members", async () => {
        const c = client()
        const zrn = await openAccount(c)
        const sim = kit.simulator()
        await c.addTenant(zrn, "CUST03")
        await c.addAdvisor(zrn, "ADVSR1")
        await sim.settle()
        expect(await c.getAccount(zrn)).toMatchObject({
          tenants: ["CUST02", "CUST03"],
          financial_advisors: ["ADVSR1"]
        })
        await c.removeTenant(zrn, "CUST03")
        await c.removeAdvisor(zrn, "ADVSR1")
        await sim.settle()
        expect(await c.getAccount(zrn)).toMatchObject({ tenants: ["CUST02"], financial_advisors: [] })
        expect(sim.journal().map((e) => `${e.method} ${e.path.replace(zrn, "{zrn}")}`)).toContain(
          "DELETE /accounts/{zrn}/tenants/CUST03"
        )
      })

      it("listLedgerAccounts walks every page", async () => {
        const c = client()
        const zrn = await openAccount(c)
        const sim = kit.simulator()
        const assets = ["BTC", "ETH", "USDC", "SOL", "AVAX"]
        for (const [i, asset] of assets.entries()) sim.setBalance({ zrn, asset, balance: `${i + 1}.25` })
        const seen: Array<string> = []
        for await (const entry of c.listLedgerAccounts({ zrn })) seen.push(`${entry.asset}=${entry.balance}`)
        expect(seen.sort()).toEqual(["AVAX=5.25", "BTC=1.25", "ETH=2.25", "SOL=4.25", "USDC=3.25"])
        // pageSize 2: three pages, each asked for once, with the ZRN sent canonical.
        const pages = sim.journal().filter((e) => e.method === "GET" && e.path.startsWith("/accounts?"))
        expect(pages.map((e) => new URLSearchParams(e.path.split("?")[1]).get("page"))).toEqual([
          "1",
          "2",
          "3"
        ])
        expect(pages[0]!.path).toContain(`zrn=${zrn}`)
        const page2 = await c.getLedgerPage({ zrn, page: 2 })
        expect(page2).toMatchObject({ page: 2, total_pages: 3 })
        expect(page2.message).toHaveLength(2)
      })

      it("waitForStatus resolves once the account reaches the status", async () => {
        const c = client()
        const created = await c.createAccount(JOINT)
        // Provisioning runs on the simulator's timers (next tick); no settle() here.
        const reached = await c.waitForStatus(created.zrn, "open", { timeoutMs: 5_000, intervalMs: 5 })
        expect(reached.status).toBe("open")
        expect(String(reached.zrn)).toBe(String(created.zrn))
      })

      it("accepts any ZRN form and sends it canonical", async () => {
        const c = client()
        const zrn = await openAccount(c)
        const id = zrn.split(":").at(-1)!
        for (const form of [
          `urn:zh:us:accounts:customer:${id}`,
          `ZRN:ZH:US:ACCOUNT:CUSTOMER:${id.toUpperCase()}`,
          `zh:us:accounts:customer:${id}`,
          `customer:${id}`,
          id
        ]) {
          expect(String((await c.getAccount(form)).zrn)).toBe(zrn)
        }
        const paths = kit
          .simulator()
          .journal()
          .slice(-5)
          .map((e) => e.path)
        expect(new Set(paths)).toEqual(new Set([`/accounts/${zrn}/details`]))
      })
    })

    describe("every documented error", () => {
      it("400: ValidationError with the upstream's messages", async () => {
        const error = await rejection(client().createAccount({ ...JOINT, tenants: ["NOBODY"] }))
        expect(error).toBeInstanceOf(ValidationError)
        const e = error as ValidationError
        expect(e.status).toBe(400)
        expect(e.messages.join(" ")).toContain("participant not found")
        expect(e.requestId).toMatch(/^[0-9a-f-]{36}$/)
        expect(e.operation).toBe("createAccount")
      })

      it("400: a command the status does not allow", async () => {
        const c = client()
        const zrn = await openAccount(c)
        await c.close(zrn)
        await kit.simulator().settle()
        const error = await rejection(c.lock(zrn))
        expect(error).toBeInstanceOf(ValidationError)
      })

      it("403: PermissionDenied for a disabled feature", async () => {
        const c = client()
        const zrn = await openAccount(c)
        const error = await rejection(c.getStatusReason(zrn))
        expect(error).toBeInstanceOf(PermissionDenied)
        expect((error as PermissionDenied).messages).toEqual([
          "status reason is not enabled for this platform"
        ])
      })

      it("403: PermissionDenied for a bad signature (wrong secret)", async () => {
        const { apiKey, passphrase } = kit.simulator().credentials
        const c = client({ credentials: { apiKey, passphrase, apiSecret: "d3Jvbmctc2VjcmV0" } })
        const error = await rejection(c.getLedgerPage())
        expect(error).toBeInstanceOf(PermissionDenied)
        expect((error as PermissionDenied).messages.join(" ")).toContain("signature")
      })

      it("404: NotFound for an unknown account", async () => {
        const error = await rejection(client().getAccount("customer:00000000-0000-4000-8000-000000000000"))
        expect(error).toBeInstanceOf(NotFound)
        expect((error as NotFound).status).toBe(404)
      })

      it("409: Conflict for a duplicate label, a tenant added as advisor, a duplicate advisor", async () => {
        const c = client()
        const zrn = await openAccount(c)
        expect(await rejection(c.createAccount(JOINT))).toBeInstanceOf(Conflict)
        const asAdvisor = await rejection(c.addAdvisor(zrn, "CUST02"))
        expect(asAdvisor).toBeInstanceOf(Conflict)
        await c.addAdvisor(zrn, "ADVSR1")
        const duplicate = (await rejection(c.addAdvisor(zrn, "ADVSR1"))) as Conflict
        expect(duplicate).toBeInstanceOf(Conflict)
        expect(duplicate.messages.join(" ")).toContain("duplicated financial advisors")
      })

      it("429: RateLimited with the lock-out, once retries are used up", async () => {
        kit.simulator().injectFault(Fault.failNext(1, { status: 429 }))
        const error = await rejection(client({ maxRetries: 0 }).getLedgerPage())
        expect(error).toBeInstanceOf(RateLimited)
        expect((error as RateLimited).retryAfterMs).toBe(10_000)
      })

      it("500: ServerError for a read (after its retries), OutcomeUnknown for a mutation", async () => {
        const c = client()
        const zrn = await openAccount(c)
        const sim = kit.simulator()
        sim.injectFault({ endpoint: "getAccount", status: 500 })
        const read = await rejection(c.getAccount(zrn))
        expect(read).toBeInstanceOf(ServerError)
        expect(sim.journal().filter((e) => e.endpoint === "getAccount")).toHaveLength(3)
        sim.injectFault(Fault.failAfterApply("lock"))
        const write = (await rejection(c.lock(zrn))) as OutcomeUnknown
        expect(write).toBeInstanceOf(OutcomeUnknown)
        expect(write.reason).toBe("ServerError")
        expect(write.message).toContain("getAccount")
        expect(sim.journal().filter((e) => e.endpoint === "lock")).toHaveLength(1)
      })

      it("503: Unavailable (retried first, as zh-allow-retry says)", async () => {
        kit.simulator().injectFault({ endpoint: "listLedgerAccounts", status: 503 })
        const error = (await rejection(client().getLedgerPage())) as Unavailable
        expect(error).toBeInstanceOf(Unavailable)
        expect(error.retryAllowed).toBe(true)
        expect(kit.simulator().journal()).toHaveLength(3)
      })

      it("a dropped connection: NetworkError for a read, OutcomeUnknown for a mutation", async () => {
        const c = client({ maxRetries: 0 })
        const zrn = await openAccount(c)
        kit.simulator().injectFault(Fault.dropConnection("getAccount"))
        expect(await rejection(c.getAccount(zrn))).toBeInstanceOf(NetworkError)
        kit.simulator().injectFault(Fault.dropConnection("divest"))
        const error = (await rejection(c.divest(zrn))) as OutcomeUnknown
        expect(error).toBeInstanceOf(OutcomeUnknown)
        expect(error.reason).toBe("ConnectionLost")
      })

      it("an undecodable response: DecodeError, not a crash", async () => {
        const c = client()
        const zrn = await openAccount(c)
        kit
          .simulator()
          .injectFault({ endpoint: "getAccount", status: 200, body: "<html>oops</html>", times: 1 })
        const html = (await rejection(c.getAccount(zrn))) as DecodeError
        expect(html).toBeInstanceOf(DecodeError)
        kit
          .simulator()
          .injectFault({ endpoint: "getAccount", status: 200, body: { message: { tier: 7 } }, times: 1 })
        const shape = (await rejection(c.getAccount(zrn))) as DecodeError
        expect(shape).toBeInstanceOf(DecodeError)
        expect(shape.reason).toBe("SchemaMismatch")
        expect(shape.status).toBe(200)
      })

      it("an argument in no accepted form: InvalidInput, and nothing is sent", async () => {
        const c = client()
        const bad = await rejection(c.lock("zrn:zh:us:accounts:customer:not-a-uuid"))
        expect(bad).toBeInstanceOf(InvalidInput)
        expect((bad as InvalidInput).field).toBe("zrn")
        const ledger = await rejection(c.getAccount("ledger:c761fc96-5c44-40d4-8eb2-3fcd5d06754e"))
        expect(ledger).toBeInstanceOf(InvalidInput)
        const body = (await rejection(
          c.createAccount({ ...JOINT, tenants: undefined } as never)
        )) as InvalidInput
        expect(body.messages.join(" ")).toContain("tenants")
        const code = await rejection(c.removeTenant("customer:c761fc96-5c44-40d4-8eb2-3fcd5d06754e", "ABC"))
        expect(code).toBeInstanceOf(InvalidInput)
        expect(kit.simulator().journal()).toHaveLength(0)
        expect(isClientError(code)).toBe(true)
      })
    })

    describe("participants (16-19)", () => {
      const adult = (email: string) => ({
        first_name: "Ada",
        last_name: "Lovelace",
        email,
        address_one: "1 Main St",
        city: "Chicago",
        jurisdiction_code: "US-IL",
        date_of_birth: "1990-04-21",
        sanction_screening: "pass" as const,
        sanction_screening_timestamp: kit.simulator().clock.now() - 60_000
      })

      it("createParticipant, then waitForParticipantStatus sees KYC approve it; getParticipant reads it", async () => {
        const c = client()
        const created = await c.createParticipant(adult("ada@example.com"))
        expect(created.message.status).toBe("submitted")
        const code = created.message.participant_code
        const waiting = c.waitForParticipantStatus(code, "approved", { timeoutMs: 5_000, intervalMs: 1 })
        await kit.simulator().settle()
        const reached = await waiting
        expect(reached.participant).toMatchObject({
          participant_code: code,
          status: "approved",
          email: "ada@example.com"
        })
        expect(await c.getParticipant(code)).toMatchObject({
          participant_code: code,
          participant_name: "Ada Lovelace"
        })
      })

      it("createMinor links a minor to a custodian; an adult date is refused before any account exists", async () => {
        const c = client()
        const year = new Date(kit.simulator().clock.now()).getUTCFullYear() - 9
        const minor = await c.createMinor({
          first_name: "Tim",
          last_name: "Lovelace",
          email: "tim@example.com",
          address_one: "1 Main St",
          city: "Chicago",
          jurisdiction_code: "US-IL",
          date_of_birth: `${year}-03-03`,
          custodian_participant_code: "CUST01",
          custodian_relationship: "parent"
        })
        expect(minor.message.custodian_participant_code).toBe("CUST01")
        const refused = await rejection(
          c.createParticipant({ ...adult("young@example.com"), date_of_birth: `${year}-03-03` })
        )
        expect(refused).toBeInstanceOf(ValidationError)
        expect((refused as ValidationError).messages[0]).toMatch(
          /^date_of_birth: a customer must be an adult/
        )
      })

      it("listParticipants walks every page; getParticipant of an unknown code is NotFound", async () => {
        const c = client()
        const all: Array<string> = []
        for await (const p of c.listParticipants()) all.push(p.participant_code)
        expect(all.length).toBeGreaterThan(15)
        expect(new Set(all).size).toBe(all.length)
        expect(all).toContain("CUST20")
        const minors: Array<string> = []
        for await (const p of c.listParticipants({ minors: "true" })) minors.push(p.participant_code)
        expect(minors).not.toContain("CUST01")
        const missing = await rejection(c.getParticipant("NOBODY"))
        expect(missing).toBeInstanceOf(NotFound)
        expect((missing as NotFound).message).toMatch(/participant NOBODY not found/)
      })

      it("lockParticipant answers OK; a second lock is refused", async () => {
        const c = client()
        expect(await c.lockParticipant("CUST05", { reason_code: "user_request", notes: "closed" })).toBe("OK")
        expect(await c.getParticipant("CUST05")).toMatchObject({
          status: "locked",
          reason_code: "user_request"
        })
        const again = await rejection(
          c.lockParticipant("CUST05", { reason_code: "user_request", notes: "again" })
        )
        expect(again).toBeInstanceOf(ValidationError)
        const invalid = await rejection(
          c.lockParticipant("CUST05", { reason_code: "fraud" as never, notes: "x" })
        )
        expect(invalid).toBeInstanceOf(InvalidInput)
      })
    })
  })
