/**
 * Sending one logical call of the Effect client: the protocol's request (`Protocol.ts`), signed anew
 * for each attempt, handed to the transport, each attempt bounded by a timeout and the call by a
 * deadline, the response read by the protocol, retried by the rules of `Retry.ts`, all in one span.
 *
 * The body is serialised once; the same string is signed and sent on every attempt. Each attempt is
 * signed again with a fresh timestamp, since a retry after a 10 s lock-out would otherwise arrive
 * with a stale one. The request id stays the same across attempts.
 */
import { randomUUID } from "node:crypto"
import { Clock, Duration, Effect, type Either, Random } from "effect"
import type { ClientError } from "../ClientError.js"
import { type Auth, headers, type Received, type Request } from "../Protocol.js"
import { delayFor, type RetryPolicy } from "../Retry.js"
import type { Transport } from "../Transport.js"
import { fromTimeout, fromTransportFailure } from "./errors.js"

/** Everything a call needs from the client's configuration. */
export interface Settings {
  readonly baseUrl: string
  readonly auth: Auth
  readonly timeoutMs: number
  readonly deadlineMs: number
  readonly retry: RetryPolicy
  readonly transport: Transport
  readonly userAgent: string
}

/** Time limits of one call overriding the client's. */
export interface Limits {
  /** Per-attempt timeout (the proxy's long poll needs longer). */
  readonly timeoutMs?: number | undefined
  /** Total deadline. */
  readonly deadlineMs?: number | undefined
}

/** What a response means (`Protocol.response` for an endpoint): a value, or the error of this attempt. */
export type Read<A> = (request: Request, received: Received, nowMs: number) => Either.Either<A, ClientError>

/** A fresh request id for a logical call. */
export const newRequestId: Effect.Effect<string> = Effect.sync(() => randomUUID())

type Exchange = (signal: AbortSignal) => Promise<Received>

/** What a live clock offers besides `sleep`: a timer that needs no fiber (the TestClock has none). */
interface SchedulingClock {
  scheduler(): Effect.Effect<{ unsafeSchedule(task: () => void, duration: Duration.Duration): () => boolean }>
}
const hasScheduler = (clock: Clock.Clock): clock is Clock.Clock & SchedulingClock =>
  typeof (clock as Partial<SchedulingClock>).scheduler === "function"

/**
 * One exchange bounded by `timeoutMs`, its signal aborted on time-out or interruption.
 *
 * On the live clock this is a single `Effect.async` with a timer beside the request: racing the
 * request against a sleeping fiber (`Effect.timeout`) cost several times the whole client overhead
 * per call (bench/RESULTS.md). On any other clock (a `TestClock`) the time-out is a plain
 * `Effect.timeoutFail`, so tests control it.
 */
const bounded = (
  exchange: Exchange,
  timeoutMs: number,
  onFailure: (cause: unknown) => ClientError,
  onTimeout: () => ClientError
): Effect.Effect<Received, ClientError> =>
  Effect.clockWith((clock) => {
    if (!hasScheduler(clock)) {
      return Effect.tryPromise({ try: exchange, catch: onFailure }).pipe(
        Effect.timeoutFail({ duration: timeoutMs, onTimeout })
      )
    }
    return Effect.flatMap(clock.scheduler(), (scheduler) =>
      Effect.async<Received, ClientError>((resume) => {
        const controller = new AbortController()
        let settled = false
        const cancelTimer = scheduler.unsafeSchedule(() => {
          if (settled) return
          settled = true
          controller.abort(new Error(`no response within ${timeoutMs} ms`))
          resume(Effect.fail(onTimeout()))
        }, Duration.millis(timeoutMs))
        exchange(controller.signal).then(
          (received) => {
            if (settled) return
            settled = true
            cancelTimer()
            resume(Effect.succeed(received))
          },
          (cause: unknown) => {
            if (settled) return
            settled = true
            cancelTimer()
            resume(Effect.fail(onFailure(cause)))
          }
        )
        return Effect.sync(() => {
          if (settled) return
          settled = true
          cancelTimer()
          controller.abort(new Error("interrupted"))
        })
      })
    )
  })

const attempt = <A>(
  settings: Settings,
  request: Request,
  read: Read<A>,
  timeoutMs: number
): Effect.Effect<A, ClientError> =>
  Effect.flatMap(Clock.currentTimeMillis, (nowMs) => {
    const signed = headers(settings.auth, request, settings.userAgent, nowMs)
    const exchange: Exchange = (signal) =>
      settings
        .transport({
          method: request.method,
          url: `${settings.baseUrl}${request.path}`,
          headers: signed,
          body: request.body,
          signal
        })
        .then((response) =>
          response.text().then((text) => ({ status: response.status, headers: response.headers, text }))
        )
    return bounded(
      exchange,
      timeoutMs,
      (cause) => fromTransportFailure(request, cause),
      () => fromTimeout(request, timeoutMs)
    ).pipe(
      Effect.flatMap((received) =>
        Effect.flatMap(Clock.currentTimeMillis, (now) => read(request, received, now))
      )
    )
  })

/**
 * Sends a request with retries, per-attempt timeouts and a total deadline; what `read` makes of the
 * response, or a `ClientError`.
 */
export const send = <A>(
  settings: Settings,
  request: Request,
  read: Read<A>,
  limits: Limits = {}
): Effect.Effect<A, ClientError> =>
  Effect.gen(function* () {
    const start = yield* Clock.currentTimeMillis
    const deadline = start + (limits.deadlineMs ?? settings.deadlineMs)
    const perAttempt = limits.timeoutMs ?? settings.timeoutMs
    for (let retry = 0; ; retry++) {
      const now = yield* Clock.currentTimeMillis
      const timeoutMs = Math.max(1, Math.min(perAttempt, deadline - now))
      const result = yield* Effect.either(attempt(settings, request, read, timeoutMs))
      if (result._tag === "Right") return result.right
      const error = result.left
      const wait = delayFor(settings.retry, error, request.method, retry, yield* Random.next)
      const after = yield* Clock.currentTimeMillis
      // Give up when the rules say so, or when waiting would pass the deadline: the caller gets the
      // last real failure rather than a timeout that hides it.
      if (wait === undefined || after + wait >= deadline) return yield* Effect.fail(error)
      yield* Effect.logDebug("zerohash call failed; retrying").pipe(
        Effect.annotateLogs({
          operation: request.operation,
          requestId: request.requestId,
          error: error._tag,
          status: error.status ?? "none",
          retry: retry + 1,
          waitMs: wait
        })
      )
      yield* Effect.sleep(wait)
    }
  }).pipe(
    Effect.withSpan(`ZeroHashClient.${request.operation}`, {
      attributes: { requestId: request.requestId },
      captureStackTrace: false
    })
  )
