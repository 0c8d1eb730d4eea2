/**
 * The client's configuration: what a caller passes to `createClient` / `ZeroHashClient.layer`, how it
 * is checked, and how `layerConfig` reads it from the environment.
 *
 * Secrets (`apiSecret`, `passphrase`, `bearerToken`) may be given as plain strings or as `Redacted`
 * values; they are wrapped in `Redacted` at once and unwrapped only to build a request, so neither a
 * configuration error nor a printed client ever shows them.
 *
 * @since 0.1.0
 */
import { Enums } from "@mta/domain"
import { Config, Either, Option, Redacted, Schema } from "effect"
import type { Settings } from "./internal/http.js"
import type { Auth } from "./Protocol.js"
import { defaultPolicy, type RetryPolicy } from "./Retry.js"
import { makeSigner } from "./Signing.js"
import { type FetchLike, fetchTransport, type Transport } from "./Transport.js"

/** A secret as a plain string or an effect `Redacted`. */
export type Secret = string | Redacted.Redacted<string>

/** Credentials for zerohash itself: every request is signed (`X-SCX-*` headers). */
export interface SignedCredentials {
  /** Public key, sent as `X-SCX-API-KEY`. */
  readonly apiKey: string
  /** The base64 secret issued with the key; the HMAC key is its decoded bytes. */
  readonly apiSecret: Secret
  /** Chosen when the key was made, sent as `X-SCX-PASSPHRASE`. */
  readonly passphrase: Secret
}

/** Credentials for the proxy: `Authorization: Bearer <token>`. */
export interface BearerCredentials {
  readonly bearerToken: Secret
}

/** Either kind of credentials. */
export type Credentials = SignedCredentials | BearerCredentials

/** What a client is built from. Only `baseUrl` and `credentials` are required. */
export interface ClientConfig {
  /** zerohash (e.g. `https://api.cert.zerohash.com`) or the proxy; a path prefix is kept and signed. */
  readonly baseUrl: string
  readonly credentials: Credentials
  /** Geo of short ZRN forms (`customer:<uuid>`, a bare UUID). Default `us`. */
  readonly geo?: Enums.Geo | undefined
  /** Time allowed for one attempt, in milliseconds. Default 10 000. */
  readonly timeoutMs?: number | undefined
  /** Time allowed for a whole call with its retries, in milliseconds. Default 30 000. */
  readonly deadlineMs?: number | undefined
  /** Retries after the first attempt. Default 2. */
  readonly maxRetries?: number | undefined
  /** Backoff of the retries: `baseDelayMs` (500), `maxDelayMs` (8 000), `jitter` (true). */
  readonly retry?: Partial<Omit<RetryPolicy, "maxRetries">> | undefined
  /** A `fetch` to send requests with (the global one by default). Ignored when `transport` is given. */
  readonly fetch?: FetchLike | undefined
  /** A transport (e.g. `nodeTransport()` for a server). Default: `fetchTransport(config.fetch)`. */
  readonly transport?: Transport | undefined
  /**
   * How `waitForStatus` waits: `longPoll` uses the proxy's `GET /accounts/{zrn}/status?wait_for=`;
   * `poll` reads the account with backoff. Default: `longPoll` with bearer credentials (the proxy),
   * `poll` otherwise (zerohash has no such endpoint).
   */
  readonly waitStrategy?: "longPoll" | "poll" | undefined
  /** Sent as `User-Agent`. Default `mta-client/<version>`. */
  readonly userAgent?: string | undefined
}

/** The package version, sent in the default `User-Agent`. */
export const VERSION = "0.1.0"

/** A configuration the client cannot work with; `field` names the setting, never its secret value. */
export class InvalidConfig extends Schema.TaggedError<InvalidConfig>()("InvalidConfig", {
  field: Schema.String,
  message: Schema.String
}) {}

