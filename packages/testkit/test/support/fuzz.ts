/**
 * The hostile inputs of the fuzz suites, written once: the testkit's (`test/Fuzz.test.ts`, against the
 * simulator) and the server's (`packages/server/test/Fuzz.test.ts`, against the proxy, which imports
 * this file by relative path). Each suite adds its own transport (signed requests, or callers' tokens),
 * its own documented-answer check and its own route groups.
 *
 * Inputs: malformed JSON, valid JSON of the wrong types, huge strings and long arrays, deep nesting
 * (built as text, up to 10 000 levels), lone surrogates (as JSON escapes, raw, and as the bytes
 * ED A0 80), U+0000, U+FFFF, emoji, RTL text, bad percent-encoding in paths and queries, long header
 * values, with and without `Idempotency-Key`, and valid bodies mutated field by field; the bodies that
 * break one bound of production.md §1, and bodies around and over 64 KiB.
 *
 * Reproducible: `FUZZ_SEED=<n>` (default 20 240 611) seeds every property of a suite (`budget`). Each
 * test file loads its own copy of this module (vitest isolates files), so `known`, the fresh-label
 * sequence and the tally are per suite.
 */
import { Endpoint } from "@mta/domain"
import fc from "fast-check"
import { afterAll } from "vitest"
import { createBody } from "./bodies.js"

// ---------------------------------------------------------------------------------------------
// Settings: seed, budgets, the tally printed at the end
// ---------------------------------------------------------------------------------------------

const DEFAULT_SEED = 20_240_611

const seedFromEnv = (): number => {
  const raw = process.env.FUZZ_SEED
  if (raw === undefined || raw.trim() === "") return DEFAULT_SEED
  const n = Number(raw)
  if (!Number.isSafeInteger(n)) throw new Error(`FUZZ_SEED must be an integer, got ${JSON.stringify(raw)}`)
  return n
}

export const SEED = seedFromEnv()

/** fast-check settings of one property: the suite's seed, a run count and a time budget. */
export const budget = <T>(numRuns: number, timeLimitMs: number): fc.Parameters<T> => ({
  seed: SEED,
  numRuns,
  interruptAfterTimeLimit: timeLimitMs
})

/** The proxy's body limit on the API routes (production.md §1), in bytes; the simulator holds it too. */
export const API_LIMIT = 65_536

const tally = {
  total: 0,
  byClass: {} as Record<string, number>,
  byGroup: {} as Record<string, Record<string, number>>,
  /** Distinct violations seen (also while fast-check shrinks), for the report. */
  violations: new Map<string, string>()
}

const classOf = (status: number): string =>
  status >= 200 && status < 600 ? `${Math.floor(status / 100)}xx` : "other"

/** Counts one answer of a route group; the group `setup` (requests made before the properties run) is not counted. */
export const countAnswer = (group: string, status: number): void => {
  if (group === "setup") return
  const cls = classOf(status)
  tally.total++
  tally.byClass[cls] = (tally.byClass[cls] ?? 0) + 1
  tally.byGroup[group] ??= {}
  const g = tally.byGroup[group]
  g[cls] = (g[cls] ?? 0) + 1
}

/** Prints the seed now, and after the suite's tests the tally (`[fuzz:<suite>] …`) and any violations. */
export const reportFuzz = (suite: string): void => {
  console.log(`[fuzz:${suite}] seed ${SEED} (reproduce with FUZZ_SEED=${SEED})`)
  afterAll(() => {
    console.log(
      `[fuzz:${suite}] seed ${SEED}: ${tally.total} generated requests; by status class ${JSON.stringify(tally.byClass)}; by route group ${JSON.stringify(tally.byGroup)}`
    )
    if (tally.violations.size > 0) {
      console.log(
        `[fuzz:${suite}] ${tally.violations.size} distinct violations:\n${[...tally.violations.values()].join("\n")}`
      )
    }
  })
}

// ---------------------------------------------------------------------------------------------
// Arbitraries: hostile text, JSON built as text, paths, queries, headers
// ---------------------------------------------------------------------------------------------

/** A piece of JSON text inserted verbatim, printed by its label (so counterexamples stay short). */
export class Raw {
  constructor(
    readonly text: string,
    readonly label: string
  ) {}
  [fc.toStringMethod](): string {
    return `Raw(${this.label})`
  }
}

/** A fresh, unique account label, made when the body is rendered (so a valid create is not a duplicate). */
export class FreshLabel {
  [fc.toStringMethod](): string {
    return "FreshLabel"
  }
}

export type Json =
  | null
  | boolean
  | number
  | string
  | Raw
  | FreshLabel
  | ReadonlyArray<Json>
  | { [k: string]: Json }

let labelSeq = 0
export const freshLabel = (): string => `fuzz-${SEED}-${++labelSeq}`

/** JSON text of a value; `Raw` pieces verbatim (they may make it invalid on purpose). */
export const toText = (v: Json): string => {
  if (v instanceof Raw) return v.text
  if (v instanceof FreshLabel) return JSON.stringify(freshLabel())
  if (Array.isArray(v)) return `[${v.map(toText).join(",")}]`
  if (typeof v === "object" && v !== null) {
    const entries = Object.entries(v as Record<string, Json>)
    return `{${entries.map(([k, x]) => `${JSON.stringify(k)}:${toText(x)}`).join(",")}}`
  }
  return JSON.stringify(v)
}

