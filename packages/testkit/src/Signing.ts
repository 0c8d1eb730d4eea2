/**
 * Request and webhook signatures, computed by the testkit's own code.
 *
 * The testkit never imports `@mta/client`: if the client and the simulator shared one signing
 * function, a mistake in it would pass every test. Both are held to `vectors.json` instead.
 *
 * @since 0.1.0
 */
import { createHmac, timingSafeEqual } from "node:crypto"

/** The three values zerohash hands a platform for one API key. */
export interface Credentials {
  /** Public key, sent as `X-SCX-API-KEY`. */
  readonly apiKey: string
  /** Base64 secret; the HMAC key is its decoded bytes, not the text. */
  readonly apiSecret: string
  /** Chosen when the key was made, sent as `X-SCX-PASSPHRASE`. */
  readonly passphrase: string
}

/** What one request signature covers. */
export interface SignInput {
  /** Unix time in seconds, as sent in `X-SCX-TIMESTAMP`. */
  readonly timestamp: string | number
  readonly method: string
  /** Path with the query string, exactly as sent. */
  readonly path: string
  /** The exact body text sent; a body-less request signs `{}`. */
  readonly body?: string | undefined
}

const keyCache = new Map<string, Buffer>()

/** The HMAC key of an API secret (its base64-decoded bytes); cached because every request needs it. */
export const decodeSecret = (apiSecret: string): Buffer => {
  let key = keyCache.get(apiSecret)
  if (key === undefined) {
    key = Buffer.from(apiSecret, "base64")
    if (keyCache.size > 64) keyCache.clear()
    keyCache.set(apiSecret, key)
  }
  return key
}

/** The string the vendor signs: `timestamp + METHOD + path_with_query + body`. */
export const signedMessage = (input: SignInput): string =>
  `${input.timestamp}${input.method.toUpperCase()}${input.path}${input.body === undefined || input.body === "" ? "{}" : input.body}`

/** `X-SCX-SIGNED`: base64 HMAC-SHA256 of the signed message, keyed with the decoded secret. */
export const signRequest = (apiSecret: string, input: SignInput): string =>
  createHmac("sha256", decodeSecret(apiSecret)).update(signedMessage(input)).digest("base64")

/** Whether `signature` is the one `signRequest` gives; compares in constant time. */
export const verifyRequest = (apiSecret: string, input: SignInput, signature: string): boolean => {
  const expected = createHmac("sha256", decodeSecret(apiSecret)).update(signedMessage(input)).digest()
  const given = Buffer.from(signature, "base64")
  // Length first: timingSafeEqual throws on a length mismatch, and a wrong length reveals nothing.
  return given.length === expected.length && timingSafeEqual(given, expected)
}

/** The four `X-SCX-*` headers of a signed request; `timestamp` defaults to now (seconds). */
export const signedHeaders = (
  credentials: Credentials,
  input: Omit<SignInput, "timestamp"> & { readonly timestamp?: string | number | undefined }
): Record<string, string> => {
  const timestamp = String(input.timestamp ?? Math.floor(Date.now() / 1000))
  return {
    "X-SCX-API-KEY": credentials.apiKey,
    "X-SCX-PASSPHRASE": credentials.passphrase,
    "X-SCX-TIMESTAMP": timestamp,
    "X-SCX-SIGNED": signRequest(credentials.apiSecret, { ...input, timestamp })
  }
}

/** `x-zh-hook-signature`: hex HMAC-SHA256 keyed with the secret's UTF-8 text over `raw_body + timestamp`. */
export const signWebhook = (secret: string, rawBody: string, timestamp: string | number): string =>
  createHmac("sha256", secret).update(`${rawBody}${timestamp}`).digest("hex")

/** `x-zh-hook-signature-256` (legacy, sent in parallel): hex HMAC-SHA256 over the raw body alone. */
export const signWebhookLegacy = (secret: string, rawBody: string): string =>
  createHmac("sha256", secret).update(rawBody).digest("hex")

/** Constant-time comparison of two hex signatures. */
export const hexEquals = (a: string, b: string): boolean => {
  const x = Buffer.from(a, "hex")
  const y = Buffer.from(b, "hex")
  return x.length === y.length && x.length > 0 && timingSafeEqual(x, y)
}
