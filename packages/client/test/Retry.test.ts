import { describe, expect, it } from "@effect/vitest"
import { type ClientError, ErrorMapping, Retry, type Retry as RetryNs, ZeroHashClient } from "@mta/client"
import { Effect, Exit, Random, TestClock } from "effect"
import { driveClock, networkError, type Step, scripted } from "./support.js"

const ZRN = "zrn:zh:us:accounts:customer:c761fc96-5c44-40d4-8eb2-3fcd5d06754e"
const ACCOUNT = { message: { zrn: ZRN, participant_code: "CUST01", status: "open" } }
const DEADLINE = 60_000
const policy: RetryNs.RetryPolicy = { maxRetries: 3, baseDelayMs: 500, maxDelayMs: 8_000, jitter: false }

/** A client on a scripted transport, and a runner that drives the TestClock through its waits. */
const setup = (script: ReadonlyArray<Step>, overrides: { maxRetries?: number; jitter?: boolean } = {}) =>
  Effect.gen(function* () {
    const clock = yield* TestClock.testClock()
    const fake = scripted(script, () => clock.unsafeCurrentTimeMillis())
    const client = yield* ZeroHashClient.pipe(
      Effect.provide(
        ZeroHashClient.layer({
          baseUrl: "http://zerohash.test",
          credentials: { apiKey: "key", apiSecret: "c2VjcmV0", passphrase: "pass" },
          maxRetries: overrides.maxRetries ?? policy.maxRetries,
          retry: {
            baseDelayMs: policy.baseDelayMs,
            maxDelayMs: policy.maxDelayMs,
            jitter: overrides.jitter ?? false
          },
          timeoutMs: DEADLINE,
          deadlineMs: DEADLINE,
          transport: fake.transport
        })
      )
    )
    const run = <A>(effect: Effect.Effect<A, ClientError>) =>
      driveClock(effect, { deadlineAt: DEADLINE, inFlight: fake.inFlight })
    return { client, calls: fake.calls, run }
  })

const failureOf = <A>(exit: Exit.Exit<A, ClientError>): ClientError => {
  if (Exit.isSuccess(exit)) throw new Error("expected a failure")
  const failure = exit.cause._tag === "Fail" ? exit.cause.error : undefined
  if (failure === undefined) throw new Error(`expected a typed failure, got ${String(exit.cause)}`)
  return failure
}

const E503 = { status: 503, body: { error: "Service Unavailable" }, headers: { "zh-allow-retry": "true" } }
const E503_NO_HEADER = { status: 503, body: { error: "Service Unavailable" } }
const E500 = { status: 500, body: { error: "Internal Server Error" } }
const E429 = { status: 429, body: { error: "Too Many Requests" } }
const OK = { status: 200, body: ACCOUNT }
const ACCEPTED = { status: 202, body: {} }

describe("Retry.delayFor (the rules as a table)", () => {
  const error = (tag: string, extra: Record<string, unknown> = {}) =>
    ({ _tag: tag, ...extra }) as unknown as ClientError
  it.each([
    ["GET", error("ServerError", { status: 500 }), true],
    ["GET", error("ServerError", { status: 502 }), true],
    ["GET", error("ServerError", { status: 501 }), false],
    ["GET", error("Unavailable", { retryAllowed: false }), true],
    ["POST", error("Unavailable", { retryAllowed: false }), false],
    ["POST", error("Unavailable", { retryAllowed: true }), true],
    ["DELETE", error("RateLimited", { retryAfterMs: 10_000 }), true],
    ["GET", error("Timeout"), true],
    ["GET", error("NetworkError"), true],
    ["POST", error("OutcomeUnknown"), false],
    ["GET", error("ValidationError", { status: 400 }), false],
    ["GET", error("NotFound", { status: 404 }), false],
    ["POST", error("Conflict", { status: 409 }), false],
    ["GET", error("DecodeError"), false]
  ] as const)("%s after %o: retry = %s", (method, err, expected) => {
    expect(Retry.isRetryable(err, method)).toBe(expected)
  })

  it("doubles the step up to the cap, draws below it with jitter, and waits out a lock-out", () => {
    const p = { ...policy, maxRetries: 10 }
    expect([0, 1, 2, 3, 4, 5].map((n) => Retry.backoffStep(p, n))).toEqual([
      500, 1000, 2000, 4000, 8000, 8000
    ])
    const e = error("Unavailable", { retryAllowed: true })
    expect(Retry.delayFor({ ...p, jitter: true }, e, "POST", 2, 0)).toBe(0)
    expect(Retry.delayFor({ ...p, jitter: true }, e, "POST", 2, 0.999_999)).toBe(2000)
    expect(Retry.delayFor({ ...p, jitter: true }, e, "POST", 2, 0.5)).toBe(1000)
    expect(Retry.delayFor(p, error("RateLimited", { retryAfterMs: 10_000 }), "POST", 0, 0)).toBe(10_000)
    expect(Retry.delayFor(p, e, "POST", 10, 0)).toBeUndefined()
  })
})

