/**
 * Every error the proxy can meet, answered: status, headers and body (`toResponse`), whether it is
 * expected (anything else is logged as a bug), and what becomes of a claimed `Idempotency-Key` after
 * it (`resolutionFor`: stored and replayed, freed, or reconciled for a create). And that the table has
 * a row for every error class the proxy, the client and the domain export (the compiler checks the
 * unions; this checks that no class is missing from them).
 */
import * as C from "@mta/client"
import { Composition, Lifecycle, Zrn } from "@mta/domain"
import { Errors } from "@mta/server"
import { describe, expect, it } from "vitest"
import * as Failures from "../src/Failures.js"
import { resolutionFor } from "../src/internal/idempotency.js"

const client = <X extends object>(extra: X) => ({
  message: "client says",
  messages: ["first", "second"],
  requestId: "rq",
  operation: "lock",
  ...extra
})
const UNKNOWN = "the upstream outcome of this mutation is unknown: read the account before repeating it"
const ONE_MESSAGE = { messages: [] as Array<string> }

/** What happens to a claimed key after the error: [for a create, for any other mutation]. */
type Keys = readonly ["complete" | "release" | "reconcile", "complete" | "release" | "reconcile"]
const FREED: Keys = ["release", "release"]
const STORED: Keys = ["complete", "complete"]
const UNKNOWN_OUTCOME: Keys = ["reconcile", "release"]

interface Case {
  readonly name: string
  readonly error: unknown
  readonly status: number
  readonly headers?: Record<string, string>
  readonly body: Record<string, unknown>
  readonly keys: Keys
}

