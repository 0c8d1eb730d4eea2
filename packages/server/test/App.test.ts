/**
 * The proxy app in process (`app.fetch`), in front of an in-process simulator whose signed webhooks
 * are delivered back into the app: auth and scopes, validation that never reaches upstream, error
 * shapes, request ids, rate limits, webhooks, the status projection, metrics and logs.
 */
import { Endpoint } from "@mta/domain"
import { Store } from "@mta/server"
import { Signing } from "@mta/testkit"
import { describe, expect, it } from "vitest"
import { createBody, harness, signWebhook, TOKENS } from "./support.js"

const UUID = "c761fc96-5c44-40d4-8eb2-3fcd5d06754e"
const ZRN = `zrn:zh:us:accounts:customer:${UUID}`

/** Creates an account through the proxy and lets the simulator provision it (webhook into the app). */
const openAccount = async (h: ReturnType<typeof harness>, label: string): Promise<string> => {
  const r = await h.request("/accounts", { method: "POST", json: createBody(label) })
  expect(r.status).toBe(202)
  const zrn = ((await r.json()) as { message: { zrn: string } }).message.zrn
  await h.simulator.settle()
  return zrn
}

describe("caller authentication and scopes", () => {
  const h = harness()

  it("answers 401 without a token, with a malformed header and with an unknown token", async () => {
    for (const [headers, message] of [
      [{}, /missing bearer token/],
      [{ authorization: "Basic abc" }, /malformed/],
      [{ authorization: "Bearer not-a-known-token" }, /unknown bearer token/]
    ] as const) {
      const r = await h.request(`/accounts/${ZRN}/details`, { token: null, headers })
      expect(r.status).toBe(401)
      expect(r.headers.get("www-authenticate")).toContain("Bearer")
      const body = (await r.json()) as Record<string, unknown>
      expect(body).toMatchObject({ error: true, code: "unauthorized" })
      expect(body.message).toMatch(message)
      expect(body.request_id).toBe(r.headers.get("x-request-id"))
    }
  })

  it("answers 403 naming the missing scope, for every endpoint the caller may not use", async () => {
    const before = h.upstreamCount()
    for (const endpoint of Endpoint.all) {
      const path = endpoint.path
        .replace("{zrn}", ZRN)
        .replace("{tenant}", "CUST03")
        .replace("{financial_advisor}", "ADVSR1")
      const r = await h.request(path, {
        method: endpoint.method,
        token: TOKENS.reader,
        json: endpoint.method === "GET" || endpoint.method === "DELETE" ? undefined : {}
      })
      if (endpoint.scope === "accounts:read") {
        expect(((await r.json()) as { code: string }).code, endpoint.name).not.toBe("forbidden")
      } else {
        expect(r.status, endpoint.name).toBe(403)
        const body = (await r.json()) as { message: string; code: string }
        expect(body.code).toBe("forbidden")
        expect(body.message).toContain(endpoint.scope)
      }
    }
    // Only the reads went upstream.
    const reads = Endpoint.all.filter((e) => e.scope === "accounts:read").length
    expect(h.upstreamCount() - before).toBe(reads)
  })

  it("guards /events with events:read", async () => {
    const r = await h.request("/events", { token: TOKENS.reader })
    expect(r.status).toBe(403)
    expect(((await r.json()) as { message: string }).message).toContain("events:read")
  })
})

