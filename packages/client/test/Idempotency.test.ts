// Idempotency keys and the retries they make safe (bearer mode, the proxy), on a scripted transport
// and the TestClock; signed mode (zerohash) keeps today's rules. Per-call options of both APIs.
import { describe, expect, it } from "@effect/vitest"
import {
  type ClientConfig,
  type ClientError,
  createClient,
  InvalidInput,
  Retry,
  type Retry as RetryNs,
  responseOf,
  ZeroHashClient
} from "@mta/client"
import { Effect, Exit, TestClock } from "effect"
import { driveClock, type Step, scripted } from "./support.js"

const ZRN = "zrn:zh:us:accounts:customer:c761fc96-5c44-40d4-8eb2-3fcd5d06754e"
const ACCOUNT = { message: { zrn: ZRN, participant_code: "CUST01", status: "open" } }
const DEADLINE = 60_000
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/
const SIGNED = { apiKey: "key", apiSecret: "c2VjcmV0", passphrase: "pass" }
const BEARER = { bearerToken: "token" }
const CREATE = {
  participant_code: "CUST01",
  account_label: "joint",
  type: "jtic",
  tier: "pro",
  prefunded: false,
  tenants: ["CUST02"]
} as const

const E500 = { status: 500, body: { error: "Internal Server Error" } }
const ACCEPTED = { status: 202, body: {} }
const REPLAYED = {
  status: 202,
  body: ACCOUNT,
  headers: { "idempotent-replayed": "true", "x-request-id": "r-1" }
}
const inFlight = (retryAfter?: string): Step => ({
  status: 409,
  body: { errors: ["the first request with this key is still running"], code: "idempotency_in_flight" },
  headers: retryAfter === undefined ? {} : { "retry-after": retryAfter }
})
const pending: Step = {
  status: 409,
  body: { errors: ["outcome pending"], code: "idempotency_outcome_pending" },
  headers: { "retry-after": "1" }
}

/** A client on a scripted transport, and a runner that drives the TestClock through its waits. */
const setup = (script: ReadonlyArray<Step>, config: Partial<ClientConfig> = {}) =>
  Effect.gen(function* () {
    const clock = yield* TestClock.testClock()
    const fake = scripted(script, () => clock.unsafeCurrentTimeMillis())
    const client = yield* ZeroHashClient.pipe(
      Effect.provide(
        ZeroHashClient.layer({
          baseUrl: "http://proxy.test",
          credentials: BEARER,
          maxRetries: 2,
          retry: { baseDelayMs: 500, maxDelayMs: 8_000, jitter: false },
          timeoutMs: DEADLINE,
          deadlineMs: DEADLINE,
          transport: fake.transport,
          ...config
        })
      )
    )
    const run = <A>(effect: Effect.Effect<A, ClientError>, deadlineAt = DEADLINE) =>
      driveClock(effect, { deadlineAt, inFlight: fake.inFlight })
    return { client, calls: fake.calls, run }
  })

const failureOf = <A>(exit: Exit.Exit<A, ClientError>): ClientError => {
  if (Exit.isSuccess(exit)) throw new Error("expected a failure")
  if (exit.cause._tag !== "Fail") throw new Error(`expected a typed failure, got ${String(exit.cause)}`)
  return exit.cause.error
}

const keys = (calls: ReadonlyArray<{ readonly headers: Readonly<Record<string, string>> }>) =>
  calls.map((c) => c.headers["idempotency-key"])