/** UTF-8, except that a lone surrogate becomes its 3-byte form (ED A0 80 for U+D800): invalid UTF-8. */
const wtf8 = (s: string): Uint8Array => {
  const out: Array<number> = []
  for (let i = 0; i < s.length; i++) {
    let cp = s.charCodeAt(i)
    const next = s.charCodeAt(i + 1)
    if (cp >= 0xd800 && cp <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
      cp = 0x10000 + ((cp - 0xd800) << 10) + (next - 0xdc00)
      i++
    }
    if (cp < 0x80) out.push(cp)
    else if (cp < 0x800) out.push(0xc0 | (cp >> 6), 0x80 | (cp & 63))
    else if (cp < 0x10000) out.push(0xe0 | (cp >> 12), 0x80 | ((cp >> 6) & 63), 0x80 | (cp & 63))
    else out.push(0xf0 | (cp >> 18), 0x80 | ((cp >> 12) & 63), 0x80 | ((cp >> 6) & 63), 0x80 | (cp & 63))
  }
  return Uint8Array.from(out)
}

/** Each UTF-16 unit as one byte: bytes 0x80-0xFF alone, which is invalid UTF-8. */
const latin1 = (s: string): Uint8Array => Uint8Array.from(s, (c) => c.charCodeAt(0) & 0xff)

/** How a body's text becomes bytes. */
export type Encoding = "utf8" | "wtf8" | "latin1"

/** A request body: a JSON value (possibly with raw, invalid pieces) and its encoding. */
export interface BodySpec {
  readonly value: Json
  readonly encoding: Encoding
}

export const renderBody = (b: BodySpec): string | Uint8Array => {
  const text = toText(b.value)
  return b.encoding === "utf8" ? text : b.encoding === "wtf8" ? wtf8(text) : latin1(text)
}

export const byteLength = (body: string | Uint8Array): number =>
  typeof body === "string" ? Buffer.byteLength(body, "utf8") : body.byteLength

/** Characters that break naive code: lone surrogates, U+0000, U+FFFF, BOM, RTL marks, emoji, ... */
const HOSTILE_CHARS = [
  "\ud800",
  "\udbff",
  "\udc00",
  "\udfff",
  "\u0000",
  "\uffff",
  "\ufffe",
  "\ufeff",
  "\u202e",
  "\u200f",
  "\u2028",
  "\u0301",
  "😀",
  "👩‍👩‍👧",
  "مرحبا",
  "שלום",
  "𝕏",
  "\u0001",
  "\n",
  '"',
  "\\",
  "'",
  "<",
  "%",
  "\u00e9"
] as const

const hostileChar = fc.constantFrom(...HOSTILE_CHARS)

/** Short strings full of hostile characters (lone surrogates included). */
export const hostileString = fc.oneof(
  fc.string({ maxLength: 12 }),
  fc.string({ unit: "binary", maxLength: 12 }),
  fc.string({ unit: hostileChar, minLength: 1, maxLength: 6 }),
  fc.tuple(fc.constantFrom("CUST01", "ADVSR1", "pro", "jtic", "open"), hostileChar).map(([a, c]) => a + c)
)

/** Strings from 1 to about 100 000 characters of one repeated character. */
const bigString = fc
  .tuple(
    fc.constantFrom("x", "é", "😀", "\u0000", "\ud800", " "),
    fc.oneof(fc.integer({ min: 250, max: 1_100 }), fc.integer({ min: 1, max: 100_000 }))
  )
  .map(([c, n]) => new Raw(JSON.stringify(c.repeat(n)), `${JSON.stringify(c)}×${n}`))

/** Nesting built as text, up to 10 000 levels. */
const deepNesting = fc
  .tuple(
    fc.constantFrom("array", "object", "mixed"),
    fc.oneof(fc.integer({ min: 30, max: 40 }), fc.integer({ min: 1, max: 10_000 }))
  )
  .map(([kind, d]) => {
    const text =
      kind === "array"
        ? `${"[".repeat(d)}${"]".repeat(d)}`
        : kind === "object"
          ? `${'{"a":'.repeat(d)}1${"}".repeat(d)}`
          : `${'[{"a":'.repeat(d)}1${"}]".repeat(d)}`
    return new Raw(text, `${kind} nested ${d}`)
  })

/** Arrays of up to 5 000 items, built as text. */
const longArray = fc
  .tuple(
    fc.constantFrom('"CUST02"', "1", "null", "{}", "[]", '"\\ud800"'),
    fc.integer({ min: 0, max: 5_000 })
  )
  .map(([item, n]) => new Raw(`[${Array.from({ length: n }, () => item).join(",")}]`, `[${item}×${n}]`))

/** JSON escapes and number forms: lone and reversed surrogates, U+0000, raw lone surrogates, bad escapes. */
const oddLiteral = fc.constantFrom(
  new Raw('"\\ud800"', "escaped lone high surrogate"),
  new Raw('"\\uDFFF"', "escaped lone low surrogate"),
  new Raw('"\\udc00\\ud800"', "escaped reversed pair"),
  new Raw('"\\uD83D\\uDE00"', "escaped emoji pair"),
  new Raw('"\\u0000"', "escaped U+0000"),
  new Raw('"a\\u0000b"', "escaped U+0000 inside"),
  new Raw('"\\uffff"', "escaped U+FFFF"),
  new Raw('"\\ufeff"', "escaped BOM"),
  new Raw('"\\u202eCUST01"', "escaped RTL override"),
  new Raw('"\ud800"', "raw lone surrogate"),
  new Raw('"\udc00x"', "raw lone low surrogate"),
  new Raw('"\u0001"', "raw control character (invalid JSON)"),
  new Raw('"\\x41"', "invalid escape"),
  new Raw('"\\u12"', "truncated escape"),
  new Raw("1e999", "1e999"),
  new Raw("-0", "-0"),
  new Raw("1E-400", "1E-400"),
  new Raw("123456789012345678901234567890", "huge integer"),
  new Raw("0x10", "hex number (invalid)"),
  new Raw("01", "leading zero (invalid)"),
  new Raw("NaN", "NaN (invalid)"),
  new Raw("Infinity", "Infinity (invalid)")
)

