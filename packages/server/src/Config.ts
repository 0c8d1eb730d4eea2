/**
 * The proxy's configuration, read from the environment and validated once at startup.
 *
 * Two modes. With none of `ZH_BASE_URL` / `ZH_ENV` set the proxy runs its embedded default: the
 * testkit simulator in process (seeded participants, signed webhooks delivered into the proxy) and a
 * `dev` caller with every scope. With a real upstream (`ZH_BASE_URL`, or `ZH_ENV` + `ZH_REGION`) the
 * credentials, the webhook secret and `MTA_CALLERS` are required, and there is no default caller.
 *
 * `load` reports every missing or malformed setting at once, each named, in one `ConfigError`.
 *
 * Every setting may instead be read from a file: `X_FILE=/run/secrets/x` (what container platforms
 * mount secrets as), through `settingValue`; `X` and `X_FILE` together are an error.
 *
 * @since 0.1.0
 */
import { closeSync, fstatSync, openSync, readFileSync } from "node:fs"
import { resolve } from "node:path"
import { hosts } from "@mta/client"
import { Enums, Limits } from "@mta/domain"
import { Either, ParseResult, Redacted, Schema, SchemaAST } from "effect"
import { allScopes, type CallerEntry, hashToken, parseCallers, type RateLimitSetting } from "./Callers.js"
import { secretSettings } from "./internal/secrets.js"

/** The environment as `process.env` holds it. */
export type Env = Readonly<Record<string, string | undefined>>

/** zerohash's hosts by environment and region: the client's table (`@mta/client`'s `hosts`). */
export { hosts }

/** The geographic entities a short ZRN form can be read in: the domain's `Enums.Geo`. */
export const Geo = Enums.Geo
/** The geographic entity short ZRN forms are read in. */
export type Geo = Enums.Geo

/** The API credentials zerohash issues for one key; the secret and the passphrase stay `Redacted`. */
export interface Credentials {
  readonly apiKey: string
  readonly apiSecret: Redacted.Redacted<string>
  readonly passphrase: Redacted.Redacted<string>
}

/** The request body limits, bytes. */
export interface BodyLimits {
  readonly api: number
  readonly webhook: number
}

/**
 * Every default of the proxy, in one place: `load` fills a missing setting from it and `App.make`
 * fills a missing dependency from it. Figures that are ours and not the vendor's are **Decisions**
 * (README, "Configuration" and "Limits").
 */
export const defaults = {
  port: 8080,
  /** The embedded default binds loopback only; with a real upstream every interface. */
  host: { embedded: "127.0.0.1", remote: "0.0.0.0" },
  logLevel: "info",
  geo: "us",
  /** The vendor's documented limit: 2 000 requests per rolling 10 s, per source IP. */
  egressLimit: { requests: 2_000, window_ms: 10_000 },
  callerWindowMs: 1_000,
  upstreamShare: 0.5,
  upstreamTimeoutMs: 10_000,
  simDelayMs: 300,
  longPollMaxMs: 60_000,
  longPollDefaultMs: 30_000,
  sseHeartbeatMs: 15_000,
  shutdownTimeoutMs: 10_000,
  idempotencyTtlMs: 86_400_000,
  /** How long past the upstream deadline a claimed key is held before another proxy may take it over. */
  idempotencyLeaseMarginMs: 30_000,
  /** The lease when the deadline is not known (an app built by hand). */
  idempotencyLeaseMs: 60_000,
  /** How long a create may stay pending (outcome unknown) before its final answer (production.md §5: < 2 min). */
  idempotencyPendingMaxMs: 90_000,
  /** How long after a re-send that settled nothing a pending create is sent again. */
  idempotencyResendAfterMs: 10_000,
  /** How often the resolver looks for pending creates. */
  idempotencyResolveIntervalMs: 5_000,
  bodyLimits: { api: Limits.defaults.apiBodyBytes, webhook: Limits.defaults.webhookBodyBytes },
  readyRequiresUpstream: false,
  /** The shared budget (PostgreSQL store): the most slots a replica leases at once, and for how long. */
  budgetBlock: 20,
  budgetLeaseMs: 2_000,
  /** How long a record the upstream confirmed is trusted to refuse a status command without a re-read. */
  projectionTrustMs: 60_000,
  /** Every known account confirmed longer ago than this is re-read in the background. */
  reconcileMaxAgeMs: 900_000,
  /** An account still provisioning this long after its last confirmation is re-read. */
  reconcileProvisioningMs: 30_000,
  /** The background reconciliation's share of the vendor budget (0: off). */
  reconcileShare: 0.1,
  /** Its share while it catches up after a downtime (a **Decision**: README "Reconciliation"). */
  reconcileCatchUpShare: 0.5,
  /** How often the background reconciliation claims what is due. */
  reconcileIntervalMs: 1_000,
  /** A start after longer than this with no proxy alive re-reads every account confirmed before it. */
  reconcileDowntimeMs: 5_000,
  dataDir: "./.mta-data",
  devToken: "dev-token",
  /** Legacy-signed webhooks (body-only HMAC) are refused unless `ZH_WEBHOOK_ACCEPT_LEGACY=true`. */
  webhookAcceptLegacy: false,
  /** How long the webhook inbox and the event log keep an entry: 30 days. */
  retentionDays: 30,
  /** How often the background pruning runs. */
  retentionIntervalMs: 600_000
} as const

