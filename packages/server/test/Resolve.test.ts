/**
 * Idempotency that always resolves (production.md §5), with the app in process in front of an
 * in-process simulator: a create whose outcome is unknown is sent again (a 202 is the answer, the
 * vendor's duplicate conflict means it landed), a create answered "not carried out" that was applied
 * after all resolves to the key's own account (never a 409), someone else's account stays a 409, a
 * create pending too long gets a final answer that says why, and the resolver loop does it all
 * without a retry.
 */
import { randomUUID } from "node:crypto"
import { Store } from "@mta/server"
import { Fault } from "@mta/testkit"
import { describe, expect, it, vi } from "vitest"
import { createBody, harness } from "./support.js"

type H = ReturnType<typeof harness>

const creates = (h: H, label: string) =>
  h.simulator.journal().filter((e) => e.endpoint === "createAccount" && e.requestBody.includes(`"${label}"`))
    .length
const accounts = (h: H, label: string) => h.simulator.accounts().filter((a) => a.account_label === label)

const post = (h: H, key: string | undefined, label: string) =>
  h.request("/accounts", {
    method: "POST",
    json: createBody(label),
    ...(key === undefined ? {} : { headers: { "idempotency-key": key } })
  })

const json = async (r: Response) =>
  (await r.json()) as { code?: string; errors?: Array<string>; message: { zrn?: string } & string }

describe("a create whose outcome is unknown", () => {
  it("that never landed (a 500 before applying): the retry sends it again and answers its 202", async () => {
    const h = harness()
    const label = `resend-${randomUUID().slice(0, 8)}`
    const key = randomUUID()
    h.simulator.injectFault(Fault.failNext(1, { status: 500, endpoint: "createAccount" }))
    const first = await post(h, key, label)
    expect(first.status).toBe(500)
    expect(await json(first)).toMatchObject({ code: "upstream_outcome_unknown" })
    expect(accounts(h, label)).toHaveLength(0)
    const retry = await post(h, key, label)
    expect(retry.status).toBe(202)
    const body = await json(retry)
    expect(body.message.zrn).toBe(accounts(h, label)[0]!.zrn)
    // Stored: the next retry replays it without going upstream.
    const again = await post(h, key, label)
    expect(again.headers.get("idempotent-replayed")).toBe("true")
    expect((await json(again)).message.zrn).toBe(body.message.zrn)
    expect(creates(h, label)).toBe(2)
    expect(accounts(h, label)).toHaveLength(1)
  })

  it("is resolved by the resolver loop without any retry", async () => {
    const h = harness({ idempotencyResolveIntervalMs: 20 })
    const label = `loop-${randomUUID().slice(0, 8)}`
    const key = randomUUID()
    h.simulator.injectFault({ endpoint: "createAccount", drop: true, times: 1 })
    const first = await post(h, key, label)
    expect(first.status).toBe(502)
    await vi.waitFor(() => expect(accounts(h, label)).toHaveLength(1), { timeout: 5_000, interval: 20 })
    await vi.waitFor(async () => {
      const audit = await h.request("/audit?caller=admin")
      const entries = ((await audit.json()) as { entries: Array<{ outcome: string; request_id: string }> })
        .entries
      expect(entries.some((e) => e.request_id.startsWith("resolver-") && e.outcome === "accepted")).toBe(true)
    })
    const before = creates(h, label)
    const retry = await post(h, key, label)
    expect(retry.status).toBe(202)
    expect(retry.headers.get("idempotent-replayed")).toBe("true")
    expect((await json(retry)).message.zrn).toBe(accounts(h, label)[0]!.zrn)
    expect(creates(h, label)).toBe(before)
    h.app.close()
  })
})