const jsonLeaf: fc.Arbitrary<Json> = fc.oneof(
  { weight: 3, arbitrary: fc.oneof(fc.boolean(), fc.integer(), fc.double(), fc.constant(null)) },
  { weight: 4, arbitrary: hostileString },
  { weight: 2, arbitrary: oddLiteral },
  { weight: 1, arbitrary: bigString },
  { weight: 1, arbitrary: deepNesting },
  { weight: 1, arbitrary: longArray }
)

const jsonKey = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.constantFrom("participant_code", "account_label", "tenants", "message", "tenant")
  },
  {
    weight: 1,
    arbitrary: fc.constantFrom("__proto__", "constructor", "", "\u0000", "\ud800", "a".repeat(2_000))
  },
  { weight: 2, arbitrary: hostileString }
)

/** Any JSON-ish value: small trees of hostile leaves. */
export const jsonValue: fc.Arbitrary<Json> = fc.letrec<{ value: Json }>((tie) => ({
  value: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    jsonLeaf,
    fc.array(tie("value"), { maxLength: 4 }),
    fc.dictionary(jsonKey, tie("value"), { maxKeys: 4 }) as fc.Arbitrary<Json>
  )
})).value

/** Texts that are not JSON, or not one JSON value. */
export const malformed = fc
  .oneof(
    fc.constantFrom(
      "",
      " ",
      "{",
      "}",
      '{"a":}',
      "[1,]",
      '{"a":1}}',
      "{'a':1}",
      '{"a" 1}',
      "{} {}",
      "nul",
      "\ufeff{}",
      '{"participant_code":"CUST01",}',
      "\u0000",
      "undefined",
      '"just a string"',
      "42",
      "null",
      "[]",
      "true"
    ),
    fc.string({ unit: "binary", maxLength: 40 }),
    fc.tuple(fc.nat(), fc.constant(createBody("truncated"))).map(([n, body]) => {
      const text = JSON.stringify(body)
      return text.slice(0, n % text.length)
    })
  )
  .map((t) => new Raw(t, `text ${JSON.stringify(t.length > 40 ? `${t.slice(0, 40)}…` : t)}`))

export const encoding: fc.Arbitrary<Encoding> = fc.constantFrom<Encoding>(
  "utf8",
  "utf8",
  "utf8",
  "utf8",
  "wtf8",
  "latin1"
)

/** The endpoints that take a body, with a valid body for each. */
export type BodyEndpoint = (typeof Endpoint.all)[number]

const bodyEndpoints: ReadonlyArray<BodyEndpoint> = Endpoint.all.filter(
  (e) => e.method === "POST" || e.method === "PATCH"
)

const validBodyOf = (e: BodyEndpoint): Record<string, Json> | undefined => {
  switch (e.name) {
    case "createAccount":
      return { ...(createBody("x") as Record<string, Json>), account_label: new FreshLabel() }
    case "updateAccount":
      return { prefunded: true, tier: "gold" }
    case "addTenant":
      return { participant_code: "CUST03" }
    case "addAdvisor":
      return { participant_code: "ADVSR1" }
    default:
      return e.method === "POST" ? {} : undefined
  }
}

/** Valid JSON of the wrong type for any field (and a few right-typed values in the wrong place). */
const wrongType: fc.Arbitrary<Json> = fc.constantFrom<Json>(
  null,
  true,
  false,
  0,
  -1,
  1.5,
  "",
  " ",
  "x",
  "CUST02",
  "open",
  [],
  {},
  [null],
  ["CUST02", null],
  [["CUST02"]],
  [1, 2],
  { a: 1 },
  { participant_code: "CUST01" }
)

/** A valid body with one to three fields replaced (wrong type or hostile value), deleted, or added. */
const mutatedBody = (e: BodyEndpoint): fc.Arbitrary<Json> => {
  const valid = validBodyOf(e) ?? {}
  const fields = [...Object.keys(valid), "extra", "tenant", "message", "financial_advisors"]
  const mutation = fc.tuple(
    fc.constantFrom(...fields),
    fc.constantFrom("replace", "replace", "replace", "delete"),
    fc.oneof({ weight: 3, arbitrary: wrongType }, { weight: 4, arbitrary: jsonValue })
  )
  return fc.array(mutation, { minLength: 1, maxLength: 3 }).map((mutations) => {
    const out: Record<string, Json> = { ...valid }
    for (const [field, op, value] of mutations) {
      if (op === "delete") delete out[field]
      else out[field] = value
    }
    return out
  })
}

/** A valid body of an endpoint with exactly one field set to valid JSON of another type. */
export interface WrongTyped {
  readonly endpoint: BodyEndpoint
  readonly field: string
  readonly body: Json
}

