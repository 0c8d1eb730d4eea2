/**
 * Text the SQL stores cannot keep. PostgreSQL, and so PGlite, refuse U+0000 (`jsonb` refuses the escape
 * `\u0000`, SQLSTATE 22P05; `text` refuses the byte) and a lone UTF-16 surrogate (`jsonb` refuses the
 * escape `\ud800` that `JSON.stringify` writes for it). A request holding either is refused before
 * anything is stored (`Limits.checkJson` in `./body.ts`, the webhook route); what is only *recorded*
 * about a refused request (its audit summary and path) carries U+FFFD in their place (`scrub`).
 */

/** U+0000 or a lone surrogate. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: U+0000 is what this matches.
const UNSTORABLE = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g

/** The escapes `JSON.stringify` writes for them (it escapes lone surrogates since ES2019). */
const UNSTORABLE_ESCAPE = /\\u(?:0000|d[89a-f][0-9a-f]{2})/i

/** A string with U+0000 and lone surrogates replaced by U+FFFD. */
export const scrubText = (s: string): string => s.replace(UNSTORABLE, "\uFFFD")

/** Whether JSON text (as `JSON.stringify` writes it) holds U+0000 or a lone surrogate. */
export const hasUnstorable = (json: string): boolean => UNSTORABLE_ESCAPE.test(json)

/**
 * A copy with `scrubText` applied to every string and key. Recursive: call it on a value of bounded
 * depth (the audit summary is cut at depth 8 first).
 */
export const scrub = (value: unknown): unknown => {
  if (typeof value === "string") return scrubText(value)
  if (Array.isArray(value)) return value.map(scrub)
  if (typeof value !== "object" || value === null) return value
  // `fromEntries` defines own properties: a JSON "__proto__" key stays a key.
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [scrubText(k), scrub(v)]))
}