/** Where requests go: the embedded simulator, or a real (or standalone simulated) upstream. */
export type Upstream =
  | {
      readonly mode: "embedded"
      /** Delay of the simulator's asynchronous steps (provisioning, status changes), in ms. */
      readonly simDelayMs: number
    }
  | {
      readonly mode: "remote"
      readonly baseUrl: string
      readonly credentials: Credentials
      /** `ZH_WEBHOOK_SECRET` as given (a comma-separated list during a rotation). */
      readonly webhookSecret: Redacted.Redacted<string>
      /** The secrets of `ZH_WEBHOOK_SECRET`, each trimmed: any one verifies a webhook. */
      readonly webhookSecrets: ReadonlyArray<Redacted.Redacted<string>>
      /** Per-call deadline of an upstream request, in ms. */
      readonly timeoutMs: number
    }

/**
 * Where the proxy's state lives: the embedded store on local disk (the default), PostgreSQL
 * (`DATABASE_URL`, for replicas), or memory (`MTA_STORE=memory`: tests and throwaway runs).
 */
export type StoreConfig =
  | { readonly kind: "memory" }
  | {
      readonly kind: "embedded"
      /** Absolute path of the data directory. */
      readonly dataDir: string
    }
  | { readonly kind: "postgres"; readonly url: Redacted.Redacted<string> }

/** The default data directory of the embedded store, relative to the working directory. */
export const DEFAULT_DATA_DIR = defaults.dataDir

/** The default lifetime of an idempotency key: 24 hours. */
export const DEFAULT_IDEMPOTENCY_TTL_MS = defaults.idempotencyTtlMs

/**
 * What the app is tuned by: read from the environment by `load`, and each an optional dependency of
 * `App.make` (which takes `defaults` for a missing one), so each is declared once, here.
 */
export interface Tunables {
  /** Geo of short ZRN forms (`customer:<uuid>`, a bare UUID). */
  readonly geo: Geo
  /** The vendor's limit, shared by every caller; `undefined` when `ZH_RATE_LIMIT=0`. */
  readonly egressLimit: RateLimitSetting | undefined
  /** Budget of each caller without its own `rate_limit`; `undefined` for none. */
  readonly callerLimit: RateLimitSetting | undefined
  /** Share of the vendor's budget of a caller without its own `upstream_share`, (0, 1]. */
  readonly upstreamShare: number
  /** Request body limits, bytes: the API routes, the webhook route. */
  readonly bodyLimits: BodyLimits
  /** Longest `timeout_ms` a long poll may ask for. */
  readonly longPollMaxMs: number
  /** A long poll's wait without `timeout_ms` (at most `longPollMaxMs`). */
  readonly longPollDefaultMs: number
  /** Interval of the keep-alive comment on `/events`. */
  readonly sseHeartbeatMs: number
  /** How long an idempotency key is remembered. */
  readonly idempotencyTtlMs: number
  /**
   * How long a claimed key is held for its call; after it, the proxy that claimed it is taken for dead
   * (another may take the key over, or reconcile a create). Above the upstream deadline. A record
   * claimed for a re-read (`Store.claimDue`) is held as long.
   */
  readonly idempotencyLeaseMs: number
  /** How long a create may stay pending (outcome unknown) before its final answer. */
  readonly idempotencyPendingMaxMs: number
  /** How long after a re-send that settled nothing a pending create is sent again. */
  readonly idempotencyResendAfterMs: number
  /** How often the resolver looks for pending creates (re-sends them, answers them). */
  readonly idempotencyResolveIntervalMs: number
  /** Accept a webhook signed only with the legacy body-only HMAC (then a body seen before is a duplicate). */
  readonly webhookAcceptLegacy: boolean
  /**
   * How long a record the upstream confirmed (a webhook, a read) is trusted: a status command it
   * would refuse is refused at once within it; past it, the account is re-read first.
   */
  readonly projectionTrustMs: number
  /** Every known account whose last confirmation is older than this is re-read in the background. */
  readonly reconcileMaxAgeMs: number
  /** An account still provisioning (no status) this long after its last confirmation is re-read. */
  readonly reconcileProvisioningMs: number
  /** The background reconciliation's share of the vendor budget, [0, 1]; 0 turns it off. */
  readonly reconcileShare: number
  /** Its share while catching up after a downtime, (0, 1], at least `reconcileShare`. */
  readonly reconcileCatchUpShare: number
  /** How often the background reconciliation claims the records due (one batch each time). */
  readonly reconcileIntervalMs: number
  /**
   * After longer than this with no proxy alive (heartbeats in the store), the proxy re-reads every
   * account confirmed before it came back: webhooks sent meanwhile may be lost.
   */
  readonly reconcileDowntimeMs: number
}

