/**
 * ZRN (zerohash Resource Name): parsing every form the vendor's documents use, normalising to the
 * canonical `zrn:zh:<geo>:accounts:<subdomain>:<uuid>`, and formatting back.
 *
 * `parse` is a hand-written fast path (hot code in the proxy and the simulator calls it per request);
 * the `ZrnFromString` Schema wraps it, so decoding through a Schema costs the same parse.
 *
 * @since 0.1.0
 */
import { Either, Equal, type FastCheck, Hash, ParseResult, Schema } from "effect"
import { Geo, Subdomain } from "./Enums.js"

const UUID_LOWER = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/
const trusted = Symbol("Zrn/trusted")

/**
 * A parsed ZRN. Two spellings of one identifier parse to equal values (`Equal.equals`, and
 * `toEqual` in tests). A plain class rather than a `Schema.Class`: `parse` builds one per request in
 * the proxy and the simulator, and a Schema class costs several times more to construct.
 */
export class Zrn implements Equal.Equal {
  readonly geo: Geo
  readonly subdomain: Subdomain
  readonly id: string

  /** Builds a ZRN from its parts, checking each; throws `ZrnParseError` on a bad part. Prefer `parse`. */
  constructor(
    parts: { readonly geo: Geo; readonly subdomain: Subdomain; readonly id: string },
    check?: typeof trusted
  ) {
    if (check !== trusted) {
      const input = `zrn:zh:${parts.geo}:accounts:${parts.subdomain}:${parts.id}`
      if (!GEOS.has(parts.geo))
        throw new ZrnParseError({ reason: "Geo", input, message: `unknown geo ${show(String(parts.geo))}` })
      if (!SUBDOMAINS.has(parts.subdomain)) {
        throw new ZrnParseError({
          reason: "Subdomain",
          input,
          message: `unknown subdomain ${show(String(parts.subdomain))}`
        })
      }
      if (!UUID_LOWER.test(parts.id)) {
        throw new ZrnParseError({
          reason: "Id",
          input,
          message: `id ${show(String(parts.id))} is not a lower-case UUID`
        })
      }
    }
    this.geo = parts.geo
    this.subdomain = parts.subdomain
    this.id = parts.id
  }

  [Equal.symbol](that: Equal.Equal): boolean {
    return that instanceof Zrn && equals(this, that)
  }

  [Hash.symbol](): number {
    return Hash.string(format(this))
  }

  /** The canonical string form. */
  toString(): string {
    return format(this)
  }

  /** Serialises as the canonical string, so `JSON.stringify` never leaks the object shape. */
  toJSON(): string {
    return format(this)
  }

  [Symbol.for("nodejs.util.inspect.custom")](): string {
    return `Zrn(${format(this)})`
  }
}

/** The `Zrn` value itself as a Schema (for fields that already hold a parsed ZRN). */
export const ZrnFromSelf: Schema.Schema<Zrn> = Schema.declare((u: unknown): u is Zrn => u instanceof Zrn, {
  identifier: "Zrn",
  description: "a parsed ZRN",
  pretty: () => (z: Zrn) => format(z),
  equivalence: () => equals,
  arbitrary: () => (fc) => arbitraryOf(fc)
})

function arbitraryOf(fc: typeof FastCheck, subdomain?: Subdomain): FastCheck.Arbitrary<Zrn> {
  return fc
    .record({
      geo: fc.constantFrom(...Geo.literals),
      subdomain: subdomain === undefined ? fc.constantFrom(...Subdomain.literals) : fc.constant(subdomain),
      id: fc.uuid({ version: 4 })
    })
    .map((p) => new Zrn(p, trusted))
}

/** Which check a rejected input failed. */
export const ZrnParseErrorReason = Schema.Literal(
  "NotAString",
  "Empty",
  "Whitespace",
  "PercentEncoded",
  "SegmentCount",
  "Scheme",
  "Namespace",
  "Geo",
  "Domain",
  "Subdomain",
  "Id",
  "Unqualified"
)
/** Which check a rejected input failed. */
export type ZrnParseErrorReason = typeof ZrnParseErrorReason.Type

/** An input that is not an accepted ZRN form; `message` names the part at fault and what was expected. */
export class ZrnParseError extends Schema.TaggedError<ZrnParseError>()("ZrnParseError", {
  reason: ZrnParseErrorReason,
  input: Schema.String,
  message: Schema.String
}) {}

/** Options for inputs that leave parts implicit. */
export interface ParseOptions {
  /** The geo the API is served in; used by `subdomain:id` and bare-UUID inputs. Default `us`. */
  readonly geo?: Geo | undefined
  /** The subdomain a bare UUID is taken to be; without it a bare UUID is rejected. */
  readonly subdomain?: Subdomain | undefined
}