const cases: ReadonlyArray<Case> = [
  // The proxy's own.
  {
    name: "Unauthorized",
    error: new Errors.Unauthorized({ message: "unknown bearer token" }),
    status: 401,
    headers: { "www-authenticate": 'Bearer realm="mta"' },
    body: { error: true, message: "unknown bearer token", code: "unauthorized" },
    keys: FREED
  },
  {
    name: "Forbidden",
    error: new Errors.Forbidden({ message: "lacks accounts:write", scope: "accounts:write" }),
    status: 403,
    body: { error: true, message: "lacks accounts:write", code: "forbidden" },
    keys: FREED
  },
  {
    name: "InvalidRequest",
    error: new Errors.InvalidRequest({ messages: ["a", "b"] }),
    status: 400,
    body: { errors: ["a", "b"], code: "invalid_request" },
    keys: FREED
  },
  {
    name: "InvalidRequest with its own code",
    error: new Errors.InvalidRequest({ messages: ["bad zrn"], code: "invalid_zrn" }),
    status: 400,
    body: { errors: ["bad zrn"], code: "invalid_zrn" },
    keys: FREED
  },
  {
    name: "RouteNotFound",
    error: new Errors.RouteNotFound({ message: "no route for GET /x" }),
    status: 404,
    body: { error: "Not Found", message: "no route for GET /x", code: "not_found" },
    keys: FREED
  },
  {
    name: "MethodNotAllowed",
    error: new Errors.MethodNotAllowed({ message: "PUT is not allowed", allow: ["GET", "POST"] }),
    status: 405,
    headers: { allow: "GET, POST" },
    body: { error: "Method Not Allowed", message: "PUT is not allowed", code: "method_not_allowed" },
    keys: FREED
  },
  {
    name: "RateLimitExceeded (the caller's budget)",
    error: new Errors.RateLimitExceeded({ message: "slow down", retryAfterMs: 1500, limit: "caller" }),
    status: 429,
    headers: { "retry-after": "2" },
    body: { error: "Too Many Requests", message: "slow down", code: "rate_limited" },
    keys: FREED
  },
  {
    name: "RateLimitExceeded (the vendor's budget)",
    error: new Errors.RateLimitExceeded({ message: "vendor", retryAfterMs: 0, limit: "upstream" }),
    status: 429,
    headers: { "retry-after": "1" },
    body: { error: "Too Many Requests", message: "vendor", code: "upstream_rate_limited" },
    keys: FREED
  },
  {
    name: "PayloadTooLarge",
    error: new Errors.PayloadTooLarge({ message: "too big", maxBytes: 10 }),
    status: 413,
    body: { errors: ["too big"], code: "payload_too_large" },
    keys: FREED
  },
  {
    name: "WebhookRejected (payload)",
    error: new Errors.WebhookRejected({ message: "bad payload", reason: "InvalidPayload" }),
    status: 400,
    body: { errors: ["bad payload"], code: "webhook_rejected" },
    keys: FREED
  },
  {
    name: "WebhookRejected (notification id)",
    error: new Errors.WebhookRejected({ message: "bad id", reason: "InvalidNotificationId" }),
    status: 400,
    body: { errors: ["bad id"], code: "webhook_rejected" },
    keys: FREED
  },
  {
    name: "WebhookRejected (signature)",
    error: new Errors.WebhookRejected({ message: "bad signature", reason: "InvalidSignature" }),
    status: 401,
    body: { error: true, message: "bad signature", code: "webhook_rejected" },
    keys: FREED
  },
  {
    name: "IdempotencyConflict (in flight)",
    error: new Errors.IdempotencyConflict({ message: "busy", reason: "in_flight" }),
    status: 409,
    headers: { "retry-after": "1" },
    body: { errors: ["busy"], code: "idempotency_in_flight" },
    keys: FREED
  },
  {
    name: "IdempotencyConflict (outcome pending)",
    error: new Errors.IdempotencyConflict({ message: "pending", reason: "outcome_pending" }),
    status: 409,
    headers: { "retry-after": "1" },
    body: { errors: ["pending"], code: "idempotency_outcome_pending" },
    keys: FREED
  },
  {
    name: "IdempotencyKeyReused",
    error: new Errors.IdempotencyKeyReused({ message: "reused" }),
    status: 422,
    body: { errors: ["reused"], code: "idempotency_mismatch" },
    keys: FREED
  },
  {
    name: "CreateUnresolved (landed)",
    error: new Errors.CreateUnresolved({ message: "no webhook", reason: "landed" }),
    status: 502,
    body: { error: "Bad Gateway", message: "no webhook", code: "create_account_unreported" },
    keys: UNKNOWN_OUTCOME
  },
  {
    name: "CreateUnresolved (unanswered)",
    error: new Errors.CreateUnresolved({ message: "no answer", reason: "unanswered" }),
    status: 504,
    body: { error: "Gateway Timeout", message: "no answer", code: "create_outcome_unresolved" },
    keys: UNKNOWN_OUTCOME
  },
  {
    name: "NotReady",
    error: new Errors.NotReady({ message: "draining" }),
    status: 503,
    headers: { "retry-after": "1" },
    body: { error: "Service Unavailable", message: "draining", code: "not_ready" },
    keys: FREED
  },

  // The domain's.
  {
    name: "ZrnParseError",
    error: new Zrn.ZrnParseError({ reason: "Empty", input: "", message: "empty zrn" }),
    status: 400,
    body: { errors: ["empty zrn"], code: "invalid_zrn" },
    keys: FREED
  },
  {
    name: "CompositionError",
    error: new Composition.CompositionError({
      reason: "TooFewTenants",
      problems: [
        { rule: "TooFewTenants", message: "p1" },
        { rule: "UnknownType", message: "p2" }
      ],
      message: "summary"
    }),
    status: 400,
    body: { errors: ["p1", "p2"], code: "invalid_composition" },
    keys: FREED
  },
  {
    name: "TransitionRejected",
    error: new Lifecycle.TransitionRejected({
      reason: "Closed",
      from: "closed",
      command: "lock",
      message: "closed accounts stay closed"
    }),
    status: 400,
    body: { errors: ["closed accounts stay closed"], code: "transition_rejected" },
    keys: FREED
  },

  // The client's.
  {
    name: "ValidationError",
    error: new C.ValidationError(client({ status: 400 })),
    status: 400,
    body: { errors: ["first", "second"], code: "upstream_validation_failed" },
    keys: STORED
  },
  {
    name: "ValidationError without messages",
    error: new C.ValidationError(client({ status: 400, ...ONE_MESSAGE })),
    status: 400,
    body: { errors: ["client says"], code: "upstream_validation_failed" },
    keys: STORED
  },
  {
    name: "AuthenticationError",
    error: new C.AuthenticationError(client({ status: 401 })),
    status: 403,
    body: { error: true, message: "first", code: "upstream_forbidden" },
    keys: FREED
  },
  {
    name: "PermissionDenied",
    error: new C.PermissionDenied(client({ status: 403 })),
    status: 403,
    body: { error: true, message: "first", code: "upstream_forbidden" },
    keys: FREED
  },
  {
    name: "PermissionDenied without messages",
    error: new C.PermissionDenied(client({ status: 403, ...ONE_MESSAGE })),
    status: 403,
    body: { error: true, message: "client says", code: "upstream_forbidden" },
    keys: FREED
  },
  {
    name: "NotFound",
    error: new C.NotFound(client({ status: 404 })),
    status: 404,
    body: { error: "Not Found", message: "first; second", code: "upstream_not_found" },
    keys: STORED
  },
  {
    name: "NotFound without messages",
    error: new C.NotFound(client({ status: 404, ...ONE_MESSAGE })),
    status: 404,
    body: { error: "Not Found", code: "upstream_not_found" },
    keys: STORED
  },
  {
    name: "Conflict",
    error: new C.Conflict(client({ status: 409 })),
    status: 409,
    body: { errors: ["first", "second"], code: "upstream_conflict" },
    keys: STORED
  },
  {
    name: "IdempotencyMismatch",
    error: new C.IdempotencyMismatch(client({ status: 422 })),
    status: 422,
    body: { errors: ["first", "second"], code: "idempotency_mismatch" },
    keys: STORED
  },
  {
    name: "RateLimited",
    error: new C.RateLimited(client({ status: 429, retryAfterMs: 10_000 })),
    status: 429,
    headers: { "retry-after": "10" },
    body: { error: "Too Many Requests", code: "upstream_rate_limited" },
    keys: FREED
  },
  {
    name: "RateLimited for a millisecond",
    error: new C.RateLimited(client({ status: 429, retryAfterMs: 1 })),
    status: 429,
    headers: { "retry-after": "1" },
    body: { error: "Too Many Requests", code: "upstream_rate_limited" },
    keys: FREED
  },
  {
    name: "Unavailable, retry allowed",
    error: new C.Unavailable(client({ status: 503, retryAllowed: true })),
    status: 503,
    headers: { "zh-allow-retry": "true" },
    body: { error: "Service Unavailable", code: "upstream_unavailable" },
    keys: FREED
  },
  {
    name: "Unavailable",
    error: new C.Unavailable(client({ status: 503, retryAllowed: false })),
    status: 503,
    body: { error: "Service Unavailable", code: "upstream_unavailable" },
    keys: FREED
  },
  {
    name: "ServerError 501",
    error: new C.ServerError(client({ status: 501 })),
    status: 501,
    body: { error: "Internal Server Error", code: "upstream_error" },
    keys: UNKNOWN_OUTCOME
  },
  {
    name: "ServerError without a 5xx status",
    error: new C.ServerError(client({})),
    status: 502,
    body: { error: "Internal Server Error", code: "upstream_error" },
    keys: UNKNOWN_OUTCOME
  },
  {
    name: "Timeout",
    error: new C.Timeout(client({ timeoutMs: 5 })),
    status: 504,
    body: { error: "Gateway Timeout", code: "upstream_timeout" },
    keys: UNKNOWN_OUTCOME
  },
  {
    name: "NetworkError",
    error: new C.NetworkError(client({ detail: "ECONNREFUSED" })),
    status: 502,
    body: { error: "Bad Gateway", code: "upstream_unreachable" },
    keys: FREED
  },
  {
    name: "OutcomeUnknown (timeout)",
    error: new C.OutcomeUnknown(client({ reason: "Timeout" })),
    status: 504,
    body: { error: "Gateway Timeout", message: UNKNOWN, code: "upstream_outcome_unknown" },
    keys: UNKNOWN_OUTCOME
  },
  {
    name: "OutcomeUnknown (500)",
    error: new C.OutcomeUnknown(client({ reason: "ServerError", status: 500 })),
    status: 500,
    body: { error: "Internal Server Error", message: UNKNOWN, code: "upstream_outcome_unknown" },
    keys: UNKNOWN_OUTCOME
  },
  {
    name: "OutcomeUnknown (502)",
    error: new C.OutcomeUnknown(client({ reason: "ServerError", status: 502 })),
    status: 502,
    body: { error: "Bad Gateway", message: UNKNOWN, code: "upstream_outcome_unknown" },
    keys: UNKNOWN_OUTCOME
  },
  {
    name: "OutcomeUnknown (504)",
    error: new C.OutcomeUnknown(client({ reason: "ServerError", status: 504 })),
    status: 504,
    body: { error: "Gateway Timeout", message: UNKNOWN, code: "upstream_outcome_unknown" },
    keys: UNKNOWN_OUTCOME
  },
  {
    name: "OutcomeUnknown (connection lost)",
    error: new C.OutcomeUnknown(client({ reason: "ConnectionLost" })),
    status: 502,
    body: { error: "Bad Gateway", message: UNKNOWN, code: "upstream_outcome_unknown" },
    keys: UNKNOWN_OUTCOME
  },
  {
    name: "DecodeError",
    error: new C.DecodeError(client({ status: 200, reason: "InvalidJson", detail: "x" })),
    status: 502,
    body: { error: "Bad Gateway", code: "upstream_bad_response" },
    keys: UNKNOWN_OUTCOME
  },
  {
    name: "InvalidInput",
    error: new C.InvalidInput(client({ field: "zrn" })),
    status: 400,
    body: { errors: ["first", "second"], code: "invalid_request" },
    keys: FREED
  },
  {
    name: "InvalidInput without messages",
    error: new C.InvalidInput(client({ field: "zrn", ...ONE_MESSAGE })),
    status: 400,
    body: { errors: ["client says"], code: "invalid_request" },
    keys: FREED
  }
]

