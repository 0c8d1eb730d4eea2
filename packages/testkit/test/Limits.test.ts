/**
 * The simulator holds requests to the proxy's bounds (`Limits`, `production.md` §1), so a test cannot
 * pass against the fake and fail against the proxy: bodies over 64 KiB → 413; nesting over 32 levels,
 * arrays over 100 items, strings over 1,024 characters, a lone UTF-16 surrogate or U+0000 → 400 naming
 * the JSON path; `account_label` 1–255 characters (code points). The messages are the proxy's, word for
 * word (the server's `Limits.test.ts` sends the same bodies to both and compares them).
 */
import { describe, expect, it } from "vitest"
import { codes, createBody, nestedArrays, rawCreate } from "./support/bodies.js"
import { call, simulator } from "./support.js"

/** 😀 (U+1F600): one character, 2 UTF-16 units, 4 UTF-8 bytes. */
const EMOJI = "\u{1F600}"
/** The proxy's answer to a 256-character label (`packages/server/test/Limits.test.ts`). */
const LABEL_256 = "account_label: expected a string of at most 255 characters, got 256 characters"
const TOO_LARGE = "request body is larger than 65536 bytes"
const LONE = "expected valid Unicode text, got a lone UTF-16 surrogate"
const NESTING = "expected JSON nested at most 32 levels deep, got deeper nesting here"

type Sim = ReturnType<typeof simulator>

/** Sends a create (raw text) and returns the answer; asserts no account came of it unless 202. */
const create = async (sim: Sim, raw: string) => {
  const before = sim.accounts().length
  const res = await call(sim, "POST", "/accounts", { raw })
  if (res.status !== 202) expect(sim.accounts().length, "no account was created").toBe(before)
  return res
}