describe("Idempotency-Key", () => {
  it.effect(
    "bearer mode: every mutation sends a generated key, the same on each retry; a read sends none",
    () =>
      Effect.gen(function* () {
        const E503 = { status: 503, body: {}, headers: { "zh-allow-retry": "true" } }
        const { client, calls, run } = yield* setup([
          E503,
          ACCEPTED,
          ACCEPTED,
          { status: 200, body: ACCOUNT }
        ])
        expect(Exit.isSuccess((yield* run(client.lock(ZRN))).exit)).toBe(true)
        expect(Exit.isSuccess((yield* run(client.unlock(ZRN))).exit)).toBe(true)
        expect(Exit.isSuccess((yield* run(client.getAccount(ZRN))).exit)).toBe(true)
        const [first, retried, second, read] = keys(calls)
        expect(first).toMatch(UUID)
        expect(retried).toBe(first)
        expect(second).toMatch(UUID)
        expect(second).not.toBe(first)
        expect(read).toBeUndefined()
      })
  )

  it.effect("a caller's key is sent as given, in both modes; signed mode generates none", () =>
    Effect.gen(function* () {
      for (const credentials of [BEARER, SIGNED]) {
        const { client, calls, run } = yield* setup([ACCEPTED], { credentials })
        yield* run(client.close(ZRN, { idempotencyKey: "order-42/close" }))
        yield* run(client.close(ZRN))
        expect(keys(calls)).toEqual([
          "order-42/close",
          credentials === BEARER ? expect.stringMatching(UUID) : undefined
        ])
      }
    })
  )

  it.effect("bearer: an OutcomeUnknown is retried with the same key and ends with the proxy's replay", () =>
    Effect.gen(function* () {
      const { client, calls, run } = yield* setup([E500, REPLAYED])
      const { exit, waits } = yield* run(client.withResponse.createAccount(CREATE))
      if (!Exit.isSuccess(exit)) throw new Error(String(exit.cause))
      expect(String(exit.value.data.zrn)).toBe(ZRN)
      expect(exit.value.response.replayed).toBe(true)
      expect(exit.value.response.status).toBe(202)
      expect(exit.value.response.requestId).toBe("r-1")
      expect(exit.value.response.attempt).toBe(2)
      expect(waits).toEqual([500])
      expect(new Set(keys(calls)).size).toBe(1)
      expect(calls.map((c) => c.body)).toEqual([calls[0]!.body, calls[0]!.body])
    })
  )

  it.effect("bearer: a timed-out mutation is retried too (the proxy makes it safe)", () =>
    Effect.gen(function* () {
      const clock = yield* TestClock.testClock()
      const fake = scripted([{ hang: true }, ACCEPTED], () => clock.unsafeCurrentTimeMillis())
      const client = yield* Effect.provide(
        ZeroHashClient,
        ZeroHashClient.layer({
          baseUrl: "http://proxy.test",
          credentials: BEARER,
          timeoutMs: 1_000,
          retry: { baseDelayMs: 500, jitter: false },
          transport: fake.transport
        })
      )
      const fiber = yield* Effect.fork(client.divest(ZRN))
      yield* TestClock.adjust(1_000) // the first attempt times out: OutcomeUnknown
      yield* TestClock.adjust(500) // backoff, then the retry is answered
      expect(Exit.isSuccess(yield* fiber.await)).toBe(true)
      expect(fake.calls.map((c) => c.atMs)).toEqual([0, 1_500])
      expect(fake.calls[0]!.signal.aborted).toBe(true)
      expect(new Set(keys(fake.calls)).size).toBe(1)
    })
  )

  it.effect("the 409 'not yet' answers are waited out after Retry-After, without using up retries", () =>
    Effect.gen(function* () {
      const { client, calls, run } = yield* setup([inFlight("2"), inFlight(), pending, pending, REPLAYED], {
        maxRetries: 1
      })
      const { exit, waits } = yield* run(client.createAccount(CREATE))
      expect(Exit.isSuccess(exit)).toBe(true)
      // Retry-After 2 s; none: the backoff step (1 s for the second poll); then Retry-After 1 s twice.
      expect(waits).toEqual([2_000, 1_000, 1_000, 1_000])
      expect(calls).toHaveLength(5)
      expect(new Set(keys(calls)).size).toBe(1)
    })
  )

  it.effect("…within the call's deadline: then the last 409 is the answer, with its code and response", () =>
    Effect.gen(function* () {
      const { client, calls, run } = yield* setup([pending], { deadlineMs: 5_000 })
      const error = failureOf((yield* run(client.createAccount(CREATE), 5_000)).exit)
      expect(error._tag).toBe("Conflict")
      expect(error.code).toBe("idempotency_outcome_pending")
      expect(responseOf(error)?.headers.get("retry-after")).toBe("1")
      expect(error.response?.status).toBe(409)
      // Every Retry-After (1 s) waited out; a wait from 4 s would end at the 5 s deadline.
      expect(calls.map((c) => c.atMs)).toEqual([0, 1_000, 2_000, 3_000, 4_000])
    })
  )

  it.effect("a plain 409 (a duplicate) and a 422 mismatch are not retried", () =>
    Effect.gen(function* () {
      for (const step of [
        { status: 409, body: { errors: ["duplicate"] } },
        { status: 422, body: { errors: ["key reused"], code: "idempotency_mismatch" } }
      ]) {
        const { client, calls, run } = yield* setup([step, ACCEPTED])
        failureOf((yield* run(client.lock(ZRN))).exit)
        expect(calls).toHaveLength(1)
      }
    })
  )

  it.effect("signed mode keeps today's rules: an OutcomeUnknown is not retried, a 409 not waited out", () =>
    Effect.gen(function* () {
      for (const step of [E500, inFlight("1")]) {
        const { client, calls, run } = yield* setup([step, ACCEPTED], { credentials: SIGNED })
        failureOf((yield* run(client.lock(ZRN, { idempotencyKey: "k-1" }))).exit)
        expect(calls).toHaveLength(1)
      }
    })
  )

  it.effect("maxRetries 0 turns off every retry, the 409 waits included", () =>
    Effect.gen(function* () {
      const { client, calls, run } = yield* setup([inFlight("1"), ACCEPTED])
      const error = failureOf((yield* run(client.lock(ZRN, { maxRetries: 0 }))).exit)
      expect(error.code).toBe("idempotency_in_flight")
      expect(calls).toHaveLength(1)
    })
  )
})

