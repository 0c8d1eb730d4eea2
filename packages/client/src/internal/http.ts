/**
 * Sending one logical call: build and sign the request, hand it to the transport, bound each attempt
 * by a timeout and the call by a deadline, retry by the rules of `Retry.ts`, and map failures to
 * `ClientError`s (through `errors.ts`, the only place that does).
 *
 * The body is serialised once by the caller; the same string is signed and sent on every attempt.
 * Each attempt is signed again with a fresh timestamp, since a retry after a 10 s lock-out would
 * otherwise arrive with a stale one. The request id stays the same across attempts.
 */
import { randomUUID } from "node:crypto"
import { Clock, Duration, Effect, Random, Redacted } from "effect"
import type { ClientError } from "../ClientError.js"
import { delayFor, type RetryPolicy } from "../Retry.js"
import { type Signer, headers as signingHeaders, timestampSeconds } from "../Signing.js"
import type { Transport, TransportResponse } from "../Transport.js"
import { type CallInfo, fromResponse, fromTimeout, fromTransportFailure } from "./errors.js"

/** How requests are authenticated. */
export type Auth =
  | {
      readonly kind: "signed"
      readonly apiKey: string
      readonly passphrase: Redacted.Redacted<string>
      readonly sign: Signer
    }
  | { readonly kind: "bearer"; readonly token: Redacted.Redacted<string> }

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

/** One logical call. */
export interface Call {
  readonly operation: string
  readonly method: "GET" | "POST" | "PATCH" | "DELETE"
  /** The path with its query string, exactly as it is signed and sent. */
  readonly path: string
  /** The serialised body, for POST and PATCH. */
  readonly body: string | undefined
  readonly requestId: string
  readonly idempotencyKey: string | undefined
  /** Per-attempt timeout overriding the client's (the proxy's long poll needs longer). */
  readonly timeoutMs?: number | undefined
  /** Total deadline overriding the client's. */
  readonly deadlineMs?: number | undefined
}

/** A successful (2xx) response, its body read as text. */
export interface Received {
  readonly status: number
  readonly headers: TransportResponse["headers"]
  readonly text: string
}

/** A fresh request id for a logical call. */
export const newRequestId: Effect.Effect<string> = Effect.sync(() => randomUUID())

const buildHeaders = (settings: Settings, call: Call, nowMs: number): Record<string, string> => {
  const headers: Record<string, string> = {
    accept: "application/json",
    "user-agent": settings.userAgent,
    "x-request-id": call.requestId
  }
  if (call.body !== undefined) headers["content-type"] = "application/json"
  if (call.idempotencyKey !== undefined) headers["idempotency-key"] = call.idempotencyKey
  const auth = settings.auth
  if (auth.kind === "signed") {
    const timestamp = timestampSeconds(nowMs)
    headers[signingHeaders.apiKey] = auth.apiKey
    headers[signingHeaders.passphrase] = Redacted.value(auth.passphrase)
    headers[signingHeaders.timestamp] = timestamp
    headers[signingHeaders.signature] = auth.sign(timestamp, call.method, call.path, call.body)
  } else {
    headers.authorization = `Bearer ${Redacted.value(auth.token)}`
  }
  return headers
}

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

const attempt = (
  settings: Settings,
  call: Call,
  info: CallInfo,
  timeoutMs: number
): Effect.Effect<Received, ClientError> =>
  Effect.flatMap(Clock.currentTimeMillis, (nowMs) => {
    const headers = buildHeaders(settings, call, nowMs)
    const exchange: Exchange = (signal) =>
      settings
        .transport({
          method: call.method,
          url: `${settings.baseUrl}${call.path}`,
          headers,
          body: call.body,
          signal
        })
        .then((response) =>
          response.text().then((text) => ({ status: response.status, headers: response.headers, text }))
        )
    return bounded(
      exchange,
      timeoutMs,
      (cause) => fromTransportFailure(info, cause),
      () => fromTimeout(info, timeoutMs)
    ).pipe(
      Effect.flatMap((received) =>
        received.status >= 200 && received.status < 300
          ? Effect.succeed(received)
          : Effect.flatMap(Clock.currentTimeMillis, (now) =>
              Effect.fail(fromResponse(info, received.status, received.headers, received.text, now))
            )
      )
    )
  })

/** Sends a call with retries, per-attempt timeouts and a total deadline; a 2xx or a `ClientError`. */
export const send = (settings: Settings, call: Call): Effect.Effect<Received, ClientError> =>
  Effect.gen(function* () {
    const info: CallInfo = {
      operation: call.operation,
      method: call.method,
      path: call.path,
      requestId: call.requestId,
      idempotencyKey: call.idempotencyKey
    }
    const start = yield* Clock.currentTimeMillis
    const deadline = start + (call.deadlineMs ?? settings.deadlineMs)
    const perAttempt = call.timeoutMs ?? settings.timeoutMs
    for (let retry = 0; ; retry++) {
      const now = yield* Clock.currentTimeMillis
      const timeoutMs = Math.max(1, Math.min(perAttempt, deadline - now))
      const result = yield* Effect.either(attempt(settings, call, info, timeoutMs))
      if (result._tag === "Right") return result.right
      const error = result.left
      const wait = delayFor(settings.retry, error, call.method, retry, yield* Random.next)
      const after = yield* Clock.currentTimeMillis
      // Give up when the rules say so, or when waiting would pass the deadline: the caller gets the
      // last real failure rather than a timeout that hides it.
      if (wait === undefined || after + wait >= deadline) return yield* Effect.fail(error)
      yield* Effect.logDebug("zerohash call failed; retrying").pipe(
        Effect.annotateLogs({
          operation: call.operation,
          requestId: call.requestId,
          error: error._tag,
          status: error.status ?? "none",
          retry: retry + 1,
          waitMs: wait
        })
      )
      yield* Effect.sleep(wait)
    }
  }).pipe(
    Effect.withSpan(`ZeroHashClient.${call.operation}`, {
      attributes: { requestId: call.requestId },
      captureStackTrace: false
    })
  )