/** A checked configuration: what the service runs on. */
export interface Resolved {
  readonly settings: Settings
  readonly geo: Enums.Geo
  readonly waitStrategy: "longPoll" | "poll"
  /** A printable summary with no secret in it. */
  readonly summary: Readonly<Record<string, unknown>>
}

const GEOS: ReadonlySet<string> = new Set(Enums.Geo.literals)

/** zerohash's hosts by environment and region (`upstream-api.md`): the one table of them. */
export const hosts = {
  cert: { us: "https://api.cert.zerohash.com", eu: "https://api.cert.zerohash.eu" },
  prod: { us: "https://api.zerohash.com", eu: "https://api.zerohash.eu" }
} as const

/** An environment of `hosts`. */
export type HostEnv = keyof typeof hosts
/** A region of `hosts`. */
export type HostRegion = keyof (typeof hosts)["cert"]
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=|[A-Za-z0-9+/]{2,3})?$/

const invalid = (field: string, message: string) =>
  Either.left(new InvalidConfig({ field, message: `invalid client configuration: ${field} ${message}` }))

const toRedacted = (secret: Secret): Redacted.Redacted<string> =>
  Redacted.isRedacted(secret) ? secret : Redacted.make(secret)

const positive = (value: number | undefined, fallback: number): number | undefined =>
  value === undefined ? fallback : Number.isFinite(value) && value > 0 ? value : undefined

/** Checks a configuration and builds the settings a client runs on. */
export const resolve = (config: ClientConfig): Either.Either<Resolved, InvalidConfig> => {
  if (typeof config !== "object" || config === null) return invalid("config", "must be an object")
  if (typeof config.baseUrl !== "string" || !URL.canParse(config.baseUrl)) {
    return invalid(
      "baseUrl",
      `must be an absolute http(s) URL, got ${JSON.stringify(String(config.baseUrl))}`
    )
  }
  const url = new URL(config.baseUrl)
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    return invalid("baseUrl", `must use http or https, got ${JSON.stringify(url.protocol)}`)
  }
  if (url.search !== "" || url.hash !== "" || url.username !== "" || url.password !== "") {
    return invalid("baseUrl", "must not carry a query, a fragment or user info")
  }
  const baseUrl = `${url.origin}${url.pathname.replace(/\/+$/, "")}`

  const credentials = config.credentials as Partial<SignedCredentials & BearerCredentials> | undefined
  if (typeof credentials !== "object" || credentials === null) {
    return invalid("credentials", "must be { apiKey, apiSecret, passphrase } or { bearerToken }")
  }
  let auth: Auth
  if (credentials.bearerToken !== undefined) {
    const token = toRedacted(credentials.bearerToken)
    if (Redacted.value(token).length === 0) return invalid("credentials.bearerToken", "must not be empty")
    auth = { kind: "bearer", token }
  } else {
    const { apiKey, apiSecret, passphrase } = credentials
    if (typeof apiKey !== "string" || apiKey.length === 0)
      return invalid("credentials.apiKey", "must be a non-empty string")
    if (apiSecret === undefined) return invalid("credentials.apiSecret", "is required")
    if (passphrase === undefined) return invalid("credentials.passphrase", "is required")
    const secret = Redacted.value(toRedacted(apiSecret))
    // The message never repeats the value: it is a secret even when malformed.
    if (secret.length === 0 || !BASE64.test(secret)) {
      return invalid("credentials.apiSecret", "must be the base64 secret issued with the key")
    }
    auth = { kind: "signed", apiKey, passphrase: toRedacted(passphrase), sign: makeSigner(secret) }
  }

  const geo = config.geo ?? "us"
  if (!GEOS.has(geo)) return invalid("geo", "must be one of us, eu, uk, ww, bz, au")
  const timeoutMs = positive(config.timeoutMs, 10_000)
  if (timeoutMs === undefined) return invalid("timeoutMs", "must be a positive number of milliseconds")
  const deadlineMs = positive(config.deadlineMs, 30_000)
  if (deadlineMs === undefined) return invalid("deadlineMs", "must be a positive number of milliseconds")
  const maxRetries = config.maxRetries ?? defaultPolicy.maxRetries
  if (!Number.isInteger(maxRetries) || maxRetries < 0)
    return invalid("maxRetries", "must be a whole number ≥ 0")
  const retry: RetryPolicy = {
    maxRetries,
    baseDelayMs: config.retry?.baseDelayMs ?? defaultPolicy.baseDelayMs,
    maxDelayMs: config.retry?.maxDelayMs ?? defaultPolicy.maxDelayMs,
    jitter: config.retry?.jitter ?? defaultPolicy.jitter
  }
  if (!(retry.baseDelayMs >= 0 && retry.maxDelayMs >= retry.baseDelayMs)) {
    return invalid("retry", "needs 0 ≤ baseDelayMs ≤ maxDelayMs")
  }
  const waitStrategy = config.waitStrategy ?? (auth.kind === "bearer" ? "longPoll" : "poll")
  const transport = config.transport ?? fetchTransport(config.fetch)
  const userAgent = config.userAgent ?? `mta-client/${VERSION}`
  return Either.right({
    settings: { baseUrl, auth, timeoutMs, deadlineMs, retry, transport, userAgent },
    geo,
    waitStrategy,
    summary: {
      baseUrl,
      auth: auth.kind === "signed" ? { kind: "signed", apiKey: auth.apiKey } : { kind: "bearer" },
      geo,
      timeoutMs,
      deadlineMs,
      retry,
      waitStrategy
    }
  })
}

