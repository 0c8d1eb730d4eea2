/**
 * Property-based fuzzing of every endpoint of the testkit's simulator (`createSimulator`,
 * `simulator.fetch(request)`), with requests signed the way zerohash wants them (so body, path and
 * query validation is reached) and unsigned or badly signed ones.
 *
 * Inputs (`support/fuzz.ts`, shared with the server's fuzz suite; here only the ways to missign a
 * request): malformed JSON, valid JSON of the wrong types, huge strings and long arrays, deep nesting
 * (built as text, up to 10 000 levels), lone surrogates (as JSON escapes, raw, and as the bytes
 * ED A0 80), U+0000, U+FFFF, emoji, RTL text, bad percent-encoding in paths and queries, long header
 * values, and valid bodies mutated field by field.
 *
 * The property (upstream-api.md, "Error bodies"): every answer is a 2xx or a documented 4xx with the
 * upstream's shape: 400/409 `{errors: [...]}`, 401/403 `{error: true, message}`, 404
 * `{error: "Not Found", ...}`, 429 `{error: "Too Many Requests"}`, a 413 is allowed; never a 5xx (no
 * fault is configured). The simulator holds the proxy's field bounds (production.md §1: "Same limits in
 * the testkit's simulator"): a body over them is a 400 naming the JSON path, and creates nothing.
 *
 * Reproducible: `FUZZ_SEED=<n>` (printed at the start); a failure prints fast-check's seed, path and
 * counterexample. Bounded by `numRuns` and `interruptAfterTimeLimit` per property.
 */
import { Endpoint } from "@mta/domain"
import { createSimulator, Signing, type Simulator } from "@mta/testkit"
import fc from "fast-check"
import { beforeAll, describe, it } from "vitest"
import { createBody } from "./support/bodies.js"
import {
  anyBody,
  type BodySpec,
  boundCall,
  boundViolation,
  budget,
  byteLength,
  countAnswer,
  describeInput,
  endpointRequest,
  expectBoundRefused,
  expectQueryRefused,
  expectTakenUpToLimit,
  expectThat,
  extraHeaders,
  freshLabel,
  isStringArray,
  known,
  knownZrn,
  longQueryCall,
  longQueryValue,
  memberSegment,
  oversized,
  oversizedCall,
  pathOf,
  pathOfWords,
  renderedBody,
  reportFuzz,
  requestCall,
  type Sent,
  violation,
  wrongTypedBody,
  wrongTypedCall,
  zrnSegment
} from "./support/fuzz.js"

reportFuzz("testkit")

// ---------------------------------------------------------------------------------------------
// Arbitraries of the simulator alone (the rest: `support/fuzz.ts`)
// ---------------------------------------------------------------------------------------------

/** How a request is (mis)signed. */
const badSigning = fc.constantFrom(
  "none",
  "no-key",
  "unknown-key",
  "no-passphrase",
  "wrong-passphrase",
  "no-timestamp",
  "stale-timestamp",
  "ms-timestamp",
  "garbage-timestamp",
  "no-signature",
  "garbage-signature",
  "other-body",
  "other-path",
  "other-method"
)

// ---------------------------------------------------------------------------------------------
// Sending (signed or not) and the documented-answer check
// ---------------------------------------------------------------------------------------------

interface Answer {
  readonly status: number
  readonly text: string
  readonly body: unknown
  readonly sent: Sent
}

/**
 * Checks an answer against upstream-api.md's error bodies: a 2xx (JSON), or 400/409 `{errors}`,
 * 401/403 `{error: true, message}`, 404 `{error: "Not Found"}`, 413 (an error body), 429
 * `{error: "Too Many Requests"}`; never a 5xx nor any other status.
 */
const documented = async (res: Response, sent: Sent): Promise<Answer> => {
  const text = await res.text()
  const status = res.status
  countAnswer(sent.group, status)
  const fail = (why: string) => violation(sent, status, text, why)
  if (status >= 500) fail("5xx answer")
  const known = [400, 401, 403, 404, 409, 413, 429]
  if (!(status >= 200 && status < 300) && !known.includes(status)) fail(`undocumented status ${status}`)
  let body: unknown
  if (text !== "" || status >= 400) {
    if (!(res.headers.get("content-type") ?? "").includes("application/json")) fail("answer is not JSON")
    try {
      body = JSON.parse(text)
    } catch {
      fail("body is not valid JSON")
    }
  }
  const b = (typeof body === "object" && body !== null ? body : {}) as Record<string, unknown>
  switch (status) {
    case 400:
    case 409:
      if (!isStringArray(b.errors)) fail(`a ${status} body must be {errors: [non-empty strings]}`)
      break
    case 401:
    case 403:
      if (b.error !== true || typeof b.message !== "string" || b.message === "") {
        fail(`a ${status} body must be {error: true, message}`)
      }
      break
    case 404:
      if (b.error !== "Not Found") fail('a 404 body must be {error: "Not Found", ...}')
      break
    case 413:
      if (!isStringArray(b.errors) && typeof b.error !== "string") fail("a 413 body must be an error body")
      break
    case 429:
      if (b.error !== "Too Many Requests") fail('a 429 body must be {error: "Too Many Requests"}')
      break
  }
  return { status, text, body, sent }
}