export const wrongTypedBody: fc.Arbitrary<WrongTyped> = fc
  .constantFrom(...bodyEndpoints)
  .chain((e) => {
    const valid = validBodyOf(e) ?? {}
    const fields = [...Object.keys(valid), "tenants", "financial_advisors", "extra"]
    return fc.record({ endpoint: fc.constant(e), field: fc.constantFrom(...fields), value: wrongType })
  })
  .map(({ endpoint, field, value }) => ({
    endpoint,
    field,
    body: { ...(validBodyOf(endpoint) ?? {}), [field]: value } as Json,
    [fc.toStringMethod]: () => `${endpoint.name} with ${field} = ${fc.stringify(value)}`
  }))

/** An endpoint, the ones that take a body more often (their validation is the largest surface). */
const anEndpoint: fc.Arbitrary<BodyEndpoint> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.constantFrom(...bodyEndpoints)
  },
  { weight: 1, arbitrary: fc.constantFrom(...Endpoint.all) }
)

/** A body for an endpoint: none, valid, mutated, any JSON, or not JSON. */
const bodyFor = (e: BodyEndpoint): fc.Arbitrary<BodySpec | undefined> =>
  fc.oneof(
    { weight: 1, arbitrary: fc.constant(undefined) },
    {
      weight: 6,
      arbitrary: fc.record({
        value: fc.oneof(
          { weight: 2, arbitrary: fc.constant((validBodyOf(e) ?? {}) as Json) },
          { weight: 6, arbitrary: mutatedBody(e) },
          { weight: 2, arbitrary: jsonValue },
          { weight: 2, arbitrary: malformed }
        ),
        encoding
      })
    }
  )

/** Bad percent-encodings, in paths and in queries. */
const BAD_PERCENT = [
  "%",
  "%E0%A4%A",
  "%ED%A0%80",
  "%00",
  "%zz",
  "%C0%80",
  "%FF",
  "%u0041",
  "%%",
  "%2F",
  "%25",
  "%ED%B0%80"
]
const badPercent = fc.constantFrom(...BAD_PERCENT)

/** Keeps the path's shape: `/`, `?` and `#` inside a segment are encoded; everything else is raw. */
const segmentSafe = (s: string): string =>
  s.replaceAll("/", "%2F").replaceAll("?", "%3F").replaceAll("#", "%23")

/** A query value: percent-encoded UTF-8 (lone surrogates as the invalid %ED%A0%80), or raw and broken. */
const queryEncode = (s: string): string =>
  [...wtf8(s)]
    .map((b) =>
      (b >= 0x30 && b <= 0x39) ||
      (b >= 0x41 && b <= 0x5a) ||
      (b >= 0x61 && b <= 0x7a) ||
      b === 0x2d ||
      b === 0x5f
        ? String.fromCharCode(b)
        : `%${b.toString(16).toUpperCase().padStart(2, "0")}`
    )
    .join("")

export const UUID = "c761fc96-5c44-40d4-8eb2-3fcd5d06754e"

/** ZRNs of accounts created before the properties run (filled in `beforeAll`). */
export const known: Array<string> = []
export const knownZrn = fc
  .nat({ max: 15 })
  .map((i) => known[i % Math.max(1, known.length)] ?? `zrn:zh:us:accounts:customer:${UUID}`)

/** A ZRN path segment: known accounts in every accepted form, unknown ones, and hostile values. */
export const zrnSegment: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: knownZrn },
  { weight: 1, arbitrary: knownZrn.map((z) => z.slice(z.indexOf("customer:"))) },
  { weight: 1, arbitrary: knownZrn.map((z) => z.slice(z.lastIndexOf(":") + 1).toUpperCase()) },
  { weight: 1, arbitrary: knownZrn.map((z) => z.replace("zrn:", "URN:").replace(":accounts:", ":account:")) },
  { weight: 1, arbitrary: knownZrn.map((z) => encodeURIComponent(z)) },
  { weight: 2, arbitrary: fc.uuid().map((u) => `zrn:zh:us:accounts:customer:${u}`) },
  { weight: 1, arbitrary: fc.uuid().map((u) => `zrn:zh:eu:accounts:ledger:${u}`) },
  { weight: 3, arbitrary: badPercent },
  {
    weight: 2,
    arbitrary: fc.tuple(knownZrn, badPercent, fc.boolean()).map(([z, p, b]) => (b ? p + z : z + p))
  },
  { weight: 2, arbitrary: hostileString.map(segmentSafe) },
  { weight: 1, arbitrary: fc.integer({ min: 100, max: 8_192 }).map((n) => "z".repeat(n)) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(".", "..", "%2e%2e", "%20", "zrn:zh:us:accounts:customer:", "null")
  }
)

/** A tenant or advisor path segment. */
export const memberSegment: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom("CUST02", "CUST03", "ADVSR1", "ADVSR2", "CUST01", "ZZZZZZ") },
  { weight: 2, arbitrary: badPercent },
  { weight: 2, arbitrary: hostileString.map(segmentSafe) },
  { weight: 1, arbitrary: fc.integer({ min: 7, max: 4_096 }).map((n) => "C".repeat(n)) }
)

