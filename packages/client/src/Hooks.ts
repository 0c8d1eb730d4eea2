/**
 * Request, response and retry hooks of the Promise API (`client.on("request", handler)`, as
 * stripe-node's `on('request')` / `on('response')`): called synchronously, in order, for every attempt
 * of every call, with what the attempt sent and received, never a credential or a body.
 *
 * For one call with one retry: `request` (attempt 1), `response` (attempt 1, if one arrived), `retry`
 * (attempt 1's error and the wait), `request` (attempt 2), `response` (attempt 2). A handler that
 * throws changes nothing about the call (the exception is logged at warning level).
 *
 * @since 0.2.0
 */
import type { ClientError } from "./ClientError.js"
import type { ResponseHeaders, ResponseInfo } from "./ResponseInfo.js"

/** What identifies an attempt. */
export interface AttemptEvent {
  /** The client method, e.g. `lock`. */
  readonly operation: string
  readonly method: string
  /** The full URL (base URL, path, query). */
  readonly url: string
  /** The call's `X-Request-Id` (the same on every attempt). */
  readonly requestId: string
  /** The call's `Idempotency-Key`, if one is sent (the same on every attempt). */
  readonly idempotencyKey: string | undefined
  /** 1 for the first attempt, 2 for the first retry... */
  readonly attempt: number
}

/** An attempt is about to be sent. */
export interface RequestEvent extends AttemptEvent {
  /** When, in milliseconds since the epoch (the client's clock). */
  readonly startedAtMs: number
}

/** A response arrived for an attempt (whatever its status). */
export interface ResponseEvent extends AttemptEvent {
  readonly status: number
  readonly headers: ResponseHeaders
  /** From sending to the whole body read, in milliseconds. */
  readonly elapsedMs: number
  /** The response's metadata, as `withResponse` gives it. */
  readonly response: ResponseInfo
}

/** An attempt failed and the call will try again after `waitMs`. */
export interface RetryEvent extends AttemptEvent {
  /** Why the attempt failed. */
  readonly error: ClientError
  /** The wait before the next attempt, in milliseconds. */
  readonly waitMs: number
}

/** The hook events and their payloads. */
export interface HookEvents {
  readonly request: RequestEvent
  readonly response: ResponseEvent
  readonly retry: RetryEvent
}

/** A hook event's name. */
export type HookName = keyof HookEvents

/** A handler of one event. */
export type Hook<N extends HookName> = (event: HookEvents[N]) => void

/** Handlers given at construction (`createClient({ ..., hooks: { request, response, retry } })`). */
export type Hooks = { readonly [N in HookName]?: Hook<N> | undefined }