describe("validation before anything goes upstream", () => {
  const h = harness()

  const refused = async (
    path: string,
    init: Parameters<typeof h.request>[1],
    status: number,
    code: string
  ) => {
    const before = h.upstreamCount()
    const r = await h.request(path, init)
    const body = (await r.json()) as Record<string, unknown>
    expect(r.status, JSON.stringify(body)).toBe(status)
    expect(body.code).toBe(code)
    expect(typeof body.request_id).toBe("string")
    expect(h.upstreamCount()).toBe(before)
    return body
  }

  it("refuses a malformed ZRN with the domain's message", async () => {
    const body = await refused(
      `/accounts/zrn:zh:fr:accounts:customer:${UUID}/details`,
      {},
      400,
      "invalid_zrn"
    )
    expect((body.errors as Array<string>)[0]).toMatch(/geo/)
    await refused(`/accounts/ledger:${UUID}/details`, {}, 400, "invalid_zrn")
  })

  it("refuses bodies the domain's Schemas refuse, listing every problem", async () => {
    const body = await refused(
      "/accounts",
      { method: "POST", json: { participant_code: "CUST01" } },
      400,
      "invalid_request"
    )
    const errors = (body.errors as Array<string>).join("\n")
    for (const field of ["account_label", "type", "tier", "prefunded"]) expect(errors).toContain(field)
    const wrapped = await refused(
      "/accounts",
      { method: "POST", json: { message: createBody("w") } },
      400,
      "invalid_request"
    )
    expect((wrapped.errors as Array<string>).join()).toMatch(/wrapped/)
    const singular = await refused(
      "/accounts",
      { method: "POST", json: { ...createBody("s"), tenants: undefined, tenant: ["CUST02"] } },
      400,
      "invalid_request"
    )
    expect((singular.errors as Array<string>).join()).toMatch(/tenants/)
    await refused(`/accounts/${ZRN}/lock`, { method: "POST", json: { reason: "x" } }, 400, "invalid_request")
    await refused(
      `/accounts/${ZRN}`,
      { method: "PATCH", json: { tier: "platinum", prefunded: true } },
      400,
      "invalid_request"
    )
    await refused(`/accounts/${ZRN}/tenants/CUST3`, { method: "DELETE" }, 400, "invalid_request")
    await refused("/accounts?colour=blue", {}, 400, "invalid_request")
    await refused(
      "/accounts",
      { method: "POST", body: "{not json", headers: { "content-type": "application/json" } },
      400,
      "invalid_request"
    )
  })

  it("refuses a composition the account type does not allow (every problem listed)", async () => {
    const body = await refused(
      "/accounts",
      {
        method: "POST",
        json: createBody("c", {
          type: "utma",
          participant_code: "MINOR1",
          tenants: ["CUSTD1", "CUST04"],
          financial_advisors: ["CUSTD1"]
        })
      },
      400,
      "invalid_composition"
    )
    expect((body.errors as Array<string>).length).toBeGreaterThanOrEqual(2)
  })

  it("refuses a transition the projected status cannot take, and lets the upstream decide otherwise", async () => {
    const zrn = await openAccount(h, "transition")
    expect((await h.store.status(zrn))?.status).toBe("open")
    expect((await h.request(`/accounts/${zrn}/lock`, { method: "POST" })).status).toBe(202)
    await h.simulator.settle()
    expect((await h.store.status(zrn))?.status).toBe("locked")
    const body = await refused(
      `/accounts/${zrn}/withdraw_lock`,
      { method: "POST" },
      400,
      "transition_rejected"
    )
    expect((body.errors as Array<string>)[0]).toMatch(/already blocks withdrawals/)
    // unlock is allowed from locked: forwarded.
    const before = h.upstreamCount()
    expect((await h.request(`/accounts/${zrn}/unlock`, { method: "POST" })).status).toBe(202)
    expect(h.upstreamCount()).toBe(before + 1)
  })

  it("forwards any accepted ZRN form canonical", async () => {
    const zrn = await openAccount(h, "forms")
    const id = zrn.split(":").at(-1)!
    for (const form of [
      `customer:${id.toUpperCase()}`,
      `urn:zh:us:accounts:customer:${id}`,
      id,
      `ZH:US:ACCOUNT:CUSTOMER:${id}`
    ]) {
      const r = await h.request(`/accounts/${form}/details`)
      expect(r.status, form).toBe(200)
      expect(((await r.json()) as { message: { zrn: string } }).message.zrn).toBe(zrn)
      expect(h.simulator.journal().at(-1)!.path).toBe(`/accounts/${zrn}/details`)
    }
  })

  it("answers the older guides' POST /accounts/new with a 404 that says what to use, and 405 for a wrong method", async () => {
    const r = await h.request("/accounts/new", { method: "POST", json: createBody("n") })
    expect(r.status).toBe(404)
    expect(((await r.json()) as { message: string }).message).toMatch(/use POST \/accounts/)
    const m = await h.request(`/accounts/${ZRN}/lock`, { method: "GET" })
    expect(m.status).toBe(405)
    expect(m.headers.get("allow")).toBe("POST")
  })
})

