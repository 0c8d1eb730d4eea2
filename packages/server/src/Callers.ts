/**
 * Internal callers of the proxy: who they are (a name), what they may do (scopes) and how they prove
 * it (a bearer token the proxy knows only by its SHA-256).
 *
 * `MTA_CALLERS` holds a JSON array of `{ name, token_sha256, scopes, rate_limit?, upstream_share? }`. The proxy never
 * sees a token at rest: it hashes the presented token and looks the hash up. `token_sha256` may be a
 * list: every hash in it authenticates the caller, so a token is rotated without downtime (add the new
 * hash, hand out the new token, remove the old hash). Hashing is cached per
 * token (bounded), because the same few tokens arrive on every request.
 *
 * @since 0.1.0
 */
import { createHash } from "node:crypto"
import { Endpoint } from "@mta/domain"
import { Either, ParseResult, Schema } from "effect"

/**
 * What a caller may do; each proxy route requires exactly one: the endpoints' scopes (the domain's
 * `Endpoint.Scope`) and the proxy's own `events:read` and `audit:read`.
 */
export const Scope = Schema.Literal(...Endpoint.Scope.literals, "events:read", "audit:read").annotations({
  identifier: "Scope",
  description: "a caller scope"
})
/** What a caller may do. */
export type Scope = typeof Scope.Type

/** Every scope, in the order of `Scope`. */
export const allScopes: ReadonlyArray<Scope> = Scope.literals

/** A request budget: at most `requests` in any rolling window of `window_ms` milliseconds. */
export const RateLimitSetting = Schema.Struct({
  requests: Schema.Int.pipe(Schema.nonNegative()),
  window_ms: Schema.Int.pipe(Schema.positive())
}).annotations({ identifier: "RateLimitSetting" })
/** A request budget. */
export type RateLimitSetting = typeof RateLimitSetting.Type

const Sha256Hex = Schema.String.pipe(
  Schema.pattern(/^[0-9a-fA-F]{64}$/, {
    message: () => "token_sha256 must be the hex SHA-256 of the token (64 hex digits)"
  })
)

/** One hash, or a non-empty list of them (rotation: each authenticates the caller). */
const TokenHashes = Schema.Union(
  Sha256Hex,
  Schema.Array(Sha256Hex).pipe(
    Schema.minItems(1, { message: () => "token_sha256 must list at least one hash" }),
    Schema.maxItems(16, { message: () => "token_sha256 may list at most 16 hashes" })
  )
)

/** A caller's name: 1-64 characters of letters, digits, `_ . @ -`. */
export const CallerName = Schema.String.pipe(
  Schema.pattern(/^[A-Za-z0-9_.@-]{1,64}$/, {
    message: () => "name must be 1-64 characters of letters, digits, _ . @ -"
  })
)

/** One entry of `MTA_CALLERS`. */
export const CallerEntry = Schema.Struct({
  name: CallerName,
  token_sha256: TokenHashes,
  scopes: Schema.Array(Scope),
  rate_limit: Schema.optional(RateLimitSetting),
  /** This caller's share of the vendor's budget, a fraction in (0, 1]; default `MTA_UPSTREAM_SHARE`. */
  upstream_share: Schema.optional(
    Schema.Number.pipe(
      Schema.greaterThan(0, { message: () => "upstream_share must be a fraction above 0 and at most 1" }),
      Schema.lessThanOrEqualTo(1, {
        message: () => "upstream_share must be a fraction above 0 and at most 1"
      })
    )
  )
}).annotations({ identifier: "CallerEntry" })
/** One entry of `MTA_CALLERS`. */
export type CallerEntry = typeof CallerEntry.Type

/** Every token hash of an entry, lower case: one, or the list of a token being rotated. */
export const tokenHashes = (entry: CallerEntry): ReadonlyArray<string> =>
  (typeof entry.token_sha256 === "string" ? [entry.token_sha256] : entry.token_sha256).map((h) =>
    h.toLowerCase()
  )

/** The whole `MTA_CALLERS` value: names and token hashes are unique. */
export const CallerList = Schema.Array(CallerEntry).pipe(
  Schema.filter((entries) => {
    const problems: Array<string> = []
    const names = new Set<string>()
    const hashes = new Set<string>()
    for (const entry of entries) {
      if (names.has(entry.name)) problems.push(`caller name ${JSON.stringify(entry.name)} appears twice`)
      names.add(entry.name)
      for (const hash of tokenHashes(entry)) {
        if (hashes.has(hash))
          problems.push(`a token_sha256 appears twice (the second time under ${JSON.stringify(entry.name)})`)
        hashes.add(hash)
      }
    }
    return problems.length === 0 ? undefined : problems.join("; ")
  }),
  Schema.annotations({ identifier: "CallerList" })
)

/** A known caller, as the proxy holds it. */
export interface Caller {
  readonly name: string
  readonly scopes: ReadonlySet<Scope>
  /** This caller's own budget; `undefined` uses the default (`MTA_CALLER_RATE_LIMIT`). */
  readonly rateLimit: RateLimitSetting | undefined
  /** This caller's share of the vendor's budget; `undefined` uses the default (`MTA_UPSTREAM_SHARE`). */
  readonly upstreamShare: number | undefined
}

/** The hex SHA-256 of a token: what `token_sha256` holds. */
export const hashToken = (token: string): string => createHash("sha256").update(token).digest("hex")

/** What one `MTA_CALLERS` entry looks like, for the messages. */
export const CALLERS_EXAMPLE =
  '[{"name":"ops-console","token_sha256":"<hex SHA-256 of the token>","scopes":["accounts:read"]}]'

