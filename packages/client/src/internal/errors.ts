/**
 * The one place that turns what happened to a request into a `ClientError`: a response status and
 * body, a transport failure, an attempt that ran out of time, or a body that did not decode.
 *
 * Whether a failure is an `OutcomeUnknown` is decided here too, because it depends on the same facts
 * (the method, whether the request left the machine, the status): a mutation met by a 500, 502, 504,
 * a timeout or a dropped connection may have been applied.
 */
import { Either, Schema } from "effect"
import {
  AuthenticationError,
  type ClientError,
  Conflict,
  DecodeError,
  type DecodeErrorReason,
  IdempotencyMismatch,
  NetworkError,
  NotFound,
  OutcomeUnknown,
  type OutcomeUnknownReason,
  PermissionDenied,
  RateLimited,
  ServerError,
  Timeout,
  Unavailable,
  ValidationError
} from "../ClientError.js"
import { TransportTimeout } from "../Transport.js"

/** What the error mapping needs to know about the call. */
export interface CallInfo {
  readonly operation: string
  readonly method: string
  readonly path: string
  readonly requestId: string
  readonly idempotencyKey: string | undefined
}

/** zerohash locks a client out for 10 s after a 429; used when no `Retry-After` says otherwise. */
export const DEFAULT_LOCKOUT_MS = 10_000

/** Statuses after which a mutation's outcome is unknown (the upstream may have applied it). */
const AMBIGUOUS_STATUSES: ReadonlySet<number> = new Set([500, 502, 504])

/** Whether a method changes state (and so must not be repeated blindly). */
export const isMutation = (method: string): boolean => method !== "GET" && method !== "HEAD"

// Every error body the upstream and the proxy answer, read leniently: 400/409 `{errors: [...]}`,
// 403 `{error: true, message}`, 404/429/5xx `{error: "..."}`, plus the proxy's `code` and `request_id`.
const ErrorBody = Schema.parseJson(
  Schema.Struct({
    errors: Schema.optional(Schema.Union(Schema.Array(Schema.Unknown), Schema.String)),
    error: Schema.optional(Schema.Unknown),
    message: Schema.optional(Schema.Unknown),
    code: Schema.optional(Schema.Unknown)
  })
)
const decodeErrorBody = Schema.decodeUnknownEither(ErrorBody)

const MAX_MESSAGE = 500
const clip = (s: string): string => (s.length > MAX_MESSAGE ? `${s.slice(0, MAX_MESSAGE - 3)}...` : s)

/** The upstream's messages and error code, from any documented error body; raw text otherwise. */
export const readErrorBody = (text: string): { messages: Array<string>; code: string | undefined } => {
  const parsed = decodeErrorBody(text)
  if (Either.isLeft(parsed)) {
    const trimmed = text.trim()
    return { messages: trimmed === "" ? [] : [clip(trimmed)], code: undefined }
  }
  const body = parsed.right
  const messages: Array<string> = []
  if (typeof body.errors === "string") messages.push(clip(body.errors))
  else if (body.errors !== undefined) {
    for (const e of body.errors) messages.push(clip(typeof e === "string" ? e : JSON.stringify(e)))
  }
  if (typeof body.message === "string") messages.push(clip(body.message))
  if (typeof body.error === "string" && !messages.includes(body.error)) messages.push(clip(body.error))
  return { messages, code: typeof body.code === "string" ? body.code : undefined }
}

/** `Retry-After` in seconds or as an HTTP date; the vendor's 10 s lock-out when absent or unreadable. */
export const retryAfterMs = (header: string | null, nowMs: number): number => {
  if (header === null || header.trim() === "") return DEFAULT_LOCKOUT_MS
  const seconds = Number(header)
  if (Number.isFinite(seconds) && seconds >= 0) return Math.ceil(seconds * 1000)
  const date = Date.parse(header)
  if (Number.isFinite(date)) return Math.max(0, date - nowMs)
  return DEFAULT_LOCKOUT_MS
}

const label = (info: CallInfo): string =>
  `${info.operation} (${info.method} ${info.path}, request id ${info.requestId})`

const withMessages = (head: string, messages: ReadonlyArray<string>): string =>
  messages.length === 0 ? head : `${head}: ${messages.join("; ")}`

const howToFindOut = (info: CallInfo): string => {
  const key =
    info.idempotencyKey === undefined
      ? ""
      : ` Through the proxy, repeating the call with the same Idempotency-Key (${JSON.stringify(info.idempotencyKey)}) is safe: it answers the stored outcome.`
  const read =
    info.operation === "createAccount"
      ? "Do not repeat it blindly. Repeating createAccount with the same participant_code and account_label is safe: a 409 Conflict means the first request created the account (find it with listLedgerAccounts or your records)."
      : "Do not repeat it blindly: read the account (getAccount) and check whether the change took effect (it is applied asynchronously, so it may still appear), then decide."
  return `${read}${key}`
}

const outcomeUnknown = (
  info: CallInfo,
  reason: OutcomeUnknownReason,
  what: string,
  status: number | undefined,
  messages: ReadonlyArray<string>
): OutcomeUnknown =>
  new OutcomeUnknown({
    message: `${label(info)} may or may not have been applied: ${what}. ${howToFindOut(info)}`,
    ...(status === undefined ? {} : { status }),
    messages,
    requestId: info.requestId,
    operation: info.operation,
    reason,
    ...(info.idempotencyKey === undefined ? {} : { idempotencyKey: info.idempotencyKey })
  })

