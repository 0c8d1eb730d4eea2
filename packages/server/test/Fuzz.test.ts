/**
 * Property-based fuzzing of every route of the proxy, in process (`app.fetch` in front of the
 * in-process simulator, `./support.ts`): the 15 mirrored endpoints, the status long poll, `/audit`,
 * `/events`, the webhook receiver, the operations routes, unknown paths and wrong methods.
 *
 * Inputs (`packages/testkit/test/support/fuzz.ts`, shared with the testkit's fuzz suite; here only the
 * callers and the webhook deliveries): malformed JSON, valid JSON of the wrong types, huge strings and
 * long arrays, deep nesting (built as text, up to 10 000 levels), lone surrogates (as JSON escapes, raw,
 * and as the bytes ED A0 80), U+0000, U+FFFF, emoji, RTL text, bad percent-encoding in paths and
 * queries, long header values, with and without `Idempotency-Key`, and valid bodies mutated field by
 * field.
 *
 * The property (README "Routes" and its error table, production.md §1): every answer is a 2xx or a
 * documented 4xx whose JSON body has the documented shape, `code` and `request_id`; never a 5xx.
 * Oracles for the bounds of production.md §1: 413 `payload_too_large` over 64 KiB (256 KiB on the
 * webhook route), 400 `invalid_request` naming the JSON path for lone surrogates, U+0000, long strings,
 * long labels, long arrays and deep nesting, before anything goes upstream.
 *
 * Reproducible: `FUZZ_SEED=<n>` (printed at the start); a failure prints fast-check's seed, path and
 * counterexample. Bounded by `numRuns` and `interruptAfterTimeLimit` per property.
 */
import { createHmac, randomUUID } from "node:crypto"
import { Endpoint } from "@mta/domain"
import fc from "fast-check"
import { beforeAll, describe, it } from "vitest"
import {
  API_LIMIT,
  anyBody,
  type BodySpec,
  boundCall,
  boundViolation,
  budget,
  byteLength,
  countAnswer,
  describeInput,
  encoding,
  endpointRequest,
  errorsOf,
  excerpt,
  expectBoundRefused,
  expectQueryRefused,
  expectTakenUpToLimit,
  expectThat,
  extraHeaders,
  freshLabel,
  headerText,
  hostileString,
  isStringArray,
  type Json,
  jsonValue,
  known,
  knownZrn,
  loneSurrogate,
  longHeader,
  longQueryCall,
  longQueryValue,
  malformed,
  nulText,
  oversized,
  oversizedCall,
  pathOf,
  pathOfWords,
  queryOf,
  renderBody,
  renderedBody,
  reportFuzz,
  requestCall,
  requestId,
  type Sent,
  tooDeep,
  toText,
  UUID,
  violation,
  wrongTypedBody,
  wrongTypedCall,
  zrnSegment
} from "../../testkit/test/support/fuzz.js"
import { createBody, type Harness, harness, TOKENS, WEBHOOK_SECRET } from "./support.js"

reportFuzz("server")

/** The webhook route's body limit (production.md §1), in bytes; the API routes' is `API_LIMIT`. */
const WEBHOOK_LIMIT = 262_144

// ---------------------------------------------------------------------------------------------
// Arbitraries of the proxy alone: callers, webhook deliveries (the rest: `testkit/test/support/fuzz.ts`)
// ---------------------------------------------------------------------------------------------

/** The caller: a token of the tests' callers, none, or a broken `Authorization` header. */
type Auth =
  | { readonly kind: "token"; readonly token: string }
  | { readonly kind: "header"; readonly value: string }
  | { readonly kind: "none" }

const auth: fc.Arbitrary<Auth> = fc.oneof(
  { weight: 8, arbitrary: fc.constant<Auth>({ kind: "token", token: TOKENS.admin }) },
  { weight: 1, arbitrary: fc.constant<Auth>({ kind: "token", token: TOKENS.reader }) },
  { weight: 1, arbitrary: fc.constant<Auth>({ kind: "token", token: TOKENS.limited }) },
  { weight: 1, arbitrary: fc.constant<Auth>({ kind: "none" }) },
  {
    weight: 1,
    arbitrary: fc
      .oneof(
        fc.constantFrom("Basic abc", "Bearer", "Bearer ", `Bearer ${TOKENS.admin} extra`, "bearer\tx"),
        headerText(0, 40).map((t) => `Bearer ${t}`),
        longHeader.map((t) => `Bearer ${t}`)
      )
      .map((value): Auth => ({ kind: "header", value }))
  }
)