/** The validated configuration. */
export interface Config extends Tunables {
  readonly port: number
  readonly host: string
  readonly logLevel: "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent"
  readonly upstream: Upstream
  readonly callers: ReadonlyArray<CallerEntry>
  /**
   * The development token, only when the `dev` caller was made from it (no `MTA_CALLERS`, embedded
   * mode), so startup can tell the developer how to call; `isDefault` says whether it is `dev-token`.
   */
  readonly devToken: { readonly token: Redacted.Redacted<string>; readonly isDefault: boolean } | undefined
  /** How long a shutdown waits for in-flight requests before closing connections. */
  readonly shutdownTimeoutMs: number
  /** Where state lives. */
  readonly store: StoreConfig
  /** Whether `/readyz` turns 503 when the upstream does not answer (default: it only reports it). */
  readonly readyRequiresUpstream: boolean
  /** How long the webhook inbox and the event log keep an entry, ms (`MTA_RETENTION_DAYS`). */
  readonly retentionMs: number
  /**
   * How replicas share the vendor's budget through PostgreSQL (`internal/sharedBudget.ts`): the most
   * slots one replica leases at once (`MTA_BUDGET_BLOCK`), and how long it may spend them before the
   * rest go back (`MTA_BUDGET_LEASE_MS`). Used with the PostgreSQL store only.
   */
  readonly budget: { readonly block: number; readonly leaseMs: number }
}

/** The settings whose values are secrets: never repeated in an error, kept `Redacted`. */
export { secretSettings } from "./internal/secrets.js"

/** One problem with one setting. */
export interface ConfigProblem {
  readonly setting: string
  readonly message: string
}

/** The environment does not make a valid configuration; `problems` names every setting at fault. */
export class ConfigError extends Schema.TaggedError<ConfigError>()("ConfigError", {
  problems: Schema.Array(Schema.Struct({ setting: Schema.String, message: Schema.String })),
  message: Schema.String
}) {}

/** The default development token (embedded mode without `MTA_CALLERS`). */
export const DEFAULT_DEV_TOKEN = defaults.devToken

const Int = (min: number, max: number) =>
  Schema.NumberFromString.pipe(
    Schema.int({ message: () => "expected an integer" }),
    Schema.between(min, max, { message: () => `expected an integer from ${min} to ${max}` })
  )

const Url = Schema.String.pipe(
  Schema.filter((s) => {
    try {
      const url = new URL(s)
      return url.protocol === "http:" || url.protocol === "https:" ? undefined : "expected an http(s) URL"
    } catch {
      return "expected an absolute URL such as https://api.cert.zerohash.com"
    }
  })
)

const Base64 = Schema.String.pipe(
  Schema.filter((s) =>
    /^[A-Za-z0-9+/]+={0,2}$/.test(s) && s.length % 4 === 0 ? undefined : "expected the base64 API secret"
  )
)

const Fraction = Schema.NumberFromString.pipe(
  Schema.greaterThan(0, { message: () => "expected a fraction above 0 and at most 1, such as 0.5" }),
  Schema.lessThanOrEqualTo(1, { message: () => "expected a fraction above 0 and at most 1, such as 0.5" })
)

const FractionOrZero = Schema.NumberFromString.pipe(
  Schema.between(0, 1, { message: () => "expected a fraction from 0 to 1, such as 0.1 (0 turns it off)" })
)

const Bool = Schema.transform(
  Schema.String.pipe(
    Schema.filter((s) => (["true", "false", "1", "0"].includes(s) ? undefined : "expected true or false"))
  ),
  Schema.Boolean,
  { strict: true, decode: (s) => s === "true" || s === "1", encode: (b) => (b ? "true" : "false") }
)

