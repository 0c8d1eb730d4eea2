/**
 * The NUL character (U+0000) in JSON text. PostgreSQL, and so PGlite, cannot store it: `jsonb` refuses
 * the escape `\u0000` in a string (SQLSTATE 22P05) and `text` refuses the byte. The in-memory store
 * would take it, so the proxy refuses it before anything is stored, whatever the store:
 *
 * - a request body with U+0000 in a string (a value or an object key, at any depth) is a 400
 *   `invalid_request` naming the JSON path of the first one, before the upstream is called and before
 *   an `Idempotency-Key` is claimed (`./idempotency.ts`, and the handlers' own body reading);
 * - a verified webhook whose payload holds U+0000 is a 400 and is not stored (`./routes/webhooks.ts`);
 * - the audit summary of a refused request has U+0000 replaced with U+FFFD (`scrubNul`).
 *
 * The walk only runs when the raw text contains the six characters `\u0000`: valid JSON cannot hold
 * a literal NUL (a control character must be escaped), so without them no parsed string can hold one.
 */
import { InvalidRequest } from "../Errors.js"

/** The escape that is the only way U+0000 gets into a JSON string. */
export const NUL_ESCAPE = "\\u0000"

const NUL = "\u0000"
const EXPECTED = "expected text without the NUL character (U+0000)"
const PLAIN_KEY = /^[A-Za-z0-9_$-]+$/

interface Node {
  readonly value: unknown
  /** `[i]`, `.key` or `["odd key"]`; empty for the root. */
  readonly segment: string
  readonly parent: Node | undefined
  /** The node is an object key (its `value` is the key), checked before the key's value. */
  readonly isKey?: boolean
}

/** A path segment; `atRoot`: a key of the body itself (no leading dot). */
const segmentOf = (key: string | number, atRoot: boolean): string => {
  if (typeof key === "number") return `[${key}]`
  if (PLAIN_KEY.test(key)) return atRoot ? key : `.${key}`
  // `JSON.stringify` writes U+0000 as the escape `\u0000`: the path shows it, never contains it.
  return `[${JSON.stringify(key)}]`
}

const render = (node: Node): string => {
  const segments: Array<string> = []
  for (let n: Node | undefined = node; n !== undefined; n = n.parent) segments.push(n.segment)
  return segments.reverse().join("")
}

/**
 * Where the first string of a parsed JSON value (in document order; an object key before its value)
 * holds U+0000, as a problem line in the domain's `path: message` form (`tenants[1]: expected …`);
 * `undefined` when none does. Iterative, so a deeply nested body cannot overflow the stack.
 */
export const findNul = (value: unknown): string | undefined => {
  const stack: Array<Node> = [{ value, segment: "", parent: undefined }]
  while (stack.length > 0) {
    const node = stack.pop()!
    const v = node.value
    if (typeof v === "string") {
      if (v.includes(NUL)) {
        const path = render(node)
        const what = node.isKey === true ? "an object key" : "a string"
        return `${path === "" ? "" : `${path}: `}${EXPECTED}, got ${what} containing it`
      }
      continue
    }
    const atRoot = node.parent === undefined
    if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) {
        stack.push({ value: v[i], segment: segmentOf(i, atRoot), parent: node })
      }
    } else if (typeof v === "object" && v !== null) {
      const keys = Object.keys(v)
      for (let i = keys.length - 1; i >= 0; i--) {
        const key = keys[i]!
        const segment = segmentOf(key, atRoot)
        stack.push({ value: (v as Record<string, unknown>)[key], segment, parent: node })
        stack.push({ value: key, segment, parent: node, isKey: true })
      }
    }
  }
  return undefined
}

/**
 * Refuses (400 `invalid_request`) a request body with U+0000 in any string; `text` is the raw body,
 * `parsed` what `JSON.parse` made of it. Costs one `includes` unless the escape is there.
 */
export const refuseNul = (text: string, parsed: unknown): void => {
  if (!text.includes(NUL_ESCAPE)) return
  const problem = findNul(parsed)
  if (problem !== undefined) throw new InvalidRequest({ messages: [problem] })
}

/** A copy with U+0000 replaced by U+FFFD in every string and key (for what is only recorded). */
export const scrubNul = (value: unknown): unknown => {
  if (typeof value === "string") return value.includes(NUL) ? value.replaceAll(NUL, "\uFFFD") : value
  if (Array.isArray(value)) return value.map(scrubNul)
  if (typeof value !== "object" || value === null) return value
  // `fromEntries` defines own properties: a JSON "__proto__" key stays a key.
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k.replaceAll(NUL, "\uFFFD"), scrubNul(v)]))
}
