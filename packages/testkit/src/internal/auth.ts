/**
 * Authentication as the vendor does it: API key, passphrase, timestamp window and the HMAC signature
 * over the bytes received. Each refusal is a 403 naming the check that failed, never echoing a secret.
 */
import type { Clock } from "../Clock.js"
import { type Credentials, verifyRequest } from "../Signing.js"
import { errors, type RawRequest, type RawResponse } from "./http.js"

const FORBIDDEN_HINT = "sign timestamp + METHOD + path_with_query + body with the base64-decoded API secret"

export class Authenticator {
  private readonly keys: ReadonlyMap<string, Credentials>

  constructor(
    credentials: ReadonlyArray<Credentials>,
    private readonly clock: Clock,
    private readonly timestampWindowMs: number
  ) {
    this.keys = new Map(credentials.map((c) => [c.apiKey, c]))
  }

  /** The 403 to answer, or `undefined` when the request is signed by a known key within the window. */
  check(request: RawRequest): RawResponse | undefined {
    const apiKey = request.header("x-scx-api-key")
    if (apiKey === undefined || apiKey === "") return errors.forbidden("missing X-SCX-API-KEY header")
    const credentials = this.keys.get(apiKey)
    if (credentials === undefined) return errors.forbidden("unknown API key (X-SCX-API-KEY)")
    const passphrase = request.header("x-scx-passphrase")
    if (passphrase === undefined || passphrase === "") {
      return errors.forbidden("missing X-SCX-PASSPHRASE header")
    }
    if (passphrase !== credentials.passphrase) {
      return errors.forbidden("wrong passphrase for this API key (X-SCX-PASSPHRASE)")
    }
    const timestamp = request.header("x-scx-timestamp")
    if (timestamp === undefined || timestamp === "") return errors.forbidden("missing X-SCX-TIMESTAMP header")
    if (!/^\d{1,12}$/.test(timestamp)) {
      return errors.forbidden(
        /^\d{13,}$/.test(timestamp)
          ? "X-SCX-TIMESTAMP looks like milliseconds; send Unix time in seconds"
          : "X-SCX-TIMESTAMP is not a Unix time in seconds"
      )
    }
    const skewMs = Math.abs(this.clock.now() - Number(timestamp) * 1000)
    if (skewMs > this.timestampWindowMs) {
      return errors.forbidden(
        `X-SCX-TIMESTAMP is ${Math.round(skewMs / 1000)} s away from the server's time (at most ${this.timestampWindowMs / 1000} s allowed)`
      )
    }
    const signature = request.header("x-scx-signed")
    if (signature === undefined || signature === "") return errors.forbidden("missing X-SCX-SIGNED header")
    const ok = verifyRequest(
      credentials.apiSecret,
      { timestamp, method: request.method, path: request.target, body: request.body },
      signature
    )
    if (!ok) return errors.forbidden(`invalid signature (X-SCX-SIGNED): ${FORBIDDEN_HINT}`)
    return undefined
  }
}