/** Addresses that only this machine can reach. */
export const isLoopback = (host: string): boolean => {
  const h = host.toLowerCase().replace(/^\[|\]$/g, "")
  return (
    h === "localhost" || h === "::1" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h) || h === "::ffff:127.0.0.1"
  )
}

/** The suffix of a setting read from a file: `ZH_API_SECRET_FILE` names the file `ZH_API_SECRET` is in. */
export const FILE_SUFFIX = "_FILE"

/** The largest file a setting is read from (a secret, a URL, a callers list): 1 MiB. */
export const MAX_SETTING_FILE_BYTES = 1_048_576

/** Where a setting's value came from: the environment itself, or a file (`X_FILE`, its path). */
export interface SettingValue {
  readonly value: string
  readonly file: string | undefined
}

/**
 * A setting's value: `env[name]`, or the content of the file `env[name + "_FILE"]` names (surrounding
 * whitespace, the trailing newline above all, trimmed as for an environment value). `undefined` when
 * neither is set (an empty value is unset). Both set, an unreadable file, a file that is not a regular
 * file, empty or over `MAX_SETTING_FILE_BYTES` are problems; a problem names the file but never
 * repeats its content. Generic: every setting `load` reads goes through it.
 */
export const settingValue = (
  env: Env,
  name: string
): Either.Either<SettingValue | undefined, ConfigProblem> => {
  const fileSetting = `${name}${FILE_SUFFIX}`
  const direct = env[name]?.trim()
  const path = env[fileSetting]?.trim()
  const hasDirect = direct !== undefined && direct !== ""
  const hasFile = path !== undefined && path !== ""
  if (hasDirect && hasFile) {
    return Either.left({ setting: name, message: `is set and so is ${fileSetting}: set only one of them` })
  }
  if (hasDirect) return Either.right({ value: direct, file: undefined })
  if (!hasFile) return Either.right(undefined)
  const fail = (why: string) => Either.left({ setting: fileSetting, message: `cannot read ${path}: ${why}` })
  let fd: number | undefined
  try {
    fd = openSync(path, "r")
    const stat = fstatSync(fd)
    if (!stat.isFile()) return fail("not a regular file")
    if (stat.size > MAX_SETTING_FILE_BYTES) return fail(`larger than ${MAX_SETTING_FILE_BYTES} bytes`)
    const text = readFileSync(fd, "utf8").trim()
    if (text === "") return fail("the file is empty")
    return Either.right({ value: text, file: path })
  } catch (e) {
    const error = e as NodeJS.ErrnoException
    return fail(error.code ?? "unreadable")
  } finally {
    if (fd !== undefined) closeSync(fd)
  }
}

const NonEmpty = Schema.String.pipe(Schema.minLength(1, { message: () => "must not be empty" }))

const describe = (error: ParseResult.ParseError): string =>
  ParseResult.ArrayFormatter.formatErrorSync(error)
    .map((i) => i.message)
    .join("; ")

/** The choices of a setting that is one of a few words (`Schema.Literal`), else `undefined`. */
const choicesOf = (ast: SchemaAST.AST): ReadonlyArray<string> | undefined => {
  const members = SchemaAST.isUnion(ast) ? ast.types : [ast]
  const words = members.map((m) => (SchemaAST.isLiteral(m) ? m.literal : undefined))
  return words.every((w): w is string => typeof w === "string") ? words : undefined
}

/** An example beside a choice that is not the whole story. */
const choiceExamples: Record<string, string> = {
  ZH_ENV: "ZH_ENV=cert ZH_REGION=us (zerohash's certification environment in the US)",
  ZH_REGION: "ZH_ENV=cert ZH_REGION=us",
  LOG_LEVEL: "LOG_LEVEL=info",
  MTA_STORE: "MTA_STORE=embedded (or memory, or postgres with DATABASE_URL)"
}

