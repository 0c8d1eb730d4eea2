/**
 * Request signing for the zerohash API (`X-SCX-SIGNED`).
 *
 * `message = timestamp + METHOD + path_with_query + body`, keyed with the base64-decoded secret, and
 * the signature is the base64 HMAC-SHA256. The caller signs the exact bytes it sends: the client
 * serialises a body once and hands the same string to the signer and to the transport.
 *
 * Signing is hot (every upstream call of the proxy), so the decoded key is cached: a client decodes
 * its secret once, and `signRequest` keeps a small map of decoded keys by secret text.
 *
 * @since 0.1.0
 */
import { createHmac } from "node:crypto"

/** Header names of the zerohash request authentication. */
export const headers = {
  apiKey: "X-SCX-API-KEY",
  passphrase: "X-SCX-PASSPHRASE",
  timestamp: "X-SCX-TIMESTAMP",
  signature: "X-SCX-SIGNED"
} as const

/** What a body-less request (GET, DELETE) signs, per the vendor's documentation. */
export const EMPTY_BODY = "{}"

/** Inputs of one signature. `timestamp` is Unix time in seconds (a number or its decimal text). */
export interface SignRequestParams {
  /** The API secret as issued: base64 text. */
  readonly apiSecret: string
  /** Unix time in seconds. */
  readonly timestamp: number | string
  /** HTTP method; upper-cased before signing. */
  readonly method: string
  /** The path with its query string, exactly as sent. */
  readonly path: string
  /** The exact body sent; `undefined` or empty signs `{}`. */
  readonly body?: string | undefined
}

/** A signing function bound to one decoded key. */
export type Signer = (timestamp: number | string, method: string, path: string, body?: string) => string

const hmacBase64 = (key: Buffer, message: string): string =>
  createHmac("sha256", key).update(message).digest("base64")

const messageOf = (timestamp: number | string, method: string, path: string, body: string | undefined) =>
  // One concatenated string hashes faster than four `update` calls (measured in bench/run.ts).
  `${timestamp}${method.toUpperCase()}${path}${body === undefined || body === "" ? EMPTY_BODY : body}`

/** Decodes an API secret once and returns a signer bound to the decoded key. */
export const makeSigner = (apiSecret: string): Signer => {
  const key = Buffer.from(apiSecret, "base64")
  return (timestamp, method, path, body) => hmacBase64(key, messageOf(timestamp, method, path, body))
}

// A tiny cache of decoded keys: a process signs with one or two secrets, and decoding base64 per call
// costs about a tenth of the whole signature. Bounded so a caller looping over many secrets cannot grow it.
const KEY_CACHE_LIMIT = 16
const keyCache = new Map<string, Buffer>()

const keyFor = (apiSecret: string): Buffer => {
  let key = keyCache.get(apiSecret)
  if (key === undefined) {
    key = Buffer.from(apiSecret, "base64")
    if (keyCache.size >= KEY_CACHE_LIMIT) keyCache.delete(keyCache.keys().next().value as string)
    keyCache.set(apiSecret, key)
  }
  return key
}

/** Computes the `X-SCX-SIGNED` value of one request. */
export const signRequest = (params: SignRequestParams): string =>
  hmacBase64(keyFor(params.apiSecret), messageOf(params.timestamp, params.method, params.path, params.body))

/** Current Unix time in whole seconds, as the `X-SCX-TIMESTAMP` header wants it. */
export const timestampSeconds = (nowMs: number): string => String(Math.floor(nowMs / 1000))
