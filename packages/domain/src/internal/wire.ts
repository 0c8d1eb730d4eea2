/**
 * Building blocks shared by the wire Schemas: human messages, strict request objects that say what
 * to send instead, and the tolerant readers (key aliases, wrapped-or-flat records).
 *
 * The strict and tolerant readers decode from `unknown` with a hand-written first step, because
 * the checks they add (refused legacy keys, aliases, unwrapping) must run before the struct sees
 * the input. Their encoded type is declared as the struct's encoded type: that is exactly what
 * encoding produces, and a subset of what decoding accepts.
 *
 * @internal
 */
import { Either, ParseResult, Schema } from "effect"

/** Renders a received value for a message: strings quoted, long values cut, objects named. */
export const show = (u: unknown): string => {
  if (u === undefined) return "nothing"
  if (u === null) return "null"
  if (Array.isArray(u)) return u.length === 0 ? "an empty array" : "an array"
  if (typeof u === "object") return "an object"
  if (typeof u === "string") return JSON.stringify(u.length > 60 ? `${u.slice(0, 57)}...` : u)
  return String(u)
}

/**
 * A `message` annotation: `expected <what>, got <value>`. On a leaf it also replaces the messages of
 * inner checks; on a struct or an array (`container`) it is used only when the value is not one, so
 * the nested fields keep their own messages.
 */
export const expected =
  (what: string, container = false) =>
  (issue: ParseResult.ParseIssue): { readonly message: string; readonly override: boolean } => ({
    message: `expected ${what}, got ${show(issue.actual)}`,
    override: !container
  })

/** A `missingMessage` annotation. */
export const required = (what?: string) => (): string =>
  what === undefined ? "is required" : `is required (${what})`

/** A plain JSON object (not an array, not null). */
export const isObject = (u: unknown): u is Readonly<Record<string, unknown>> =>
  typeof u === "object" && u !== null && !Array.isArray(u)

const has = (o: object, key: string): boolean => Object.hasOwn(o, key)

const pointer = (path: PropertyKey | ReadonlyArray<PropertyKey>, actual: unknown, message: string) =>
  new ParseResult.Pointer(
    path as ParseResult.Path,
    actual,
    new ParseResult.Type(Schema.Unknown.ast, actual, message)
  )

const notAnObject = (ast: Schema.Schema.AnyNoContext["ast"], u: unknown, what: string) =>
  new ParseResult.Type(ast, u, `expected ${what}, got ${show(u)}`)

// Callers only build one after pushing at least one issue.
const composite = (
  ast: Schema.Schema.AnyNoContext["ast"],
  u: unknown,
  issues: Array<ParseResult.ParseIssue>
) => new ParseResult.Composite(ast, u, issues as unknown as readonly [ParseResult.ParseIssue])

/** A page number in a query string, `1` and up written in digits, decoded to a number. */
export const PageFromString = Schema.compose(
  Schema.String.pipe(Schema.pattern(/^[1-9][0-9]{0,8}$/)),
  Schema.NumberFromString
)
  .pipe(Schema.int(), Schema.positive())
  .annotations({
    message: expected("a page number (1, 2, ...)"),
    arbitrary: () => (fc) => fc.integer({ min: 1, max: 999_999_999 })
  })

/** Options of `strictObject`. */
export interface StrictOptions {
  /** What one key is called in messages: `field` (default) or `query parameter`. */
  readonly noun?: string
  /** What the whole input is called when it is not an object. */
  readonly what?: string
  /** Keys refused with a message saying what to send instead. */
  readonly refused?: Readonly<Record<string, string>>
  /** Other spellings accepted for a key: `{ alias: key }`. */
  readonly aliases?: Readonly<Record<string, string>>
  /** Rules over the whole input, run even when some fields fail, so every problem is reported at once. */
  readonly check?: (input: Readonly<Record<string, unknown>>) => ReadonlyArray<readonly [string, string]>
}

/**
 * A struct that refuses what it does not know: unknown keys are named, refused keys say what to send
 * instead, and every problem is reported (not only the first). When an input holds only refused keys,
 * only those are reported, so `{"message": {...}}` gets one clear message rather than one per missing
 * field.
 */
/** Unknown keys named one by one in a refusal; the rest are counted. */
const MAX_UNKNOWN_LISTED = 10

