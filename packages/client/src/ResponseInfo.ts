/**
 * What a call's last response said besides its body: the HTTP status, the headers, the request id and
 * whether the proxy replayed a stored answer. Results keep their types (`Account`, `void`, ...): the
 * metadata comes with `withResponse` (`client.withResponse.lock(zrn)` answers `{ data, response }`, in
 * both APIs), and on an error as its non-enumerable `response` property (`responseOf(error)`), so
 * printing or serialising an error shows no header.
 *
 * @since 0.2.0
 */

/** A response's headers, read by name (a fetch `Headers`, or the pooled transport's lazy view). */
export interface ResponseHeaders {
  get(name: string): string | null
}

/**
 * The metadata of one response. `requestId` and `replayed` are read from the headers only when asked
 * (the pooled transport builds a response's header table on first access).
 */
export class ResponseInfo {
  constructor(
    /** The HTTP status. */
    readonly status: number,
    /** The response's headers. */
    readonly headers: ResponseHeaders,
    /** The `X-Request-Id` this call sent (the same on every attempt). */
    readonly sentRequestId: string,
    /** The `Idempotency-Key` this call sent, if any (generated in bearer mode for every mutation). */
    readonly idempotencyKey: string | undefined,
    /** Which attempt of the call this response answered: 1 for the first, 2 after one retry... */
    readonly attempt: number
  ) {}

  /** The response's `X-Request-Id` (the proxy echoes or assigns one), else the one sent. */
  get requestId(): string {
    return this.headers.get("x-request-id") ?? this.sentRequestId
  }

  /** Whether the proxy answered a stored outcome for the idempotency key (`Idempotent-Replayed: true`). */
  get replayed(): boolean {
    return this.headers.get("idempotent-replayed")?.trim().toLowerCase() === "true"
  }

  /** A printable summary: status, request id, key, attempt; no header values besides those. */
  toJSON(): Record<string, unknown> {
    return {
      status: this.status,
      requestId: this.requestId,
      idempotencyKey: this.idempotencyKey,
      replayed: this.replayed,
      attempt: this.attempt
    }
  }
}

/** A result with the metadata of the response it came from: what the `withResponse` methods answer. */
export interface WithResponse<A> {
  readonly data: A
  readonly response: ResponseInfo
}

const RESPONSE = "response"

/**
 * Attaches `info` to an error as a non-enumerable `response` property (left out of `JSON.stringify`,
 * `util.inspect` and Effect's structural equality). Returns the error.
 */
export const attach = <E extends object>(error: E, info: ResponseInfo): E => {
  Object.defineProperty(error, RESPONSE, { value: info, enumerable: false, configurable: true })
  return error
}

/**
 * The response a client error came from (its status, headers, request id), or `undefined` when no
 * response arrived (a timeout, a dropped connection, an input refused before sending).
 */
export const responseOf = (error: unknown): ResponseInfo | undefined => {
  if (typeof error !== "object" || error === null) return undefined
  const value = (error as { readonly [RESPONSE]?: unknown })[RESPONSE]
  return value instanceof ResponseInfo ? value : undefined
}