/** A query string from parameter names and values, some repeated, some broken. */
export const queryOf = (
  names: ReadonlyArray<string>,
  goodValues: fc.Arbitrary<string>
): fc.Arbitrary<string> => {
  const value = fc.oneof(
    { weight: 3, arbitrary: goodValues.map(queryEncode) },
    { weight: 2, arbitrary: hostileString.map(queryEncode) },
    { weight: 2, arbitrary: badPercent },
    { weight: 1, arbitrary: fc.integer({ min: 1_000, max: 20_000 }).map((n) => "q".repeat(n)) },
    { weight: 1, arbitrary: fc.constantFrom("", "=", "&", "+", "%20") }
  )
  const name = fc.oneof(
    { weight: 5, arbitrary: fc.constantFrom(...names) },
    { weight: 1, arbitrary: fc.oneof(badPercent, hostileString.map(queryEncode), fc.constant("")) }
  )
  return fc
    .array(fc.tuple(name, value), { maxLength: 5 })
    .map((pairs) => (pairs.length === 0 ? "" : `?${pairs.map(([k, v]) => `${k}=${v}`).join("&")}`))
}

/** Header values a fetch `Headers` accepts: visible ASCII and Latin-1, up to 8 KiB. */
export const headerText = (min: number, max: number) =>
  fc.string({
    unit: fc.oneof(
      { weight: 20, arbitrary: fc.integer({ min: 0x21, max: 0x7e }).map((c) => String.fromCharCode(c)) },
      { weight: 1, arbitrary: fc.constantFrom(" ", "\u00e9", "\u00ff", "\u0080") }
    ),
    minLength: min,
    maxLength: max
  })

export const longHeader = fc
  .tuple(fc.constantFrom("k", "-", "é", "0"), fc.integer({ min: 129, max: 8_192 }))
  .map(([c, n]) => c.repeat(n))

const idempotencyKey = fc.option(
  fc.oneof(
    { weight: 3, arbitrary: fc.uuid() },
    { weight: 3, arbitrary: fc.constantFrom("fuzz-key-1", "fuzz-key-2", "fuzz-key-3") },
    { weight: 1, arbitrary: longHeader },
    { weight: 2, arbitrary: headerText(1, 40) }
  ),
  { freq: 2 }
)

export const requestId = fc.option(
  fc.oneof(
    fc.stringMatching(/^[A-Za-z0-9._:-]{1,128}$/),
    fc.constant("x".repeat(128)),
    longHeader,
    headerText(1, 40)
  ),
  { freq: 2 }
)

const contentType = fc.option(
  fc.constantFrom(
    "application/json",
    "application/json; charset=utf-8",
    "application/json; charset=utf-16",
    "text/plain",
    "multipart/form-data; boundary=x",
    "application/x-www-form-urlencoded",
    "garbage"
  ),
  { freq: 4 }
)

/** Extra headers: content type, ids, and random names. */
export const extraHeaders = fc
  .record({
    "content-type": contentType,
    "idempotency-key": idempotencyKey,
    "x-request-id": requestId,
    random: fc.array(fc.tuple(fc.stringMatching(/^x-fuzz-[a-z]{1,8}$/), headerText(0, 30)), { maxLength: 2 })
  })
  .map(({ random, ...named }) => {
    const headers: Record<string, string> = {}
    for (const [k, v] of Object.entries(named)) if (v !== null) headers[k] = v
    for (const [k, v] of random) headers[k] = v
    return headers
  })

/** Query of `GET /accounts` (ledger accounts). */
const ledgerQuery = queryOf(
  [
    "page",
    "account_group",
    "account_label",
    "account_owner",
    "asset",
    "account_type",
    "zrn",
    "urn",
    "unknown"
  ],
  fc.oneof(
    fc.constantFrom("1", "2", "0", "-1", "1.5", "999999999999", "available", "BTC", "CUST01", "PLAT01", UUID),
    knownZrn
  )
)

/** A ledger query (`GET /accounts`) with one value over 1 024 characters (code points). */
export interface LongQuery {
  readonly name: string
  readonly char: string
  /** In characters (code points). */
  readonly length: number
  /** `?<name>=<value>`, the value percent-encoded. */
  readonly query: string
}

export const longQueryValue: fc.Arbitrary<LongQuery> = fc
  .record({
    name: fc.constantFrom("account_label", "account_group", "asset"),
    char: fc.constantFrom("q", "é", "😀"),
    length: fc.integer({ min: 1_025, max: 20_000 })
  })
  .map((q) => ({
    ...q,
    query: `?${q.name}=${queryEncode(q.char.repeat(q.length))}`,
    [fc.toStringMethod]: () => `?${q.name}=${JSON.stringify(q.char)}×${q.length}`
  }))

/** A request to an endpoint: its path parameters, a query (always one on `listLedgerAccounts`), a body and headers. */
export interface EndpointRequest {
  readonly endpoint: BodyEndpoint
  readonly zrn: string
  readonly member: string
  readonly query: string
  readonly body: BodySpec | undefined
  readonly headers: Readonly<Record<string, string>>
}

/** Requests to any endpoint; `more` adds fields of the suite's own (generated after the body, before the headers). */
export const endpointRequest = <X extends Record<string, unknown> = {}>(
  more: { readonly [K in keyof X]: fc.Arbitrary<X[K]> } = {} as {
    readonly [K in keyof X]: fc.Arbitrary<X[K]>
  }
): fc.Arbitrary<EndpointRequest & X> =>
  anEndpoint.chain(
    (e) =>
      fc.record({
        endpoint: fc.constant(e),
        zrn: zrnSegment,
        member: memberSegment,
        query: e.name === "listLedgerAccounts" ? ledgerQuery : fc.oneof(fc.constant(""), ledgerQuery),
        body: bodyFor(e),
        ...more,
        headers: extraHeaders
      }) as unknown as fc.Arbitrary<EndpointRequest & X>
  )