/** The text the simulator reads from a body (`request.text()`: invalid UTF-8 becomes U+FFFD). */
const receivedText = (body: string | Uint8Array | undefined): string | undefined =>
  body === undefined
    ? undefined
    : new TextDecoder().decode(typeof body === "string" ? new TextEncoder().encode(body) : body)

/** One request to the simulator. */
interface Call {
  readonly method: string
  readonly path: string
  /** `valid`, or how it is missigned. */
  readonly signing: string
  readonly headers?: Readonly<Record<string, string>> | undefined
  readonly body?: BodySpec | undefined
  readonly rawBody?: string | Uint8Array | undefined
}

/** The `X-SCX-*` headers of a call, signed right or wrong. */
const signingHeaders = (
  sim: Simulator.Simulator,
  how: string,
  method: string,
  target: string,
  body: string | undefined
): Record<string, string> => {
  const now = Math.floor(sim.clock.now() / 1000)
  const timestamp =
    how === "stale-timestamp"
      ? now - 3_600
      : how === "ms-timestamp"
        ? sim.clock.now()
        : how === "garbage-timestamp"
          ? "12:00"
          : now
  const headers: Record<string, string> = Signing.signedHeaders(sim.credentials, {
    method: how === "other-method" ? (method === "GET" ? "POST" : "GET") : method,
    path: how === "other-path" ? `${target}x` : target,
    body: how === "other-body" ? `${body ?? ""} ` : body,
    timestamp
  })
  if (how === "none") return {}
  if (how === "no-key") delete headers["X-SCX-API-KEY"]
  if (how === "unknown-key") headers["X-SCX-API-KEY"] = "not-a-key"
  if (how === "no-passphrase") delete headers["X-SCX-PASSPHRASE"]
  if (how === "wrong-passphrase") headers["X-SCX-PASSPHRASE"] = "wrong"
  if (how === "no-timestamp") delete headers["X-SCX-TIMESTAMP"]
  if (how === "no-signature") delete headers["X-SCX-SIGNED"]
  if (how === "garbage-signature") headers["X-SCX-SIGNED"] = "AAAA"
  return headers
}

const BASE = "http://zerohash.test"

/** Sends a call (signed over the exact path, query and body the simulator will read) and checks the answer. */
const send = async (sim: Simulator.Simulator, group: string, call: Call): Promise<Answer> => {
  const rendered = renderedBody(call)
  const url = new URL(`${BASE}${call.path}`)
  const target = url.pathname + url.search
  const headers = {
    ...call.headers,
    ...signingHeaders(sim, call.signing, call.method, target, receivedText(rendered))
  }
  const sent: Sent = {
    group,
    method: call.method,
    path: call.path,
    shape: `signing ${call.signing}; ${describeInput(call.headers ?? {}, call.body, rendered)}`
  }
  let res: Response
  try {
    res = await sim.fetch(
      new Request(url, {
        method: call.method,
        headers,
        ...(rendered === undefined ? {} : { body: rendered })
      })
    )
  } catch (error) {
    return violation(sent, 0, String(error), "simulator.fetch threw instead of answering")
  }
  return documented(res, sent)
}

/** A simulator with the demo participants, the status reason feature on and no rate limit (no faults). */
const newSimulator = (): Simulator.Simulator =>
  createSimulator({ seedDemo: true, rateLimit: false, features: { status_reason: true } })

/** Opens `n` accounts with signed creates, provisions them, and locks one. */
const openAccounts = async (sim: Simulator.Simulator, n: number): Promise<Array<string>> => {
  const zrns: Array<string> = []
  for (let i = 0; i < n; i++) {
    const a = await send(sim, "setup", {
      method: "POST",
      path: "/accounts",
      signing: "valid",
      rawBody: JSON.stringify(createBody(freshLabel()))
    })
    if (a.status !== 202) throw new Error(`setup: create answered ${a.status} ${a.text}`)
    zrns.push((a.body as { message: { zrn: string } }).message.zrn)
  }
  await sim.settle()
  if (zrns[0] !== undefined) {
    await send(sim, "setup", {
      method: "POST",
      path: `/accounts/${zrns[0]}/lock`,
      signing: "valid",
      rawBody: "{}"
    })
    await sim.settle()
  }
  return zrns
}

