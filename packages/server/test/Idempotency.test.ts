/**
 * `Idempotency-Key` and the audit log, with the app in process in front of an in-process simulator:
 * replays that never reach upstream, 422 on another request, 409 while in flight, keys per caller,
 * expiry, which answers are stored (Stripe's rules), the reconciliation of a create whose outcome is
 * unknown, and `GET /audit` with its filters, pagination and redaction.
 */
import { randomUUID } from "node:crypto"
import { Store, Upstream } from "@mta/server"
import { Fault } from "@mta/testkit"
import { describe, expect, it } from "vitest"
import { createBody, freePort, harness, TOKENS } from "./support.js"

type H = ReturnType<typeof harness>

const creates = (h: H, label: string) =>
  h.simulator.journal().filter((e) => e.endpoint === "createAccount" && e.requestBody.includes(`"${label}"`))
    .length

const post = (h: H, path: string, key: string | undefined, json: unknown, token: string = TOKENS.admin) =>
  h.request(path, {
    method: "POST",
    json,
    token,
    headers: key === undefined ? {} : { "idempotency-key": key }
  })

const openAccount = async (h: H, label: string): Promise<string> => {
  const r = await post(h, "/accounts", undefined, createBody(label))
  expect(r.status).toBe(202)
  const zrn = ((await r.json()) as { message: { zrn: string } }).message.zrn
  await h.simulator.settle()
  return zrn
}

