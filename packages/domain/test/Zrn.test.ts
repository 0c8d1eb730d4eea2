import { describe, expect, it } from "@effect/vitest"
import { Enums, Zrn } from "@mta/domain"
import { Either, Equal, Schema } from "effect"
import * as fc from "fast-check"

const UUID = "c761fc96-5c44-40d4-8eb2-3fcd5d06754e"
const CANONICAL = `zrn:zh:us:accounts:customer:${UUID}`

const parsed = (input: string, options?: Zrn.ParseOptions): string => {
  const r = Zrn.parse(input, options)
  if (Either.isLeft(r)) throw new Error(`expected ${input} to parse: ${r.left.message}`)
  return Zrn.format(r.right)
}
const rejected = (input: string, options?: Zrn.ParseOptions): Zrn.ZrnParseError => {
  const r = Zrn.parse(input, options)
  if (Either.isRight(r)) throw new Error(`expected ${input} to be rejected, got ${String(r.right)}`)
  return r.left
}

describe("Zrn.parse: accepted forms (domain-rules §1)", () => {
  it.each([
    ["full, canonical", CANONICAL, undefined, CANONICAL],
    ["full with urn scheme", `urn:zh:us:accounts:customer:${UUID}`, undefined, CANONICAL],
    ["upper case, singular domain", `ZRN:ZH:US:ACCOUNT:CUSTOMER:${UUID.toUpperCase()}`, undefined, CANONICAL],
    ["mixed case urn", `Urn:Zh:Us:Accounts:Customer:${UUID}`, undefined, CANONICAL],
    ["without the scheme", `zh:us:accounts:customer:${UUID}`, undefined, CANONICAL],
    ["without the scheme, singular domain", `zh:us:account:customer:${UUID}`, undefined, CANONICAL],
    ["short customer form, default geo", `customer:${UUID}`, undefined, CANONICAL],
    [
      "short ledger form, geo from context",
      `ledger:${UUID}`,
      { geo: "eu" },
      `zrn:zh:eu:accounts:ledger:${UUID}`
    ],
    ["bare uuid with expected subdomain", UUID, { subdomain: "customer" }, CANONICAL],
    [
      "bare upper-case uuid, geo and subdomain from context",
      UUID.toUpperCase(),
      { geo: "uk", subdomain: "ledger" },
      `zrn:zh:uk:accounts:ledger:${UUID}`
    ],
    ["every geo: au", `zrn:zh:au:accounts:ledger:${UUID}`, undefined, `zrn:zh:au:accounts:ledger:${UUID}`],
    [
      "the short form ignores no explicit geo",
      `zrn:zh:bz:accounts:customer:${UUID}`,
      { geo: "eu" },
      `zrn:zh:bz:accounts:customer:${UUID}`
    ]
  ] as const)("%s", (_, input, options, expected) => {
    expect(parsed(input, options)).toBe(expected)
  })

  it("accepts every geo in the enumeration", () => {
    for (const geo of Enums.Geo.literals) {
      expect(parsed(`zrn:zh:${geo.toUpperCase()}:accounts:customer:${UUID}`)).toBe(
        `zrn:zh:${geo}:accounts:customer:${UUID}`
      )
    }
  })
})

describe("Zrn.parse: rejected forms name the part at fault", () => {
  it.each([
    ["empty", "", "Empty", "empty"],
    ["leading whitespace", ` ${CANONICAL}`, "Whitespace", "whitespace"],
    ["trailing newline", `${CANONICAL}\n`, "Whitespace", "whitespace"],
    ["inner whitespace", `zrn:zh: us:accounts:customer:${UUID}`, "Whitespace", "whitespace"],
    ["percent-encoded", `zrn%3Azh%3Aus%3Aaccounts%3Acustomer%3A${UUID}`, "PercentEncoded", "decode it first"],
    [
      "unknown scheme",
      `arn:zh:us:accounts:customer:${UUID}`,
      "Scheme",
      'unknown scheme "arn" (expected zrn or urn)'
    ],
    [
      "unknown namespace",
      `zrn:zz:us:accounts:customer:${UUID}`,
      "Namespace",
      'unknown namespace "zz" (expected zh)'
    ],
    ["unknown geo", `zrn:zh:fr:accounts:customer:${UUID}`, "Geo", 'unknown geo "fr"'],
    [
      "unknown domain",
      `zrn:zh:us:wallets:customer:${UUID}`,
      "Domain",
      'unknown domain "wallets" (expected accounts)'
    ],
    [
      "unknown subdomain",
      `zrn:zh:us:accounts:vault:${UUID}`,
      "Subdomain",
      'unknown subdomain "vault" (expected customer or ledger)'
    ],
    ["unknown subdomain, short form", `vault:${UUID}`, "Subdomain", "expected customer or ledger"],
    ["id not a uuid", "zrn:zh:us:accounts:customer:12345", "Id", 'id "12345" is not a UUID'],
    [
      "uuid missing a group",
      "zrn:zh:us:accounts:customer:c761fc96-5c44-40d4-3fcd5d06754e",
      "Id",
      "not a UUID"
    ],
    ["short form, id not a uuid", "customer:not-a-uuid", "Id", "not a UUID"],
    ["bare string that is not a uuid", "hello", "Id", "not a UUID"],
    [
      "too many segments",
      `zrn:zh:us:accounts:customer:extra:${UUID}`,
      "SegmentCount",
      "7 ':'-separated segments"
    ],
    ["scheme with a missing part", `zrn:zh:us:customer:${UUID}`, "SegmentCount", "got 4"],
    ["three segments", `accounts:customer:${UUID}`, "SegmentCount", "3 ':'-separated segments"],
    ["trailing colon", `${CANONICAL}:`, "SegmentCount", "7 ':'-separated segments"],
    ["bare uuid without expected subdomain", UUID, "Unqualified", "qualify it as customer:<uuid>"]
  ] as const)("%s", (_, input, reason, fragment) => {
    const e = rejected(input)
    expect(e).toBeInstanceOf(Zrn.ZrnParseError)
    expect(e._tag).toBe("ZrnParseError")
    expect(e.reason).toBe(reason)
    expect(e.input).toBe(input)
    expect(e.message).toContain(fragment)
  })

  it("never throws on non-string input from untyped callers", () => {
    for (const bad of [undefined, null, 42, {}, []]) {
      const e = rejected(bad as unknown as string)
      expect(e.reason).toBe("NotAString")
    }
  })

  it("shortens very long inputs in messages", () => {
    const e = rejected(`zrn:zh:us:accounts:customer:${"a".repeat(500)}`)
    expect(e.message.length).toBeLessThan(300)
  })
})

