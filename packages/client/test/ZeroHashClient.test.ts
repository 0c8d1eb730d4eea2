import { describe, expect, it } from "@effect/vitest"
import { type ClientConfig, type ClientError, InvalidConfig, Timeout, ZeroHashClient } from "@mta/client"
import { Fault } from "@mta/testkit"
import { ConfigProvider, Effect, Exit, Layer, Stream, TestClock } from "effect"
import { BASE_URL, endpointScenarios, useSimulator } from "./scenarios.js"
import { driveClock, viaLayer } from "./support.js"

endpointScenarios("Effect API against the testkit", viaLayer)

const JOINT = {
  participant_code: "CUST01",
  account_label: "joint-1",
  type: "jtic",
  tier: "pro",
  prefunded: false,
  tenants: ["CUST02"]
} as const

describe("ZeroHashClient as an Effect service", () => {
  const kit = useSimulator()

  it.live("is used from a layer: create, wait for open, lock, read the ledger as a Stream", () =>
    Effect.gen(function* () {
      const client = yield* ZeroHashClient
      const created = yield* client.createAccount(JOINT)
      const reached = yield* client.waitForStatus(created.zrn, "open", { timeoutMs: 5_000, intervalMs: 5 })
      expect(reached.account?.status).toBe("open")
      yield* client.lock(created.zrn)
      kit.simulator().setBalance({ zrn: String(created.zrn), asset: "BTC", balance: "1.5" })
      kit.simulator().setBalance({ zrn: String(created.zrn), asset: "ETH", balance: "2" })
      kit.simulator().setBalance({ zrn: String(created.zrn), asset: "USD", balance: "3.10" })
      const balances = yield* client.listLedgerAccounts({ zrn: created.zrn }).pipe(
        Stream.map((entry) => `${entry.asset}=${entry.balance}`),
        Stream.runCollect
      )
      expect([...balances].sort()).toEqual(["BTC=1.5", "ETH=2", "USD=3.10"])
    }).pipe(Effect.provide(ZeroHashClient.layer(kit.config())))
  )

  it.live("fails with typed errors that Effect.catchTag can pick out", () =>
    Effect.gen(function* () {
      const client = yield* ZeroHashClient
      const outcome = yield* client.getAccount("customer:00000000-0000-4000-8000-000000000000").pipe(
        Effect.map(() => "found"),
        Effect.catchTag("NotFound", (e) => Effect.succeed(`not found (${e.status}, request ${e.requestId})`))
      )
      expect(outcome).toMatch(/^not found \(404, request [0-9a-f-]{36}\)$/)
    }).pipe(Effect.provide(ZeroHashClient.layer(kit.config())))
  )

  it.live("sends the caller's request id and idempotency key", () => {
    const sent: Array<Record<string, string>> = []
    const config = kit.config({
      fetch: (url, init) => {
        sent.push({ ...(init.headers as Record<string, string>) })
        return fetch(url, init)
      }
    })
    return Effect.gen(function* () {
      const client = yield* ZeroHashClient
      yield* client.createAccount(JOINT, { requestId: "req-123", idempotencyKey: "idem-456" })
      expect(sent[0]!["x-request-id"]).toBe("req-123")
      expect(sent[0]!["idempotency-key"]).toBe("idem-456")
      yield* client.getLedgerPage()
      expect(sent[1]!["x-request-id"]).toMatch(/^[0-9a-f-]{36}$/)
      expect(sent[1]!["idempotency-key"]).toBeUndefined()
    }).pipe(Effect.provide(ZeroHashClient.layer(config)))
  })

  it.effect("layer fails with InvalidConfig, naming the setting but not the secret", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(
        Effect.provide(
          ZeroHashClient,
          ZeroHashClient.layer({
            baseUrl: BASE_URL,
            credentials: { apiKey: "k", apiSecret: "not base64!!", passphrase: "p" }
          })
        )
      )
      expect(error).toBeInstanceOf(InvalidConfig)
      expect(error.message).toContain("credentials.apiSecret")
      expect(error.message).not.toContain("not base64!!")
    })
  )

  it.live("layerConfig reads the environment (here a ConfigProvider)", () =>
    Effect.gen(function* () {
      const { apiKey, apiSecret, passphrase } = kit.simulator().credentials
      const provider = ConfigProvider.fromMap(
        new Map([
          ["ZH_BASE_URL", BASE_URL],
          ["ZH_API_KEY", apiKey],
          ["ZH_API_SECRET", apiSecret],
          ["ZH_API_PASSPHRASE", passphrase]
        ])
      )
      const page = yield* Effect.flatMap(ZeroHashClient, (client) => client.getLedgerPage()).pipe(
        Effect.provide(ZeroHashClient.layerConfig().pipe(Layer.provide(Layer.setConfigProvider(provider))))
      )
      expect(page.page).toBe(1)
    })
  )
})