describe("upstream errors and request ids", () => {
  const h = harness()

  it("passes upstream errors through in the upstream shapes, plus code and request_id", async () => {
    const missing = await h.request(`/accounts/customer:${crypto.randomUUID()}/details`)
    expect(missing.status).toBe(404)
    expect(await missing.json()).toMatchObject({ error: expect.any(String), code: "upstream_not_found" })

    expect((await h.request("/accounts", { method: "POST", json: createBody("dup") })).status).toBe(202)
    const dup = await h.request("/accounts", { method: "POST", json: createBody("dup") })
    expect(dup.status).toBe(409)
    expect(await dup.json()).toMatchObject({ errors: [expect.any(String)], code: "upstream_conflict" })

    const reason = await h.request(`/account/${ZRN}/status_reason`)
    expect(reason.status).toBe(403)
    expect(await reason.json()).toMatchObject({
      error: true,
      message: expect.stringMatching(/not enabled/),
      code: "upstream_forbidden"
    })

    h.simulator.injectFault({ endpoint: "listLedgerAccounts", status: 503, times: 1 })
    const unavailable = await h.request("/accounts")
    expect(unavailable.status).toBe(503)
    expect(unavailable.headers.get("zh-allow-retry")).toBe("true")
    expect(await unavailable.json()).toMatchObject({
      error: "Service Unavailable",
      code: "upstream_unavailable"
    })

    h.simulator.injectFault({ endpoint: "listLedgerAccounts", status: 429, times: 1 })
    const limited = await h.request("/accounts")
    expect(limited.status).toBe(429)
    expect(Number(limited.headers.get("retry-after"))).toBeGreaterThan(0)
    expect(await limited.json()).toMatchObject({ error: "Too Many Requests", code: "upstream_rate_limited" })

    h.simulator.injectFault({ endpoint: "getAccount", drop: true, times: 1 })
    const dropped = await h.request(`/accounts/${ZRN}/details`)
    expect(dropped.status).toBe(502)
    expect(await dropped.json()).toMatchObject({ error: "Bad Gateway", code: "upstream_unreachable" })
  })

  it("accepts a well-formed X-Request-Id, sends it upstream and echoes it; generates one otherwise", async () => {
    const r = await h.request(`/accounts/${ZRN}/details`, { headers: { "x-request-id": "trace-abc.123" } })
    expect(r.headers.get("x-request-id")).toBe("trace-abc.123")
    expect((await r.json()) as object).toMatchObject({ request_id: "trace-abc.123" })
    expect(h.upstreamRequestIds.at(-1)).toBe("trace-abc.123")

    const bad = await h.request("/healthz", { headers: { "x-request-id": "has spaces and \u00e9" } })
    expect(bad.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/)
  })
})

