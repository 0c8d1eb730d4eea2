/**
 * Test helpers: a scripted in-memory transport that records what the client sends (and when, on the
 * test clock), and a driver that advances a `TestClock` from one retry wait to the next.
 */

import {
  type Client,
  type ClientConfig,
  type ClientError,
  type Service,
  type Transport,
  type TransportRequest,
  type TransportResponse,
  ZeroHashClient
} from "@mta/client"
import { Chunk, Effect, Either, type Exit, Fiber, Option, Stream, TestClock, TestServices } from "effect"

/** One scripted answer: a response, a rejection (network failure), or no answer until aborted. */
export type Step =
  | { readonly status: number; readonly body?: unknown; readonly headers?: Record<string, string> }
  | { readonly reject: unknown }
  | { readonly hang: true }

/** A request as the transport saw it, with the test-clock time it was sent at. */
export interface Recorded extends TransportRequest {
  readonly atMs: number
}

const response = (status: number, body: unknown, headers: Record<string, string> = {}): TransportResponse => {
  const text = typeof body === "string" ? body : JSON.stringify(body ?? {})
  const h = new Headers(headers)
  return { status, headers: h, text: () => Promise.resolve(text) }
}

/**
 * A transport that answers from `script` in order (the last step repeats), recording each request.
 * `now` reads the clock the client runs on (pass the TestClock's `unsafeCurrentTimeMillis`).
 */
export const scripted = (script: ReadonlyArray<Step>, now: () => number = Date.now) => {
  const calls: Array<Recorded> = []
  let inFlight = 0
  const transport: Transport = (request) => {
    const step = script[Math.min(calls.length, script.length - 1)]!
    calls.push({ ...request, atMs: now() })
    inFlight++
    const done = <A>(p: Promise<A>) =>
      p.finally(() => {
        inFlight--
      })
    if ("hang" in step) {
      return done(
        new Promise<TransportResponse>((_, reject) => {
          request.signal.addEventListener("abort", () => reject(request.signal.reason), { once: true })
        })
      )
    }
    if ("reject" in step) return done(Promise.reject(step.reject))
    return done(Promise.resolve(response(step.status, step.body, step.headers)))
  }
  return { transport, calls, inFlight: () => inFlight }
}

/** A Node.js-style network error with a `code`, as undici reports it under `cause`. */
export const networkError = (code: string): Error =>
  Object.assign(new TypeError("fetch failed"), { cause: Object.assign(new Error(code), { code }) })

const liveTick = TestServices.provideLive(Effect.promise(() => new Promise<void>((r) => setImmediate(r))))

/**
 * Runs `effect` on the TestClock, jumping the clock to each pending wait shorter than `deadlineAt`
 * whenever no request is in flight, until the effect ends. Returns the exit and the waits taken.
 * Stale timers of finished attempts all sit at the deadline (tests set `timeoutMs >= deadlineMs`),
 * so a pending wait before the deadline is always a retry or poll wait.
 */
export const driveClock = <A, E>(
  effect: Effect.Effect<A, E>,
  options: { readonly deadlineAt: number; readonly inFlight: () => number }
) =>
  Effect.gen(function* () {
    const fiber = yield* Effect.fork(effect)
    const waits: Array<number> = []
    for (let ticks = 0; ticks < 100_000; ticks++) {
      const exit = yield* Fiber.poll(fiber)
      if (Option.isSome(exit)) return { exit: exit.value as Exit.Exit<A, E>, waits }
      if (options.inFlight() === 0) {
        const now = yield* TestClock.currentTimeMillis
        const pending = Chunk.toReadonlyArray(yield* TestClock.sleeps()).filter(
          (t) => t > now && t < options.deadlineAt
        )
        if (pending.length > 0) {
          const next = Math.min(...pending)
          waits.push(next - now)
          yield* TestClock.adjust(next - now)
          continue
        }
      }
      yield* liveTick
    }
    return yield* Effect.die(new Error("driveClock: the effect neither ended nor waited"))
  })

/** The Effect service seen through the Promise-shaped interface the shared scenarios use. */
export const viaLayer = (config: ClientConfig): Client => {
  const service: Service = Effect.runSync(ZeroHashClient.pipe(Effect.provide(ZeroHashClient.layer(config))))
  const run = <A>(effect: Effect.Effect<A, ClientError>) =>
    Effect.runPromise(Effect.either(effect)).then((result) => {
      if (Either.isLeft(result)) throw result.left
      return result.right
    })
  return {
    createAccount: (body, options) => run(service.createAccount(body, options)),
    updateAccount: (zrn, body, options) => run(service.updateAccount(zrn, body, options)),
    getAccount: (zrn, options) => run(service.getAccount(zrn, options)),
    getStatusReason: (zrn, options) => run(service.getStatusReason(zrn, options)),
    lock: (zrn, options) => run(service.lock(zrn, options)),
    unlock: (zrn, options) => run(service.unlock(zrn, options)),
    withdrawLock: (zrn, options) => run(service.withdrawLock(zrn, options)),
    withdrawUnlock: (zrn, options) => run(service.withdrawUnlock(zrn, options)),
    addTenant: (zrn, code, options) => run(service.addTenant(zrn, code, options)),
    removeTenant: (zrn, code, options) => run(service.removeTenant(zrn, code, options)),
    addAdvisor: (zrn, code, options) => run(service.addAdvisor(zrn, code, options)),
    removeAdvisor: (zrn, code, options) => run(service.removeAdvisor(zrn, code, options)),
    divest: (zrn, options) => run(service.divest(zrn, options)),
    close: (zrn, options) => run(service.close(zrn, options)),
    createParticipant: (body, options) => run(service.createParticipant(body, options)),
    createMinor: (body, options) => run(service.createMinor(body, options)),
    getParticipantPage: (query, options) => run(service.getParticipantPage(query, options)),
    lockParticipant: (code, body, options) => run(service.lockParticipant(code, body, options)),
    // The Stream itself, so the scenarios walk the pages through the Effect API's pagination.
    listLedgerAccounts: (query, options) =>
      Stream.toAsyncIterable(service.listLedgerAccounts(query, options)),
    getLedgerPage: (query, options) => run(service.getLedgerPage(query, options)),
    waitForStatus: (zrn, status, options) => run(service.waitForStatus(zrn, status, options)),
    listParticipants: (query, options) => Stream.toAsyncIterable(service.listParticipants(query, options)),
    getParticipant: (code, options) => run(service.getParticipant(code, options)),
    access: (zrn, query, options) => run(service.access(zrn, query, options)),
    waitForParticipantStatus: (code, status, options) =>
      run(service.waitForParticipantStatus(code, status, options)),
    withResponse: Object.fromEntries(
      Object.entries(service.withResponse).map(([name, method]) => [
        name,
        (...args: ReadonlyArray<unknown>) =>
          run((method as (...a: ReadonlyArray<unknown>) => Effect.Effect<unknown, ClientError>)(...args))
      ])
    ) as unknown as Client["withResponse"],
    on() {
      throw new Error("hooks belong to the Promise API")
    },
    off() {
      throw new Error("hooks belong to the Promise API")
    },
    effect: service
  }
}