/** The tests' admin caller (every scope). */
const ADMIN: Auth = { kind: "token", token: TOKENS.admin }

/** A valid `customer_account_status_changed` payload, with some fields replaced. */
const payload = (fields: Record<string, Json> = {}): Record<string, Json> => ({
  urn: `zrn:zh:us:accounts:customer:${UUID}`,
  status: "open",
  participant_code: "CUST01",
  prefunded: false,
  account_label: "main",
  account_group: "PLAT01",
  tier: "pro",
  type: "jtic",
  tenants: ["CUST02"],
  financial_advisors: [],
  ...fields
})

const notificationId = fc.option(
  fc.oneof(
    fc.uuid(),
    fc.stringMatching(/^[A-Za-z0-9._:-]{1,128}$/),
    longHeader,
    headerText(1, 40),
    fc.constantFrom(" ", "../../etc/passwd", "id with spaces", "%00")
  ),
  { freq: 5 }
)

/** How the delivery is signed. */
const signing = fc.constantFrom(
  "none",
  "garbage",
  "wrong-secret",
  "legacy-only",
  "stale",
  "future",
  "seconds",
  "valid"
)

const webhookBody: fc.Arbitrary<BodySpec> = fc.record({
  value: fc.oneof(
    { weight: 3, arbitrary: fc.constant(payload() as Json) },
    {
      weight: 4,
      arbitrary: fc
        .tuple(fc.constantFrom(...Object.keys(payload()), "zrn", "extra"), jsonValue, fc.boolean())
        .map(([field, value, drop]) => {
          const p = payload()
          if (drop) delete p[field]
          else p[field] = value
          return p as Json
        })
    },
    { weight: 2, arbitrary: jsonValue },
    { weight: 2, arbitrary: malformed }
  ),
  encoding
})

// ---------------------------------------------------------------------------------------------
// Sending and the documented-answer check
// ---------------------------------------------------------------------------------------------