describe("rate limits", () => {
  it("answers 429 with Retry-After once a caller is over its own budget; other callers are unaffected", async () => {
    const h = harness()
    for (let i = 0; i < 2; i++)
      expect((await h.request("/events?zrn=x", { token: TOKENS.limited })).status).toBe(400)
    const r = await h.request(`/accounts/${ZRN}/status`, { token: TOKENS.limited })
    expect(r.status).toBe(429)
    expect(Number(r.headers.get("retry-after"))).toBeGreaterThanOrEqual(59)
    expect(await r.json()).toMatchObject({ error: "Too Many Requests", code: "rate_limited" })
    expect((await h.request("/events?zrn=x", { token: TOKENS.admin })).status).toBe(400)
  })

  it("applies a default per-caller budget from the configuration", async () => {
    const h = harness({ callerLimit: { requests: 1, window_ms: 10_000 } })
    expect((await h.request("/accounts/x/details")).status).toBe(400)
    expect((await h.request("/accounts/x/details")).status).toBe(429)
  })

  it("keeps upstream calls under the vendor's budget, shared by every caller, without calling upstream when over", async () => {
    const h = harness({ egressLimit: { requests: 3, window_ms: 60_000 } })
    for (let i = 0; i < 3; i++)
      expect((await h.request("/accounts", { token: i === 0 ? TOKENS.reader : TOKENS.admin })).status).toBe(
        200
      )
    const before = h.upstreamCount()
    const r = await h.request("/accounts")
    expect(r.status).toBe(429)
    expect(await r.json()).toMatchObject({ code: "upstream_rate_limited" })
    expect(h.upstreamCount()).toBe(before)
    // Requests that are refused before going upstream do not spend the budget.
    expect((await h.request("/accounts/x/details")).status).toBe(400)
  })

  it("ZH_RATE_LIMIT=0 (egressLimit undefined) turns the vendor budget off", async () => {
    // A caller's share of 0.1% of the default budget (2 000 per 10 s) is 2 requests: with the default
    // budget, the third is refused...
    const budgeted = harness({ upstreamShare: 0.001 })
    for (let i = 0; i < 2; i++) expect((await budgeted.request("/accounts")).status).toBe(200)
    expect(await (await budgeted.request("/accounts")).json()).toMatchObject({
      code: "upstream_rate_limited"
    })
    // ...with the budget off, none is.
    const h = harness({ egressLimit: undefined, upstreamShare: 0.001 })
    for (let i = 0; i < 5; i++) expect((await h.request("/accounts")).status).toBe(200)
  })
})