describe("per-call options", () => {
  it.effect("maxRetries and deadlineMs override the client's for one call", () =>
    Effect.gen(function* () {
      const E503 = { status: 503, body: {} }
      const first = yield* setup([E503])
      yield* first.run(first.client.getAccount(ZRN, { maxRetries: 0 }))
      expect(first.calls).toHaveLength(1)
      const second = yield* setup([E503], { maxRetries: 5 })
      // Waits 500, 1000, 2000: the 2 s wait would end at 3.5 s, past a 3 s deadline.
      yield* second.run(second.client.getAccount(ZRN, { deadlineMs: 3_000 }), 3_000)
      expect(second.calls.map((c) => c.atMs)).toEqual([0, 500, 1_500])
    })
  )

  it.effect("an option that cannot be used is an InvalidInput naming it, and nothing is sent", () =>
    Effect.gen(function* () {
      const { client, calls, run } = yield* setup([ACCEPTED])
      for (const [options, field] of [
        [{ idempotencyKey: "" }, "options.idempotencyKey"],
        [{ idempotencyKey: "a\r\nx-evil: 1" }, "options.idempotencyKey"],
        [{ idempotencyKey: "k".repeat(256) }, "options.idempotencyKey"],
        [{ requestId: "two words" }, "options.requestId"],
        [{ timeoutMs: 0 }, "options.timeoutMs"],
        [{ deadlineMs: Number.NaN }, "options.deadlineMs"],
        [{ maxRetries: -1 }, "options.maxRetries"],
        [{ maxRetries: 1.5 }, "options.maxRetries"]
      ] as const) {
        const error = failureOf((yield* run(client.lock(ZRN, options))).exit)
        expect(error).toBeInstanceOf(InvalidInput)
        expect(error._tag === "InvalidInput" && error.field).toBe(field)
        expect(error.message).toContain("nothing was sent")
      }
      expect(calls).toHaveLength(0)
    })
  )

  it("the Promise API takes the same options on every method", async () => {
    const fake = scripted([{ status: 503, body: {} }, ACCEPTED])
    const client = createClient({
      baseUrl: "http://proxy.test",
      credentials: BEARER,
      transport: fake.transport
    })
    await expect(
      client.addTenant(ZRN, "CUST02", { maxRetries: 0, idempotencyKey: "t-1" })
    ).rejects.toMatchObject({
      _tag: "Unavailable",
      response: { status: 503 }
    })
    await expect(client.addTenant(ZRN, "CUST02", { idempotencyKey: "bad key" })).rejects.toBeInstanceOf(
      InvalidInput
    )
    expect(keys(fake.calls)).toEqual(["t-1"])
  })
})

describe("Retry rules with a key (the table)", () => {
  const policy: RetryNs.RetryPolicy = { maxRetries: 2, baseDelayMs: 500, maxDelayMs: 8_000, jitter: false }
  const error = (tag: string, extra: Record<string, unknown> = {}) =>
    ({ _tag: tag, ...extra }) as unknown as ClientError
  it.each([
    [error("OutcomeUnknown"), false, undefined],
    [error("OutcomeUnknown"), true, 500],
    [error("Conflict", { code: "idempotency_in_flight" }), true, undefined],
    [error("ValidationError"), true, undefined],
    [error("Unavailable", { retryAllowed: false }), true, undefined]
  ] as const)("POST after %o, idempotent %s: wait %s", (err, idempotent, expected) => {
    expect(Retry.delayFor(policy, err, "POST", 0, 0, { idempotent })).toBe(expected)
  })

  it("isIdempotencyWait: only the proxy's two 409 codes", () => {
    expect(Retry.isIdempotencyWait(error("Conflict", { code: "idempotency_in_flight" }))).toBe(true)
    expect(Retry.isIdempotencyWait(error("Conflict", { code: "idempotency_outcome_pending" }))).toBe(true)
    expect(Retry.isIdempotencyWait(error("Conflict", { code: "duplicate" }))).toBe(false)
    expect(Retry.isIdempotencyWait(error("Conflict"))).toBe(false)
    expect(Retry.isIdempotencyWait(error("Unavailable", { code: "idempotency_in_flight" }))).toBe(false)
  })

  it("pollDelay: Retry-After (at least half the base delay), else the step; none when retries are off", () => {
    expect(Retry.pollDelay(policy, 0, 0, 1_000)).toBe(1_000)
    expect(Retry.pollDelay(policy, 3, 0, 1_000)).toBe(1_000)
    expect(Retry.pollDelay(policy, 0, 0, 0)).toBe(250)
    expect(Retry.pollDelay(policy, 2, 0, undefined)).toBe(2_000)
    expect(Retry.pollDelay({ ...policy, jitter: true }, 0, 0, undefined)).toBe(250)
    expect(Retry.pollDelay({ ...policy, jitter: true }, 0, 0.999_999, undefined)).toBe(500)
    expect(Retry.pollDelay({ ...policy, maxRetries: 0 }, 0, 0, 1_000)).toBeUndefined()
  })
})