describe("Idempotency-Key", () => {
  const h = harness()

  it("replays the stored answer for the same request, without calling upstream again", async () => {
    const label = `idem-${randomUUID().slice(0, 8)}`
    const key = randomUUID()
    const first = await post(h, "/accounts", key, createBody(label))
    expect(first.status).toBe(202)
    expect(first.headers.get("idempotent-replayed")).toBeNull()
    const body = await first.text()
    // The same request with its keys in another order: the fingerprint is of the decoded body.
    const reordered = Object.fromEntries(Object.entries(createBody(label)).reverse())
    const again = await post(h, "/accounts", key, reordered)
    expect(again.status).toBe(202)
    expect(again.headers.get("idempotent-replayed")).toBe("true")
    expect(await again.text()).toBe(body)
    expect(again.headers.get("x-request-id")).not.toBe(first.headers.get("x-request-id"))
    expect(creates(h, label)).toBe(1)
  })

  it("treats every accepted ZRN spelling as the same request", async () => {
    const zrn = await openAccount(h, `spell-${randomUUID().slice(0, 8)}`)
    const id = zrn.split(":").at(-1)!
    const key = randomUUID()
    const before = h.upstreamCount()
    expect((await post(h, `/accounts/${zrn}/lock`, key, {})).status).toBe(202)
    const replay = await post(h, `/accounts/customer:${id.toUpperCase()}/lock`, key, undefined)
    expect(replay.status).toBe(202)
    expect(replay.headers.get("idempotent-replayed")).toBe("true")
    expect(h.upstreamCount()).toBe(before + 1)
  })

  it("answers 422 for the same key with another request, and the key keeps its first answer", async () => {
    const key = randomUUID()
    const label = `mismatch-${randomUUID().slice(0, 8)}`
    expect((await post(h, "/accounts", key, createBody(label))).status).toBe(202)
    const other = await post(h, "/accounts", key, createBody(label, { tier: "gold" }))
    expect(other.status).toBe(422)
    expect(await other.json()).toMatchObject({ code: "idempotency_mismatch" })
    expect((await post(h, "/accounts", key, createBody(label))).headers.get("idempotent-replayed")).toBe(
      "true"
    )
    expect(creates(h, label)).toBe(1)
  })

  it("answers 409 while the first request with the key is in flight", async () => {
    const zrn = await openAccount(h, `flight-${randomUUID().slice(0, 8)}`)
    const fault = h.simulator.injectFault({ ...Fault.latency(300, "lock"), times: 1 })
    const key = randomUUID()
    const first = post(h, `/accounts/${zrn}/lock`, key, {})
    // Let the first claim the key and go upstream before the second arrives.
    await new Promise((resolve) => setTimeout(resolve, 50))
    const second = await post(h, `/accounts/${zrn}/lock`, key, {})
    expect(second.status).toBe(409)
    expect(second.headers.get("retry-after")).toBe("1")
    expect(await second.json()).toMatchObject({ code: "idempotency_in_flight" })
    expect((await first).status).toBe(202)
    fault.remove()
    const third = await post(h, `/accounts/${zrn}/lock`, key, {})
    expect(third.headers.get("idempotent-replayed")).toBe("true")
    expect(h.simulator.journal().filter((e) => e.endpoint === "lock" && e.path.includes(zrn))).toHaveLength(1)
  })

  it("scopes keys per caller", async () => {
    const key = randomUUID()
    const [a, b] = [`per-a-${randomUUID().slice(0, 6)}`, `per-b-${randomUUID().slice(0, 6)}`]
    expect((await post(h, "/accounts", key, createBody(a))).status).toBe(202)
    // Another caller's same key is another record: its own request runs.
    const other = await post(h, "/accounts", key, createBody(b), TOKENS.limited)
    expect(other.status).toBe(202)
    expect(other.headers.get("idempotent-replayed")).toBeNull()
    expect([creates(h, a), creates(h, b)]).toEqual([1, 1])
  })

  it("frees the key of a request refused before it went upstream, so the corrected one runs", async () => {
    const key = randomUUID()
    const label = `fix-${randomUUID().slice(0, 8)}`
    const bad = await post(h, "/accounts", key, createBody(label, { tenants: [] }))
    expect(bad.status).toBe(400)
    const good = await post(h, "/accounts", key, createBody(label))
    expect(good.status).toBe(202)
    expect(good.headers.get("idempotent-replayed")).toBeNull()
  })

  it("stores a final upstream refusal (409 duplicate label) and replays it", async () => {
    const label = `dup-${randomUUID().slice(0, 8)}`
    expect((await post(h, "/accounts", undefined, createBody(label))).status).toBe(202)
    const key = randomUUID()
    const refused = await post(h, "/accounts", key, createBody(label))
    expect(refused.status).toBe(409)
    expect(await refused.json()).toMatchObject({ code: "upstream_conflict" })
    const replay = await post(h, "/accounts", key, createBody(label))
    expect(replay.status).toBe(409)
    expect(replay.headers.get("idempotent-replayed")).toBe("true")
    expect(creates(h, label)).toBe(2)
  })

  it("frees the key after an upstream 503 (not carried out), so the retry goes upstream", async () => {
    const zrn = await openAccount(h, `busy-${randomUUID().slice(0, 8)}`)
    h.simulator.injectFault(Fault.failNext(1, { status: 503, endpoint: "unlock" }))
    const key = randomUUID()
    expect((await post(h, `/accounts/${zrn}/unlock`, key, {})).status).toBe(503)
    const retry = await post(h, `/accounts/${zrn}/unlock`, key, {})
    expect(retry.status).toBe(202)
    expect(retry.headers.get("idempotent-replayed")).toBeNull()
  })

  it("refuses a malformed key", async () => {
    const r = await post(h, "/accounts", "has spaces in it", createBody("x"))
    expect(r.status).toBe(400)
    expect(((await r.json()) as { errors: Array<string> }).errors[0]).toMatch(/Idempotency-Key/)
  })
})

describe("Idempotency-Key expiry", () => {
  let now = Date.parse("2026-01-01T00:00:00Z")
  const h = harness({ now: () => now, idempotencyTtlMs: 60_000 })

  it("forgets a key after MTA_IDEMPOTENCY_TTL_MS: it can then carry another request", async () => {
    const key = randomUUID()
    const [a, b] = [`ttl-a-${randomUUID().slice(0, 6)}`, `ttl-b-${randomUUID().slice(0, 6)}`]
    expect((await post(h, "/accounts", key, createBody(a))).status).toBe(202)
    now += 59_000
    expect((await post(h, "/accounts", key, createBody(b))).status).toBe(422)
    now += 1_000
    const later = await post(h, "/accounts", key, createBody(b))
    expect(later.status).toBe(202)
    expect(later.headers.get("idempotent-replayed")).toBeNull()
  })
})

