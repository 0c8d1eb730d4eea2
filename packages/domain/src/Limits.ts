/**
 * Bounds on what a request may hold (`production.md` §1). The vendor documents none, so these are
 * ours (a **Decision**), shared by every place that reads a request: the proxy, the testkit's
 * simulator and the client's own input checks, so a test cannot pass against the fake and fail
 * against the proxy.
 *
 * - `checkJson` walks a parsed JSON value once, iteratively (no recursion, so nesting cannot overflow
 *   the stack), and names the first problem with its JSON path: nesting deeper than `maxDepth`, an
 *   array over `arrayMaxItems`, a string or object key over `stringMaxLength` characters, a lone UTF-16
 *   surrogate, or U+0000 (which PostgreSQL cannot store).
 * - `parseJson` is `JSON.parse` followed by `checkJson`.
 * - `account_label`'s own bound (`labelMaxLength`) is part of the request Schemas (`Api`).
 *
 * Lengths count characters (Unicode code points), not UTF-16 units or bytes.
 *
 * @since 0.2.0
 */
import { Either } from "effect"

/** The bounds, in one place. */
export interface Limits {
  /** Largest request body on the API routes, in bytes. */
  readonly apiBodyBytes: number
  /** Largest body of `POST /webhooks/zerohash`, in bytes. */
  readonly webhookBodyBytes: number
  /** Longest `account_label`, in characters (at least 1). */
  readonly labelMaxLength: number
  /** Longest string (value or object key) anywhere else in a body or query, in characters. */
  readonly stringMaxLength: number
  /** Most items in one array. */
  readonly arrayMaxItems: number
  /** Deepest nesting of objects and arrays (the body's own object is level 1). */
  readonly maxDepth: number
}

/** The defaults (**Decision**, `production.md` §1). */
export const defaults: Limits = {
  apiBodyBytes: 65_536,
  webhookBodyBytes: 262_144,
  labelMaxLength: 255,
  stringMaxLength: 1_024,
  arrayMaxItems: 100,
  maxDepth: 32
}

/** A webhook notification id (`x-zh-hook-notification-id`): 1 to 128 of `A-Z a-z 0-9 . _ : -`. */
export const NOTIFICATION_ID = /^[A-Za-z0-9._:-]{1,128}$/

/** What `NOTIFICATION_ID` accepts, in words. */
export const NOTIFICATION_ID_RULE = "1 to 128 characters of A-Z, a-z, 0-9, '.', '_', ':' or '-'"

/** The longest a value taken from an unauthenticated header is ever logged. */
export const LOGGED_HEADER_MAX = 128

/** The number of characters (code points) of `s`; a lone surrogate counts as one. */
export const characters = (s: string): number => {
  let n = s.length
  for (let i = 0; i < s.length - 1; i++) {
    const c = s.charCodeAt(i)
    if (c >= 0xd800 && c <= 0xdbff) {
      const d = s.charCodeAt(i + 1)
      if (d >= 0xdc00 && d <= 0xdfff) {
        n--
        i++
      }
    }
  }
  return n
}

/** A string cut to at most `max` UTF-16 units, for a log line (`…` marks the cut). */
export const truncate = (s: string, max: number = LOGGED_HEADER_MAX): string =>
  s.length <= max ? s : `${s.slice(0, max)}…`

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/

/**
 * Why a string is not acceptable text (a lone surrogate, U+0000), or `undefined` when it is. The
 * NUL message keeps the wording the proxy has used since U+0000 was first refused.
 */
export const textProblem = (s: string): string | undefined => {
  if (s.includes("\u0000")) return "expected text without the NUL character (U+0000)"
  const lone = LONE_SURROGATE.exec(s)
  if (lone !== null) {
    const unit = lone[0].charCodeAt(0).toString(16).toUpperCase()
    return `expected valid Unicode text, got a lone UTF-16 surrogate (U+${unit}) at character ${characters(s.slice(0, lone.index)) + 1}`
  }
  return undefined
}

