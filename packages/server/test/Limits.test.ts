/**
 * Bounded input (`production.md` §1), on each store the proxy runs on: the in-memory store, the
 * embedded store (PGlite in a temporary directory) and PostgreSQL (a throwaway cluster; skipped with
 * the reason when its server binaries are absent). The app runs in process, in front of the
 * in-process simulator, whose webhooks go to the app.
 *
 * - Bodies: 64 KiB on the API routes and 256 KiB on the webhook route (413 `payload_too_large`, the
 *   connection closed); nesting ≤ 32, arrays ≤ 100, strings and keys ≤ 1,024 characters, no lone
 *   UTF-16 surrogate (400 `invalid_request` naming the JSON path, before the upstream and before an
 *   `Idempotency-Key` is claimed, audited with U+FFFD in the summary); `account_label` 1–255
 *   characters (code points, so 255 emoji of 4 UTF-8 bytes each are accepted and end up `open`).
 * - Webhooks: the notification id's form (400 `webhook_rejected`, nothing stored), a payload that
 *   cannot be stored (400, not stored), and a vendor label longer than the request bound (applied).
 * - Queries: a value over its bound is a 400 naming it, never a 5xx.
 * - The simulator refuses the same bodies the same way (same status, same first error line).
 */
import { randomBytes, randomUUID } from "node:crypto"
import type { Store } from "@mta/server"
import { Signing } from "@mta/testkit"
import { describe, expect, it } from "vitest"
import { codes, nestedArrays, rawCreate } from "../../testkit/test/support/bodies.js"
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
import { createBody, type Harness, harness, signWebhook, TOKENS } from "./support.js"

/** 😀 (U+1F600): one character, 2 UTF-16 units, 4 UTF-8 bytes. */
const EMOJI = "\u{1F600}"
const TOO_LARGE = "request body is larger than 65536 bytes"
const LONE = "expected valid Unicode text, got a lone UTF-16 surrogate"
const NESTING = "expected JSON nested at most 32 levels deep, got deeper nesting here"

interface ErrorWire {
  readonly errors: ReadonlyArray<string>
  readonly code: string
  readonly request_id: string
}

/** A label of `n` characters that no other test uses. */
const uniqueLabel = (n: number, fill = "x") => {
  const prefix = `lim-${randomUUID().slice(0, 8)}-`
  return prefix + fill.repeat(n - prefix.length)
}

/** The UTF-8 length of a string. */
const bytes = (s: string) => Buffer.byteLength(s, "utf8")

const stores = testStores("limits", { memory: true })