describe("retries against the testkit's fault injection (TestClock)", () => {
  const kit = useSimulator()

  /** A client whose clock is the TestClock, and a simulator reading the same clock. */
  const onTestClock = (overrides: Partial<ClientConfig> = {}, beforeSend: (url: string) => void = () => {}) =>
    Effect.gen(function* () {
      yield* TestClock.setTime(Date.now())
      const start = yield* TestClock.currentTimeMillis
      let inFlight = 0
      const config = kit.config({
        timeoutMs: 60_000,
        deadlineMs: 60_000,
        retry: { baseDelayMs: 500, maxDelayMs: 8_000, jitter: false },
        transport: (request) => {
          beforeSend(request.url)
          inFlight++
          return fetch(request.url, {
            method: request.method,
            headers: request.headers,
            signal: request.signal,
            ...(request.body === undefined ? {} : { body: request.body })
          }).finally(() => {
            inFlight--
          })
        },
        ...overrides
      })
      const client = yield* Effect.provide(ZeroHashClient, ZeroHashClient.layer(config))
      const drive = <A>(effect: Effect.Effect<A, ClientError>) =>
        driveClock(effect, { deadlineAt: start + 60_000, inFlight: () => inFlight })
      return { client, drive }
    })

  it.effect("a read is retried on injected 503s after 500 ms then 1 s, and succeeds", () =>
    Effect.gen(function* () {
      const { client, drive } = yield* onTestClock()
      kit.simulator().injectFault(Fault.failNext(2, { status: 503 }))
      const { exit, waits } = yield* drive(client.getLedgerPage())
      expect(Exit.isSuccess(exit)).toBe(true)
      expect(waits).toEqual([500, 1_000])
      expect(
        kit
          .simulator()
          .journal()
          .map((e) => e.status)
      ).toEqual([503, 503, 200])
    })
  )

  it.effect("a mutation is retried on 503 + zh-allow-retry, once per failure, with the same bytes", () =>
    Effect.gen(function* () {
      const { client, drive } = yield* onTestClock()
      kit.simulator().injectFault(Fault.failNext(1, { status: 503, endpoint: "createAccount" }))
      const { exit, waits } = yield* drive(client.createAccount(JOINT))
      expect(Exit.isSuccess(exit)).toBe(true)
      expect(waits).toEqual([500])
      const creates = kit
        .simulator()
        .journal()
        .filter((e) => e.endpoint === "createAccount")
      expect(creates.map((e) => e.status)).toEqual([503, 202])
      expect(creates[0]!.requestBody).toBe(creates[1]!.requestBody)
      expect(creates[0]!.headers["x-request-id"]).toBe(creates[1]!.headers["x-request-id"])
    })
  )

  it.effect("after a 429 every method waits out the 10 s lock-out", () =>
    Effect.gen(function* () {
      const { client, drive } = yield* onTestClock()
      kit.simulator().injectFault(Fault.failNext(1, { status: 429 }))
      const { exit, waits } = yield* drive(client.getLedgerPage())
      expect(Exit.isSuccess(exit)).toBe(true)
      expect(waits).toEqual([10_000])
    })
  )

  it.effect("a create applied upstream but answered 500 is an OutcomeUnknown and is never sent twice", () =>
    Effect.gen(function* () {
      const { client, drive } = yield* onTestClock()
      kit.simulator().injectFault(Fault.failAfterApply("createAccount", 500))
      const { exit, waits } = yield* drive(client.createAccount(JOINT))
      expect(Exit.isFailure(exit)).toBe(true)
      const error = Exit.isFailure(exit) && exit.cause._tag === "Fail" ? exit.cause.error : undefined
      expect(error?._tag).toBe("OutcomeUnknown")
      expect(waits).toEqual([])
      expect(
        kit
          .simulator()
          .journal()
          .filter((e) => e.endpoint === "createAccount")
      ).toHaveLength(1)
      // The account does exist: exactly why a blind retry would have made a second request.
      expect(kit.simulator().accounts()).toHaveLength(1)
      // Repeating the create with the same label is the safe way to find out: 409 means it was made.
      const again = yield* Effect.flip(client.createAccount(JOINT))
      expect(again._tag).toBe("Conflict")
    })
  )

  it.effect("a dropped connection on a mutation is never retried", () =>
    Effect.gen(function* () {
      const { client, drive } = yield* onTestClock()
      kit.simulator().injectFault(Fault.dropConnection("createAccount"))
      const { exit } = yield* drive(client.createAccount(JOINT))
      const error = Exit.isFailure(exit) && exit.cause._tag === "Fail" ? exit.cause.error : undefined
      expect(error?._tag).toBe("OutcomeUnknown")
      expect(
        kit
          .simulator()
          .journal()
          .filter((e) => e.endpoint === "createAccount")
      ).toHaveLength(1)
    })
  )

  it.effect("a dropped connection on a read is retried", () =>
    Effect.gen(function* () {
      const { client, drive } = yield* onTestClock()
      kit.simulator().injectFault(Fault.dropConnection("listLedgerAccounts", 2))
      const { exit, waits } = yield* drive(client.getLedgerPage())
      expect(Exit.isSuccess(exit)).toBe(true)
      expect(waits).toEqual([500, 1_000])
    })
  )

  it.effect("waitForStatus polls with doubling pauses until the status, then stops", () =>
    Effect.gen(function* () {
      let zrn = ""
      let polls = 0
      // zerohash's own staff lock the account just before the fourth read.
      const { client, drive } = yield* onTestClock({ waitStrategy: "poll" }, (url) => {
        if (zrn !== "" && url.endsWith(`/accounts/${zrn}/details`) && ++polls === 4) {
          kit.simulator().forceStatus(zrn, "locked")
        }
      })
      zrn = String((yield* client.createAccount(JOINT)).zrn)
      yield* Effect.promise(() => kit.simulator().settle())
      const { exit, waits } = yield* drive(
        client.waitForStatus(zrn, "locked", { timeoutMs: 30_000, intervalMs: 250, maxIntervalMs: 1_000 })
      )
      expect(Exit.isSuccess(exit)).toBe(true)
      expect(Exit.isSuccess(exit) && exit.value.account?.status).toBe("locked")
      expect(polls).toBe(4)
      expect(waits).toEqual([250, 500, 1_000])
    })
  )

  it.effect("waitForStatus falls back to reading the account when the proxy has no long poll (404)", () =>
    Effect.gen(function* () {
      const paths: Array<string> = []
      const { client, drive } = yield* onTestClock({ waitStrategy: "longPoll" }, (url) => {
        paths.push(new URL(url).pathname.replace(/zrn:[^/]+/, "{zrn}"))
      })
      const created = yield* client.createAccount(JOINT)
      yield* Effect.promise(() => kit.simulator().settle())
      const { exit } = yield* drive(client.waitForStatus(created.zrn, "open", { timeoutMs: 5_000 }))
      expect(Exit.isSuccess(exit)).toBe(true)
      // The simulator (like zerohash) has no status endpoint: one 404, then reads of the account.
      expect(paths).toEqual(["/accounts", "/accounts/{zrn}/status", "/accounts/{zrn}/details"])
    })
  )

  it.effect("waitForStatus fails with Timeout when the status never comes", () =>
    Effect.gen(function* () {
      const { client, drive } = yield* onTestClock({ waitStrategy: "poll" })
      const created = yield* client.createAccount(JOINT)
      yield* Effect.promise(() => kit.simulator().settle())
      const { exit, waits } = yield* drive(
        client.waitForStatus(created.zrn, "closed", {
          timeoutMs: 2_000,
          intervalMs: 250,
          maxIntervalMs: 1_000
        })
      )
      const error = Exit.isFailure(exit) && exit.cause._tag === "Fail" ? exit.cause.error : undefined
      expect(error).toBeInstanceOf(Timeout)
      expect(error?.message).toContain("last seen: open")
      // 250 + 500 + 1000, then the last 250 up to the 2 s deadline.
      expect(waits).toEqual([250, 500, 1_000, 250])
    })
  )
})