/** The error for a response whose status is not the call's success status. */
export const fromResponse = (
  info: CallInfo,
  status: number,
  headers: { get(name: string): string | null },
  bodyText: string,
  nowMs: number
): ClientError => {
  const { messages, code } = readErrorBody(bodyText)
  const fields = {
    status,
    messages,
    requestId: info.requestId,
    operation: info.operation,
    ...(code === undefined ? {} : { code })
  }
  const message = (what: string) => withMessages(`${label(info)} failed: ${status} ${what}`, messages)
  if (isMutation(info.method) && AMBIGUOUS_STATUSES.has(status)) {
    return outcomeUnknown(info, "ServerError", `the server answered ${status}`, status, messages)
  }
  switch (status) {
    case 400:
      return new ValidationError({ ...fields, message: message("Bad Request") })
    case 401:
      return new AuthenticationError({ ...fields, message: message("Unauthorized") })
    case 403:
      return new PermissionDenied({ ...fields, message: message("Forbidden") })
    case 404:
      return new NotFound({ ...fields, message: message("Not Found") })
    case 409:
      return new Conflict({ ...fields, message: message("Conflict") })
    case 422:
      return new IdempotencyMismatch({
        ...fields,
        message: message("Unprocessable (idempotency key reused)")
      })
    case 429: {
      const wait = retryAfterMs(headers.get("retry-after"), nowMs)
      return new RateLimited({
        ...fields,
        retryAfterMs: wait,
        message: message(`Too Many Requests (locked out for ${wait} ms)`)
      })
    }
    case 503: {
      const retryAllowed = headers.get("zh-allow-retry")?.trim().toLowerCase() === "true"
      return new Unavailable({ ...fields, retryAllowed, message: message("Service Unavailable") })
    }
  }
  if (status >= 500 && status <= 599) return new ServerError({ ...fields, message: message("Server Error") })
  return decodeError(
    info,
    status,
    "UnexpectedStatus",
    `status ${status} is not one this endpoint answers`,
    messages
  )
}

/** The error for a body that is not JSON, not the expected shape, or a status the endpoint never answers. */
export const decodeError = (
  info: CallInfo,
  status: number,
  reason: DecodeErrorReason,
  detail: string,
  messages: ReadonlyArray<string> = []
): DecodeError =>
  new DecodeError({
    message: `${label(info)}: the ${status} response could not be used (${reason}): ${clip(detail)}`,
    status,
    messages,
    requestId: info.requestId,
    operation: info.operation,
    reason,
    detail: clip(detail)
  })

// Node's error codes for a connection that was never made: the request did not leave the machine,
// so even a mutation may be sent again. Anything else (reset, hang-up, an msw network error) may
// have reached the server.
const NOT_SENT_CODES: ReadonlySet<string> = new Set([
  "ECONNREFUSED",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "UND_ERR_CONNECT_TIMEOUT"
])

const errorCode = (cause: unknown): string | undefined => {
  let current: unknown = cause
  for (let depth = 0; depth < 4 && typeof current === "object" && current !== null; depth++) {
    const code = (current as { code?: unknown }).code
    if (typeof code === "string") return code
    current = (current as { cause?: unknown }).cause
  }
  return undefined
}

const describe = (cause: unknown): string => {
  const code = errorCode(cause)
  const text = cause instanceof Error ? cause.message : String(cause)
  return clip(code === undefined ? text : `${text} (${code})`)
}

/** Whether a transport failure proves the request was never sent. */
export const neverSent = (cause: unknown): boolean => {
  const code = errorCode(cause)
  return code !== undefined && NOT_SENT_CODES.has(code)
}

/** The error for a transport that rejected (refused, reset, dropped). */
export const fromTransportFailure = (info: CallInfo, cause: unknown): NetworkError | OutcomeUnknown => {
  const detail = describe(cause)
  if (isMutation(info.method) && !neverSent(cause)) {
    return outcomeUnknown(
      info,
      "ConnectionLost",
      `the connection failed after the request was sent (${detail})`,
      undefined,
      []
    )
  }
  return new NetworkError({
    message: `${label(info)} failed: no response (${detail})`,
    messages: [],
    requestId: info.requestId,
    operation: info.operation,
    detail
  })
}

/** The error for an attempt (or the whole call) that ran out of time. */
export const fromTimeout = (info: CallInfo, timeoutMs: number): Timeout | OutcomeUnknown =>
  isMutation(info.method)
    ? outcomeUnknown(info, "Timeout", `no response within ${timeoutMs} ms`, undefined, [])
    : new Timeout({
        message: `${label(info)} timed out: no response within ${timeoutMs} ms`,
        messages: [],
        requestId: info.requestId,
        operation: info.operation,
        timeoutMs
      })

/**
 * The error for an exchange that rejected (`Transport.exchange`, or any transport call with a deadline
 * of its own): `fromTimeout` when its deadline passed (a `TransportTimeout`), else
 * `fromTransportFailure`.
 */
export const fromExchangeFailure = (
  info: CallInfo,
  cause: unknown
): Timeout | NetworkError | OutcomeUnknown =>
  cause instanceof TransportTimeout ? fromTimeout(info, cause.timeoutMs) : fromTransportFailure(info, cause)