describe("a create answered 'not carried out' that was applied after all", () => {
  for (const status of [503, 429]) {
    it(`(${status} after applying) resolves to the key's own account, never to a 409`, async () => {
      const h = harness()
      const label = `own-${status}-${randomUUID().slice(0, 8)}`
      const key = randomUUID()
      h.simulator.injectFault(Fault.failAfterApply("createAccount", status))
      const first = await post(h, key, label)
      expect(first.status).toBe(status)
      expect(accounts(h, label)).toHaveLength(1)
      // The retry meets the vendor's duplicate guard: the key's own account, awaiting its webhook.
      const retry = await post(h, key, label)
      expect(retry.status).toBe(409)
      const pending = await json(retry)
      expect(pending.code).toBe("idempotency_outcome_pending")
      expect(pending.errors![0]).toContain("carried out by zerohash after all")
      await h.simulator.settle()
      const resolved = await post(h, key, label)
      expect(resolved.status).toBe(202)
      expect((await json(resolved)).message.zrn).toBe(accounts(h, label)[0]!.zrn)
      expect(accounts(h, label)).toHaveLength(1)
    })
  }

  it("is a genuine 409 when another key created the pair meanwhile", async () => {
    const h = harness()
    const label = `theirs-${randomUUID().slice(0, 8)}`
    const mine = randomUUID()
    h.simulator.injectFault(Fault.failNext(1, { status: 503, endpoint: "createAccount" }))
    expect((await post(h, mine, label)).status).toBe(503)
    // Another key of this proxy creates the same (participant, label).
    const theirs = await post(h, randomUUID(), label)
    expect(theirs.status).toBe(202)
    const retry = await post(h, mine, label)
    expect(retry.status).toBe(409)
    expect(await json(retry)).toMatchObject({ code: "upstream_conflict" })
    // Final: stored and replayed.
    const again = await post(h, mine, label)
    expect(again.status).toBe(409)
    expect(again.headers.get("idempotent-replayed")).toBe("true")
  })
})

describe("someone else's account", () => {
  it("reported by a webhook before the key first sent its create: the pending create is a 409", async () => {
    let offset = 0
    const h = harness({ now: () => Date.now() + offset })
    const label = `before-${randomUUID().slice(0, 8)}`
    // Created without a key (no record of it), and reported.
    expect((await post(h, undefined, label)).status).toBe(202)
    await h.simulator.settle()
    offset = 60_000
    const key = randomUUID()
    h.simulator.injectFault({ endpoint: "createAccount", drop: true, times: 1 })
    expect((await post(h, key, label)).status).toBe(502)
    const retry = await post(h, key, label)
    expect(retry.status).toBe(409)
    const body = await json(retry)
    expect(body.code).toBe("upstream_conflict")
    expect(body.errors![0]).toContain("not the one this Idempotency-Key created")
    expect(accounts(h, label)).toHaveLength(1)
  })
})

describe("a create pending too long", () => {
  it("that landed but whose webhook never came: a final 502 that says so, replayed", async () => {
    let offset = 0
    const store = Store.memory()
    const h = harness({
      store,
      webhooks: false,
      now: () => Date.now() + offset,
      idempotencyPendingMaxMs: 5_000
    })
    const label = `lost-${randomUUID().slice(0, 8)}`
    const key = randomUUID()
    h.simulator.injectFault(Fault.failAfterApply("createAccount", 504))
    expect((await post(h, key, label)).status).toBe(504)
    // Sent again: its own duplicate conflict (landed); no webhook will ever name it.
    expect(await json(await post(h, key, label))).toMatchObject({ code: "idempotency_outcome_pending" })
    const waiting = await post(h, key, label)
    expect((await json(waiting)).errors![0]).toContain("has not arrived yet (final answer within 5 s)")
    offset = 5_000
    const final = await post(h, key, label)
    expect(final.status).toBe(502)
    const body = await json(final)
    expect(body.code).toBe("create_account_unreported")
    expect(body.message).toContain("no webhook named the account's ZRN within 5 s")
    const again = await post(h, key, label)
    expect(again.status).toBe(502)
    expect(again.headers.get("idempotent-replayed")).toBe("true")
    expect((await json(again)).code).toBe("create_account_unreported")
    expect(accounts(h, label)).toHaveLength(1)
    expect(creates(h, label)).toBe(2)
  })

  it("that zerohash never answered: a final 504 that says so", async () => {
    let offset = 0
    const h = harness({ now: () => Date.now() + offset, idempotencyPendingMaxMs: 5_000 })
    const label = `silent-${randomUUID().slice(0, 8)}`
    const key = randomUUID()
    h.simulator.injectFault({ endpoint: "createAccount", status: 502 })
    expect((await post(h, key, label)).status).toBe(502)
    const retry = await post(h, key, label)
    expect(retry.status).toBe(409)
    expect((await json(retry)).errors![0]).toContain("zerohash answered 502")
    offset = 5_000
    const final = await post(h, key, label)
    expect(final.status).toBe(504)
    const body = await json(final)
    expect(body.code).toBe("create_outcome_unresolved")
    expect(body.message).toContain("zerohash answered none of its re-sends")
    expect(accounts(h, label)).toHaveLength(0)
  })
})