describe("the proxy's long poll (bearer credentials)", () => {
  it.effect("waitForStatus asks the proxy to hold the request, and asks again after a timed-out answer", () =>
    Effect.gen(function* () {
      const zrn = "zrn:zh:us:accounts:customer:c761fc96-5c44-40d4-8eb2-3fcd5d06754e"
      const seen: Array<string> = []
      const answers = [
        { zrn, status: null, updated_at: null, timed_out: true },
        { zrn, status: "open", updated_at: 1_750_000_000_000, timed_out: false }
      ]
      const client = yield* Effect.provide(
        ZeroHashClient,
        ZeroHashClient.layer({
          baseUrl: "http://proxy.test/v1",
          credentials: { bearerToken: "caller-token" },
          transport: async (request) => {
            seen.push(`${request.method} ${request.url} ${request.headers.authorization}`)
            const body = JSON.stringify(answers[Math.min(seen.length - 1, 1)])
            return new Response(body, { status: 200 })
          }
        })
      )
      const reached = yield* client.waitForStatus(`customer:${zrn.split(":").at(-1)}`, "open", {
        timeoutMs: 20_000
      })
      expect(reached.status).toBe("open")
      expect(reached.account).toBeUndefined()
      expect(seen).toEqual([
        `GET http://proxy.test/v1/accounts/${zrn}/status?wait_for=open&timeout_ms=20000 Bearer caller-token`,
        `GET http://proxy.test/v1/accounts/${zrn}/status?wait_for=open&timeout_ms=20000 Bearer caller-token`
      ])
    })
  )
})

