/**
 * The simulator's transport-neutral request and response: `fetch`, msw and the node:http server all
 * adapt to these, so the hot path builds no web `Request`/`Response` unless the caller wants one.
 */

/** A request as received. */
export interface RawRequest {
  readonly method: string
  /** Path and query exactly as received (what the signature covers). */
  readonly target: string
  /** A header by lower-case name. */
  readonly header: (name: string) => string | undefined
  /** The body text exactly as received ("" when there is none). */
  readonly body: string
  /** Who sent it, for the per-source rate limit. */
  readonly source: string
}

/** A response to write back. */
export interface RawResponse {
  readonly status: number
  readonly headers: Readonly<Record<string, string>>
  readonly body: string
}

/** The connection is dropped without an answer (a fault). */
export interface Dropped {
  readonly dropped: true
}

export type Outcome = RawResponse | Dropped

export const isDropped = (o: Outcome): o is Dropped => "dropped" in o

const JSON_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  "content-type": "application/json; charset=utf-8"
})

/** A JSON response. */
export const json = (status: number, body: unknown, headers?: Record<string, string>): RawResponse => ({
  status,
  headers: headers === undefined ? JSON_HEADERS : { ...JSON_HEADERS, ...headers },
  body: JSON.stringify(body)
})

/** The vendor's error bodies (upstream-api.md, "Error bodies"). */
export const errors = {
  badRequest: (messages: ReadonlyArray<string>): RawResponse => json(400, { errors: messages }),
  forbidden: (message: string): RawResponse => json(403, { error: true, message }),
  notFound: (message?: string): RawResponse =>
    json(404, message === undefined ? { error: "Not Found" } : { error: "Not Found", message }),
  conflict: (messages: ReadonlyArray<string>): RawResponse => json(409, { errors: messages }),
  tooManyRequests: (): RawResponse => json(429, { error: "Too Many Requests" }),
  internal: (): RawResponse => json(500, { error: "Internal Server Error" }),
  unavailable: (): RawResponse => json(503, { error: "Service Unavailable" }, { "zh-allow-retry": "true" })
}

/** The vendor's body for an error status, used by injected faults. */
export const errorFor = (status: number): RawResponse => {
  switch (status) {
    case 400:
      return errors.badRequest(["injected fault"])
    case 403:
      return errors.forbidden("injected fault")
    case 404:
      return errors.notFound()
    case 409:
      return errors.conflict(["injected fault"])
    case 429:
      return errors.tooManyRequests()
    case 500:
      return errors.internal()
    case 503:
      return errors.unavailable()
    default:
      return json(status, { error: status >= 500 ? "Server Error" : "Client Error" })
  }
}