describe("retries (scripted transport, TestClock)", () => {
  it.effect("a GET is retried on 503, 500 and a dropped connection, with exponential waits", () =>
    Effect.gen(function* () {
      const { client, calls, run } = yield* setup([
        E503_NO_HEADER,
        E500,
        { reject: networkError("ECONNRESET") },
        OK
      ])
      const { exit, waits } = yield* run(client.getAccount(ZRN))
      expect(Exit.isSuccess(exit)).toBe(true)
      expect(waits).toEqual([500, 1000, 2000])
      expect(calls.map((c) => c.atMs)).toEqual([0, 500, 1500, 3500])
      // One logical call: one request id on every attempt, each attempt signed afresh.
      expect(new Set(calls.map((c) => c.headers["x-request-id"])).size).toBe(1)
      expect(calls.every((c) => c.headers["X-SCX-SIGNED"] !== undefined)).toBe(true)
    })
  )

  it.effect("gives up after maxRetries with the last error", () =>
    Effect.gen(function* () {
      const { client, calls, run } = yield* setup([E503], { maxRetries: 2 })
      const { exit, waits } = yield* run(client.getAccount(ZRN))
      const error = failureOf(exit)
      expect(error._tag).toBe("Unavailable")
      expect(error.status).toBe(503)
      expect(calls).toHaveLength(3)
      expect(waits).toEqual([500, 1000])
    })
  )

  it.effect("a mutation is retried on 503 with zh-allow-retry: true", () =>
    Effect.gen(function* () {
      const { client, calls, run } = yield* setup([E503, E503, ACCEPTED])
      const { exit } = yield* run(client.lock(ZRN))
      expect(Exit.isSuccess(exit)).toBe(true)
      expect(calls.map((c) => c.atMs)).toEqual([0, 500, 1500])
      // The same bytes are sent (and signed) every time.
      expect(new Set(calls.map((c) => c.body))).toEqual(new Set(["{}"]))
    })
  )

  it.effect("a mutation is not retried on 503 without zh-allow-retry", () =>
    Effect.gen(function* () {
      const { client, calls, run } = yield* setup([E503_NO_HEADER, ACCEPTED])
      const error = failureOf((yield* run(client.lock(ZRN))).exit)
      expect(error._tag).toBe("Unavailable")
      expect(calls).toHaveLength(1)
    })
  )

  it.effect("a 429 waits out the lock-out (Retry-After, or 10 s) before retrying any method", () =>
    Effect.gen(function* () {
      const { client, calls, run } = yield* setup([
        { ...E429, headers: { "retry-after": "3" } },
        E429,
        ACCEPTED
      ])
      const { exit, waits } = yield* run(client.close(ZRN))
      expect(Exit.isSuccess(exit)).toBe(true)
      expect(waits).toEqual([3_000, 10_000])
      expect(calls.map((c) => c.atMs)).toEqual([0, 3_000, 13_000])
      // A retry after a lock-out carries a fresh timestamp (the old one could be stale by then).
      expect(calls.map((c) => c.headers["X-SCX-TIMESTAMP"])).toEqual(["0", "3", "13"])
    })
  )

  it.effect("an unknown-outcome create (500, 502, 504, timeout, dropped) is sent exactly once", () =>
    Effect.gen(function* () {
      const body = {
        participant_code: "CUST01",
        account_label: "joint",
        type: "jtic",
        tier: "pro",
        prefunded: false,
        tenants: ["CUST02"]
      } as const
      for (const step of [
        E500,
        { status: 502, body: "Bad Gateway" },
        { status: 504, body: "" },
        { reject: networkError("ECONNRESET") },
        { reject: new TypeError("Failed to fetch") }
      ] satisfies ReadonlyArray<Step>) {
        const { client, calls, run } = yield* setup([step, { status: 202, body: ACCOUNT }])
        const error = failureOf((yield* run(client.createAccount(body))).exit)
        expect(error._tag).toBe("OutcomeUnknown")
        expect(calls).toHaveLength(1)
        expect(error.message).toContain("may or may not have been applied")
        expect(error.message).toContain("same participant_code and account_label")
      }
    })
  )

  it.effect(
    "signed mode: a mutation whose attempt times out is an OutcomeUnknown, not retried (even with a key)",
    () =>
      Effect.gen(function* () {
        const clock = yield* TestClock.testClock()
        const fake = scripted([{ hang: true }, ACCEPTED], () => clock.unsafeCurrentTimeMillis())
        const client = yield* ZeroHashClient.pipe(
          Effect.provide(
            ZeroHashClient.layer({
              baseUrl: "http://zerohash.test",
              credentials: { apiKey: "key", apiSecret: "c2VjcmV0", passphrase: "pass" },
              timeoutMs: 2_000,
              transport: fake.transport
            })
          )
        )
        const fiber = yield* Effect.fork(client.unlock(ZRN, { idempotencyKey: "key-1" }))
        yield* TestClock.adjust(2_000)
        const exit = yield* fiber.await
        const error = failureOf(exit)
        expect(error._tag).toBe("OutcomeUnknown")
        expect(error._tag === "OutcomeUnknown" && error.reason).toBe("Timeout")
        expect(error._tag === "OutcomeUnknown" && error.idempotencyKey).toBe("key-1")
        expect(error.message).toContain("getAccount")
        expect(error.message).toContain("same Idempotency-Key")
        expect(fake.calls).toHaveLength(1)
        // The timed-out request was aborted.
        expect(fake.calls[0]!.signal.aborted).toBe(true)
      })
  )

  it.effect("a GET whose attempt times out is retried, then fails with Timeout", () =>
    Effect.gen(function* () {
      const clock = yield* TestClock.testClock()
      const fake = scripted([{ hang: true }], () => clock.unsafeCurrentTimeMillis())
      const client = yield* ZeroHashClient.pipe(
        Effect.provide(
          ZeroHashClient.layer({
            baseUrl: "http://zerohash.test",
            credentials: { bearerToken: "token" },
            timeoutMs: 1_000,
            maxRetries: 1,
            retry: { jitter: false, baseDelayMs: 100 },
            transport: fake.transport
          })
        )
      )
      const fiber = yield* Effect.fork(client.getAccount(ZRN))
      yield* TestClock.adjust(1_000) // attempt 1 times out
      yield* TestClock.adjust(100) // backoff
      yield* TestClock.adjust(1_000) // attempt 2 times out
      const error = failureOf(yield* fiber.await)
      expect(error._tag).toBe("Timeout")
      expect(fake.calls.map((c) => c.atMs)).toEqual([0, 1_100])
    })
  )

  it.effect("a connection refused before sending is retried, even for a mutation", () =>
    Effect.gen(function* () {
      const { client, calls, run } = yield* setup([{ reject: networkError("ECONNREFUSED") }, ACCEPTED])
      const { exit } = yield* run(client.divest(ZRN))
      expect(Exit.isSuccess(exit)).toBe(true)
      expect(calls).toHaveLength(2)
    })
  )

  it.effect("client errors (400, 404, 409) are never retried", () =>
    Effect.gen(function* () {
      for (const status of [400, 401, 403, 404, 409, 422]) {
        const { client, calls, run } = yield* setup([{ status, body: { errors: ["nope"] } }, OK])
        const error = failureOf((yield* run(client.getAccount(ZRN))).exit)
        expect(error.status).toBe(status)
        expect(calls).toHaveLength(1)
      }
    })
  )

  it.effect("stops before a wait would pass the total deadline", () =>
    Effect.gen(function* () {
      const clock = yield* TestClock.testClock()
      const fake = scripted([E429], () => clock.unsafeCurrentTimeMillis())
      const client = yield* ZeroHashClient.pipe(
        Effect.provide(
          ZeroHashClient.layer({
            baseUrl: "http://zerohash.test",
            credentials: { bearerToken: "token" },
            deadlineMs: 15_000,
            timeoutMs: 15_000,
            maxRetries: 5,
            transport: fake.transport
          })
        )
      )
      const { exit, waits } = yield* driveClock(client.getAccount(ZRN), {
        deadlineAt: 15_000,
        inFlight: fake.inFlight
      })
      const error = failureOf(exit)
      expect(error._tag).toBe("RateLimited")
      expect(error._tag === "RateLimited" && error.retryAfterMs).toBe(10_000)
      // 0 s: 429, wait 10 s; 10 s: 429, a second 10 s wait would end past 15 s: give up.
      expect(waits).toEqual([10_000])
      expect(fake.calls).toHaveLength(2)
    })
  )

  it.effect("jitter draws each wait within its step (seeded Random)", () =>
    Effect.gen(function* () {
      const script = [E503_NO_HEADER, E503_NO_HEADER, E503_NO_HEADER, OK]
      const first = yield* setup(script, { jitter: true })
      const exit = (yield* first
        .run(first.client.getAccount(ZRN))
        .pipe(Effect.withRandom(Random.make("seed")))).exit
      expect(Exit.isSuccess(exit)).toBe(true)
      const times = first.calls.map((c) => c.atMs)
      const gaps = times.slice(1).map((t, i) => t - times[i]!)
      expect(gaps).toHaveLength(3)
      for (const [i, gap] of gaps.entries()) {
        expect(gap).toBeGreaterThanOrEqual(0)
        expect(gap).toBeLessThanOrEqual(Retry.backoffStep(policy, i))
      }
      // Not the whole step every time: that would be no jitter at all.
      expect(gaps).not.toEqual([500, 1000, 2000])
      const second = yield* setup(script, { jitter: true })
      yield* second.run(second.client.getAccount(ZRN)).pipe(Effect.withRandom(Random.make("seed")))
      const again = second.calls.map((c) => c.atMs)
      // Same seed, same waits (the clock has moved on, so compare the gaps).
      expect(again.slice(1).map((t, i) => t - again[i]!)).toEqual(gaps)
    })
  )
})