describe("the proxy's participant long poll and access decision (bearer credentials)", () => {
  /** A client on a transport that records each request and answers from `answer`. */
  const stubbed = (answer: (url: URL, n: number) => { status: number; body: unknown }) =>
    Effect.gen(function* () {
      const seen: Array<string> = []
      const client = yield* Effect.provide(
        ZeroHashClient,
        ZeroHashClient.layer({
          baseUrl: "http://proxy.test",
          credentials: { bearerToken: "caller-token" },
          maxRetries: 0,
          transport: async (request) => {
            seen.push(`${request.method} ${request.url} ${request.headers.authorization}`)
            const { status, body } = answer(new URL(request.url), seen.length)
            return new Response(JSON.stringify(body), { status })
          }
        })
      )
      return { client, seen }
    })

  it.effect(
    "waitForParticipantStatus long-polls the proxy's projection and asks again after a timed-out answer",
    () =>
      Effect.gen(function* () {
        const record = {
          participant_code: "AB12CD",
          reason_code: null,
          updated_at: "2026-12-06T12:00:00.000Z",
          confirmed_at: "2026-12-06T12:00:00.000Z"
        }
        const { client, seen } = yield* stubbed((_url, n) => ({
          status: 200,
          body:
            n === 1
              ? { ...record, status: "submitted", timed_out: true }
              : { ...record, status: "approved", timed_out: false }
        }))
        const reached = yield* client.waitForParticipantStatus("AB12CD", "approved", { timeoutMs: 20_000 })
        expect(reached.participant).toEqual({
          participant_code: "AB12CD",
          status: "approved",
          updated_at: Date.parse("2026-12-06T12:00:00.000Z")
        })
        expect(seen).toEqual([
          "GET http://proxy.test/participants/AB12CD/status?wait_for=approved&timeout_ms=20000 Bearer caller-token",
          "GET http://proxy.test/participants/AB12CD/status?wait_for=approved&timeout_ms=20000 Bearer caller-token"
        ])
      })
  )

  it.effect("waitForParticipantStatus falls back to the list when the proxy answers 404", () =>
    Effect.gen(function* () {
      const { client, seen } = yield* stubbed((url) =>
        url.pathname.endsWith("/status")
          ? { status: 404, body: { error: "Not Found", code: "not_found" } }
          : {
              status: 200,
              body: {
                message: [{ participant_code: "AB12CD", status: "locked", reason_code: "user_request" }],
                page: 1,
                total_pages: 1
              }
            }
      )
      const reached = yield* client.waitForParticipantStatus("AB12CD", "locked", { timeoutMs: 5_000 })
      expect(reached.participant.reason_code).toBe("user_request")
      expect(seen.map((s) => s.split(" ")[1])).toEqual([
        "http://proxy.test/participants/AB12CD/status?wait_for=locked&timeout_ms=5000",
        "http://proxy.test/participants?participant_code=AB12CD"
      ])
    })
  )

  it.effect("access asks the proxy and decodes every decision with the domain's names", () =>
    Effect.gen(function* () {
      const zrn = "zrn:zh:us:accounts:customer:c761fc96-5c44-40d4-8eb2-3fcd5d06754e"
      const { client, seen } = yield* stubbed(() => ({
        status: 200,
        body: {
          zrn,
          as_of: { account_status: "locked", updated_at: "2026-12-06T12:00:00.000Z" },
          decisions: [
            {
              participant: "MINOR1",
              role: "primary",
              authorization: "view_only",
              participant_status: "approved",
              reason_code: null,
              action: "buy",
              allowed: false,
              reasons: [
                { rule: "Authorization", message: "view_only does not allow buy" },
                { rule: "AccountStatus", message: "a locked account does not allow buy" }
              ]
            }
          ]
        }
      }))
      const answer = yield* client.access(`customer:${zrn.split(":").at(-1)}`, {
        participant: "MINOR1",
        action: "buy"
      })
      expect(answer.as_of.account_status).toBe("locked")
      expect(answer.decisions[0]?.reasons.map((r) => r.rule)).toEqual(["Authorization", "AccountStatus"])
      expect(seen).toEqual([
        `GET http://proxy.test/accounts/${zrn}/access?participant=MINOR1&action=buy Bearer caller-token`
      ])
      // A question that cannot be asked is refused before anything is sent.
      const bad = yield* Effect.flip(client.access(zrn, { action: "trade" as never }))
      expect(bad._tag).toBe("InvalidInput")
      expect(bad.message).toMatch(/action/)
      expect(seen).toHaveLength(1)
    })
  )

  it.effect("access with signed credentials is an InvalidInput: zerohash has no such endpoint", () =>
    Effect.gen(function* () {
      let sent = 0
      const client = yield* Effect.provide(
        ZeroHashClient,
        ZeroHashClient.layer({
          baseUrl: "https://api.cert.zerohash.com",
          credentials: { apiKey: "k", apiSecret: "c2VjcmV0", passphrase: "p" },
          transport: async () => {
            sent++
            return new Response("{}", { status: 200 })
          }
        })
      )
      const error = yield* Effect.flip(client.access("customer:c761fc96-5c44-40d4-8eb2-3fcd5d06754e"))
      expect(error._tag).toBe("InvalidInput")
      expect(error.message).toMatch(/bearerToken/)
      expect(sent).toBe(0)
    })
  )
})