interface Answer {
  readonly status: number
  readonly headers: Headers
  readonly text: string
  readonly body: unknown
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/

/** Documented `code`s per status (the README's error table). */
const CODES: Readonly<Record<number, ReadonlyArray<string>>> = {
  400: [
    "invalid_request",
    "invalid_zrn",
    "invalid_composition",
    "transition_rejected",
    "upstream_validation_failed",
    "webhook_rejected"
  ],
  401: ["unauthorized", "webhook_rejected"],
  403: ["forbidden", "upstream_forbidden"],
  404: ["not_found", "upstream_not_found"],
  405: ["method_not_allowed"],
  409: ["upstream_conflict", "idempotency_in_flight", "idempotency_outcome_pending"],
  413: ["payload_too_large"],
  422: ["idempotency_mismatch"],
  429: ["rate_limited", "upstream_rate_limited"]
}

/**
 * Reads the answer and checks it: a 2xx, or a documented 4xx with its documented body shape, `code`
 * and `request_id` (equal to `X-Request-Id`); never a 5xx. Every answer has a well-formed
 * `X-Request-Id`, the caller's own when it sent a well-formed one.
 */
const documented = async (res: Response, sent: Sent): Promise<Answer> => {
  const text = sent.method === "HEAD" ? "" : await res.text()
  const status = res.status
  countAnswer(sent.group, status)
  const fail = (why: string) => violation(sent, status, text, why)
  if (status >= 500) fail(`5xx answer`)
  if (!(status >= 200 && status < 300) && CODES[status] === undefined) fail(`undocumented status ${status}`)
  const rid = res.headers.get("x-request-id")
  if (rid === null || !REQUEST_ID.test(rid)) fail(`missing or malformed X-Request-Id ${JSON.stringify(rid)}`)
  if (sent.requestId !== undefined && REQUEST_ID.test(sent.requestId) && rid !== sent.requestId) {
    fail("X-Request-Id is not the caller's well-formed id")
  }
  let body: unknown
  const isJson = (res.headers.get("content-type") ?? "").includes("application/json")
  if (sent.method !== "HEAD" && (isJson || status >= 400)) {
    if (!isJson) fail(`error answer is not JSON (content-type ${res.headers.get("content-type")})`)
    try {
      body = JSON.parse(text)
    } catch {
      fail("body is not valid JSON")
    }
  }
  if (status >= 400 && sent.method !== "HEAD") {
    const b = (typeof body === "object" && body !== null ? body : {}) as Record<string, unknown>
    if (typeof b.code !== "string" || !CODES[status]!.includes(b.code)) {
      fail(`code ${JSON.stringify(b.code)} is not a documented code of a ${status}`)
    }
    // A replay (`Idempotent-Replayed: true`) is the stored answer again, with the first call's body.
    const replayed = res.headers.get("idempotent-replayed") === "true"
    if (typeof b.request_id !== "string" || (!replayed && b.request_id !== rid)) {
      fail("request_id of the body is not the X-Request-Id header")
    }
    switch (status) {
      case 400:
      case 409:
      case 413:
      case 422:
        if (!isStringArray(b.errors))
          fail(`a ${status} body must be {errors: [non-empty strings], code, request_id}`)
        break
      case 401:
      case 403:
        if (b.error !== true || typeof b.message !== "string" || b.message === "") {
          fail(`a ${status} body must be {error: true, message, code, request_id}`)
        }
        break
      case 404:
      case 405:
        if (
          b.error !== (status === 404 ? "Not Found" : "Method Not Allowed") ||
          typeof b.message !== "string"
        ) {
          fail(
            `a ${status} body must be {error: "${status === 404 ? "Not Found" : "Method Not Allowed"}", message, code}`
          )
        }
        break
      case 429:
        if (b.error !== "Too Many Requests") fail('a 429 body must be {error: "Too Many Requests", code}')
        break
    }
  }
  return { status, headers: res.headers, text, body }
}

/** One request to the app, built from generated parts. */
interface Call {
  readonly method: string
  readonly path: string
  readonly auth: Auth
  readonly headers: Readonly<Record<string, string>>
  readonly body?: BodySpec | undefined
  /** A rendered body (string or bytes) instead of `body`. */
  readonly rawBody?: string | Uint8Array | undefined
  readonly signal?: AbortSignal | undefined
}

/** The caller's name (`admin`, `reader`, `limited`), or how the `Authorization` header is broken. */
const authLabel = (a: Auth): string =>
  a.kind === "token" ? (Object.entries(TOKENS).find(([, t]) => t === a.token)?.[0] ?? "token") : a.kind

const describeCall = (call: Call, rendered: string | Uint8Array | undefined): string =>
  `auth ${authLabel(call.auth)}; ${describeInput(call.headers, call.body, rendered)}`

/** Sends a call to the harness's app and checks the answer is documented. */
const send = async (h: Harness, group: string, call: Call): Promise<Answer & { sent: Sent }> => {
  const rendered = renderedBody(call)
  const headers: Record<string, string> = { ...call.headers }
  if (call.auth.kind === "header") headers.authorization = call.auth.value
  const sent: Sent = {
    group,
    method: call.method,
    path: call.path,
    shape: describeCall(call, rendered),
    requestId: headers["x-request-id"]
  }
  let res: Response
  try {
    res = await h.request(call.path, {
      method: call.method,
      token: call.auth.kind === "token" ? call.auth.token : null,
      headers,
      ...(rendered === undefined ? {} : { body: rendered }),
      ...(call.signal === undefined ? {} : { signal: call.signal })
    })
  } catch (error) {
    return violation(sent, 0, String(error), "app.fetch threw instead of answering")
  }
  return { ...(await documented(res, sent)), sent }
}

/** Creates `n` accounts through the proxy and lets the simulator provision them (webhooks into the app). */
const openAccounts = async (h: Harness, n: number): Promise<Array<string>> => {
  const zrns: Array<string> = []
  for (let i = 0; i < n; i++) {
    const r = await h.request("/accounts", { method: "POST", json: createBody(freshLabel()) })
    if (r.status !== 202) throw new Error(`setup: create answered ${r.status} ${await r.text()}`)
    zrns.push(((await r.json()) as { message: { zrn: string } }).message.zrn)
  }
  await h.simulator.settle()
  return zrns
}

/** Lets batched log lines reach the capture (the logger writes once per event-loop turn). */
const logTurn = () => new Promise<void>((resolve) => setImmediate(resolve))

// ---------------------------------------------------------------------------------------------
// Properties, one per route group
// ---------------------------------------------------------------------------------------------

describe("the 15 mirrored endpoints", () => {
  const h = harness()
  beforeAll(async () => {
    known.push(...(await openAccounts(h, 4)))
  })

  it("answer every generated request with a 2xx or a documented 4xx, never a 5xx", async () => {
    const request = endpointRequest({ auth })
    await fc.assert(
      fc.asyncProperty(request, async (r) => {
        await send(h, "endpoints", { ...requestCall(r), auth: r.auth })
      }),
      budget(1_500, 5_000)
    )
  })

  it("answer valid bodies with one field of the wrong type with a 2xx or a documented 4xx", async () => {
    await fc.assert(
      fc.asyncProperty(wrongTypedBody, knownZrn, async (w, zrn) => {
        await send(h, "endpoints: wrong types", { ...wrongTypedCall(w, zrn), auth: ADMIN })
      }),
      budget(300, 1_500)
    )
  })

  it("refuse bodies over the bounds with 400 invalid_request naming the JSON path, before going upstream", async () => {
    await fc.assert(
      fc.asyncProperty(boundViolation, fc.option(fc.uuid()), knownZrn, async (v, key, zrn) => {
        const before = h.upstreamCount()
        const a = await send(h, "endpoints: field bounds", {
          ...boundCall(v, zrn, key === null ? {} : { "idempotency-key": key }),
          auth: ADMIN
        })
        expectBoundRefused(a, v)
        const code = (a.body as { code?: string }).code
        expectThat(a, code === "invalid_request", `${v.kind}: expected code invalid_request, got ${code}`)
        expectThat(a, h.upstreamCount() === before, `${v.kind}: the request went upstream`)
      }),
      budget(300, 2_500)
    )
  })

  it("refuse query values over 1 024 characters with 400 invalid_request naming the parameter", async () => {
    await fc.assert(
      fc.asyncProperty(longQueryValue, async (q) => {
        const before = h.upstreamCount()
        const a = await send(h, "endpoints: query bounds", { ...longQueryCall(q), auth: ADMIN })
        expectQueryRefused(a, q)
        const code = (a.body as { code?: string }).code
        expectThat(a, code === "invalid_request", `expected code invalid_request, got ${code}`)
        expectThat(a, h.upstreamCount() === before, "the request went upstream")
      }),
      budget(60, 1_000)
    )
  })

  it("refuse bodies over 64 KiB with 413 payload_too_large, and take bodies up to 64 KiB", async () => {
    await fc.assert(
      fc.asyncProperty(oversized, knownZrn, async (o, zrn) => {
        const before = h.upstreamCount()
        const body = o.render()
        const bytes = byteLength(body)
        const a = await send(h, "endpoints: body size", {
          ...oversizedCall(o, zrn, body, {
            ...(o.withLength ? { "content-length": String(bytes) } : {}),
            ...(o.key ? { "idempotency-key": randomUUID() } : {})
          }),
          auth: ADMIN
        })
        if (bytes > API_LIMIT) {
          expectThat(
            a,
            a.status === 413,
            `body of ${bytes} bytes (> ${API_LIMIT}): expected 413, got ${a.status}`
          )
          expectThat(
            a,
            (a.body as { code?: string }).code === "payload_too_large",
            "413 without code payload_too_large"
          )
          expectThat(a, h.upstreamCount() === before, "an oversized body went upstream")
        }
        expectTakenUpToLimit(a, o, bytes)
      }),
      budget(80, 2_500)
    )
  })

  it("answer wrong methods on endpoint paths with 405 and Allow", async () => {
    const wrong = fc
      .tuple(
        fc.constantFrom(...Endpoint.all),
        fc.constantFrom("GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"),
        knownZrn
      )
      .filter(([e, m, zrn]) => !Endpoint.methodsAt(pathOf(e, zrn, "CUST03")).includes(m as Endpoint.Method))
    await fc.assert(
      fc.asyncProperty(wrong, auth, async ([e, method, zrn], who) => {
        const a = await send(h, "wrong methods", {
          method,
          path: pathOf(e, zrn, "CUST03"),
          auth: who,
          headers: {},
          ...(method === "GET" ? {} : { rawBody: "{}" })
        })
        const allow = a.headers.get("allow") ?? ""
        expectThat(a, a.status === 405, `expected 405 for ${method} on an endpoint path, got ${a.status}`)
        expectThat(a, allow !== "" && !allow.split(/,\s*/).includes(method), `Allow ${JSON.stringify(allow)}`)
      }),
      budget(100, 1_000)
    )
  })
})

describe("GET /accounts/{zrn}/status (long poll)", () => {
  // A tiny long-poll ceiling: a generated `timeout_ms` can never hold the suite.
  const h = harness({ longPollMaxMs: 30, longPollDefaultMs: 10 })
  const zrns: Array<string> = []
  beforeAll(async () => {
    zrns.push(...(await openAccounts(h, 2)))
  })

  it("answers every generated request with a 2xx or a documented 4xx", async () => {
    const statusQuery = queryOf(
      ["wait_for", "timeout_ms", "unknown"],
      fc.constantFrom(
        "open",
        "locked",
        "closed",
        "withdraw_locked",
        "divesting",
        "0",
        "1",
        "20",
        "-1",
        "1e3",
        "3600001",
        " 5"
      )
    )
    const zrn = fc.oneof(
      fc.nat({ max: 3 }).map((i) => zrns[i % zrns.length] ?? UUID),
      zrnSegment
    )
    await fc.assert(
      fc.asyncProperty(zrn, statusQuery, auth, extraHeaders, async (z, query, who, headers) => {
        const a = await send(h, "status", {
          method: "GET",
          path: `/accounts/${z}/status${query}`,
          auth: who,
          headers,
          signal: AbortSignal.timeout(2_000)
        })
        if (a.status === 200) {
          const b = a.body as Record<string, unknown>
          expectThat(
            a,
            typeof b.zrn === "string" && typeof b.timed_out === "boolean",
            "a 200 without zrn and timed_out"
          )
        }
      }),
      budget(300, 2_000)
    )
  })
})

describe("POST /accounts/{zrn}/status/refresh", () => {
  const h = harness()
  const zrns: Array<string> = []
  beforeAll(async () => {
    zrns.push(...(await openAccounts(h, 2)))
  })

  it("answers every generated request with a 2xx or a documented 4xx", async () => {
    const zrn = fc.oneof(
      fc.nat({ max: 3 }).map((i) => zrns[i % zrns.length] ?? UUID),
      zrnSegment
    )
    await fc.assert(
      fc.asyncProperty(zrn, auth, extraHeaders, anyBody(3), async (z, who, headers, body) => {
        const a = await send(h, "refresh", {
          method: "POST",
          path: `/accounts/${z}/status/refresh`,
          auth: who,
          headers,
          body: body ?? undefined
        })
        if (a.status === 200) {
          const b = a.body as Record<string, unknown>
          expectThat(
            a,
            typeof b.zrn === "string" && "confirmed_at" in b && b.timed_out === false,
            "a 200 without the status record"
          )
        }
      }),
      budget(200, 1_500)
    )
  })
})

describe("GET /audit", () => {
  const h = harness()
  beforeAll(async () => {
    await openAccounts(h, 2)
  })

  it("answers every generated query with a 2xx or a documented 4xx", async () => {
    const auditQuery = queryOf(
      ["zrn", "caller", "from", "to", "limit", "cursor", "unknown"],
      fc.oneof(
        fc.constantFrom(
          "admin",
          "reader",
          "0",
          "1",
          "1000",
          "1001",
          "2026-01-31T12:00:00Z",
          "999999999999999",
          "1e3"
        ),
        knownZrn,
        fc.date({ noInvalidDate: true }).map((d) => d.toISOString())
      )
    )
    await fc.assert(
      fc.asyncProperty(auditQuery, auth, extraHeaders, async (query, who, headers) => {
        const a = await send(h, "audit", { method: "GET", path: `/audit${query}`, auth: who, headers })
        if (a.status === 200) {
          const b = a.body as Record<string, unknown>
          expectThat(
            a,
            Array.isArray(b.entries) && "next_cursor" in b,
            "a 200 without entries and next_cursor"
          )
        }
      }),
      budget(300, 1_500)
    )
  })
})

describe("GET /events (server-sent events)", () => {
  const h = harness()

  it("opens a stream (200 text/event-stream) or answers a documented 4xx", async () => {
    const eventsQuery = queryOf(
      ["zrn", "last_event_id", "unknown"],
      fc.oneof(fc.constantFrom("0", "1", "-1", "1.5", "x"), knownZrn)
    )
    const lastEventId = fc.option(
      fc.oneof(fc.constantFrom("0", "5", "-1", "1e3", "999999999999999999"), headerText(1, 30), longHeader),
      {
        freq: 2
      }
    )
    await fc.assert(
      fc.asyncProperty(eventsQuery, lastEventId, auth, extraHeaders, async (query, last, who, headers) => {
        const abort = new AbortController()
        const timer = setTimeout(() => abort.abort(), 1_000)
        try {
          const res = await h.request(`/events${query}`, {
            method: "GET",
            token: who.kind === "token" ? who.token : null,
            headers: {
              ...headers,
              ...(who.kind === "header" ? { authorization: who.value } : {}),
              ...(last === null ? {} : { "last-event-id": last })
            },
            signal: abort.signal
          })
          const sent: Sent = {
            group: "events",
            method: "GET",
            path: `/events${query}`,
            shape: `auth ${who.kind}; last-event-id ${excerpt(String(last), 60)}; headers ${excerpt(JSON.stringify(headers), 200)}`,
            requestId: headers["x-request-id"]
          }
          if (res.status === 200) {
            countAnswer("events", 200)
            const type = res.headers.get("content-type") ?? ""
            if (!type.startsWith("text/event-stream"))
              violation(sent, 200, type, "a 200 that is not text/event-stream")
            if (!REQUEST_ID.test(res.headers.get("x-request-id") ?? "")) {
              violation(sent, 200, "", "a stream without a well-formed X-Request-Id")
            }
            const reader = res.body!.getReader()
            const first = await Promise.race([reader.read(), new Promise((r) => setTimeout(r, 500, "none"))])
            if (first === "none") violation(sent, 200, "", "the stream sent nothing within 500 ms")
            abort.abort()
            await reader.cancel().catch(() => {})
          } else {
            await documented(res, sent)
          }
        } finally {
          clearTimeout(timer)
          abort.abort()
        }
      }),
      budget(150, 2_000)
    )
  })
})

describe("POST /webhooks/zerohash", () => {
  const h = harness()

  /** HMAC of the bytes as sent (string bodies are UTF-8 encoded as `Request` encodes them). */
  const hmac = (secret: string, body: string | Uint8Array, timestamp?: string): string => {
    const mac = createHmac("sha256", secret).update(
      typeof body === "string" ? Buffer.from(body, "utf8") : body
    )
    if (timestamp !== undefined) mac.update(timestamp)
    return mac.digest("hex")
  }

  /** Checks that no log line holds a notification id longer than 128 characters (production.md §1). */
  const checkLogs = async (sent: Sent, from: number): Promise<void> => {
    await logTurn()
    for (const line of h.logs.slice(from)) {
      let entry: { notification_id?: unknown }
      try {
        entry = JSON.parse(line) as { notification_id?: unknown }
      } catch {
        continue
      }
      const id = entry.notification_id
      // A value cut to 128 characters may carry one "…" marking the cut.
      if (typeof id === "string" && [...id.replace(/…$/, "")].length > 128) {
        violation(
          sent,
          0,
          excerpt(line, 300),
          "a log line holds a notification id longer than 128 characters"
        )
      }
    }
  }

  const deliver = async (
    group: string,
    body: string | Uint8Array,
    how: string,
    id: string | null,
    headers: Record<string, string>,
    bodySpec?: BodySpec
  ) => {
    const now = Date.now()
    const timestamp =
      how === "stale"
        ? String(now - 3_600_000)
        : how === "future"
          ? String(now + 3_600_000)
          : how === "seconds"
            ? String(Math.floor(now / 1000))
            : String(now)
    const signed: Record<string, string> = {
      "content-type": "application/json",
      "x-zh-hook-payload-type": "customer_account_status_changed",
      "x-zh-hook-timestamp": timestamp
    }
    if (id !== null) signed["x-zh-hook-notification-id"] = id
    if (how === "garbage") signed["x-zh-hook-signature"] = "00ff".repeat(16)
    if (how === "wrong-secret") signed["x-zh-hook-signature"] = hmac("not-the-secret", body, timestamp)
    if (how === "legacy-only") signed["x-zh-hook-signature-256"] = hmac(WEBHOOK_SECRET, body)
    if (how === "stale" || how === "future" || how === "seconds" || how === "valid") {
      signed["x-zh-hook-signature"] = hmac(WEBHOOK_SECRET, body, timestamp)
    }
    const logsBefore = h.logs.length
    const a = await send(h, group, {
      method: "POST",
      path: "/webhooks/zerohash",
      auth: { kind: "none" },
      headers: { ...signed, ...headers },
      rawBody: body,
      ...(bodySpec === undefined ? {} : { body: bodySpec })
    })
    await checkLogs(a.sent, logsBefore)
    return a
  }

  it("answers every generated delivery (unsigned, badly signed, signed) with a 2xx or a documented 4xx", async () => {
    const headers = fc.record({
      "x-request-id": requestId,
      "x-zh-hook-payload-type": fc.option(
        fc.oneof(fc.constant("participant_status_changed"), headerText(0, 30)),
        { freq: 5 }
      )
    })
    await fc.assert(
      fc.asyncProperty(webhookBody, signing, notificationId, headers, async (b, how, id, extra) => {
        const more: Record<string, string> = {}
        for (const [k, v] of Object.entries(extra)) if (v !== null) more[k] = v
        const a = await deliver("webhooks", renderBody(b), how, id, more, b)
        // Unsigned, wrongly signed or outside the 5-minute window: refused (400 for a malformed header
        // checked before the signature, 413 when also too large).
        if (["none", "garbage", "wrong-secret", "stale", "future"].includes(how)) {
          expectThat(
            a,
            a.status === 400 || a.status === 401 || a.status === 413,
            `a delivery signed "${how}" was not refused (400, 401 or 413)`
          )
        }
      }),
      budget(600, 2_000)
    )
  })

  it("refuses bodies over 256 KiB with 413 before the signature, and takes larger-than-64-KiB bodies", async () => {
    const size = fc.oneof(
      fc.integer({ min: API_LIMIT + 1, max: WEBHOOK_LIMIT }),
      fc.integer({ min: WEBHOOK_LIMIT - 16, max: WEBHOOK_LIMIT + 16 }),
      fc.integer({ min: WEBHOOK_LIMIT + 1, max: 1_500_000 })
    )
    await fc.assert(
      fc.asyncProperty(size, fc.constantFrom("none", "valid"), async (bytes, how) => {
        // A valid payload padded with spaces to exactly `bytes` bytes.
        const text = JSON.stringify(payload({ status: "open" }))
        const body = `${text.slice(0, -1)}${" ".repeat(Math.max(0, bytes - Buffer.byteLength(text)))}}`
        const a = await deliver("webhooks: body size", body, how, randomUUID(), {})
        if (bytes > WEBHOOK_LIMIT) {
          expectThat(
            a,
            a.status === 413,
            `webhook body of ${bytes} bytes (> ${WEBHOOK_LIMIT}): expected 413, got ${a.status}`
          )
          expectThat(
            a,
            (a.body as { code?: string }).code === "payload_too_large",
            "413 without code payload_too_large"
          )
        } else {
          expectThat(
            a,
            a.status !== 413,
            `webhook body of ${bytes} bytes (<= ${WEBHOOK_LIMIT}) refused with 413`
          )
          if (how === "valid")
            expectThat(
              a,
              a.status === 200,
              `a signed webhook of ${bytes} bytes: expected 200, got ${a.status}`
            )
        }
      }),
      budget(40, 2_000)
    )
  })

  it("refuses a signed notification whose id is not 1-128 of [A-Za-z0-9._:-], and never logs more than 128 characters of it", async () => {
    const badId = fc.oneof(
      fc.integer({ min: 129, max: 8_192 }).map((n) => "n".repeat(n)),
      // Inside the value: `Headers` trims spaces at either end.
      fc
        .stringMatching(/^[A-Za-z0-9]{0,20}[ /%#?+é!*]{1,3}[A-Za-z0-9]{1,20}$/)
        .filter((s) => !s.startsWith(" "))
    )
    await fc.assert(
      fc.asyncProperty(badId, async (id) => {
        const a = await deliver("webhooks: notification id", JSON.stringify(payload()), "valid", id, {})
        expectThat(
          a,
          a.status >= 400 && a.status < 500,
          `a notification id of ${id.length} characters was accepted (${a.status})`
        )
      }),
      budget(60, 1_000)
    )
  })

  it("refuses a signed payload with a lone surrogate, U+0000 or deep nesting in a field with 400 naming it", async () => {
    const bad = fc.tuple(
      fc.constantFrom("urn", "account_label", "participant_code", "status", "tenants"),
      fc.oneof(loneSurrogate, nulText, tooDeep)
    )
    await fc.assert(
      fc.asyncProperty(bad, async ([field, value]) => {
        const text = toText(payload({ [field]: value }))
        const a = await deliver("webhooks: payload", text, "valid", randomUUID(), {})
        expectThat(a, a.status === 400, `${field} = ${fc.stringify(value)}: expected 400, got ${a.status}`)
        expectThat(
          a,
          errorsOf(a).some((e) => e.includes(field)),
          `no error names ${field}`
        )
      }),
      budget(60, 1_500)
    )
  })
})

describe("operations routes, unknown paths and wrong methods", () => {
  const h = harness()

  it("answers GET on /healthz, /readyz, /metrics, /openapi.json and /docs with 200, whatever the query and headers", async () => {
    const route = fc.constantFrom("/healthz", "/readyz", "/metrics", "/openapi.json", "/docs")
    const junkQuery = queryOf(["a", "format", "zrn"], hostileString)
    await fc.assert(
      fc.asyncProperty(
        route,
        junkQuery,
        fc.constantFrom("GET", "HEAD"),
        auth,
        extraHeaders,
        async (path, q, method, who, headers) => {
          const a = await send(h, "operations", { method, path: path + q, auth: who, headers })
          expectThat(a, a.status === 200, `expected 200, got ${a.status}`)
        }
      ),
      budget(150, 1_000)
    )
  })

  it("answers unknown paths and other methods with a documented 4xx (or a 2xx where a route exists)", async () => {
    const path = pathOfWords([
      "accounts",
      "account",
      "webhooks",
      "zerohash",
      "events",
      "audit",
      "status",
      "details",
      "new",
      "lock",
      "tenants",
      "advisors",
      "status_reason",
      "healthz",
      "docs",
      "participants",
      "time"
    ])
    const method = fc.constantFrom(
      "GET",
      "HEAD",
      "POST",
      "PUT",
      "PATCH",
      "DELETE",
      "OPTIONS",
      "PROPFIND",
      "FUZZ"
    )
    const body = anyBody(2)
    await fc.assert(
      fc.asyncProperty(path, method, auth, extraHeaders, body, async (p, m, who, headers, b) => {
        await send(h, "unknown paths and methods", {
          method: m,
          path: p,
          auth: who,
          headers,
          body: b ?? undefined
        })
      }),
      budget(800, 2_000)
    )
  })
})
