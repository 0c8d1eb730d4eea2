/**
 * The status → error mapping of `upstream-api.md`, for code that sends requests itself and must
 * answer the same `ClientError`s as the client (`Protocol.response` applies it to a response; the
 * proxy's upstream maps its transport failures with `fromExchangeFailure`). The client uses exactly
 * these functions, so there is still one place that decides which response is which error.
 *
 * @since 0.1.0
 */
export {
  /** What the mapping needs to know about a call (its method decides `OutcomeUnknown`). */
  type CallInfo,
  /** zerohash's 10 s lock-out after a 429, used when no `Retry-After` says otherwise. */
  DEFAULT_LOCKOUT_MS,
  /** A body that is not JSON or not the expected shape, or a stray status. */
  decodeError,
  /** The error for an `exchange` that rejected: `fromTimeout` for its deadline, else `fromTransportFailure`. */
  fromExchangeFailure,
  /** The error for a non-2xx response. */
  fromResponse,
  /** The error for an attempt that ran out of time (`OutcomeUnknown` for a mutation). */
  fromTimeout,
  /** The error for a transport that rejected (`OutcomeUnknown` for a mutation that may have been sent). */
  fromTransportFailure,
  /** Whether a method changes state. */
  isMutation,
  /** Whether a transport failure proves the request never left the machine. */
  neverSent,
  /** The upstream's messages and error code from any documented error body. */
  readErrorBody,
  /** `Retry-After` in milliseconds (seconds or an HTTP date), else the lock-out. */
  retryAfterMs
} from "./internal/errors.js"