export const strictObject = <Fields extends Schema.Struct.Fields, A extends Schema.Struct.Type<Fields>>(
  struct: Schema.Struct<Fields>,
  options: StrictOptions = {},
  target: Schema.Schema<A, Schema.Struct.Encoded<Fields>> = struct as never
): Schema.Schema<A, Schema.Struct.Encoded<Fields>> => {
  const fields = Object.keys(struct.fields)
  const noun = options.noun ?? "field"
  const refused = options.refused ?? {}
  const aliases = options.aliases ?? {}
  const allowed = new Set(fields)
  const unknownKey =
    fields.length === 0
      ? `unknown ${noun}; this request takes no ${noun}s (send {})`
      : `unknown ${noun}; expected one of ${fields.join(", ")}`
  return Schema.transformOrFail(Schema.Unknown, Schema.typeSchema(target), {
    strict: true,
    decode: (u, parseOptions, ast) => {
      if (!isObject(u)) return ParseResult.fail(notAnObject(ast, u, options.what ?? "a JSON object"))
      const issues: Array<ParseResult.ParseIssue> = []
      const rest: Record<string, unknown> = {}
      let accepted = 0
      let refusals = 0
      let unknown = 0
      let firstUnlisted: string | undefined
      for (const key of Object.keys(u)) {
        const value = u[key]
        // Own keys only: an input key such as "toString" must not find Object.prototype members.
        const refusal = has(refused, key) ? refused[key] : undefined
        const canonical = has(aliases, key) ? aliases[key] : undefined
        if (refusal !== undefined) {
          refusals++
          issues.push(pointer(key, value, refusal))
        } else if (canonical !== undefined) {
          if (has(u, canonical))
            issues.push(pointer(key, value, `send either ${canonical} or ${key}, not both`))
          else {
            rest[canonical] = value
            accepted++
          }
        } else if (allowed.has(key)) {
          rest[key] = value
          accepted++
        } else if (++unknown <= MAX_UNKNOWN_LISTED) issues.push(pointer(key, value, unknownKey))
        else if (unknown === MAX_UNKNOWN_LISTED + 1) firstUnlisted = key
      }
      if (firstUnlisted !== undefined) {
        // A body of thousands of unknown keys must not get an answer of thousands of lines.
        const more = unknown - MAX_UNKNOWN_LISTED
        issues.push(
          pointer(
            firstUnlisted,
            u[firstUnlisted],
            `${unknownKey} (and ${more - 1} more unknown ${noun}${more - 1 === 1 ? "" : "s"} not listed)`
          )
        )
      }
      if (refusals > 0 && accepted === 0) return ParseResult.fail(composite(ast, u, issues))
      for (const [path, message] of options.check?.(u) ?? []) issues.push(pointer(path, u[path], message))
      const decoded = ParseResult.decodeUnknownEither(struct as unknown as typeof target)(rest, {
        ...parseOptions,
        errors: "all",
        onExcessProperty: "error"
      })
      if (Either.isLeft(decoded)) issues.push(decoded.left)
      // The target re-checks the decoded value, so its refinements (e.g. tenants required) still hold.
      else if (issues.length === 0) return ParseResult.succeed(decoded.right)
      return ParseResult.fail(composite(ast, u, issues))
    },
    encode: (a, parseOptions) => ParseResult.encode(target)(a, parseOptions)
  }) as unknown as Schema.Schema<A, Schema.Struct.Encoded<Fields>>
}

/** Options of `tolerantObject`. */
export interface TolerantOptions {
  /** What the whole input is called when it is not an object. */
  readonly what: string
  /** Another spelling of a key: `[alias, key]`, read when `key` is absent (when both are sent, `key` wins). */
  readonly alias?: readonly [alias: string, key: string]
}

/**
 * A response object read leniently before `schema` sees it: keys whose value is `null` are dropped
 * (an absent optional field, as some serialisers write it), an alias is renamed, and every problem is
 * reported. Unknown keys are left to the struct, which ignores them.
 */
export const tolerantObject = <A, I, R>(
  schema: Schema.Schema<A, I, R>,
  options: TolerantOptions
): Schema.Schema<A, I, R> =>
  Schema.transformOrFail(Schema.Unknown, Schema.typeSchema(schema), {
    strict: true,
    decode: (u, parseOptions, ast) => {
      if (!isObject(u)) return ParseResult.fail(notAnObject(ast, u, options.what))
      const [alias, key] = options.alias ?? ["", ""]
      const rename = options.alias !== undefined && has(u, alias) && !has(u, key)
      const input: Record<string, unknown> = {}
      for (const k of Object.keys(u)) {
        const value = u[k]
        // A JSON "__proto__" key would set the prototype of `input`; it is never a field.
        if (value !== null && k !== "__proto__") input[rename && k === alias ? key : k] = value
      }
      return ParseResult.decodeUnknown(schema)(input, { ...parseOptions, errors: "all" })
    },
    encode: (a, parseOptions) => ParseResult.encode(schema)(a, parseOptions)
  }) as unknown as Schema.Schema<A, I, R>

/**
 * Reads a record sent either wrapped, `{"message": {...}}` (the API), or flat (older guide examples);
 * always encodes wrapped. An object whose `message` is itself an object is taken as wrapped.
 */
export const wrappedOrFlat = <A, I, R>(
  record: Schema.Schema<A, I, R>,
  what: string
): Schema.Schema<A, { readonly message: I }, R> => {
  const wrapped = Schema.Struct({ message: record })
  return Schema.transformOrFail(Schema.Unknown, Schema.typeSchema(record), {
    strict: true,
    decode: (u, parseOptions, ast) => {
      if (!isObject(u)) return ParseResult.fail(notAnObject(ast, u, what))
      return isObject(u.message)
        ? ParseResult.map(ParseResult.decodeUnknown(wrapped)(u, parseOptions), (w) => w.message)
        : ParseResult.decodeUnknown(record)(u, parseOptions)
    },
    encode: (a, parseOptions) => ParseResult.encode(wrapped)({ message: a }, parseOptions)
  }) as unknown as Schema.Schema<A, { readonly message: I }, R>
}

const renderPath = (path: ReadonlyArray<PropertyKey>): string => {
  let out = ""
  for (const segment of path) {
    if (typeof segment === "number") out += `[${segment}]`
    else out += out.length === 0 ? String(segment) : `.${String(segment)}`
  }
  return out
}

/** One line per problem, `path: message` (just `message` for the whole input), duplicates dropped. */
export const formatIssue = (issue: ParseResult.ParseIssue): Array<string> => {
  const lines = ParseResult.ArrayFormatter.formatIssueSync(issue).map((e) =>
    e.path.length === 0 ? e.message : `${renderPath(e.path)}: ${e.message}`
  )
  return [...new Set(lines)]
}