describe("ErrorMapping (the one place, public for code that sends requests itself)", () => {
  const info = (method: string) => ({
    operation: "op",
    method,
    path: "/accounts",
    requestId: "r-1",
    idempotencyKey: undefined
  })
  it("maps statuses and failures as the client does", () => {
    const headers = new Headers({ "retry-after": "2" })
    expect(
      ErrorMapping.fromResponse(info("GET"), 500, headers, '{"error":"Internal Server Error"}', 0)._tag
    ).toBe("ServerError")
    expect(ErrorMapping.fromResponse(info("POST"), 500, headers, "", 0)._tag).toBe("OutcomeUnknown")
    const limited = ErrorMapping.fromResponse(info("POST"), 429, headers, "", 0)
    expect(limited._tag === "RateLimited" && limited.retryAfterMs).toBe(2_000)
    expect(ErrorMapping.fromResponse(info("GET"), 302, headers, "", 0)._tag).toBe("DecodeError")
    expect(ErrorMapping.fromTransportFailure(info("DELETE"), networkError("ECONNREFUSED"))._tag).toBe(
      "NetworkError"
    )
    expect(ErrorMapping.fromTransportFailure(info("DELETE"), networkError("ECONNRESET"))._tag).toBe(
      "OutcomeUnknown"
    )
    expect(ErrorMapping.fromTimeout(info("GET"), 5)._tag).toBe("Timeout")
    expect(ErrorMapping.readErrorBody('{"error":true,"message":"invalid signature","code":"E1"}')).toEqual({
      messages: ["invalid signature"],
      code: "E1"
    })
    expect(ErrorMapping.readErrorBody("<html>bad gateway</html>").messages).toEqual([
      "<html>bad gateway</html>"
    ])
  })
})