describe("webhooks", () => {
  const payload = (status: string, id = UUID, extra: Record<string, unknown> = {}) =>
    JSON.stringify({
      urn: `urn:zh:us:accounts:customer:${id}`,
      participant_code: "CUST01",
      status,
      type: "jtic",
      ...extra
    })
  const post = (h: ReturnType<typeof harness>, body: string, headers: Record<string, string>) =>
    h.request("/webhooks/zerohash", { method: "POST", token: null, headers, body })

  it("applies a verified notification to the projection and the event log", async () => {
    const h = harness()
    const body = payload("open")
    const r = await post(h, body, signWebhook(body))
    expect(r.status).toBe(200)
    expect(await r.json()).toEqual({ received: true, outcome: "applied" })
    expect((await h.store.status(ZRN))?.status).toBe("open")
    const status = await h.request(`/accounts/${ZRN}/status`)
    expect(await status.json()).toMatchObject({ zrn: ZRN, status: "open", timed_out: false })
  })

  it("refuses tampering, a wrong secret, a replay outside 5 minutes and a missing signature, and logs it", async () => {
    const h = harness()
    const body = payload("open")
    const cases: Array<[string, string, Record<string, string>]> = [
      ["tampered body", payload("closed"), signWebhook(body)],
      ["wrong secret", body, signWebhook(body, { secret: "other" })],
      ["replayed", body, signWebhook(body, { timestamp: Date.now() - 6 * 60_000 })],
      ["from the future", body, signWebhook(body, { timestamp: Date.now() + 6 * 60_000 })],
      ["unsigned", body, { "x-zh-hook-timestamp": String(Date.now()), "x-zh-hook-notification-id": "n1" }]
    ]
    for (const [what, sent, headers] of cases) {
      const r = await post(h, sent, headers)
      expect(r.status, what).toBe(401)
      expect(await r.json()).toMatchObject({ error: true, code: "webhook_rejected" })
    }
    expect(await h.store.status(ZRN)).toBeUndefined()
    const rejected = h.logs.filter((l) => l.includes("webhook rejected"))
    expect(rejected).toHaveLength(cases.length)
    expect(rejected.join("\n")).not.toContain(WEBHOOK_SECRET_FRAGMENT)
    const metrics = await h.metrics.render()
    expect(metrics).toMatch(
      /mta_webhooks_received_total\{outcome="rejected",kind="account",reason="SignatureMismatch"\} 2/
    )
    expect(metrics).toMatch(
      /mta_webhooks_received_total\{outcome="rejected",kind="account",reason="TimestampTooOld"\} 1/
    )
  })

  it("accepts the legacy signature alone (with ZH_WEBHOOK_ACCEPT_LEGACY) and a 10-digit (seconds) timestamp", async () => {
    const h = harness({ webhookAcceptLegacy: true })
    const body = payload("locked")
    expect((await post(h, body, signWebhook(body, { legacyOnly: true }))).status).toBe(200)
    const second = payload("open", crypto.randomUUID())
    expect(
      (await post(h, second, signWebhook(second, { timestamp: Math.floor(Date.now() / 1000) }))).status
    ).toBe(200)
  })

  it("acknowledges a duplicate notification id without effect", async () => {
    const h = harness()
    const first = payload("locked")
    expect(
      await (await post(h, first, signWebhook(first, { id: "dup-1", timestamp: Date.now() - 1000 }))).json()
    ).toMatchObject({ outcome: "applied" })
    const again = payload("open")
    const r = await post(h, again, signWebhook(again, { id: "dup-1" }))
    expect(r.status).toBe(200)
    expect(await r.json()).toEqual({ received: true, outcome: "duplicate" })
    expect((await h.store.status(ZRN))?.status).toBe("locked")
    expect(await h.store.events({ after: 0, limit: 10 })).toHaveLength(1)
    expect(await h.metrics.render()).toMatch(
      /mta_webhooks_received_total\{outcome="duplicate",kind="account"\} 1/
    )
  })

  it("orders by timestamp: a late older event never overwrites a newer status", async () => {
    const h = harness()
    const now = Date.now()
    const newer = payload("locked")
    expect((await post(h, newer, signWebhook(newer, { timestamp: now }))).status).toBe(200)
    const older = payload("open")
    const r = await post(h, older, signWebhook(older, { timestamp: now - 2_000 }))
    expect(await r.json()).toEqual({ received: true, outcome: "stale" })
    expect((await h.store.status(ZRN))?.status).toBe("locked")
    const newest = payload("closed")
    expect(
      await (await post(h, newest, signWebhook(newest, { timestamp: now + 1_000 }))).json()
    ).toMatchObject({ outcome: "applied" })
    expect((await h.store.status(ZRN))?.status).toBe("closed")
  })

  it("stores an unknown status instead of failing, and accepts `zrn` in place of `urn`", async () => {
    const h = harness()
    const body = JSON.stringify({ zrn: ZRN, status: "frozen_by_regulator" })
    const r = await post(h, body, signWebhook(body))
    expect(r.status).toBe(200)
    expect((await h.store.status(ZRN))?.status).toBe("frozen_by_regulator")
    // With an unknown status the proxy cannot judge a transition: the upstream decides.
    const before = h.upstreamCount()
    await h.request(`/accounts/${ZRN}/lock`, { method: "POST" })
    expect(h.upstreamCount()).toBe(before + 1)
  })

  it("refuses a notification without an id and a payload that does not decode", async () => {
    const h = harness()
    const body = payload("open")
    const headers = signWebhook(body)
    delete headers["x-zh-hook-notification-id"]
    expect((await post(h, body, headers)).status).toBe(401)
    const junk = JSON.stringify({ status: "open" })
    const r = await post(h, junk, signWebhook(junk))
    expect(r.status).toBe(400)
  })
})