/** Any body: JSON-ish values and texts that are not JSON, in any encoding; none one time in `freq`. */
export const anyBody = (freq: number): fc.Arbitrary<BodySpec | null> =>
  fc.option(fc.record({ value: fc.oneof(jsonValue, malformed), encoding }), { freq })

/**
 * Paths of route `words` (the suite's own), ZRN segments and dot segments, with an odd tail and query:
 * unknown paths, and now and then a route that exists.
 */
export const pathOfWords = (words: ReadonlyArray<string>): fc.Arbitrary<string> => {
  const word = fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(...words) },
    { weight: 2, arbitrary: zrnSegment },
    { weight: 1, arbitrary: fc.constantFrom("", ".", "..", "%2e%2e", "ACCOUNTS", "%61ccounts") }
  )
  return fc
    .tuple(
      fc.array(word, { minLength: 0, maxLength: 6 }),
      fc.constantFrom("", "/", "//"),
      fc.constantFrom("", "?", "?a=%", "?x=1#frag")
    )
    .map(([segments, tail, query]) => `/${segments.join("/")}${tail}${query}`)
}

/** A body that breaks one bound of production.md §1, with the JSON path its 400 must name. */
export interface BoundViolation {
  readonly kind: string
  readonly endpoint: BodyEndpoint
  readonly body: Json
  /** A piece of the JSON path an error must contain ("" when the root itself is at fault). */
  readonly names: string
}

const table: typeof Endpoint.table = Endpoint.table
const createFields = (fields: Record<string, Json>): Json => ({
  ...(createBody("x") as Record<string, Json>),
  account_label: new FreshLabel(),
  ...fields
})

/** Lone surrogates written as JSON escapes, inside otherwise ordinary text. */
export const loneSurrogate = fc
  .tuple(
    fc.constantFrom("\\ud800", "\\uDBFF", "\\udc00", "\\uDFFF", "\\udc00\\ud800"),
    fc.constantFrom("", "ok", "CUST0")
  )
  .map(([s, around]) => new Raw(`"${around}${s}${around}"`, `"${around}${s}${around}"`))

export const nulText = fc.constantFrom(
  new Raw('"\\u0000"', '"\\u0000"'),
  new Raw('"label\\u0000"', '"label\\u0000"')
)

/** Nesting deeper than 32, built as text. */
export const tooDeep = fc
  .tuple(
    fc.constantFrom("array", "object"),
    fc.oneof(fc.integer({ min: 33, max: 40 }), fc.integer({ min: 33, max: 10_000 }))
  )
  .map(([kind, d]) =>
    kind === "array"
      ? new Raw(`${"[".repeat(d)}${"]".repeat(d)}`, `array nested ${d}`)
      : new Raw(`${'{"a":'.repeat(d)}1${"}".repeat(d)}`, `object nested ${d}`)
  )

/** Distinct, well-formed participant codes (unknown to the simulator): the array is only too long. */
const manyCodes = (n: number): Raw =>
  new Raw(
    `[${Array.from({ length: n }, (_, i) => `"T${String(i).padStart(5, "0")}"`).join(",")}]`,
    `${n} codes`
  )

/** A violation of `kind` on `endpoint`: its `body`, and what of the JSON path an error must name. */
const bound = (kind: string, endpoint: BodyEndpoint, body: Json, names: string): BoundViolation => ({
  kind,
  endpoint,
  body,
  names
})

/** A create with `fields` replaced, whose error must name `names` (by default the one field replaced). */
const inCreate = (
  kind: string,
  fields: Record<string, Json>,
  names = Object.keys(fields)[0]!
): BoundViolation => bound(kind, table.createAccount, createFields(fields), names)

const listFields = fc.constantFrom("tenants", "financial_advisors")
const memberEndpoints = fc.constantFrom(table.addTenant, table.addAdvisor)

export const boundViolation: fc.Arbitrary<BoundViolation> = fc.oneof(
  fc.integer({ min: 256, max: 20_000 }).map((n) =>
    inCreate("account_label over 255 characters", {
      account_label: new Raw(JSON.stringify("L".repeat(n)), `"L"×${n}`)
    })
  ),
  loneSurrogate.map((s) => inCreate("lone surrogate in account_label", { account_label: s })),
  nulText.map((s) => inCreate("U+0000 in account_label", { account_label: s })),
  fc
    .tuple(listFields, fc.integer({ min: 101, max: 3_000 }))
    .map(([f, n]) => inCreate(`${f} over 100 items`, { [f]: manyCodes(n) })),
  fc
    .tuple(listFields, loneSurrogate)
    .map(([f, s]) => inCreate(`lone surrogate in ${f}[1]`, { [f]: ["CUST02", s] }, `${f}[1]`)),
  fc
    .tuple(fc.constantFrom("tenants", "financial_advisors", "account_label"), tooDeep)
    .map(([f, d]) => inCreate(`nesting over 32 levels in ${f}`, { [f]: d })),
  tooDeep.map((d) => bound("body nested over 32 levels", table.createAccount, d, "")),
  fc
    .tuple(memberEndpoints, fc.integer({ min: 1_025, max: 30_000 }))
    .map(([e, n]) =>
      bound(
        "participant_code over 1024 characters",
        e,
        { participant_code: new Raw(JSON.stringify("C".repeat(n)), `"C"×${n}`) },
        "participant_code"
      )
    ),
  fc
    .tuple(memberEndpoints, loneSurrogate)
    .map(([e, s]) =>
      bound("lone surrogate in participant_code", e, { participant_code: s }, "participant_code")
    ),
  loneSurrogate.map((s) =>
    bound("lone surrogate in tier", table.updateAccount, { prefunded: true, tier: s }, "tier")
  ),
  fc
    .tuple(fc.constantFrom(table.lock, table.unlock, table.divest, table.close), tooDeep)
    .map(([e, d]) => bound("nesting over 32 levels in a status command's body", e, { note: d }, "note")),
  fc
    .tuple(fc.constantFrom(table.withdrawLock, table.withdrawUnlock), nulText)
    .map(([e, s]) => bound("U+0000 in a status command's body", e, { note: s }, "note"))
)