/** Reads and validates the configuration; every problem is listed in the error. */
export const load = (env: Env): Either.Either<Config, ConfigError> => {
  const problems: Array<ConfigProblem> = []
  const problem = (setting: string, message: string) => problems.push({ setting, message })
  // Each setting is read once (`X` or `X_FILE`), so a file is read once and its problem named once.
  const settings = new Map<string, SettingValue | undefined>()
  const failed = new Set<string>()
  const setting = (name: string): SettingValue | undefined => {
    if (settings.has(name)) return settings.get(name)
    const read = settingValue(env, name)
    const found = Either.isRight(read) ? read.right : undefined
    if (Either.isLeft(read)) {
      failed.add(name)
      problem(read.left.setting, read.left.message)
    }
    settings.set(name, found)
    return found
  }
  const value = (name: string): string | undefined => setting(name)?.value
  /** Set (as `X` or `X_FILE`), even if it could not be read: its problem is reported already. */
  const present = (name: string): boolean => value(name) !== undefined || failed.has(name)
  function read<A, I extends string>(name: string, schema: Schema.Schema<A, I>, fallback: A): A
  function read<A, I extends string>(name: string, schema: Schema.Schema<A, I>): A | undefined
  function read<A, I extends string>(name: string, schema: Schema.Schema<A, I>, fallback?: A): A | undefined {
    const raw = value(name)
    if (raw === undefined) return fallback
    const decoded = Schema.decodeUnknownEither(schema)(raw)
    if (Either.isLeft(decoded)) {
      const file = setting(name)?.file
      const got =
        file !== undefined ? `the content of ${file}` : JSON.stringify(secretSettings.has(name) ? "…" : raw)
      const choices = choicesOf(schema.ast)
      problem(
        name,
        choices === undefined
          ? `${describe(decoded.left)} (got ${got})`
          : `is ${got}; expected ${choices.length === 1 ? choices[0] : `${choices.slice(0, -1).join(", ")} or ${choices.at(-1)}`}, e.g. ${choiceExamples[name] ?? `${name}=${choices[0]}`}`
      )
      return fallback
    }
    return decoded.right
  }
  const required = (name: string, why: string): string | undefined => {
    const raw = value(name)
    if (raw === undefined && !failed.has(name)) problem(name, `is required ${why}`)
    return raw
  }

  const port = read("PORT", Int(0, 65535), defaults.port)
  const logLevel = read(
    "LOG_LEVEL",
    Schema.Literal("fatal", "error", "warn", "info", "debug", "trace", "silent"),
    defaults.logLevel
  )
  const longPollMaxMs = read("MTA_LONG_POLL_MAX_MS", Int(1, 3_600_000), defaults.longPollMaxMs)
  const sseHeartbeatMs = read("MTA_SSE_HEARTBEAT_MS", Int(100, 3_600_000), defaults.sseHeartbeatMs)
  const shutdownTimeoutMs = read("MTA_SHUTDOWN_TIMEOUT_MS", Int(0, 600_000), defaults.shutdownTimeoutMs)

  const zhRate = read("ZH_RATE_LIMIT", Int(0, 10_000_000), defaults.egressLimit.requests)
  const zhWindow = read("ZH_RATE_WINDOW_MS", Int(1, 3_600_000), defaults.egressLimit.window_ms)
  const callerRate = read("MTA_CALLER_RATE_LIMIT", Int(0, 10_000_000), 0)
  const callerWindow = read("MTA_CALLER_RATE_WINDOW_MS", Int(1, 3_600_000), defaults.callerWindowMs)

  // Callers.
  let callers: ReadonlyArray<CallerEntry> | undefined
  const callersRaw = value("MTA_CALLERS")
  if (callersRaw !== undefined) {
    let text = callersRaw
    if (callersRaw.startsWith("@")) {
      try {
        text = readFileSync(callersRaw.slice(1), "utf8")
      } catch (e) {
        problem(
          "MTA_CALLERS",
          `cannot read the file ${callersRaw.slice(1)} (${(e as NodeJS.ErrnoException).code})`
        )
        text = ""
      }
    }
    if (text !== "") {
      const parsed = parseCallers(text)
      if (Either.isLeft(parsed)) problem("MTA_CALLERS", parsed.left)
      else if (parsed.right.length === 0) problem("MTA_CALLERS", "lists no caller (expected at least one)")
      else callers = parsed.right
    }
  }

  // Upstream.
  const baseUrlRaw = read("ZH_BASE_URL", Url)
  const zhEnv = read("ZH_ENV", Schema.Literal("cert", "prod"))
  const region = read("ZH_REGION", Schema.Literal("us", "eu"))
  const remote = present("ZH_BASE_URL") || present("ZH_ENV")
  let upstream: Upstream | undefined
  let devToken: Config["devToken"]
  if (remote) {
    if (value("ZH_BASE_URL") !== undefined && value("ZH_ENV") !== undefined) {
      problem("ZH_ENV", "set either ZH_BASE_URL or ZH_ENV (with ZH_REGION), not both")
    }
    if (value("ZH_ENV") !== undefined && value("ZH_REGION") === undefined) {
      problem("ZH_REGION", "is required with ZH_ENV (us or eu)")
    }
    const why = "with a real upstream (ZH_BASE_URL or ZH_ENV is set)"
    const apiKey = required("ZH_API_KEY", why)
    const apiSecret = required("ZH_API_SECRET", why) === undefined ? undefined : read("ZH_API_SECRET", Base64)
    const passphrase = required("ZH_API_PASSPHRASE", why)
    const webhookSecret = required("ZH_WEBHOOK_SECRET", why)
    const webhookSecrets = webhookSecret === undefined ? undefined : splitSecrets(webhookSecret)
    if (webhookSecrets === undefined && webhookSecret !== undefined) {
      problem(
        "ZH_WEBHOOK_SECRET",
        "has an empty entry: expected one secret, or several separated by commas (a rotation), none empty"
      )
    }
    if (!present("MTA_CALLERS")) problem("MTA_CALLERS", `is required ${why}: there is no default caller`)
    const timeoutMs = read("ZH_TIMEOUT_MS", Int(1, 600_000), defaults.upstreamTimeoutMs)
    const baseUrl =
      baseUrlRaw ?? (zhEnv !== undefined && region !== undefined ? hosts[zhEnv][region] : undefined)
    if (
      baseUrl !== undefined &&
      apiKey !== undefined &&
      apiSecret !== undefined &&
      passphrase !== undefined &&
      webhookSecret !== undefined &&
      webhookSecrets !== undefined
    ) {
      upstream = {
        mode: "remote",
        baseUrl: baseUrl.replace(/\/+$/, ""),
        credentials: { apiKey, apiSecret: Redacted.make(apiSecret), passphrase: Redacted.make(passphrase) },
        webhookSecret: Redacted.make(webhookSecret),
        webhookSecrets: webhookSecrets.map((secret) => Redacted.make(secret)),
        timeoutMs
      }
    }
  } else {
    for (const name of ["ZH_API_KEY", "ZH_API_SECRET", "ZH_API_PASSPHRASE", "ZH_REGION"]) {
      if (present(name)) problem(name, "is set but neither ZH_BASE_URL nor ZH_ENV says where to send it")
    }
    const simDelayMs = read("MTA_SIM_DELAY_MS", Int(0, 600_000), defaults.simDelayMs)
    upstream = { mode: "embedded", simDelayMs }
    if (!present("MTA_CALLERS")) {
      const token = read("MTA_DEV_TOKEN", NonEmpty, defaults.devToken)
      devToken = { token: Redacted.make(token), isDefault: token === defaults.devToken }
      callers = [{ name: "dev", token_sha256: hashToken(token), scopes: allScopes }]
    }
  }
  // State.
  const idempotencyTtlMs = read(
    "MTA_IDEMPOTENCY_TTL_MS",
    Int(1_000, 2_592_000_000),
    defaults.idempotencyTtlMs
  )
  const idempotencyPendingMaxMs = read(
    "MTA_IDEMPOTENCY_PENDING_MAX_MS",
    Int(1_000, 110_000),
    defaults.idempotencyPendingMaxMs
  )
  const idempotencyResendAfterMs = read(
    "MTA_IDEMPOTENCY_RESEND_AFTER_MS",
    Int(100, 60_000),
    defaults.idempotencyResendAfterMs
  )
  const idempotencyResolveIntervalMs = read(
    "MTA_IDEMPOTENCY_RESOLVE_INTERVAL_MS",
    Int(50, 60_000),
    defaults.idempotencyResolveIntervalMs
  )
  // The bound of production.md §5: a pending create gets its final answer by the first resolver pass
  // after the pending limit, whose answer may wait for one upstream call.
  const upstreamDeadline = upstream?.mode === "remote" ? upstream.timeoutMs : defaults.upstreamTimeoutMs
  if (idempotencyPendingMaxMs + idempotencyResolveIntervalMs + upstreamDeadline > 120_000) {
    problem(
      "MTA_IDEMPOTENCY_PENDING_MAX_MS",
      `plus MTA_IDEMPOTENCY_RESOLVE_INTERVAL_MS plus the upstream deadline (ZH_TIMEOUT_MS) is ${idempotencyPendingMaxMs + idempotencyResolveIntervalMs + upstreamDeadline} ms; expected at most 120000 (no key may stay pending longer than 2 minutes)`
    )
  }
  const databaseUrl = value("DATABASE_URL")
  if (databaseUrl !== undefined) {
    let ok = false
    try {
      const u = new URL(databaseUrl)
      ok = (u.protocol === "postgres:" || u.protocol === "postgresql:") && u.hostname !== ""
    } catch {
      ok = false
    }
    // Never repeat the value: it usually holds a password.
    if (!ok) problem("DATABASE_URL", "expected postgres://user:password@host:port/database")
  }
  const storeKind = read("MTA_STORE", Schema.Literal("memory", "embedded", "postgres"))
  let store: StoreConfig | undefined
  if (storeKind === "postgres" || (storeKind === undefined && databaseUrl !== undefined)) {
    if (databaseUrl === undefined) problem("DATABASE_URL", "is required with MTA_STORE=postgres")
    else store = { kind: "postgres", url: Redacted.make(databaseUrl) }
  } else if (storeKind !== undefined && databaseUrl !== undefined) {
    problem("MTA_STORE", `is ${storeKind} but DATABASE_URL is set too: unset one of them`)
  } else if (storeKind === "memory") {
    store = { kind: "memory" }
  } else {
    // A relative MTA_DATA_DIR is relative to where the command was typed: `pnpm start` at the repo root
    // runs in packages/server, and pnpm (like npm) passes the original directory as INIT_CWD.
    store = {
      kind: "embedded",
      dataDir: resolve(value("INIT_CWD") ?? process.cwd(), value("MTA_DATA_DIR") ?? defaults.dataDir)
    }
  }
  const budget = {
    block: read("MTA_BUDGET_BLOCK", Int(1, 100_000), defaults.budgetBlock),
    leaseMs: read("MTA_BUDGET_LEASE_MS", Int(10, 600_000), defaults.budgetLeaseMs)
  }
  for (const name of ["MTA_BUDGET_BLOCK", "MTA_BUDGET_LEASE_MS"]) {
    if (value(name) !== undefined && store !== undefined && store.kind !== "postgres") {
      problem(
        name,
        `is set but the store is ${store.kind}, whose vendor budget is per process: it applies to the PostgreSQL store (DATABASE_URL) only`
      )
    }
  }
  if (value("MTA_DATA_DIR") !== undefined && store !== undefined && store.kind !== "embedded") {
    problem("MTA_DATA_DIR", `is set but the store is ${store.kind}, which does not use it`)
  }

  const geo = read("ZH_GEO", Geo, region ?? defaults.geo)
  const host = value("HOST") ?? (remote ? defaults.host.remote : defaults.host.embedded)
  if (!remote && !isLoopback(host)) {
    // Fail closed: the embedded default serves a fake upstream and (without MTA_CALLERS) a caller with
    // every scope; it is for a developer's machine and never listens beyond it.
    problem(
      "HOST",
      `is ${JSON.stringify(host)}, but the embedded default (no ZH_BASE_URL or ZH_ENV: an in-process simulator${callersRaw === undefined ? " and the dev caller with every scope" : ""}) only binds a loopback address (127.0.0.1, ::1 or localhost); set ZH_BASE_URL or ZH_ENV with its credentials to serve other addresses, or unset HOST`
    )
  }
  const bodyLimits = {
    api: read("MTA_BODY_LIMIT_BYTES", Int(1_024, 16_777_216), defaults.bodyLimits.api),
    webhook: read("MTA_WEBHOOK_BODY_LIMIT_BYTES", Int(1_024, 16_777_216), defaults.bodyLimits.webhook)
  }
  const upstreamShare = read("MTA_UPSTREAM_SHARE", Fraction, defaults.upstreamShare)
  const readyRequiresUpstream = read("MTA_READY_REQUIRES_UPSTREAM", Bool, defaults.readyRequiresUpstream)
  const webhookAcceptLegacy = read("ZH_WEBHOOK_ACCEPT_LEGACY", Bool, defaults.webhookAcceptLegacy)
  const retentionDays = read("MTA_RETENTION_DAYS", Int(1, 3_650), defaults.retentionDays)

  // Reconciliation of the projection with the upstream (README "Reconciliation").
  const projectionTrustMs = read("MTA_PROJECTION_TRUST_MS", Int(0, 86_400_000), defaults.projectionTrustMs)
  const reconcileMaxAgeMs = read(
    "MTA_RECONCILE_MAX_AGE_MS",
    Int(1_000, 2_592_000_000),
    defaults.reconcileMaxAgeMs
  )
  const reconcileProvisioningMs = read(
    "MTA_RECONCILE_PROVISIONING_MS",
    Int(1_000, 86_400_000),
    defaults.reconcileProvisioningMs
  )
  const reconcileShare = read("MTA_RECONCILE_SHARE", FractionOrZero, defaults.reconcileShare)
  const reconcileCatchUpShare = read(
    "MTA_RECONCILE_CATCH_UP_SHARE",
    Fraction,
    Math.max(defaults.reconcileCatchUpShare, reconcileShare)
  )
  if (reconcileCatchUpShare < reconcileShare) {
    problem(
      "MTA_RECONCILE_CATCH_UP_SHARE",
      `is ${reconcileCatchUpShare}, below MTA_RECONCILE_SHARE (${reconcileShare}): the catch-up after a downtime must not be slower than the background sweep`
    )
  }
  const reconcileIntervalMs = read("MTA_RECONCILE_INTERVAL_MS", Int(50, 60_000), defaults.reconcileIntervalMs)
  // A heartbeat goes every third of it (at most every second): at least 300 ms, so one late beat
  // (a busy event loop) is not taken for a downtime.
  const reconcileDowntimeMs = read(
    "MTA_RECONCILE_DOWNTIME_MS",
    Int(300, 86_400_000),
    defaults.reconcileDowntimeMs
  )

  if (problems.length > 0 || upstream === undefined || callers === undefined || store === undefined) {
    return Either.left(
      new ConfigError({
        problems,
        message: `invalid configuration:\n${problems.map((p) => `  - ${p.setting}: ${p.message}`).join("\n")}`
      })
    )
  }
  return Either.right({
    port,
    host,
    logLevel,
    upstream,
    geo,
    callers,
    devToken,
    egressLimit: zhRate === 0 ? undefined : { requests: zhRate, window_ms: zhWindow },
    longPollDefaultMs: Math.min(defaults.longPollDefaultMs, longPollMaxMs),
    idempotencyLeaseMs:
      (upstream.mode === "remote" ? upstream.timeoutMs : defaults.upstreamTimeoutMs) +
      defaults.idempotencyLeaseMarginMs,
    callerLimit: callerRate === 0 ? undefined : { requests: callerRate, window_ms: callerWindow },
    longPollMaxMs,
    sseHeartbeatMs,
    shutdownTimeoutMs,
    store,
    idempotencyTtlMs,
    idempotencyPendingMaxMs,
    idempotencyResendAfterMs,
    idempotencyResolveIntervalMs,
    bodyLimits,
    upstreamShare,
    readyRequiresUpstream,
    webhookAcceptLegacy,
    retentionMs: retentionDays * 86_400_000,
    budget,
    projectionTrustMs,
    reconcileMaxAgeMs,
    reconcileProvisioningMs,
    reconcileShare,
    reconcileCatchUpShare,
    reconcileIntervalMs,
    reconcileDowntimeMs
  })
}