const WEBHOOK_SECRET_FRAGMENT = "whsec_server_test"

describe("status projection: long poll", () => {
  it("wakes a long poll when the webhook arrives, and times out with timed_out: true", async () => {
    const h = harness({ simDelayMs: 150 })
    const r = await h.request("/accounts", { method: "POST", json: createBody("long-poll") })
    const zrn = ((await r.json()) as { message: { zrn: string } }).message.zrn
    // Known from the create: provisioning, no status yet.
    expect(await (await h.request(`/accounts/${zrn}/status`)).json()).toMatchObject({
      status: null,
      timed_out: false
    })
    const waiting = h.request(`/accounts/${zrn}/status?wait_for=open&timeout_ms=10000`)
    await new Promise((resolve) => setTimeout(resolve, 20))
    expect(await h.metrics.render()).toMatch(/mta_long_polls_waiting 1/)
    const answer = (await (await waiting).json()) as Record<string, unknown>
    expect(answer).toMatchObject({ zrn, status: "open", timed_out: false })
    expect(typeof answer.updated_at).toBe("string")

    const timeout = await h.request(`/accounts/${zrn}/status?wait_for=closed&timeout_ms=50`)
    expect(await timeout.json()).toMatchObject({ status: "open", timed_out: true })
    expect(await h.metrics.render()).toMatch(/mta_long_polls_waiting 0/)
  })

  it("reads an account it has never seen from upstream once, and answers 404 for an unknown one", async () => {
    // No webhooks reach this proxy: it learns nothing but what it reads.
    const h = harness({ webhooks: false })
    const body = JSON.stringify(createBody("seed"))
    const created = await h.simulator.fetch(
      new Request("http://simulator.test/accounts", {
        method: "POST",
        headers: Signing.signedHeaders(h.simulator.credentials, { method: "POST", path: "/accounts", body }),
        body
      })
    )
    const zrn = ((await created.json()) as { message: { zrn: string } }).message.zrn
    await h.simulator.settle()
    expect(await h.store.status(zrn)).toBeUndefined()
    const before = h.upstreamCount()
    expect(await (await h.request(`/accounts/${zrn}/status`)).json()).toMatchObject({ zrn, status: "open" })
    expect(await (await h.request(`/accounts/${zrn}/status`)).json()).toMatchObject({ zrn, status: "open" })
    expect(h.upstreamCount()).toBe(before + 1)
    const unknown = await h.request(`/accounts/customer:${crypto.randomUUID()}/status`)
    expect(unknown.status).toBe(404)
  })

  it("refuses malformed query values", async () => {
    const h = harness()
    const r = await h.request(`/accounts/${ZRN}/status?wait_for=open&timeout_ms=soon`)
    expect(r.status).toBe(400)
    expect(((await r.json()) as { errors: Array<string> }).errors.join()).toMatch(/timeout_ms/)
  })

  it("answers waiting long polls at once when the app drains", async () => {
    const h = harness()
    await h.store.observe({ zrn: ZRN, status: "open", source: "read", at: Date.now() })
    const waiting = h.request(`/accounts/${ZRN}/status?wait_for=closed&timeout_ms=30000`)
    await new Promise((resolve) => setTimeout(resolve, 20))
    h.app.drain()
    expect(await (await waiting).json()).toMatchObject({ status: "open", timed_out: true })
    expect((await h.request("/readyz", { token: null })).status).toBe(503)
  })
})