describe("Zrn values", () => {
  it("two spellings of one identifier are equal", () => {
    const a = Zrn.unsafeParse(`URN:ZH:US:ACCOUNT:CUSTOMER:${UUID.toUpperCase()}`)
    const b = Zrn.unsafeParse(`customer:${UUID}`)
    expect(Equal.equals(a, b)).toBe(true)
    expect(Zrn.equals(a, b)).toBe(true)
    expect(Equal.equals(a, Zrn.unsafeParse(`ledger:${UUID}`))).toBe(false)
  })

  it("prints and serialises as the canonical string", () => {
    const z = Zrn.unsafeParse(`zh:us:accounts:customer:${UUID}`)
    expect(String(z)).toBe(CANONICAL)
    expect(`${z}`).toBe(CANONICAL)
    expect(JSON.stringify({ zrn: z })).toBe(`{"zrn":"${CANONICAL}"}`)
  })

  it("normalize returns the canonical string or the error", () => {
    expect(Zrn.normalize(`customer:${UUID.toUpperCase()}`)).toEqual(Either.right(CANONICAL))
    expect(Either.isLeft(Zrn.normalize("nope"))).toBe(true)
  })

  it("the constructor checks every part", () => {
    expect(String(new Zrn.Zrn({ geo: "eu", subdomain: "ledger", id: UUID }))).toBe(
      `zrn:zh:eu:accounts:ledger:${UUID}`
    )
    expect(() => new Zrn.Zrn({ geo: "fr" as Enums.Geo, subdomain: "ledger", id: UUID })).toThrow(
      /unknown geo "fr"/
    )
    expect(() => new Zrn.Zrn({ geo: "us", subdomain: "vault" as Enums.Subdomain, id: UUID })).toThrow(
      /unknown subdomain/
    )
    expect(() => new Zrn.Zrn({ geo: "us", subdomain: "ledger", id: UUID.toUpperCase() })).toThrow(
      /lower-case UUID/
    )
  })

  it("inspects as the canonical string", async () => {
    const { inspect } = await import("node:util")
    expect(inspect(Zrn.unsafeParse(`customer:${UUID}`))).toBe(`Zrn(${CANONICAL})`)
  })

  it("unsafeParse throws the typed error", () => {
    expect(() => Zrn.unsafeParse("nope")).toThrow(Zrn.ZrnParseError)
  })
})

describe("Zrn Schemas", () => {
  it("ZrnFromString decodes any accepted form and encodes canonical", () => {
    const decoded = Schema.decodeUnknownSync(Zrn.ZrnFromString)(
      `urn:zh:us:accounts:customer:${UUID.toUpperCase()}`
    )
    expect(decoded).toBeInstanceOf(Zrn.Zrn)
    expect(Schema.encodeSync(Zrn.ZrnFromString)(decoded)).toBe(CANONICAL)
  })

  it("ZrnFromString reports the parse message", () => {
    const r = Schema.decodeUnknownEither(Zrn.ZrnFromString)("zrn:zh:fr:accounts:customer:x")
    expect(Either.isLeft(r) && r.left.message).toContain('unknown geo "fr"')
  })

  it("CustomerZrn reads bare UUIDs as customer accounts and refuses ledger ZRNs", () => {
    expect(String(Schema.decodeUnknownSync(Zrn.CustomerZrn)(UUID))).toBe(CANONICAL)
    const r = Schema.decodeUnknownEither(Zrn.CustomerZrn)(`ledger:${UUID}`)
    expect(Either.isLeft(r) && r.left.message).toContain("expected a customer ZRN, got a ledger ZRN")
  })

  it("LedgerZrn reads bare UUIDs as ledger accounts", () => {
    expect(String(Schema.decodeUnknownSync(Zrn.LedgerZrn)(UUID))).toBe(`zrn:zh:us:accounts:ledger:${UUID}`)
  })

  it("ZrnFromStringWith takes the geo of short forms from its options", () => {
    const s = Zrn.ZrnFromStringWith({ geo: "eu", subdomain: "customer" })
    expect(String(Schema.decodeUnknownSync(s)(UUID))).toBe(`zrn:zh:eu:accounts:customer:${UUID}`)
  })
})