const GEOS: ReadonlySet<string> = new Set(Geo.literals)
const SUBDOMAINS: ReadonlySet<string> = new Set(Subdomain.literals)
const UUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/
const CANONICAL =
  /^zrn:zh:(us|eu|uk|ww|bz|au):accounts:(customer|ledger):([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/
const WHITESPACE = /\s/
const FORMS =
  "zrn:zh:<geo>:accounts:<customer|ledger>:<uuid>, zh:<geo>:accounts:<subdomain>:<uuid>, <subdomain>:<uuid> or <uuid>"

const make = (geo: Geo, subdomain: Subdomain, id: string): Zrn => new Zrn({ geo, subdomain, id }, trusted)

const fail = (
  reason: ZrnParseErrorReason,
  input: string,
  message: string
): Either.Either<Zrn, ZrnParseError> => Either.left(new ZrnParseError({ reason, input, message }))

const show = (s: string): string => JSON.stringify(s.length > 80 ? `${s.slice(0, 77)}...` : s)

const checkId = (raw: string, input: string): Either.Either<string, ZrnParseError> =>
  UUID.test(raw)
    ? Either.right(raw.toLowerCase())
    : Either.left(
        new ZrnParseError({
          reason: "Id",
          input,
          message: `invalid ZRN ${show(input)}: id ${show(raw)} is not a UUID (expected 8-4-4-4-12 hexadecimal digits)`
        })
      )

const checkSubdomain = (raw: string, input: string): Either.Either<Subdomain, ZrnParseError> => {
  const lower = raw.toLowerCase()
  return SUBDOMAINS.has(lower)
    ? Either.right(lower as Subdomain)
    : Either.left(
        new ZrnParseError({
          reason: "Subdomain",
          input,
          message: `invalid ZRN ${show(input)}: unknown subdomain ${show(raw)} (expected customer or ledger)`
        })
      )
}

const qualified = (
  input: string,
  namespace: string,
  geo: string,
  domain: string,
  subdomain: string,
  id: string
): Either.Either<Zrn, ZrnParseError> => {
  if (namespace.toLowerCase() !== "zh") {
    return fail(
      "Namespace",
      input,
      `invalid ZRN ${show(input)}: unknown namespace ${show(namespace)} (expected zh)`
    )
  }
  const g = geo.toLowerCase()
  if (!GEOS.has(g)) {
    return fail(
      "Geo",
      input,
      `invalid ZRN ${show(input)}: unknown geo ${show(geo)} (expected one of us, eu, uk, ww, bz, au)`
    )
  }
  const d = domain.toLowerCase()
  if (d !== "accounts" && d !== "account") {
    return fail(
      "Domain",
      input,
      `invalid ZRN ${show(input)}: unknown domain ${show(domain)} (expected accounts)`
    )
  }
  const s = checkSubdomain(subdomain, input)
  if (Either.isLeft(s)) return Either.left(s.left)
  const i = checkId(id, input)
  if (Either.isLeft(i)) return Either.left(i.left)
  return Either.right(make(g as Geo, s.right, i.right))
}

/**
 * Parses any accepted ZRN form into a `Zrn`; never throws. Accepted: `zrn:`/`urn:` full forms in any
 * case with `accounts` or `account`; the form without the scheme (`zh:us:accounts:customer:<uuid>`);
 * `subdomain:<uuid>` (geo from `options.geo`, default `us`); a bare UUID (needs `options.subdomain`).
 */
export const parse = (input: string, options?: ParseOptions): Either.Either<Zrn, ZrnParseError> => {
  if (typeof input !== "string") {
    return fail(
      "NotAString",
      String(input),
      `invalid ZRN: expected a string, got ${input === null ? "null" : typeof input}`
    )
  }
  const m = CANONICAL.exec(input)
  if (m !== null) return Either.right(make(m[1] as Geo, m[2] as Subdomain, m[3]!))
  if (input.length === 0) return fail("Empty", input, `invalid ZRN: the input is empty (expected ${FORMS})`)
  if (WHITESPACE.test(input)) {
    return fail(
      "Whitespace",
      input,
      `invalid ZRN ${show(input)}: contains whitespace (expected no spaces anywhere)`
    )
  }
  if (input.includes("%")) {
    return fail(
      "PercentEncoded",
      input,
      `invalid ZRN ${show(input)}: looks percent-encoded (decode it first; expected ':' separators, not %3A)`
    )
  }
  const parts = input.split(":")
  switch (parts.length) {
    case 6: {
      const scheme = parts[0]!.toLowerCase()
      if (scheme !== "zrn" && scheme !== "urn") {
        return fail(
          "Scheme",
          input,
          `invalid ZRN ${show(input)}: unknown scheme ${show(parts[0]!)} (expected zrn or urn)`
        )
      }
      return qualified(input, parts[1]!, parts[2]!, parts[3]!, parts[4]!, parts[5]!)
    }
    case 5: {
      const first = parts[0]!.toLowerCase()
      if (first === "zrn" || first === "urn") {
        return fail(
          "SegmentCount",
          input,
          `invalid ZRN ${show(input)}: 5 segments after the scheme were expected, got 4 (expected ${FORMS})`
        )
      }
      return qualified(input, parts[0]!, parts[1]!, parts[2]!, parts[3]!, parts[4]!)
    }
    case 2: {
      const s = checkSubdomain(parts[0]!, input)
      if (Either.isLeft(s)) return Either.left(s.left)
      const i = checkId(parts[1]!, input)
      if (Either.isLeft(i)) return Either.left(i.left)
      return Either.right(make(options?.geo ?? "us", s.right, i.right))
    }
    case 1: {
      const i = checkId(input, input)
      if (Either.isLeft(i)) return Either.left(i.left)
      if (options?.subdomain === undefined) {
        return fail(
          "Unqualified",
          input,
          `ambiguous ZRN ${show(input)}: a bare UUID needs a subdomain (qualify it as customer:<uuid> or zrn:zh:<geo>:accounts:customer:<uuid>)`
        )
      }
      return Either.right(make(options.geo ?? "us", options.subdomain, i.right))
    }
    default:
      return fail(
        "SegmentCount",
        input,
        `invalid ZRN ${show(input)}: ${parts.length} ':'-separated segments (expected ${FORMS})`
      )
  }
}

/** The canonical string: `zrn:zh:<geo>:accounts:<subdomain>:<id>`. */
export const format = (zrn: Zrn): string => `zrn:zh:${zrn.geo}:accounts:${zrn.subdomain}:${zrn.id}`

/** Parses or throws the `ZrnParseError`; for literals in tests and scripts. */
export const unsafeParse = (input: string, options?: ParseOptions): Zrn =>
  Either.getOrThrowWith(parse(input, options), (e) => e)

/** Whether two ZRNs name the same resource. */
export const equals = (a: Zrn, b: Zrn): boolean =>
  a.geo === b.geo && a.subdomain === b.subdomain && a.id === b.id

/** Normalises any accepted form to the canonical string. */
export const normalize = (input: string, options?: ParseOptions): Either.Either<string, ZrnParseError> =>
  Either.map(parse(input, options), format)

const fromString = (options: ParseOptions | undefined, identifier: string, only?: Subdomain) =>
  Schema.transformOrFail(Schema.String, ZrnFromSelf, {
    strict: true,
    decode: (input, _, ast) => {
      const r = parse(input, options)
      if (Either.isLeft(r)) return ParseResult.fail(new ParseResult.Type(ast, input, r.left.message))
      if (only !== undefined && r.right.subdomain !== only) {
        return ParseResult.fail(
          new ParseResult.Type(
            ast,
            input,
            `expected a ${only} ZRN, got a ${r.right.subdomain} ZRN ${show(input)}`
          )
        )
      }
      return ParseResult.succeed(r.right)
    },
    encode: (zrn) => ParseResult.succeed(format(zrn))
  }).annotations({
    identifier,
    description: "a ZRN; any accepted form decodes, the canonical form is encoded",
    // Property tests draw values of the subdomain this Schema accepts, not any ZRN.
    ...(only === undefined ? {} : { arbitrary: () => (fc: typeof FastCheck) => arbitraryOf(fc, only) })
  })

/** Decodes any accepted string form to a `Zrn`; encodes the canonical string. */
export const ZrnFromString = fromString(undefined, "ZrnFromString")

/** Like `ZrnFromString`, with the geo and subdomain of short forms taken from `options`. */
export const ZrnFromStringWith = (options: ParseOptions): Schema.Schema<Zrn, string> =>
  fromString(options, "ZrnFromString")

/** A customer-account ZRN (bare UUIDs are read as customer accounts). */
export const CustomerZrn = fromString({ subdomain: "customer" }, "CustomerZrn", "customer")

/** A ledger-account ZRN (bare UUIDs are read as ledger accounts). */
export const LedgerZrn = fromString({ subdomain: "ledger" }, "LedgerZrn", "ledger")