describe("the simulator's bounds on requests", () => {
  describe("account_label", () => {
    it("256 characters: 400 with the proxy's message line; 255 characters: 202", async () => {
      const sim = simulator()
      const refused = await create(sim, JSON.stringify(createBody("l".repeat(256))))
      expect(refused.status).toBe(400)
      expect(refused.body).toEqual({ errors: [LABEL_256] })
      const ok = await create(sim, JSON.stringify(createBody("l".repeat(255))))
      expect(ok.status).toBe(202)
      expect(ok.body.message.account_label).toBe("l".repeat(255))
    })

    it("256 emoji: 400 counting 256 characters, not 512 UTF-16 units", async () => {
      const sim = simulator()
      const res = await create(sim, JSON.stringify(createBody(EMOJI.repeat(256))))
      expect(res.status).toBe(400)
      expect(res.body).toEqual({ errors: [LABEL_256] })
    })

    it("255 emoji (510 UTF-16 units, 1,020 bytes): 202, and the account opens with that label", async () => {
      const sim = simulator()
      const label = EMOJI.repeat(255)
      const res = await create(sim, JSON.stringify(createBody(label)))
      expect(res.status).toBe(202)
      expect(res.body.message.account_label).toBe(label)
      await sim.settle()
      const details = await call(sim, "GET", `/accounts/${res.body.message.zrn}/details`)
      expect(details.body.message).toMatchObject({ account_label: label, status: "open" })
      // Its webhook carries the label whole.
      expect(JSON.stringify(sim.webhooks())).toContain(label)
    })

    it("an empty label: 400 naming account_label", async () => {
      const sim = simulator()
      const res = await create(sim, JSON.stringify(createBody("")))
      expect(res.status).toBe(400)
      expect(res.body.errors[0]).toMatch(/^account_label: /)
    })
  })

  describe("arrays", () => {
    it("101 tenants: 400 naming tenants; 101 financial_advisors: 400 naming financial_advisors", async () => {
      const sim = simulator()
      const tenants = await create(sim, JSON.stringify(createBody("t", { tenants: codes(101) })))
      expect(tenants.status).toBe(400)
      expect(tenants.body.errors[0]).toMatch(/^tenants: .*100/)
      const advisors = await create(sim, JSON.stringify(createBody("a", { financial_advisors: codes(101) })))
      expect(advisors.status).toBe(400)
      expect(advisors.body.errors[0]).toMatch(/^financial_advisors: .*100/)
    })

    it("100 tenants are not refused for their count", async () => {
      const sim = simulator()
      const res = await create(sim, JSON.stringify(createBody("t", { tenants: codes(100) })))
      expect(JSON.stringify(res.body)).not.toContain("at most 100")
    })
  })

  describe("text", () => {
    it("a lone surrogate in account_label: 400 naming the path and the character", async () => {
      const sim = simulator()
      const res = await create(sim, rawCreate("ab\\ud800c"))
      expect(res.status).toBe(400)
      expect(res.body).toEqual({ errors: [`account_label: ${LONE} (U+D800) at character 3`] })
    })

    it("a lone low surrogate deep in an unknown field, and in an object key: 400 naming the path", async () => {
      const sim = simulator()
      const deep = await create(sim, rawCreate("x", ',"extra":{"list":["ok","\\udc00"]}'))
      expect(deep.status).toBe(400)
      expect(deep.body.errors[0]).toBe(`extra.list[1]: ${LONE} (U+DC00) at character 1`)
      const key = await create(sim, rawCreate("x", ',"k\\udbff":1'))
      expect(key.status).toBe(400)
      expect(key.body.errors[0]).toBe(`["k\\udbff"]: ${LONE} (U+DBFF) at character 2`)
    })

    it("a surrogate pair written as two escapes is one character: 202", async () => {
      const sim = simulator()
      const res = await create(sim, rawCreate("pair-\\ud83d\\ude00"))
      expect(res.status).toBe(202)
      expect(res.body.message.account_label).toBe(`pair-${EMOJI}`)
    })

    it("U+0000: 400 naming the path", async () => {
      const sim = simulator()
      const res = await create(sim, rawCreate("a\\u0000b"))
      expect(res.status).toBe(400)
      expect(res.body.errors[0]).toBe(
        "account_label: expected text without the NUL character (U+0000), got a string containing it"
      )
    })

    it("a string of 1,025 characters in an unknown field: 400 naming its path; 1,024 not for its length", async () => {
      const sim = simulator()
      const long = await create(sim, JSON.stringify(createBody("s", { extra: { note: "y".repeat(1_025) } })))
      expect(long.status).toBe(400)
      expect(long.body.errors[0]).toBe(
        "extra.note: expected a string of at most 1024 characters, got 1025 characters"
      )
      const fits = await create(sim, JSON.stringify(createBody("s", { extra: { note: "y".repeat(1_024) } })))
      expect(fits.status).toBe(400)
      expect(JSON.stringify(fits.body)).not.toContain("at most 1024")
    })
  })

  describe("nesting", () => {
    it("10,000 levels: 400 naming the nesting (not a crash)", async () => {
      const sim = simulator()
      const res = await create(sim, rawCreate("d", `,"x":${nestedArrays(10_000)}`))
      expect(res.status).toBe(400)
      expect(res.body).toEqual({ errors: [`x${"[0]".repeat(31)}: ${NESTING}`] })
      const objects = await create(sim, `${'{"a":'.repeat(10_000)}1${"}".repeat(10_000)}`)
      expect(objects.status).toBe(400)
      expect(objects.body.errors[0]).toMatch(/^a(\.a){31}: expected JSON nested at most 32 levels/)
    })

    it("33 levels: refused for nesting; 32 levels: refused by the Schema, not for nesting", async () => {
      const sim = simulator()
      const deep = await create(sim, rawCreate("d", `,"x":${nestedArrays(32)}`))
      expect(deep.status).toBe(400)
      expect(deep.body.errors[0]).toBe(`x${"[0]".repeat(31)}: ${NESTING}`)
      const within = await create(sim, rawCreate("d", `,"x":${nestedArrays(31)}`))
      expect(within.status).toBe(400)
      expect(JSON.stringify(within.body)).not.toContain("nested")
      expect(within.body.errors[0]).toMatch(/^x: .*unknown field/)
    })
  })

  describe("body size", () => {
    it("65,537 bytes: 413 with the proxy's message; 65,536 bytes of a padded create: 202", async () => {
      const sim = simulator()
      const over = JSON.stringify(createBody("big")).padEnd(65_537, " ")
      const refused = await create(sim, over)
      expect(refused.status).toBe(413)
      expect(refused.body).toEqual({ errors: [TOO_LARGE] })
      const fits = JSON.stringify(createBody("fits")).padEnd(65_536, " ")
      expect(Buffer.byteLength(fits)).toBe(65_536)
      const ok = await create(sim, fits)
      expect(ok.status).toBe(202)
    })

    it("counts UTF-8 bytes, not UTF-16 units: 21,845 × '€' in a string is 65,537 bytes → 413", async () => {
      const sim = simulator()
      const body = `"${"€".repeat(21_845)}"`
      expect(body.length).toBeLessThan(65_536)
      expect(Buffer.byteLength(body)).toBe(65_537)
      const res = await create(sim, body)
      expect(res.status).toBe(413)
      // And 4-byte characters: 16,383 emoji (65,532 bytes) + 2 quotes + 2 spaces = 65,536 bytes is not.
      const emoji = `"${EMOJI.repeat(16_383)}"  `
      expect(Buffer.byteLength(emoji)).toBe(65_536)
      expect((await create(sim, emoji)).status).not.toBe(413)
    })

    it("the bound holds on every endpoint with a body (PATCH, a command)", async () => {
      const sim = simulator()
      const created = await create(sim, JSON.stringify(createBody("cmd")))
      await sim.settle()
      const zrn = created.body.message.zrn as string
      const big = "{}".padEnd(65_537, " ")
      const patch = await call(sim, "PATCH", `/accounts/${zrn}`, { raw: big })
      expect(patch.status).toBe(413)
      const lock = await call(sim, "POST", `/accounts/${zrn}/lock`, { raw: big })
      expect(lock.status).toBe(413)
      expect(sim.account(zrn)?.status).toBe("open")
    })
  })

  describe("queries", () => {
    it("GET /accounts?account_label=<256 characters>: 400 naming account_label; asset of 1,025: 400", async () => {
      const sim = simulator()
      const label = await call(sim, "GET", `/accounts?account_label=${"q".repeat(256)}`)
      expect(label.status).toBe(400)
      expect(label.body.errors.join("\n")).toMatch(/account_label.*255/)
      const asset = await call(sim, "GET", `/accounts?asset=${"q".repeat(1_025)}`)
      expect(asset.status).toBe(400)
      expect(asset.body.errors.join("\n")).toMatch(/asset/)
      const nul = await call(sim, "GET", "/accounts?account_group=a%00b")
      expect(nul.status).toBe(400)
      expect(nul.body.errors.join("\n")).toMatch(/account_group/)
    })
  })
})