describe("a create whose outcome is unknown", () => {
  const h = harness()

  it("is reconciled from the webhook: the retry answers the account, and the create went upstream once", async () => {
    const label = `unknown-${randomUUID().slice(0, 8)}`
    const key = randomUUID()
    // zerohash creates the account, then the answer is lost in a 504.
    h.simulator.injectFault(Fault.failAfterApply("createAccount", 504))
    const first = await post(h, "/accounts", key, createBody(label))
    expect(first.status).toBe(504)
    expect(await first.json()).toMatchObject({ code: "upstream_outcome_unknown" })
    // Not provisioned yet, so no webhook has named it: the retry sends the create again, which meets
    // the vendor's duplicate guard (it landed), and is told to come back for the ZRN.
    const pending = await post(h, "/accounts", key, createBody(label))
    expect(pending.status).toBe(409)
    const told = (await pending.json()) as { code: string; errors: Array<string> }
    expect(told.code).toBe("idempotency_outcome_pending")
    expect(told.errors[0]).toContain("duplicate guard found the account")
    expect(creates(h, label)).toBe(2)
    // Provisioning completes; the webhook (participant_code, account_label, ZRN) reaches the inbox.
    await h.simulator.settle()
    const account = h.simulator.accounts().find((a) => a.account_label === label)
    expect(account).toBeDefined()
    const retry = await post(h, "/accounts", key, createBody(label))
    expect(retry.status).toBe(202)
    expect(retry.headers.get("idempotent-replayed")).toBe("true")
    const body = (await retry.json()) as { message: { zrn: string; account_label: string; status: string } }
    expect(body.message).toMatchObject({ account_label: label, status: "open" })
    expect(body.message.zrn).toBe(String(account!.zrn))
    // One account: the re-send was refused by the duplicate guard.
    expect(h.simulator.accounts().filter((a) => a.account_label === label)).toHaveLength(1)
    expect(creates(h, label)).toBe(2)
    // The audit log tells the story: outcome unknown, pending, reconciled.
    const audit = await h.request(`/audit?caller=admin&zrn=${encodeURIComponent(body.message.zrn)}`)
    const entries = ((await audit.json()) as { entries: Array<{ outcome: string }> }).entries
    expect(entries.map((e) => e.outcome)).toContain("reconciled")
  })
})

describe("a create that never left the proxy", () => {
  it("frees its key: upstream unreachable is 502, and the retry with the same key creates the account", async () => {
    const store = Store.memory()
    // Nothing listens on this port: the connection is refused, so nothing was sent.
    const closed = await freePort()
    const down = harness({
      store,
      upstream: Upstream.make({
        baseUrl: `http://127.0.0.1:${closed}`,
        credentials: { apiKey: "k", apiSecret: Buffer.from("secret").toString("base64"), passphrase: "p" },
        transport: Upstream.nodeTransport()
      })
    })
    const label = `refused-${randomUUID().slice(0, 8)}`
    const key = randomUUID()
    const first = await post(down, "/accounts", key, createBody(label))
    expect(first.status).toBe(502)
    expect(await first.json()).toMatchObject({ code: "upstream_unreachable" })
    // The same store behind a reachable upstream: the key is free, not waiting for a webhook.
    const up = harness({ store })
    const retry = await post(up, "/accounts", key, createBody(label))
    expect(retry.status).toBe(202)
    expect(retry.headers.get("idempotent-replayed")).toBeNull()
    expect(creates(up, label)).toBe(1)
    const again = await post(up, "/accounts", key, createBody(label))
    expect(again.headers.get("idempotent-replayed")).toBe("true")
    expect(creates(up, label)).toBe(1)
  })
})