describe("operations", () => {
  it("serves health, readiness and an OpenAPI document of every endpoint with its scope", async () => {
    const h = harness()
    expect(await (await h.request("/healthz", { token: null })).json()).toEqual({ status: "ok" })
    const ready = await h.request("/readyz", { token: null })
    expect(ready.status).toBe(200)
    expect(await ready.json()).toMatchObject({ status: "ok", checks: { store: "ok" } })
    const doc = (await (await h.request("/openapi.json", { token: null })).json()) as {
      openapi: string
      paths: Record<
        string,
        Record<string, { operationId: string; "x-scope"?: string; requestBody?: unknown }>
      >
    }
    expect(doc.openapi).toBe("3.1.0")
    for (const endpoint of Endpoint.all) {
      const op = doc.paths[endpoint.path]?.[endpoint.method.toLowerCase()]
      expect(op?.operationId, endpoint.name).toBe(endpoint.name)
      expect(op?.["x-scope"]).toBe(endpoint.scope)
      expect(op?.requestBody !== undefined).toBe(endpoint.request !== undefined)
    }
    expect(doc.paths["/accounts/{zrn}/status"]?.get?.operationId).toBe("getStatus")
    expect(doc.paths["/accounts/{zrn}/status/refresh"]?.post).toMatchObject({
      operationId: "refreshStatus",
      "x-scope": "accounts:access"
    })
    expect(doc.paths["/events"]?.get).toBeDefined()
  })

  it("is not ready when the store is not", async () => {
    const store = Store.memory()
    const h = harness({ store })
    await store.close()
    const r = await h.request("/readyz", { token: null })
    expect(r.status).toBe(503)
    expect(await r.json()).toMatchObject({ status: "unavailable", checks: { store: "store is closed" } })
  })

  it("exports Prometheus metrics by route, status and caller, upstream latency and errors", async () => {
    const h = harness()
    await h.request(`/accounts/${ZRN}/details`)
    await h.request(`/accounts/${ZRN}/details`, { token: TOKENS.reader })
    await h.request("/accounts/x/details", { token: TOKENS.reader })
    const r = await h.request("/metrics", { token: null })
    expect(r.headers.get("content-type")).toMatch(/text\/plain/)
    const text = await r.text()
    expect(text).toContain(
      'mta_http_requests_total{route="/accounts/:zrn/details",method="GET",status="404",caller="admin"} 1'
    )
    expect(text).toContain(
      'mta_http_requests_total{route="/accounts/:zrn/details",method="GET",status="404",caller="reader"} 1'
    )
    expect(text).toContain(
      'mta_http_requests_total{route="/accounts/:zrn/details",method="GET",status="400",caller="reader"} 1'
    )
    expect(text).toMatch(
      /mta_http_request_duration_seconds_bucket\{le="[0-9.]+",route="\/accounts\/:zrn\/details",method="GET"\} \d+/
    )
    expect(text).toMatch(/mta_upstream_request_duration_seconds_count\{endpoint="getAccount"\} 2/)
    expect(text).toContain('mta_upstream_errors_total{endpoint="getAccount",code="NotFound"} 2')
    expect(text).toContain("mta_long_polls_waiting 0")
  })

  it("logs one JSON line per request with request id and caller, and never a token or secret", async () => {
    const h = harness()
    await h.request(`/accounts/${ZRN}/details`, { headers: { "x-request-id": "log-check-1" } })
    await h.request("/accounts/x/details", { token: "a-wrong-token-value" })
    const lines = h.logs.map((l) => JSON.parse(l) as Record<string, unknown>)
    const line = lines.find((l) => l.request_id === "log-check-1")
    expect(line).toMatchObject({
      level: "info",
      msg: "request",
      caller: "admin",
      method: "GET",
      status: 404,
      route: "/accounts/:zrn/details"
    })
    const all = h.logs.join("\n")
    for (const secret of [
      TOKENS.admin,
      "a-wrong-token-value",
      h.simulator.credentials.apiSecret,
      h.simulator.credentials.passphrase
    ]) {
      expect(all).not.toContain(secret)
    }
  })
})