const INTERNAL = { error: "Internal Server Error", code: "internal_error" }
/** Bugs: nothing about the cause is answered. */
const bugs: ReadonlyArray<readonly [string, unknown]> = [
  ["an Error", new Error("bug")],
  ["a string", "oops"],
  [
    "a tagged error no row is for",
    new Composition.MemberChangeError({ reason: "IsPrimary", participant_code: "ABC123", message: "m" })
  ],
  ["an Error tagged like nothing the proxy knows", Object.assign(new Error("x"), { _tag: "Surprise" })]
]

describe("the failure table", () => {
  it.each(cases)("answers $name", ({ error, status, headers, body }) => {
    const r = Errors.toResponse(error, "req-1")
    expect(r.status).toBe(status)
    expect(r.headers).toEqual(headers ?? {})
    expect(r.body).toEqual({ ...body, request_id: "req-1" })
    // The fields in the order they are written: the answer's text is the same, byte for byte.
    expect(JSON.stringify(r.body)).toBe(JSON.stringify({ ...body, request_id: "req-1" }))
    expect(Errors.isExpected(error)).toBe(true)
  })

  it.each(cases.filter((c) => c.keys !== undefined))(
    "resolves a claimed key after $name",
    ({ error, status, keys }) => {
      const stored = { status, headers: {}, body: "{}" }
      expect(resolutionFor(true, status, error, () => stored)._tag).toBe(keys[0])
      expect(resolutionFor(false, status, error, () => stored)._tag).toBe(keys[1])
    }
  )

  it.each(bugs)("answers %s as a bug: 500 internal_error, nothing more", (_, error) => {
    const r = Errors.toResponse(error, "req-1")
    expect(r).toEqual({ status: 500, headers: {}, body: { ...INTERNAL, request_id: "req-1" } })
    expect(Errors.isExpected(error)).toBe(false)
  })

  it("decides a key by the status when the answer is not an error the table knows", () => {
    const stored = { status: 200, headers: {}, body: "{}" }
    expect(resolutionFor(true, 202, undefined, () => stored)._tag).toBe("complete")
    expect(resolutionFor(true, 500, undefined, () => stored)._tag).toBe("reconcile")
    expect(resolutionFor(false, 500, undefined, () => stored)._tag).toBe("release")
    expect(resolutionFor(true, 500, new Error("bug"), () => stored)._tag).toBe("reconcile")
    expect(resolutionFor(false, 500, new Error("bug"), () => stored)._tag).toBe("release")
  })
})