/**
 * The secrets of a `ZH_WEBHOOK_SECRET` value: comma-separated, each trimmed; `undefined` when an
 * entry is empty (`a,,b`, a trailing comma), which is a typo rather than a secret.
 */
export const splitSecrets = (value: string): ReadonlyArray<string> | undefined => {
  const secrets = value.split(",").map((s) => s.trim())
  return secrets.every((s) => s !== "") ? secrets : undefined
}

/** A database URL without its password, fit for a log line or the startup banner. */
export const describeDatabaseUrl = (url: string): string => {
  try {
    const u = new URL(url)
    if (u.password !== "") u.password = "***"
    return u.toString()
  } catch {
    return "(unparseable DATABASE_URL)"
  }
}

/** Where the state lives, in words (printed at startup). */
export const describeStore = (store: StoreConfig): string =>
  store.kind === "memory"
    ? "in memory (MTA_STORE=memory: lost when the process ends)"
    : store.kind === "embedded"
      ? `embedded PGlite store in ${store.dataDir} (MTA_DATA_DIR)`
      : `PostgreSQL at ${describeDatabaseUrl(Redacted.value(store.url))} (DATABASE_URL)`

/** The configuration with every secret replaced, fit for a log line. */
export const redacted = (config: Config): unknown => ({
  ...config,
  callers: config.callers.map((c) => ({
    name: c.name,
    scopes: c.scopes,
    rate_limit: c.rate_limit,
    upstream_share: c.upstream_share
  })),
  devToken: config.devToken === undefined ? undefined : "[redacted]",
  store:
    config.store.kind === "postgres"
      ? { kind: "postgres", url: describeDatabaseUrl(Redacted.value(config.store.url)) }
      : config.store,
  upstream:
    config.upstream.mode === "embedded"
      ? config.upstream
      : {
          mode: config.upstream.mode,
          baseUrl: config.upstream.baseUrl,
          timeoutMs: config.upstream.timeoutMs,
          credentials: "[redacted]",
          webhookSecret: "[redacted]"
        }
})
