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
import type { Context as OtelContext } from "@opentelemetry/api"
import { Cause, Clock, Duration, Effect, type Either, Exit, Option, Random } from "effect"
import type { ClientError } from "../ClientError.js"
import type { HookEvents, HookName, Hooks } from "../Hooks.js"
import { type Auth, headers, type Received, type Request } from "../Protocol.js"
import { attach, ResponseInfo, responseOf, type WithResponse } from "../ResponseInfo.js"
import { delayFor, isIdempotencyWait, pollDelay, type RetryPolicy } from "../Retry.js"
import { activeContext, endAttempt, errorTypeOf, startAttempt, traceHeaders } from "../Tracing.js"
import type { Transport } from "../Transport.js"
import { fromTimeout, fromTransportFailure, retryAfterMs } from "./errors.js"

/** Everything a call needs from the client's configuration. */
export interface Settings {
  readonly baseUrl: string
  readonly auth: Auth
  readonly timeoutMs: number
  readonly deadlineMs: number
  readonly retry: RetryPolicy
  readonly transport: Transport
  readonly userAgent: string
  /** Called for every attempt (the Promise API's hooks). */
  readonly hooks?: Hooks | undefined
}

/** Time limits of one call overriding the client's. */
export interface Limits {
  /** Per-attempt timeout (the proxy's long poll needs longer). */
  readonly timeoutMs?: number | undefined
  /** Total deadline. */
  readonly deadlineMs?: number | undefined
  /** Retries after the first attempt (the policy's other settings stay). */
  readonly maxRetries?: number | undefined
  /** The OpenTelemetry context the call's spans are children of (default: the active one). */
  readonly parent?: OtelContext | undefined
  /** The endpoint's path template (`/accounts/{zrn}/lock`), for the span's name and `url.template`. */
  readonly template?: string | undefined
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

/** Calls a hook, if set; a hook that throws is logged and changes nothing. */
const notify = <N extends HookName>(
  hooks: Hooks | undefined,
  name: N,
  event: () => HookEvents[N]
): Effect.Effect<void> => {
  const hook = hooks?.[name] as ((e: HookEvents[N]) => void) | undefined
  if (hook === undefined) return Effect.void
  return Effect.try({ try: () => hook(event()), catch: (cause) => cause }).pipe(
    Effect.catchAll((cause) =>
      Effect.logWarning(`@mta/client: a ${name} hook threw; the call goes on`).pipe(
        Effect.annotateLogs({ cause: cause instanceof Error ? cause.message : String(cause) })
      )
    )
  )
}

const attempt = <A>(
  settings: Settings,
  request: Request,
  read: Read<A>,
  timeoutMs: number,
  n: number,
  parent: OtelContext,
  template: string | undefined
): Effect.Effect<WithResponse<A>, ClientError> =>
  Effect.flatMap(Clock.currentTimeMillis, (nowMs) => {
    const url = `${settings.baseUrl}${request.path}`
    const { span, context } = startAttempt(parent, {
      method: request.method,
      url,
      template,
      attempt: n,
      operation: request.operation,
      requestId: request.requestId
    })
    const signed = headers(settings.auth, request, settings.userAgent, nowMs)
    const trace = traceHeaders(context)
    for (const key in trace) if (signed[key] === undefined) signed[key] = trace[key]!
    const exchange: Exchange = (signal) =>
      settings
        .transport({ method: request.method, url, headers: signed, body: request.body, signal })
        .then((response) =>
          response.text().then((text) => ({ status: response.status, headers: response.headers, text }))
        )
    const hooks = settings.hooks
    const base = {
      operation: request.operation,
      method: request.method,
      url,
      requestId: request.requestId,
      idempotencyKey: request.idempotencyKey,
      attempt: n
    }
    // Each step is added only when it has work to do: a call with no hook and no recording span
    // runs the same effects as before hooks and spans existed (bench/RESULTS.md).
    const exchanged = bounded(
      exchange,
      timeoutMs,
      (cause) => fromTransportFailure(request, cause),
      () => fromTimeout(request, timeoutMs)
    )
    const answered = Effect.flatMap(
      hooks?.request === undefined
        ? exchanged
        : Effect.zipRight(
            notify(hooks, "request", () => ({ ...base, startedAtMs: nowMs })),
            exchanged
          ),
      (received) =>
        Effect.flatMap(Clock.currentTimeMillis, (now) => {
          const info = new ResponseInfo(
            received.status,
            received.headers,
            request.requestId,
            request.idempotencyKey,
            n
          )
          const result = read(request, received, now)
          const outcome: Effect.Effect<WithResponse<A>, ClientError> = result._tag === "Right"
            ? Effect.succeed({ data: result.right, response: info })
            : Effect.fail(attach(result.left, info))
          if (hooks?.response === undefined) return outcome
          return Effect.zipRight(
            notify(hooks, "response", () => ({
              ...base,
              status: received.status,
              headers: received.headers,
              elapsedMs: now - nowMs,
              response: info
            })),
            outcome
          )
        })
    )
    // A span that records nothing needs no end.
    if (!span.isRecording()) return answered
    return Effect.onExit(answered, (exit) =>
      Effect.sync(() => {
        if (Exit.isSuccess(exit)) return endAttempt(span, { status: exit.value.response.status })
        const failure = Cause.failureOption(exit.cause)
        if (Option.isNone(failure)) return endAttempt(span, { errorType: "cancelled" })
        endAttempt(span, {
          status: responseOf(failure.value)?.status,
          errorType: errorTypeOf(failure.value)
        })
      })
    )
  })

/**
 * Sends a request with retries, per-attempt timeouts and a total deadline; what `read` makes of the
 * response with the response's metadata, or a `ClientError`.
 *
 * In bearer mode with an `Idempotency-Key` (the proxy), an `OutcomeUnknown` is retried as well, and
 * the proxy's 409 `idempotency_in_flight` / `idempotency_outcome_pending` are waited out (at least
 * their `Retry-After`; not counted as retries, bounded by the deadline): `Retry.ts`.
 */
export const send = <A>(
  settings: Settings,
  request: Request,
  read: Read<A>,
  limits: Limits = {}
): Effect.Effect<WithResponse<A>, ClientError> =>
  Effect.gen(function* () {
    const start = yield* Clock.currentTimeMillis
    const deadline = start + (limits.deadlineMs ?? settings.deadlineMs)
    const perAttempt = limits.timeoutMs ?? settings.timeoutMs
    const policy =
      limits.maxRetries === undefined ? settings.retry : { ...settings.retry, maxRetries: limits.maxRetries }
    const parent = limits.parent ?? activeContext()
    const idempotent = settings.auth.kind === "bearer" && request.idempotencyKey !== undefined
    let retry = 0
    let poll = 0
    for (let n = 1; ; n++) {
      const now = yield* Clock.currentTimeMillis
      const timeoutMs = Math.max(1, Math.min(perAttempt, deadline - now))
      const result = yield* Effect.either(
        attempt(settings, request, read, timeoutMs, n, parent, limits.template)
      )
      if (result._tag === "Right") return result.right
      const error = result.left
      const random = yield* Random.next
      const after = yield* Clock.currentTimeMillis
      let wait: number | undefined
      if (idempotent && isIdempotencyWait(error)) {
        // "Not yet" from the proxy: ask again after its Retry-After; not a retry of the call.
        const header = responseOf(error)?.headers.get("retry-after") ?? null
        wait = pollDelay(policy, poll++, random, header === null ? undefined : retryAfterMs(header, after))
      } else {
        wait = delayFor(policy, error, request.method, retry++, random, { idempotent })
      }
      // Give up when the rules say so, or when waiting would pass the deadline: the caller gets the
      // last real failure rather than a timeout that hides it.
      if (wait === undefined || after + wait >= deadline) return yield* Effect.fail(error)
      yield* Effect.logDebug("zerohash call failed; retrying").pipe(
        Effect.annotateLogs({
          operation: request.operation,
          requestId: request.requestId,
          error: error._tag,
          status: error.status ?? "none",
          retry: n,
          waitMs: wait
        })
      )
      const waitMs = wait
      yield* notify(settings.hooks, "retry", () => ({
        operation: request.operation,
        method: request.method,
        url: `${settings.baseUrl}${request.path}`,
        requestId: request.requestId,
        idempotencyKey: request.idempotencyKey,
        attempt: n,
        error,
        waitMs
      }))
      yield* Effect.sleep(wait)
    }
  }).pipe(
    Effect.withSpan(`ZeroHashClient.${request.operation}`, {
      attributes: { requestId: request.requestId },
      captureStackTrace: false
    })
  )
