/**
 * U+0000 (the NUL character), which PostgreSQL and PGlite cannot store (`jsonb` refuses `\u0000`,
 * SQLSTATE 22P05) while the in-memory store would: so these run the app in process, in front of the
 * in-process simulator, on the embedded store (PGlite in a temporary directory) and on PostgreSQL
 * (a throwaway cluster; skipped with the reason when its server binaries are absent).
 *
 * A request body with U+0000 in any string is refused (400, the path named) before the upstream and
 * before its `Idempotency-Key` is claimed, and its refusal is audited (U+FFFD in the summary); a path
 * parameter with `%00` is audited the same way; a webhook whose payload holds U+0000 is refused (400)
 * and not stored; an upstream answer that echoes U+0000 is recorded and replayed.
 */
import { randomUUID } from "node:crypto"
import type { Store } from "@mta/server"
import { describe, expect, it } from "vitest"
import {
  auditEntry,
  creates,
  deliverWebhook,
  describeOnStores,
  expectRefusedBeforeClaim,
  send,
  testStores,
  webhookPayload
} from "./support/refusals.js"
import { createBody, type Harness, signWebhook, WEBHOOK_SECRET } from "./support.js"

const NUL = "\u0000"
const EXPECTED = "expected text without the NUL character (U+0000)"

const stores = testStores("nul", { memory: false })