interface Node {
  readonly value: unknown
  /** The key or index of this value in its parent; `undefined` for the root. */
  readonly key: string | number | undefined
  readonly parent: Node | undefined
  /** Levels of objects and arrays above this value. */
  readonly depth: number
  /** The node is an object key (its `value` is the key), checked before the key's value. */
  readonly isKey: boolean
}

const PLAIN_KEY = /^[A-Za-z0-9_$-]+$/

const segmentOf = (key: string | number, atRoot: boolean): string => {
  if (typeof key === "number") return `[${key}]`
  if (key.length <= 40 && PLAIN_KEY.test(key)) return atRoot ? key : `.${key}`
  // `JSON.stringify` escapes U+0000 and lone surrogates: the path shows them, never contains them. A
  // long key is shown by its start.
  return `[${JSON.stringify(key.length > 40 ? `${key.slice(0, 37)}...` : key)}]`
}

/** The JSON path of a node: `tenants[1]`, `a.b`, `["odd key"]`; `""` for the root. Built only for a problem. */
const pathOf = (node: Node): string => {
  const segments: Array<string> = []
  for (let n: Node | undefined = node; n !== undefined; n = n.parent) {
    if (n.key !== undefined) segments.push(segmentOf(n.key, n.parent?.parent === undefined))
  }
  return segments.reverse().join("")
}

const at = (node: Node, message: string): string => {
  const path = pathOf(node)
  return path === "" ? message : `${path}: ${message}`
}

/**
 * The first problem of a parsed JSON value (document order; an object key before its value) as a
 * `path: message` line, or `undefined` when it is within every limit. Visits each value once, with a
 * stack of its own.
 */
export const checkJson = (value: unknown, limits: Partial<Limits> = {}): string | undefined => {
  const maxDepth = limits.maxDepth ?? defaults.maxDepth
  const maxItems = limits.arrayMaxItems ?? defaults.arrayMaxItems
  const maxString = limits.stringMaxLength ?? defaults.stringMaxLength
  const stack: Array<Node> = [{ value, key: undefined, parent: undefined, depth: 0, isKey: false }]
  while (stack.length > 0) {
    const node = stack.pop()!
    const v = node.value
    if (typeof v === "string") {
      const what = node.isKey ? "an object key" : "a string"
      const problem = textProblem(v)
      if (problem !== undefined) {
        // The NUL wording predates this module: `tenants[1]: expected …, got a string containing it`.
        return at(node, problem.includes("U+0000") ? `${problem}, got ${what} containing it` : problem)
      }
      // `length` is at least the count of characters: only a long string needs counting.
      if (v.length > maxString) {
        const n = characters(v)
        if (n > maxString) {
          return at(node, `expected ${what} of at most ${maxString} characters, got ${n} characters`)
        }
      }
      continue
    }
    if (typeof v !== "object" || v === null) continue
    const depth = node.depth + 1
    if (depth > maxDepth) {
      return at(node, `expected JSON nested at most ${maxDepth} levels deep, got deeper nesting here`)
    }
    if (Array.isArray(v)) {
      if (v.length > maxItems) {
        return at(node, `expected an array of at most ${maxItems} items, got ${v.length} items`)
      }
      for (let i = v.length - 1; i >= 0; i--) {
        stack.push({ value: v[i], key: i, parent: node, depth, isKey: false })
      }
    } else {
      const keys = Object.keys(v)
      for (let i = keys.length - 1; i >= 0; i--) {
        const key = keys[i]!
        stack.push({ value: (v as Record<string, unknown>)[key], key, parent: node, depth, isKey: false })
        stack.push({ value: key, key, parent: node, depth, isKey: true })
      }
    }
  }
  return undefined
}

/** `JSON.parse` and `checkJson`: the value, or the problem (not JSON, or over a limit). */
export const parseJson = (text: string, limits: Partial<Limits> = {}): Either.Either<unknown, string> => {
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    return Either.left("the request body is not valid JSON")
  }
  const problem = checkJson(parsed, limits)
  return problem === undefined ? Either.right(parsed) : Either.left(problem)
}