describeOnStores("Limits.test", "bounded input", stores, { simDelayMs: 0 }, (open) => {
  let store: Store.Store
  let h: Harness
  open((opened) => {
    store = opened.store
    h = opened.h
  })

  /** Sends a body that must be refused with 400 `invalid_request`; returns its one error line. */
  const refused = async (
    body: string,
    options: { readonly path?: string; readonly method?: string; readonly key?: string } = {}
  ): Promise<{ readonly message: string; readonly requestId: string }> => {
    const requestId = randomUUID()
    const before = h.upstreamCount()
    const r = await send(h, options.method ?? "POST", options.path ?? "/accounts", body, {
      "x-request-id": requestId,
      ...(options.key === undefined ? {} : { "idempotency-key": options.key })
    })
    const answer = (await r.json()) as ErrorWire
    expect(r.status, JSON.stringify(answer)).toBe(400)
    expect(answer.code).toBe("invalid_request")
    expect(answer.request_id).toBe(requestId)
    expect(answer.errors.length).toBeGreaterThanOrEqual(1)
    expect(h.upstreamCount(), "nothing went upstream").toBe(before)
    return { message: answer.errors.join("\n"), requestId }
  }

  describe("a lone UTF-16 surrogate", () => {
    it("is refused before the upstream and before the key is claimed, and audited with U+FFFD", async () => {
      const label = `lone-${randomUUID().slice(0, 8)}`
      await expectRefusedBeforeClaim(h, {
        label,
        body: rawCreate(`${label}\\ud800x`),
        error: `account_label: ${LONE} (U+D800) at character ${label.length + 1}`,
        requestId: randomUUID()
      })
    })

    it("is refused wherever it is: a low surrogate alone, in an array, in an object key", async () => {
      const low = await refused(rawCreate("ok", ',"x":["a","b\\udc00"]'))
      expect(low.message).toBe(`x[1]: ${LONE} (U+DC00) at character 2`)
      const key = await refused(rawCreate("ok", ',"k\\ud83d":1'))
      expect(key.message).toBe(`["k\\ud83d"]: ${LONE} (U+D83D) at character 2`)
      // A surrogate pair written as two escapes is one valid character: not refused for it.
      const label = uniqueLabel(20)
      const pair = await send(h, "POST", "/accounts", rawCreate(`${label}\\ud83d\\ude00`))
      expect(pair.status).toBe(202)
      const account = (await pair.json()) as { message: { account_label: string } }
      expect(account.message.account_label).toBe(`${label}${EMOJI}`)
    })
  })

  describe("nesting", () => {
    it("10,000 levels with an Idempotency-Key: 400 naming the nesting, audited, not a 500", async () => {
      const key = randomUUID()
      const body = rawCreate("deep", `,"x":${nestedArrays(10_000)}`)
      const { message, requestId } = await refused(body, { key })
      expect(message).toBe(`x${"[0]".repeat(31)}: ${NESTING}`)
      expect(await auditEntry(h, requestId)).toMatchObject({
        outcome: "invalid_request",
        status: 400,
        request: { method: "POST", path: "/accounts", idempotency_key: key }
      })
      // The key is free: a valid create with it is accepted.
      const label = uniqueLabel(30)
      const fixed = await send(h, "POST", "/accounts", JSON.stringify(createBody(label)), {
        "idempotency-key": key
      })
      expect(fixed.status).toBe(202)
    })

    it("10,000 levels of objects too, and a top-level array", async () => {
      const objects = `${'{"a":'.repeat(10_000)}1${"}".repeat(10_000)}`
      expect((await refused(objects)).message).toMatch(/^a(\.a){31}: expected JSON nested at most 32 levels/)
      expect((await refused(nestedArrays(10_000))).message).toBe(`${"[0]".repeat(32)}: ${NESTING}`)
    })

    it("33 levels: refused for its nesting; 32 levels: refused by the Schema, not for nesting", async () => {
      // The body's object is level 1: `x` holding 32 arrays makes 33 levels, 31 arrays make 32.
      const deep = await refused(rawCreate("n33", `,"x":${nestedArrays(32)}`))
      expect(deep.message).toBe(`x${"[0]".repeat(31)}: ${NESTING}`)
      const within = await refused(rawCreate("n32", `,"x":${nestedArrays(31)}`))
      expect(within.message).not.toContain("nested")
      expect(within.message).toMatch(/^x: /)
      expect(within.message).toContain("unknown field")
    })
  })

  describe("account_label", () => {
    it("256 characters: 400 naming account_label and 255; 255 characters: accepted", async () => {
      const { message } = await refused(JSON.stringify(createBody(uniqueLabel(256))))
      expect(message).toBe("account_label: expected a string of at most 255 characters, got 256 characters")
      const label = uniqueLabel(255)
      const r = await send(h, "POST", "/accounts", JSON.stringify(createBody(label)))
      expect(r.status).toBe(202)
      expect(creates(h, label)).toBe(1)
    })

    it("an empty label: 400 naming account_label", async () => {
      const { message } = await refused(JSON.stringify(createBody("")))
      expect(message).toMatch(/^account_label: /)
    })

    it("255 emoji (510 UTF-16 units, 1,020 bytes) is 255 characters: accepted, and the account opens", async () => {
      const prefix = `e-${randomUUID().slice(0, 6)}-`
      const label = prefix + EMOJI.repeat(255 - prefix.length)
      expect([...label]).toHaveLength(255)
      expect(label.length).toBe(prefix.length + 2 * (255 - prefix.length))
      const r = await send(h, "POST", "/accounts", JSON.stringify(createBody(label)))
      expect(r.status).toBe(202)
      const account = (await r.json()) as { message: { zrn: string; account_label: string } }
      expect(account.message.account_label).toBe(label)
      const zrn = account.message.zrn

      const wait = await h.request(`/accounts/${zrn}/status?wait_for=open&timeout_ms=5000`)
      expect(wait.status).toBe(200)
      expect(await wait.json()).toMatchObject({ zrn, status: "open", timed_out: false })
      // In the projection of this store, with the label as the webhook reported it.
      expect((await store.status(zrn))?.status).toBe("open")
      const events = await store.events({ after: 0, zrn, limit: 10 })
      expect(events.map((e) => e.status)).toContain("open")
      expect(events.at(-1)?.payload).toMatchObject({ account_label: label })
    })

    it("256 emoji: 400 counting 256 characters (not 512 units)", async () => {
      const { message } = await refused(JSON.stringify(createBody(EMOJI.repeat(256))))
      expect(message).toBe("account_label: expected a string of at most 255 characters, got 256 characters")
    })
  })

  describe("arrays and strings", () => {
    it("101 tenants: 400 naming tenants; 101 financial_advisors: 400 naming financial_advisors", async () => {
      const tenants = await refused(JSON.stringify(createBody("t101", { tenants: codes(101) })))
      expect(tenants.message).toMatch(/^tenants: /)
      expect(tenants.message).toContain("100")
      const advisors = await refused(JSON.stringify(createBody("a101", { financial_advisors: codes(101) })))
      expect(advisors.message).toMatch(/^financial_advisors: /)
      expect(advisors.message).toContain("100")
      // 100 items pass the array bound (and are then judged as participant codes: not for their count).
      const hundred = await send(
        h,
        "POST",
        "/accounts",
        JSON.stringify(createBody("t100", { tenants: codes(100) }))
      )
      const answer = (await hundred.json()) as { errors?: ReadonlyArray<string> }
      expect(JSON.stringify(answer)).not.toContain("at most 100")
    })

    it("a string of 1,025 characters in an unknown field: 400 naming its path; 1,024 is not refused for length", async () => {
      const long = await refused(JSON.stringify(createBody("s1025", { extra: { note: "y".repeat(1_025) } })))
      expect(long.message).toBe(
        "extra.note: expected a string of at most 1024 characters, got 1025 characters"
      )
      const fits = await refused(JSON.stringify(createBody("s1024", { extra: { note: "y".repeat(1_024) } })))
      expect(fits.message).not.toContain("at most 1024")
      expect(fits.message).toContain("unknown field")
      // An object key is a string too.
      const key = await refused(JSON.stringify({ ...createBody("k1025"), ["k".repeat(1_025)]: 1 }))
      expect(key.message).toContain("expected an object key of at most 1024 characters, got 1025 characters")
    })
  })

  describe("body size", () => {
    it("65,537 bytes: 413 with the documented body and `connection: close`, nothing upstream", async () => {
      const body = JSON.stringify(createBody(uniqueLabel(20))).padEnd(65_537, " ")
      expect(bytes(body)).toBe(65_537)
      const requestId = randomUUID()
      const before = h.upstreamCount()
      const r = await send(h, "POST", "/accounts", body, {
        "x-request-id": requestId,
        "idempotency-key": randomUUID()
      })
      expect(r.status).toBe(413)
      expect(r.headers.get("connection")).toBe("close")
      expect(await r.text()).toBe(
        JSON.stringify({ errors: [TOO_LARGE], code: "payload_too_large", request_id: requestId })
      )
      expect(h.upstreamCount()).toBe(before)
    })

    it("with a Content-Length over the limit: 413 before the body is read", async () => {
      const body = "x".repeat(70_000)
      const requestId = randomUUID()
      const r = await send(h, "POST", "/accounts", body, {
        "x-request-id": requestId,
        "content-length": String(body.length)
      })
      expect(r.status).toBe(413)
      expect(await r.json()).toEqual({
        errors: [TOO_LARGE],
        code: "payload_too_large",
        request_id: requestId
      })
    })

    it("a streamed (chunked) 50 MB body: 413, and the stream is not read much past the limit", async () => {
      const chunk = new Uint8Array(16_384).fill(0x20)
      let pulled = 0
      const stream = new ReadableStream<Uint8Array>({
        pull(controller) {
          if (pulled >= 50 * 1024 * 1024) return controller.close()
          pulled += chunk.length
          controller.enqueue(chunk)
        }
      })
      const requestId = randomUUID()
      const r = await h.app.fetch(
        new Request("http://proxy.test/accounts", {
          method: "POST",
          headers: {
            authorization: `Bearer ${TOKENS.admin}`,
            "content-type": "application/json",
            "x-request-id": requestId
          },
          body: stream,
          duplex: "half"
        } as RequestInit)
      )
      expect(r.status).toBe(413)
      expect(await r.json()).toEqual({
        errors: [TOO_LARGE],
        code: "payload_too_large",
        request_id: requestId
      })
      expect(pulled).toBeLessThan(1024 * 1024)
      expect(pulled).toBeGreaterThan(65_536)
    })

    it("multi-byte characters count as bytes: 21,846 × '€' (65,538 bytes) is a 413", async () => {
      const body = `"${"€".repeat(21_845)}"`
      expect(body.length).toBeLessThan(65_536)
      expect(bytes(body)).toBeGreaterThan(65_536)
      const r = await send(h, "POST", "/accounts", body)
      expect(r.status).toBe(413)
    })

    it("exactly 65,536 bytes (a valid create padded with spaces): accepted, not a 413", async () => {
      const label = uniqueLabel(20)
      const body = JSON.stringify(createBody(label)).padEnd(65_536, " ")
      expect(bytes(body)).toBe(65_536)
      const r = await send(h, "POST", "/accounts", body)
      expect(r.status).toBe(202)
      expect(creates(h, label)).toBe(1)
    })
  })

  describe("webhooks", () => {
    const deliver = (body: string, headers?: Record<string, string>) => deliverWebhook(h, body, headers)
    /** An account the proxy knows as `open` (one applied webhook, one event). */
    const openAccount = async () => {
      const zrn = `zrn:zh:us:accounts:customer:${randomUUID()}`
      const r = await deliver(webhookPayload(zrn))
      expect(await r.json()).toEqual({ received: true, outcome: "applied" })
      expect((await store.status(zrn))?.status).toBe("open")
      return zrn
    }
    const unchanged = async (zrn: string) => {
      expect((await store.status(zrn))?.status).toBe("open")
      expect(await store.events({ after: 0, zrn, limit: 10 })).toHaveLength(1)
    }

    it.each([
      ["129 characters", "n".repeat(129)],
      ["a `*`", "abc*def"],
      ["a space", "abc def"],
      ["a `/`", "abc/def"]
    ])("a notification id of %s: 400 webhook_rejected, nothing stored", async (_, id) => {
      const zrn = await openAccount()
      const body = webhookPayload(zrn, { status: "locked" })
      const r = await deliver(body, signWebhook(body, { id }))
      expect(r.status).toBe(400)
      // A 400 in the upstream's 400 shape.
      const answer = (await r.json()) as { code: string; errors: ReadonlyArray<string> }
      expect(answer.code).toBe("webhook_rejected")
      expect(answer.errors.join("\n")).toContain("x-zh-hook-notification-id")
      await unchanged(zrn)
      // A log line names it, never longer than 128 characters.
      const line = h.logs.findLast((l) => l.includes("InvalidNotificationId"))
      expect(line).toBeDefined()
      const logged = (JSON.parse(line!) as { notification_id?: string }).notification_id ?? ""
      expect(logged.length).toBeLessThanOrEqual(129)
      // The same notification with a valid id of 128 characters is applied.
      const valid = `${"n".repeat(88)}.:_-${randomUUID()}`
      expect(valid).toHaveLength(128)
      const ok = await deliver(body, signWebhook(body, { id: valid }))
      expect(await ok.json()).toEqual({ received: true, outcome: "applied" })
      expect((await store.status(zrn))?.status).toBe("locked")
    })

    it("a payload with a lone surrogate in account_label: 400 naming the path, not stored", async () => {
      const zrn = await openAccount()
      // The escape, not the character: a lone surrogate in a JS string would be sent as U+FFFD.
      const body = webhookPayload(zrn, { status: "locked", account_label: "SURROGATE" }).replace(
        "SURROGATE",
        "a\\ud800b"
      )
      const r = await deliver(body)
      expect(r.status).toBe(400)
      const answer = (await r.json()) as { code: string; errors: ReadonlyArray<string> }
      expect(answer.code).toBe("webhook_rejected")
      expect(answer.errors.join("\n")).toContain(`account_label: ${LONE} (U+D800)`)
      await unchanged(zrn)
    })

    it.each([
      ["300 ASCII characters", () => `hook-${randomBytes(300).toString("base64url").slice(0, 295)}`],
      ["300 emoji (1,200 bytes)", () => EMOJI.repeat(300)],
      // Over the 2,704 bytes of a btree index row, and incompressible.
      ["3,000 random characters", () => randomBytes(3_000).toString("base64url").slice(0, 3_000)]
    ])("a signed payload with a label of %s (over the request bound): 200 applied", async (_, label) => {
      const zrn = await openAccount()
      const body = webhookPayload(zrn, { status: "locked", account_label: label() })
      const r = await deliver(body)
      expect(r.status).toBe(200)
      expect(await r.json()).toEqual({ received: true, outcome: "applied" })
      expect((await store.status(zrn))?.status).toBe("locked")
      expect(await store.events({ after: 0, zrn, limit: 10 })).toHaveLength(2)
    })

    it("a body over 256 KiB (unsigned): 413, before the signature is looked at", async () => {
      const requestId = randomUUID()
      const body = JSON.stringify({ urn: "x", pad: "p".repeat(262_144) })
      const r = await h.request("/webhooks/zerohash", {
        method: "POST",
        token: null,
        headers: { "content-type": "application/json", "x-request-id": requestId },
        body
      })
      expect(r.status).toBe(413)
      expect(await r.json()).toEqual({
        errors: ["request body is larger than 262144 bytes"],
        code: "payload_too_large",
        request_id: requestId
      })
    })

    it("a body of 256 KiB exactly is read (and refused for its missing signature, not its size)", async () => {
      const body = JSON.stringify({ urn: "x", pad: "" }).padEnd(262_144, " ")
      const r = await h.request("/webhooks/zerohash", {
        method: "POST",
        token: null,
        headers: { "content-type": "application/json" },
        body
      })
      expect(r.status).not.toBe(413)
      expect(r.status).toBeGreaterThanOrEqual(400)
      expect(r.status).toBeLessThan(500)
    })
  })

  describe("queries", () => {
    it("GET /accounts?account_label=<256 or 300 characters>: 400 naming account_label, nothing upstream", async () => {
      for (const n of [256, 300]) {
        const before = h.upstreamCount()
        const r = await h.request(`/accounts?account_label=${"q".repeat(n)}`)
        const answer = (await r.json()) as ErrorWire
        expect(r.status, JSON.stringify(answer)).toBe(400)
        expect(answer.code).toBe("invalid_request")
        expect(answer.errors.join("\n")).toMatch(/account_label/)
        expect(answer.errors.join("\n")).toContain("255")
        expect(h.upstreamCount()).toBe(before)
      }
    })

    it("GET /accounts with a 1,025-character value or U+0000: 400 naming the parameter, nothing upstream", async () => {
      const before = h.upstreamCount()
      const long = await h.request(`/accounts?asset=${"q".repeat(1_025)}`)
      expect(long.status).toBe(400)
      expect(((await long.json()) as ErrorWire).errors.join("\n")).toMatch(/asset/)
      const nul = await h.request("/accounts?account_group=a%00b")
      expect(nul.status).toBe(400)
      expect(((await nul.json()) as ErrorWire).errors.join("\n")).toMatch(/account_group/)
      expect(h.upstreamCount()).toBe(before)
    })

    it("GET /audit?zrn=<2,000 characters>: a 4xx, not a 5xx; the log is readable after it", async () => {
      const r = await h.request(`/audit?zrn=${"z".repeat(2_000)}`)
      expect(r.status).toBeGreaterThanOrEqual(400)
      expect(r.status).toBeLessThan(500)
      const zrnLike = await h.request(`/audit?zrn=zrn:zh:us:accounts:customer:${"0".repeat(2_000)}`)
      expect(zrnLike.status).toBeGreaterThanOrEqual(400)
      expect(zrnLike.status).toBeLessThan(500)
      expect((await h.request("/audit?caller=admin&limit=1")).status).toBe(200)
    })

    it("GET /accounts/{zrn}/status with a 2,000-character zrn: a 4xx, not a 5xx", async () => {
      const r = await h.request(`/accounts/${"z".repeat(2_000)}/status`)
      expect(r.status).toBeGreaterThanOrEqual(400)
      expect(r.status).toBeLessThan(500)
    })
  })
})