// Generators for the property tests: every spelling the grammar allows of one identifier.
const hex = fc.constantFrom(..."0123456789abcdef".split(""))
const hexs = (n: number) => fc.array(hex, { minLength: n, maxLength: n }).map((a) => a.join(""))
const uuid = fc.tuple(hexs(8), hexs(4), hexs(4), hexs(4), hexs(12)).map((p) => p.join("-"))
const geo = fc.constantFrom(...Enums.Geo.literals)
const subdomain = fc.constantFrom(...Enums.Subdomain.literals)
const randomCase = (s: string) =>
  fc.array(fc.boolean(), { minLength: s.length, maxLength: s.length }).map((flags) =>
    s
      .split("")
      .map((c, i) => (flags[i] ? c.toUpperCase() : c))
      .join("")
  )
const identifier = fc.record({ geo, subdomain, id: uuid })
type Id = { geo: Enums.Geo; subdomain: Enums.Subdomain; id: string }
const spelling = (v: Id) =>
  fc.oneof(
    fc
      .tuple(fc.constantFrom("zrn", "urn"), fc.constantFrom("accounts", "account"))
      .chain(([scheme, domain]) => randomCase(`${scheme}:zh:${v.geo}:${domain}:${v.subdomain}:${v.id}`)),
    fc
      .constantFrom("accounts", "account")
      .chain((domain) => randomCase(`zh:${v.geo}:${domain}:${v.subdomain}:${v.id}`)),
    randomCase(`${v.subdomain}:${v.id}`),
    randomCase(v.id)
  )

describe("Zrn properties", () => {
  it("all spellings of one identifier parse equal, to the canonical value", () => {
    fc.assert(
      fc.property(
        identifier.chain((v) => fc.tuple(fc.constant(v), spelling(v), spelling(v))),
        ([v, a, b]) => {
          const options = { geo: v.geo, subdomain: v.subdomain }
          const pa = Zrn.parse(a, options)
          const pb = Zrn.parse(b, options)
          expect(Either.isRight(pa) && Either.isRight(pb)).toBe(true)
          if (Either.isRight(pa) && Either.isRight(pb)) {
            expect(Equal.equals(pa.right, pb.right)).toBe(true)
            expect(Zrn.format(pa.right)).toBe(`zrn:zh:${v.geo}:accounts:${v.subdomain}:${v.id}`)
          }
        }
      ),
      { numRuns: 500 }
    )
  })

  it("format ∘ parse is the identity on canonical strings", () => {
    fc.assert(
      fc.property(identifier, (v) => {
        const canonical = `zrn:zh:${v.geo}:accounts:${v.subdomain}:${v.id}`
        expect(Zrn.normalize(canonical)).toEqual(Either.right(canonical))
      }),
      { numRuns: 500 }
    )
  })

  it("no input makes parse throw, and every result is a Zrn or a ZrnParseError", () => {
    const alphabet = fc.constantFrom(..."zrnuhsca:-% \t0123456789abcdefZRNUH".split(""))
    const noisy = fc.oneof(
      fc.string(),
      fc.string({ unit: "grapheme" }),
      fc.array(alphabet, { maxLength: 60 }).map((a) => a.join("")),
      identifier
        .chain(spelling)
        .chain((s) =>
          fc
            .tuple(fc.nat(s.length), fc.string({ maxLength: 3 }))
            .map(([i, ins]) => s.slice(0, i) + ins + s.slice(i))
        )
    )
    fc.assert(
      fc.property(
        noisy,
        fc.option(geo, { nil: undefined }),
        fc.option(subdomain, { nil: undefined }),
        (s, g, sd) => {
          const r = Zrn.parse(s, { geo: g, subdomain: sd })
          if (Either.isRight(r)) {
            expect(r.right).toBeInstanceOf(Zrn.Zrn)
            expect(Zrn.parse(Zrn.format(r.right))).toEqual(Either.right(r.right))
          } else {
            expect(r.left).toBeInstanceOf(Zrn.ZrnParseError)
            expect(r.left.message.length).toBeGreaterThan(0)
          }
        }
      ),
      { numRuns: 2000 }
    )
  })
})