describeOnStores("Nul.test", "U+0000", stores, {}, (open) => {
  let store: Store.Store
  let h: Harness
  open((opened) => {
    store = opened.store
    h = opened.h
  })

  it("the store itself refuses it (why the proxy must refuse it first)", async () => {
    const requestId = randomUUID()
    await expect(
      store.finishCall({
        audit: {
          at: Date.now(),
          caller: "admin",
          action: "createAccount",
          target: null,
          summary: { body: { account_label: `a${NUL}b` } },
          outcome: "invalid_request",
          status: 400,
          requestId
        }
      })
    ).rejects.toThrow()
    expect(await store.audit({ limit: 1000 })).not.toContainEqual(expect.objectContaining({ requestId }))
  })

  it("refuses a create with U+0000 before the upstream and before the key is claimed, and audits it", async () => {
    const label = `nul-${randomUUID().slice(0, 8)}`
    await expectRefusedBeforeClaim(h, {
      label,
      body: JSON.stringify(createBody(`${label}${NUL}x`)),
      error: `account_label: ${EXPECTED}, got a string containing it`,
      requestId: `nul-create-${randomUUID()}`
    })
  })

  it("names the JSON path of the first string or key with U+0000, at any depth, on every body", async () => {
    const zrn = `zrn:zh:us:accounts:customer:${randomUUID()}`
    const cases: ReadonlyArray<readonly [string, string, string, string]> = [
      [
        "POST",
        "/accounts",
        JSON.stringify(createBody("n-tenant", { tenants: ["CUST02", `CU${NUL}T3`] })),
        `tenants[1]: ${EXPECTED}, got a string containing it`
      ],
      [
        "POST",
        "/accounts",
        JSON.stringify(createBody("n-deep", { extra: { list: [{ ok: "x" }, { k: `y${NUL}` }] } })),
        `extra.list[1].k: ${EXPECTED}, got a string containing it`
      ],
      [
        "POST",
        "/accounts",
        JSON.stringify({ ...createBody("n-key"), [`a${NUL}b`]: 1 }),
        `["a\\u0000b"]: ${EXPECTED}, got an object key containing it`
      ],
      [
        // Document order: the first offending string is named, not a later one.
        "POST",
        "/accounts",
        `{"participant_code":"CU${"\\u0000"}1","account_label":"x${"\\u0000"}"}`,
        `participant_code: ${EXPECTED}, got a string containing it`
      ],
      [
        "PATCH",
        `/accounts/${zrn}`,
        JSON.stringify({ account_label: `x${NUL}` }),
        `account_label: ${EXPECTED}, got a string containing it`
      ],
      [
        "POST",
        `/accounts/${zrn}/lock`,
        JSON.stringify({ note: NUL }),
        `note: ${EXPECTED}, got a string containing it`
      ],
      [
        "POST",
        `/accounts/${zrn}/tenants`,
        JSON.stringify({ participant_code: `CUST0${NUL}` }),
        `participant_code: ${EXPECTED}, got a string containing it`
      ],
      ["POST", `/accounts/${zrn}/close`, JSON.stringify(NUL), `${EXPECTED}, got a string containing it`]
    ]
    const before = h.upstreamCount()
    for (const [method, path, body, message] of cases) {
      const requestId = randomUUID()
      const r = await send(h, method, path, body, { "x-request-id": requestId })
      expect(r.status, `${method} ${path} ${body}`).toBe(400)
      expect(await r.json()).toMatchObject({ errors: [message], code: "invalid_request" })
      expect(await auditEntry(h, requestId), `${method} ${path} ${body}`).toMatchObject({
        outcome: "invalid_request",
        status: 400
      })
    }
    expect(h.upstreamCount()).toBe(before)
  })

  it("refuses it in a GET /audit filter with a 400 naming the filter, not a 500", async () => {
    const r = await h.request("/audit?caller=a%00b")
    expect(r.status).toBe(400)
    const body = (await r.json()) as { errors: Array<string>; code: string }
    expect(body.code).toBe("invalid_request")
    expect(body.errors.join("\n")).toMatch(/caller must be a caller's name/)
    // And the log is still readable after it.
    expect((await h.request("/audit?caller=admin&limit=1")).status).toBe(200)
  })

  it("lets through the escaped backslash `\\\\u0000`, which is six ordinary characters", async () => {
    const label = `esc-${randomUUID().slice(0, 8)}\\u0000`
    const r = await send(h, "POST", "/accounts", JSON.stringify(createBody(label)))
    expect(r.status).toBe(202)
    const account = (await r.json()) as { message: { account_label: string } }
    expect(account.message.account_label).toBe(label)
  })

  it("audits a refused call whose path parameter holds %00 (U+FFFD in the summary), not a 503", async () => {
    const requestId = randomUUID()
    const before = h.upstreamCount()
    const r = await send(h, "POST", "/accounts/a%00b/lock", "{}", { "x-request-id": requestId })
    expect(r.status).toBe(400)
    expect(await r.json()).toMatchObject({ code: "invalid_zrn" })
    expect(await auditEntry(h, requestId)).toMatchObject({
      outcome: "invalid_zrn",
      request: { path: "/accounts/a\uFFFDb/lock" }
    })
    const tenant = randomUUID()
    const zrn = `zrn:zh:us:accounts:customer:${randomUUID()}`
    const t = await send(h, "DELETE", `/accounts/${zrn}/tenants/CU%00T2`, undefined, {
      "x-request-id": tenant
    })
    expect(t.status).toBe(400)
    expect(await auditEntry(h, tenant)).toMatchObject({
      outcome: "invalid_request",
      request: { path: `/accounts/${zrn}/tenants/CU\uFFFDT2` }
    })
    expect(h.upstreamCount()).toBe(before)
  })

  describe("webhooks", () => {
    const deliver = (body: string, headers?: Record<string, string>) => deliverWebhook(h, body, headers)

    it("refuses a verified notification with U+0000 in its payload (400, logged, not stored)", async () => {
      const zrn = `zrn:zh:us:accounts:customer:${randomUUID()}`
      const id = randomUUID()
      const body = webhookPayload(zrn, { account_label: `a${NUL}b` })
      const r = await deliver(body, signWebhook(body, { id }))
      expect(r.status).toBe(400)
      // A 400 in the upstream's 400 shape (production.md §1).
      const answer = (await r.json()) as { code: string; errors: ReadonlyArray<string> }
      expect(answer.code).toBe("webhook_rejected")
      expect(answer.errors.join("\n")).toContain(`account_label: ${EXPECTED}`)
      expect(await store.status(zrn)).toBeUndefined()
      expect(await store.events({ after: 0, zrn, limit: 10 })).toHaveLength(0)

      const line = h.logs.find((l) => l.includes("webhook rejected") && l.includes(id))
      expect(line).toBeDefined()
      expect(JSON.parse(line!)).toMatchObject({
        level: "warn",
        reason: "InvalidPayload",
        notification_id: id
      })
      expect(line).toContain("account_label")
      expect(line).not.toContain(WEBHOOK_SECRET)
      expect(line).not.toContain(signWebhook(body, { id })["x-zh-hook-signature-256"])
      expect(await h.metrics.render()).toMatch(
        /mta_webhooks_received_total\{outcome="rejected",kind="account",reason="InvalidPayload"\} [1-9]/
      )

      // An unknown status is stored as sent, so it is checked too.
      const status = webhookPayload(zrn, { status: `open${NUL}` })
      expect((await deliver(status)).status).toBe(400)
      expect(await store.status(zrn)).toBeUndefined()

      // The next notification, without U+0000, is applied.
      const clean = webhookPayload(zrn)
      const ok = await deliver(clean)
      expect(ok.status).toBe(200)
      expect(await ok.json()).toEqual({ received: true, outcome: "applied" })
      expect((await store.status(zrn))?.status).toBe("open")
    })

    it("applies a notification whose U+0000 is only in a field the proxy does not keep", async () => {
      const zrn = `zrn:zh:us:accounts:customer:${randomUUID()}`
      const body = webhookPayload(zrn, { vendor_note: `x${NUL}` })
      const r = await deliver(body)
      expect(r.status).toBe(200)
      expect(await r.json()).toEqual({ received: true, outcome: "applied" })
      const events = await store.events({ after: 0, zrn, limit: 10 })
      expect(events).toHaveLength(1)
      expect(JSON.stringify(events[0]!.payload)).not.toContain("vendor_note")
    })
  })

  describe("an upstream answer that echoes U+0000", () => {
    it("is recorded: the create's answer is stored and replayed, and audited", async () => {
      const label = `echo-${randomUUID().slice(0, 8)}`
      // A real answer of the simulator, with the label the upstream "echoes" changed.
      const real = await send(h, "POST", "/accounts", JSON.stringify(createBody(`real-${randomUUID()}`)))
      expect(real.status).toBe(202)
      const account = (await real.json()) as { message: Record<string, unknown> }
      const echoed = { message: { ...account.message, account_label: `${label}${NUL}` } }
      const fault = h.simulator.injectFault({
        endpoint: "createAccount",
        status: 202,
        body: echoed,
        times: 1
      })
      const key = randomUUID()
      const requestId = randomUUID()
      const first = await send(h, "POST", "/accounts", JSON.stringify(createBody(label)), {
        "idempotency-key": key,
        "x-request-id": requestId
      })
      fault.remove()
      expect(first.status).toBe(202)
      const text = await first.text()
      expect((JSON.parse(text) as { message: { account_label: string } }).message.account_label).toBe(
        `${label}${NUL}`
      )
      expect(await auditEntry(h, requestId)).toMatchObject({
        outcome: "accepted",
        status: 202,
        target: account.message.zrn
      })
      const again = await send(h, "POST", "/accounts", JSON.stringify(createBody(label)), {
        "idempotency-key": key
      })
      expect(again.status).toBe(202)
      expect(again.headers.get("idempotent-replayed")).toBe("true")
      expect(await again.text()).toBe(text)
      expect(creates(h, label)).toBe(1)
    })

    it("is recorded: a final refusal echoing it is stored and replayed", async () => {
      const label = `refused-${randomUUID().slice(0, 8)}`
      const fault = h.simulator.injectFault({
        endpoint: "createAccount",
        status: 400,
        body: { errors: [`account_label ${label}${NUL} is taken`] },
        times: 1
      })
      const key = randomUUID()
      const first = await send(h, "POST", "/accounts", JSON.stringify(createBody(label)), {
        "idempotency-key": key
      })
      fault.remove()
      expect(first.status).toBe(400)
      const body = (await first.json()) as { code: string; errors: Array<string> }
      expect(body.code).toBe("upstream_validation_failed")
      expect(body.errors.join()).toContain(NUL)
      const again = await send(h, "POST", "/accounts", JSON.stringify(createBody(label)), {
        "idempotency-key": key
      })
      expect(again.status).toBe(400)
      expect(again.headers.get("idempotent-replayed")).toBe("true")
      expect(creates(h, label)).toBe(1)
    })
  })
})