describe("the proxy and the simulator refuse the same bodies alike", () => {
  it("same status, and the same first error line where both answer 400 or 413", async () => {
    const h = harness()
    const opened = await h.request("/accounts", { method: "POST", json: createBody(uniqueLabel(20)) })
    expect(opened.status).toBe(202)
    const zrn = ((await opened.json()) as { message: { zrn: string } }).message.zrn

    const cases: ReadonlyArray<readonly [string, string, string, string]> = [
      ["256-character label", "POST", "/accounts", JSON.stringify(createBody("l".repeat(256)))],
      ["256-emoji label", "POST", "/accounts", JSON.stringify(createBody(EMOJI.repeat(256)))],
      ["101 tenants", "POST", "/accounts", JSON.stringify(createBody("t", { tenants: codes(101) }))],
      [
        "101 advisors",
        "POST",
        "/accounts",
        JSON.stringify(createBody("a", { financial_advisors: codes(101) }))
      ],
      ["lone high surrogate", "POST", "/accounts", rawCreate("x\\ud800")],
      ["lone low surrogate in tenants", "POST", "/accounts", rawCreate("x", ',"tenants":["\\udfff"]')],
      ["U+0000", "POST", "/accounts", rawCreate("x\\u0000")],
      ["10,000 deep", "POST", "/accounts", rawCreate("d", `,"x":${nestedArrays(10_000)}`)],
      ["33 deep", "POST", "/accounts", rawCreate("d", `,"x":${nestedArrays(32)}`)],
      [
        "1,025-character string",
        "POST",
        "/accounts",
        JSON.stringify(createBody("s", { extra: "y".repeat(1_025) }))
      ],
      [
        "1,025-character key",
        "POST",
        "/accounts",
        JSON.stringify({ ...createBody("k"), ["k".repeat(1_025)]: 1 })
      ],
      ["over 64 KiB", "POST", "/accounts", JSON.stringify(createBody("big")).padEnd(65_537, " ")],
      ["over 64 KiB of '€'", "POST", "/accounts", `"${"€".repeat(21_845)}"`],
      [
        "PATCH with a 256-character account_label (not updatable)",
        "PATCH",
        `/accounts/${zrn}`,
        JSON.stringify({ account_label: "l".repeat(256) })
      ],
      [
        "PATCH with an empty account_label",
        "PATCH",
        `/accounts/${zrn}`,
        JSON.stringify({ account_label: "" })
      ],
      [
        "lock with a 1,025-character note",
        "POST",
        `/accounts/${zrn}/lock`,
        JSON.stringify({ note: "n".repeat(1_025) })
      ],
      ["add tenant 33 deep", "POST", `/accounts/${zrn}/tenants`, nestedArrays(33)],
      ["query: 256-character account_label", "GET", `/accounts?account_label=${"q".repeat(256)}`, ""],
      ["query: 1,025-character asset", "GET", `/accounts?asset=${"q".repeat(1_025)}`, ""],
      ["query: U+0000 in account_group", "GET", "/accounts?account_group=a%00b", ""]
    ]
    const differences: Array<string> = []
    for (const [name, method, path, body] of cases) {
      const before = h.upstreamCount()
      const withBody = method !== "GET"
      const proxy = await h.request(path, {
        method,
        ...(withBody ? { headers: { "content-type": "application/json" }, body } : {})
      })
      const proxyBody = (await proxy.json()) as { errors?: ReadonlyArray<string> }
      expect(h.upstreamCount(), `${name}: the proxy sent nothing upstream`).toBe(before)

      const timestamp = Math.floor(h.simulator.clock.now() / 1000)
      const signed = Signing.signedHeaders(h.simulator.credentials, {
        method,
        path,
        body: withBody ? body : undefined,
        timestamp
      })
      const accounts = h.simulator.accounts().length
      const sim = await h.simulator.fetch(
        new Request(`http://simulator.test${path}`, {
          method,
          headers: withBody ? { ...signed, "content-type": "application/json" } : signed,
          ...(withBody ? { body } : {})
        })
      )
      const simBody = (await sim.json()) as { errors?: ReadonlyArray<string> }
      expect(h.simulator.accounts().length, `${name}: the simulator created nothing`).toBe(accounts)

      expect(proxy.status, `${name}: proxy ${JSON.stringify(proxyBody)}`).toBeGreaterThanOrEqual(400)
      expect(proxy.status, name).toBeLessThan(500)
      expect(sim.status, `${name}: simulator ${JSON.stringify(simBody)}`).toBeGreaterThanOrEqual(400)
      expect(sim.status, name).toBeLessThan(500)
      if (proxy.status !== sim.status || proxyBody.errors?.[0] !== simBody.errors?.[0]) {
        differences.push(
          `${name}: proxy ${proxy.status} ${JSON.stringify(proxyBody.errors?.[0])}, simulator ${sim.status} ${JSON.stringify(simBody.errors?.[0])}`
        )
      }
    }
    expect(differences).toEqual([])
  })
})