describe("the audit log", () => {
  const h = harness()

  it("holds every mutating call with caller, action, target, outcome, status, request id and time", async () => {
    const zrn = await openAccount(h, `audit-${randomUUID().slice(0, 8)}`)
    const since = new Date().toISOString()
    const id = zrn.split(":").at(-1)!
    const lock = await h.request(`/accounts/customer:${id}/lock`, {
      method: "POST",
      headers: { "x-request-id": "audit-lock-1", "idempotency-key": "audit-key-1" }
    })
    expect(lock.status).toBe(202)
    await h.simulator.settle()
    const refused = await h.request(`/accounts/${zrn}/withdraw_lock`, {
      method: "POST",
      headers: { "x-request-id": "audit-refused-1" }
    })
    expect(refused.status).toBe(400)
    const r = await h.request(`/audit?zrn=${id}&from=${encodeURIComponent(since)}`)
    expect(r.status).toBe(200)
    const page = (await r.json()) as { entries: Array<Record<string, unknown>>; next_cursor: string | null }
    expect(page.next_cursor).toBeNull()
    expect(page.entries).toHaveLength(2)
    expect(page.entries[0]).toMatchObject({
      caller: "admin",
      action: "lock",
      target: zrn,
      outcome: "accepted",
      status: 202,
      request_id: "audit-lock-1",
      request: { method: "POST", path: `/accounts/${zrn}/lock`, idempotency_key: "audit-key-1" }
    })
    expect(Date.parse(String(page.entries[0]!.at))).toBeGreaterThanOrEqual(Date.parse(since))
    expect(page.entries[1]).toMatchObject({
      action: "withdrawLock",
      outcome: "transition_rejected",
      status: 400,
      request_id: "audit-refused-1"
    })
  })

  it("never holds a secret: no token, no secret-looking field of a body", async () => {
    const label = `secret-${randomUUID().slice(0, 8)}`
    const r = await post(
      h,
      "/accounts",
      undefined,
      createBody(label, { api_secret: "s3cr3t-value", note: { token: "t0k3n" } })
    )
    expect(r.status).toBe(400)
    const all = await (await h.request("/audit?limit=1000")).text()
    expect(all).toContain(label)
    expect(all).not.toContain("s3cr3t-value")
    expect(all).not.toContain("t0k3n")
    expect(all).not.toContain(TOKENS.admin)
    expect(all).toContain('"api_secret":"[redacted]"')
  })

  it("filters by caller and time range, and pages with a cursor", async () => {
    const from = Date.now()
    for (let i = 0; i < 5; i++) {
      await post(
        h,
        "/accounts",
        undefined,
        createBody(`page-${i}-${randomUUID().slice(0, 6)}`),
        TOKENS.limited
      ).catch(() => undefined)
    }
    // `limited` may be rate limited (2 per minute): refused by its budget before the route, so only
    // the admitted calls are audited.
    const mine = (await (await h.request(`/audit?caller=limited&from=${from}`)).json()) as {
      entries: Array<{ caller: string; id: number }>
    }
    expect(mine.entries.length).toBe(2)
    expect(mine.entries.every((e) => e.caller === "limited")).toBe(true)
    const first = (await (await h.request("/audit?limit=2")).json()) as {
      entries: Array<{ id: number }>
      next_cursor: string
    }
    expect(first.entries).toHaveLength(2)
    const second = (await (await h.request(`/audit?limit=2&cursor=${first.next_cursor}`)).json()) as {
      entries: Array<{ id: number }>
    }
    expect(second.entries[0]!.id).toBeGreaterThan(first.entries[1]!.id)
    const future = (await (
      await h.request(`/audit?from=${new Date(Date.now() + 60_000).toISOString()}`)
    ).json()) as {
      entries: Array<unknown>
    }
    expect(future.entries).toEqual([])
  })

  it("needs audit:read, and refuses a malformed query", async () => {
    expect((await h.request("/audit", { token: TOKENS.reader })).status).toBe(403)
    expect((await h.request("/audit", { token: null })).status).toBe(401)
    const bad = await h.request("/audit?limit=0&from=yesterday")
    expect(bad.status).toBe(400)
    const errors = ((await bad.json()) as { errors: Array<string> }).errors.join("\n")
    expect(errors).toMatch(/limit must be a whole number from 1 to 1000/)
    expect(errors).toMatch(/ISO 8601/)
  })
})