const optionalNumber = (name: string) => Config.option(Config.number(name))

/**
 * The configuration read from the environment: `ZH_BASE_URL` (or `ZH_ENV` = `cert` | `prod` with
 * `ZH_REGION` = `us` | `eu`), then either `ZH_BEARER_TOKEN` (the proxy) or `ZH_API_KEY`,
 * `ZH_API_SECRET` and `ZH_API_PASSPHRASE`; optionally `ZH_GEO`, `ZH_TIMEOUT_MS`, `ZH_DEADLINE_MS`,
 * `ZH_MAX_RETRIES`. Secrets are read as `Redacted`.
 */
export const fromEnv: Config.Config<ClientConfig> = Config.all({
  baseUrl: Config.option(Config.string("ZH_BASE_URL")),
  env: Config.withDefault(Config.literal("cert", "prod")("ZH_ENV"), "cert" as const),
  region: Config.withDefault(Config.literal("us", "eu")("ZH_REGION"), "us" as const),
  // The proxy's bearer token when set; zerohash's signed credentials otherwise.
  credentials: Config.orElse(
    Config.map(Config.redacted("ZH_BEARER_TOKEN"), (bearerToken): Credentials => ({ bearerToken })),
    () =>
      Config.all({
        apiKey: Config.string("ZH_API_KEY"),
        apiSecret: Config.redacted("ZH_API_SECRET"),
        passphrase: Config.redacted("ZH_API_PASSPHRASE")
      })
  ),
  geo: Config.option(Config.literal(...Enums.Geo.literals)("ZH_GEO")),
  timeoutMs: optionalNumber("ZH_TIMEOUT_MS"),
  deadlineMs: optionalNumber("ZH_DEADLINE_MS"),
  maxRetries: Config.option(Config.integer("ZH_MAX_RETRIES"))
}).pipe(
  Config.map((env): ClientConfig => {
    const baseUrl = Option.getOrElse(env.baseUrl, () => hosts[env.env][env.region])
    return {
      baseUrl,
      credentials: env.credentials,
      geo: Option.getOrElse(env.geo, () => (Option.isNone(env.baseUrl) && env.region === "eu" ? "eu" : "us")),
      timeoutMs: Option.getOrUndefined(env.timeoutMs),
      deadlineMs: Option.getOrUndefined(env.deadlineMs),
      maxRetries: Option.getOrUndefined(env.maxRetries)
    }
  })
)