/** What each field of an entry holds, for the messages. */
const expected: Record<string, string> = {
  name: "1-64 characters of letters, digits, _ . @ -",
  token_sha256:
    'the hex SHA-256 of the token (64 hex digits, e.g. from: echo -n "$TOKEN" | sha256sum), or a list of 1 to 16 of them',
  scopes: `a list of scopes, e.g. ["accounts:read"] (the scopes: ${allScopes.join(", ")})`,
  rate_limit: '{"requests": <an integer, 0 or more>, "window_ms": <an integer above 0>}',
  upstream_share: "a fraction above 0 and at most 1"
}

/**
 * The Schema's issues as a person reads them: one line per caller and field (`caller 2 ("ops"):
 * scope "accounts:reed" is unknown; expected one of …`), a union's alternatives collapsed into what
 * is expected, and the shape of an entry when the value is not a list of objects. Repeats no value
 * but a caller's name and an unknown scope (a token_sha256 holds a hash, never a token).
 */
const describeCallerIssues = (
  json: unknown,
  issues: ReadonlyArray<ParseResult.ArrayFormatterIssue>
): string => {
  const out: Array<string> = []
  const add = (line: string) => {
    if (!out.includes(line)) out.push(line)
  }
  const entries: ReadonlyArray<unknown> = Array.isArray(json) ? json : []
  const callerLabel = (index: number): string => {
    const name = (entries[index] as { name?: unknown } | undefined)?.name
    return `caller ${index + 1}${typeof name === "string" && /^[A-Za-z0-9_.@-]{1,64}$/.test(name) ? ` ("${name}")` : ""}`
  }
  // A hash's own messages ("64 hex digits", "at least one hash") say more than the union's "Expected".
  const ownHashMessage = new Set(
    issues
      .filter((i) => i.path[1] === "token_sha256" && !i.message.startsWith("Expected"))
      .map((i) => i.path[0])
  )
  for (const issue of issues) {
    const [index, field, ...rest] = issue.path
    if (issue.path.length === 0) {
      add(Array.isArray(json) ? issue.message : `expected a JSON array of callers, e.g. ${CALLERS_EXAMPLE}`)
      continue
    }
    if (typeof index !== "number") {
      add(`${issue.path.join(".")}: ${issue.message}`)
      continue
    }
    const who = callerLabel(index)
    const key = String(field)
    if (field === undefined) {
      add(`${who}: expected an object like ${CALLERS_EXAMPLE.slice(1, -1)}`)
    } else if (key === "scopes" && typeof rest[0] === "number") {
      const scope = ((entries[index] as { scopes?: ReadonlyArray<unknown> }).scopes ?? [])[rest[0]]
      const what = typeof scope === "string" ? JSON.stringify(scope.slice(0, 64)) : `number ${rest[0] + 1}`
      add(`${who}: scope ${what} is unknown; expected one of ${allScopes.join(", ")}`)
    } else if (issue.message === "is missing" && rest.length === 0) {
      add(`${who}: ${key} is missing; expected ${expected[key] ?? "a value"}`)
    } else if (key === "token_sha256" && ownHashMessage.has(index)) {
      if (!issue.message.startsWith("Expected")) add(`${who}: ${issue.message}`)
    } else if (expected[key] !== undefined) {
      add(`${who}: ${key} is not valid; expected ${expected[key]}`)
    } else {
      add(`${who}: ${[field, ...rest].join(".")}: ${issue.message}`)
    }
  }
  return out.join("; ")
}

/** Decodes the JSON text of `MTA_CALLERS`; the error lists every problem, in words. */
export const parseCallers = (text: string): Either.Either<ReadonlyArray<CallerEntry>, string> => {
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (e) {
    // Not the parser's message: it quotes the text, which may be a token pasted by mistake.
    const at = /position (\d+)/.exec((e as Error).message)?.[1]
    return Either.left(
      `is not valid JSON${at === undefined ? "" : ` (at character ${Number(at) + 1})`}; expected a JSON array of callers, e.g. ${CALLERS_EXAMPLE}, or @/path/to/callers.json`
    )
  }
  return Either.mapLeft(Schema.decodeUnknownEither(CallerList, { errors: "all" })(json), (error) =>
    describeCallerIssues(json, ParseResult.ArrayFormatter.formatErrorSync(error))
  )
}

/** Looks callers up by bearer token. */
export interface Authenticator {
  /** The caller a token belongs to, or `undefined`. */
  readonly authenticate: (token: string) => Caller | undefined
  readonly callers: ReadonlyArray<Caller>
}

const CACHE_LIMIT = 1024

/** Builds the lookup over the configured callers; tokens are hashed once each and cached. */
export const makeAuthenticator = (entries: ReadonlyArray<CallerEntry>): Authenticator => {
  const byHash = new Map<string, Caller>()
  const callers: Array<Caller> = []
  for (const entry of entries) {
    const caller: Caller = {
      name: entry.name,
      scopes: new Set(entry.scopes),
      rateLimit: entry.rate_limit,
      upstreamShare: entry.upstream_share
    }
    for (const hash of tokenHashes(entry)) byHash.set(hash, caller)
    callers.push(caller)
  }
  // Only known tokens are cached, so a client spraying wrong tokens cannot fill it; bounded anyway.
  const cache = new Map<string, Caller>()
  return {
    callers,
    authenticate: (token) => {
      const hit = cache.get(token)
      if (hit !== undefined) return hit
      const caller = byHash.get(hashToken(token))
      if (caller !== undefined) {
        if (cache.size >= CACHE_LIMIT) cache.clear()
        cache.set(token, caller)
      }
      return caller
    }
  }
}