/** A body around and over 64 KiB (valid creates padded with spaces, long labels, multi-byte text). */
export interface Oversized {
  readonly endpoint: BodyEndpoint
  /** The size asked for (the body has it exactly unless its filler cannot reach it). */
  readonly bytes: number
  readonly filler: "spaces" | "label" | "emoji-label" | "garbage"
  /** Whether to send a `Content-Length` (the server's suite). */
  readonly withLength: boolean
  /** Whether to send an `Idempotency-Key` (the server's suite). */
  readonly key: boolean
  /** A valid create padded with spaces: accepted up to the limit. */
  readonly validCreate: boolean
  /** The body text, made to be exactly `bytes` bytes (UTF-8) when its filler allows it. */
  readonly render: () => string
}

export const oversized: fc.Arbitrary<Oversized> = fc
  .record({
    endpoint: fc.constantFrom(...bodyEndpoints),
    bytes: fc.oneof(
      fc.integer({ min: API_LIMIT - 64, max: API_LIMIT }),
      fc.integer({ min: API_LIMIT + 1, max: API_LIMIT + 64 }),
      fc.integer({ min: API_LIMIT + 65, max: 300_000 }),
      fc.integer({ min: 300_001, max: 2_000_000 })
    ),
    filler: fc.constantFrom("spaces", "label", "emoji-label", "garbage"),
    withLength: fc.boolean(),
    key: fc.boolean()
  })
  .map((o) => {
    const validCreate = o.endpoint.name === "createAccount" && o.filler === "spaces"
    /** The body text, made to be exactly `bytes` bytes (UTF-8) when its filler allows it. */
    const render = (): string => {
      if (o.filler === "garbage") return "g".repeat(o.bytes)
      const base =
        o.endpoint.name === "createAccount"
          ? createBody(freshLabel())
          : o.endpoint.name === "updateAccount"
            ? { prefunded: false, tier: "pro" }
            : o.endpoint.name === "addTenant" || o.endpoint.name === "addAdvisor"
              ? { participant_code: "CUST03" }
              : {}
      const text = JSON.stringify(base)
      const head = text.slice(0, -1)
      if (o.filler === "spaces")
        return `${head}${" ".repeat(Math.max(0, o.bytes - Buffer.byteLength(text)))}}`
      const sep = head === "{" ? "" : ","
      const unit = o.filler === "emoji-label" ? "😀" : "L"
      const unitBytes = Buffer.byteLength(unit)
      const fixed = Buffer.byteLength(`${head}${sep}"filler":""}`)
      const count = Math.max(0, Math.floor((o.bytes - fixed) / unitBytes))
      const filled = `${head}${sep}"filler":"${unit.repeat(count)}"}`
      return filled + " ".repeat(Math.max(0, o.bytes - Buffer.byteLength(filled)))
    }
    return {
      ...o,
      validCreate,
      render,
      [fc.toStringMethod]: () => `${o.endpoint.name} ${o.filler} ${o.bytes} bytes`
    }
  })

// ---------------------------------------------------------------------------------------------
// Sending: what was sent, failure messages, answers
// ---------------------------------------------------------------------------------------------

/** What was sent, for failure messages. */
export interface Sent {
  readonly group: string
  readonly method: string
  readonly path: string
  readonly shape: string
  /** The `X-Request-Id` sent, if any. */
  readonly requestId?: string | undefined
}

/** An answer as far as the checks below need it. */
export interface Checked {
  readonly sent: Sent
  readonly status: number
  readonly text: string
  readonly body: unknown
}

export const excerpt = (s: string, max = 400): string =>
  s.length > max ? `${s.slice(0, max)}… (${s.length} chars)` : s

/** Fails the property with the route, the input, the status and the body; records it for the summary. */
export const violation = (sent: Sent, status: number, text: string, why: string): never => {
  const message = `${why}\n  route: ${sent.method} ${excerpt(sent.path, 200)}\n  input: ${sent.shape}\n  answer: ${status} ${excerpt(text)}`
  const key = `${sent.group} | ${why} | ${status}`
  if (!tally.violations.has(key))
    tally.violations.set(key, `- [${sent.group}] ${message.replaceAll("\n", "\n  ")}`)
  throw new Error(message)
}

export const expectThat = (a: Checked, ok: boolean, why: string): void => {
  if (!ok) violation(a.sent, a.status, a.text, why)
}