// ---------------------------------------------------------------------------------------------
// Properties, one per route group
// ---------------------------------------------------------------------------------------------

describe("the simulator's 15 endpoints, signed", () => {
  const sim = newSimulator()
  beforeAll(async () => {
    known.push(...(await openAccounts(sim, 4)))
  })

  it("answer every generated request with a 2xx or a documented 4xx, never a 5xx", async () => {
    const request = endpointRequest()
    await fc.assert(
      fc.asyncProperty(request, async (r) => {
        await send(sim, "endpoints", { ...requestCall(r), signing: "valid" })
      }),
      budget(1_500, 4_000)
    )
  })

  it("answer valid bodies with one field of the wrong type with a 2xx or a documented 4xx", async () => {
    await fc.assert(
      fc.asyncProperty(wrongTypedBody, knownZrn, async (w, zrn) => {
        await send(sim, "endpoints: wrong types", { ...wrongTypedCall(w, zrn), signing: "valid" })
      }),
      budget(300, 1_500)
    )
  })

  it("refuse bodies over the bounds with 400 naming the JSON path, and create nothing", async () => {
    await fc.assert(
      fc.asyncProperty(boundViolation, knownZrn, async (v, zrn) => {
        const accounts = sim.accounts().length
        const a = await send(sim, "endpoints: field bounds", { ...boundCall(v, zrn), signing: "valid" })
        expectBoundRefused(a, v)
        expectThat(a, sim.accounts().length === accounts, `${v.kind}: an account was created`)
      }),
      budget(300, 2_000)
    )
  })

  it("refuse query values over 1 024 characters with 400 naming the parameter", async () => {
    await fc.assert(
      fc.asyncProperty(longQueryValue, async (q) => {
        const a = await send(sim, "endpoints: query bounds", { ...longQueryCall(q), signing: "valid" })
        expectQueryRefused(a, q)
      }),
      budget(60, 1_000)
    )
  })

  it("take bodies up to 64 KiB (a valid create padded with spaces is accepted), and may answer 413 above", async () => {
    await fc.assert(
      fc.asyncProperty(oversized, knownZrn, async (o, zrn) => {
        const body = o.render()
        const bytes = byteLength(body)
        const a = await send(sim, "endpoints: body size", {
          ...oversizedCall(o, zrn, body),
          signing: "valid"
        })
        expectTakenUpToLimit(a, o, bytes)
      }),
      budget(60, 2_000)
    )
  })
})

describe("the simulator, unsigned and badly signed", () => {
  const sim = newSimulator()

  it("refuses every request that is not signed right with 403 {error: true, message}", async () => {
    const request = fc.record({
      endpoint: fc.constantFrom(...Endpoint.all),
      zrn: zrnSegment,
      member: memberSegment,
      how: badSigning,
      body: anyBody(3),
      headers: extraHeaders
    })
    await fc.assert(
      fc.asyncProperty(request, async (r) => {
        const a = await send(sim, "unsigned or badly signed", {
          method: r.endpoint.method,
          path: pathOf(r.endpoint, r.zrn, r.member),
          signing: r.how,
          headers: r.headers,
          body: r.body ?? undefined
        })
        expectThat(
          a,
          a.status === 403 || a.status === 413,
          `signing "${r.how}": expected 403, got ${a.status}`
        )
      }),
      budget(600, 1_500)
    )
  })
})

describe("the simulator, other paths and methods", () => {
  const sim = newSimulator()

  it("answers unknown paths, wrong methods and GET /time with a 2xx or a documented 4xx", async () => {
    const path = pathOfWords([
      "accounts",
      "account",
      "new",
      "details",
      "status_reason",
      "lock",
      "tenants",
      "advisors",
      "participants",
      "customers",
      "minor",
      "time"
    ])
    const method = fc.constantFrom("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "FUZZ")
    const body = anyBody(2)
    await fc.assert(
      fc.asyncProperty(
        path,
        method,
        fc.oneof(fc.constant("valid"), badSigning),
        extraHeaders,
        body,
        async (p, m, how, headers, b) => {
          await send(sim, "other paths and methods", {
            method: m,
            path: p,
            signing: how,
            headers,
            body: b ?? undefined
          })
        }
      ),
      budget(800, 1_500)
    )
  })
})