/** Tagged error classes the proxy never meets: each is turned into another error before it could. */
const NEVER_MET: ReadonlyArray<string> = [
  // The client's configuration, read once at startup (`Config.ts` reports its own errors).
  "InvalidConfig",
  // The webhook route answers `WebhookRejected` with its reason.
  "WebhookVerificationError",
  // The proxy checks compositions whole (`Composition.validate`); member changes are the upstream's.
  "MemberChangeError"
]

const taggedClasses = (module: object): Array<string> =>
  Object.values(module).flatMap((v) =>
    typeof v === "function" && typeof (v as { _tag?: unknown })._tag === "string"
      ? [(v as unknown as { _tag: string })._tag]
      : []
  )

describe("the failure table is exhaustive", () => {
  it("has a row for every error class exported by the proxy, the client and the domain, and no other", () => {
    const exported = [
      ...taggedClasses(Errors),
      ...taggedClasses(C),
      ...taggedClasses(Zrn),
      ...taggedClasses(Composition),
      ...taggedClasses(Lifecycle)
    ]
    expect(Object.keys(Failures.table).sort()).toEqual(exported.filter((t) => !NEVER_MET.includes(t)).sort())
  })

  it("is answered by at least one case above for every row", () => {
    const tags = new Set(cases.map((c) => (c.error as { _tag: string })._tag))
    expect([...tags].sort()).toEqual(Object.keys(Failures.table).sort())
  })

  it("says whether the upstream call was carried out, and the key follows it", () => {
    for (const c of cases) {
      const carriedOut = Failures.carriedOutOf(c.error)
      const keys = carriedOut === "no" ? FREED : carriedOut === "yes" ? STORED : UNKNOWN_OUTCOME
      expect([c.name, keys]).toEqual([c.name, c.keys])
    }
  })

  it("refuses a table without a row, at compile time", () => {
    const { OutcomeUnknown: _, ...rest } = Failures.table
    // @ts-expect-error a table without the row of `OutcomeUnknown` does not compile
    const incomplete: Failures.Table = rest
    expect(Object.keys(incomplete)).not.toContain("OutcomeUnknown")
  })
})