export const isStringArray = (u: unknown): u is ReadonlyArray<string> =>
  Array.isArray(u) && u.length > 0 && u.every((s) => typeof s === "string" && s.trim() !== "")

/** The errors of a 400 body (checked to be non-empty strings by the suite's documented-answer check). */
export const errorsOf = (a: Pick<Checked, "body">): ReadonlyArray<string> =>
  (a.body as { errors?: ReadonlyArray<string> }).errors ?? []

/** The path of an endpoint with its parameters filled in. */
export const pathOf = (e: BodyEndpoint, zrn: string, member: string): string =>
  e.path.replace("{zrn}", zrn).replace("{tenant}", member).replace("{financial_advisor}", member)

/** The body a call sends: none for GET and HEAD, else the raw body or the rendered spec. */
export const renderedBody = (call: {
  readonly method: string
  readonly body?: BodySpec | undefined
  readonly rawBody?: string | Uint8Array | undefined
}): string | Uint8Array | undefined =>
  call.method !== "GET" && call.method !== "HEAD"
    ? (call.rawBody ?? (call.body === undefined ? undefined : renderBody(call.body)))
    : undefined

/** The input of a call for failure messages: its extra headers and its body. */
export const describeInput = (
  headers: Readonly<Record<string, string>>,
  body: BodySpec | undefined,
  rendered: string | Uint8Array | undefined
): string => {
  const named = Object.entries(headers)
    .map(([k, v]) => `${k}: ${excerpt(v, 60)}`)
    .join("; ")
  const sent =
    rendered === undefined
      ? "no body"
      : `body ${byteLength(rendered)} bytes${body === undefined ? "" : ` (${body.encoding}) ${excerpt(fc.stringify(body.value), 300)}`}`
  return `${named || "no extra headers"}; ${sent}`
}

// ---------------------------------------------------------------------------------------------
// The endpoint properties of both suites: their calls (before the suite adds its caller: a token or
// a signature) and the oracles both targets answer to (each suite adds its own)
// ---------------------------------------------------------------------------------------------

/** A call to an endpoint, without the caller. */
export interface EndpointCall {
  readonly method: string
  readonly path: string
  readonly headers: Readonly<Record<string, string>>
  readonly body?: BodySpec | undefined
  /** A rendered body instead of `body`. */
  readonly rawBody?: string | undefined
}

const JSON_HEADERS = { "content-type": "application/json" } as const

/** The call of a generated request (`endpointRequest`). */
export const requestCall = (r: EndpointRequest): EndpointCall => ({
  method: r.endpoint.method,
  path: pathOf(r.endpoint, r.zrn, r.member) + r.query,
  headers: r.headers,
  body: r.body
})

/** A valid body with one field of the wrong type, on the account `zrn` (and member CUST03). */
export const wrongTypedCall = (w: WrongTyped, zrn: string): EndpointCall => ({
  method: w.endpoint.method,
  path: pathOf(w.endpoint, zrn, "CUST03"),
  headers: JSON_HEADERS,
  body: { value: w.body, encoding: "utf8" }
})

/** A body over a bound, on the account `zrn` (and member CUST03), with `headers` added. */
export const boundCall = (
  v: BoundViolation,
  zrn: string,
  headers: Record<string, string> = {}
): EndpointCall => ({
  method: v.endpoint.method,
  path: pathOf(v.endpoint, zrn, "CUST03"),
  headers: { ...JSON_HEADERS, ...headers },
  body: { value: v.body, encoding: "utf8" }
})

/** `GET /accounts` with one query value over its bound. */
export const longQueryCall = (q: LongQuery): EndpointCall => ({
  method: "GET",
  path: `/accounts${q.query}`,
  headers: {}
})

/** A body around or over 64 KiB (`body`, rendered once by the caller), with `headers` added. */
export const oversizedCall = (
  o: Oversized,
  zrn: string,
  body: string,
  headers: Record<string, string> = {}
): EndpointCall => ({
  method: o.endpoint.method,
  path: pathOf(o.endpoint, zrn, "CUST03"),
  headers: { ...JSON_HEADERS, ...headers },
  rawBody: body
})

/** A body over a bound is a 400 whose errors name its JSON path. */
export const expectBoundRefused = (a: Checked, v: BoundViolation): void => {
  expectThat(a, a.status === 400, `${v.kind}: expected 400, got ${a.status}`)
  expectThat(
    a,
    v.names === "" || errorsOf(a).some((e) => e.includes(v.names)),
    `${v.kind}: no error names the JSON path ${v.names}`
  )
}

/** A query value over its bound is a 400 whose errors name the parameter. */
export const expectQueryRefused = (a: Checked, q: LongQuery): void => {
  expectThat(a, a.status === 400, `${q.name} of ${q.length} characters: expected 400, got ${a.status}`)
  expectThat(
    a,
    errorsOf(a).some((e) => e.includes(q.name)),
    `no error names ${q.name}`
  )
}

/** A body of `bytes` up to 64 KiB is not refused for its size, and a valid create padded to it is accepted. */
export const expectTakenUpToLimit = (a: Checked, o: Oversized, bytes: number): void => {
  if (bytes > API_LIMIT) return
  expectThat(a, a.status !== 413, `body of ${bytes} bytes (<= ${API_LIMIT}) refused with 413`)
  if (o.validCreate) {
    expectThat(a, a.status === 202, `a valid create padded to ${bytes} bytes: expected 202, got ${a.status}`)
  }
}
