/**
 * What the audit log keeps of a mutating call, besides who made it and when: the request's summary
 * (method, canonical path, body with every secret-looking field redacted, idempotency key) and its
 * outcome (`accepted`, the error's `code`, or the status). The idempotency middleware writes the entry
 * in the same store step as the key's resolution (`./idempotency.ts`); `GET /audit` reads it
 * (`./routes/audit.ts`).
 *
 * What is only recorded about a request, never acted on, may hold what the SQL stores cannot keep
 * (U+0000, a lone surrogate: `./text.ts`): the summary carries U+FFFD in their place.
 */
import type { Endpoint } from "@mta/domain"
import { answerOf } from "../Failures.js"
import { isSecretKey } from "./secrets.js"
import { hasUnstorable, scrub, scrubText } from "./text.js"

/** A body longer than this (bytes received, or JSON characters once redacted) is recorded by its size. */
const SUMMARY_LIMIT = 4_096

/** A copy with every secret-looking field replaced. */
export const redact = (value: unknown, depth = 0): unknown => {
  if (depth > 8) return "[too deep]"
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1))
  if (typeof value !== "object" || value === null) return value
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(value)) out[k] = isSecretKey(k) ? "[redacted]" : redact(v, depth + 1)
  return out
}

/**
 * The path as the audit records it: the route with its parameters (the ZRN canonical when it parses),
 * or `fallback` (the request's path) when that is empty. A path parameter is percent-decoded (`%00` is
 * U+0000): U+FFFD stands in for what the stores cannot keep (the call itself is refused: no ZRN or
 * code holds it).
 */
export const auditPath = (
  endpoint: Endpoint.Endpoint,
  params: { readonly zrn: string; readonly tenant: string; readonly financial_advisor: string },
  fallback: string
): string =>
  scrubText(
    endpoint.path
      .replace("{zrn}", params.zrn)
      .replace("{tenant}", params.tenant)
      .replace("{financial_advisor}", params.financial_advisor) || fallback
  )

/** A request as the audit summarises it. */
export interface Request {
  readonly method: string
  /** As `auditPath` gives it. */
  readonly path: string
  /** The parsed body, when there is one. */
  readonly body: unknown
  /** The body's size in bytes, when one was read. */
  readonly bytes: number | undefined
  readonly idempotencyKey: string | undefined
}

/** The summary of a request: method, path, the redacted body (or its size) and the idempotency key. */
export const summarize = (r: Request): Record<string, unknown> => {
  const key = r.idempotencyKey === undefined ? {} : { idempotency_key: r.idempotencyKey }
  // A body longer than the summary keeps is not walked at all: only its size is recorded.
  if (r.body !== undefined && r.bytes !== undefined && r.bytes > SUMMARY_LIMIT) {
    return { method: r.method, path: r.path, body: { truncated: true, bytes: r.bytes }, ...key }
  }
  const redacted = r.body === undefined ? undefined : redact(r.body)
  const text = redacted === undefined ? "" : JSON.stringify(redacted)
  // A body with U+0000 or a lone surrogate is refused, but its refusal is audited, and the SQL stores
  // cannot store either: the summary records U+FFFD in their place. It is a summary of a request that
  // was refused, not the request. (`redact` cut it at depth 8: `scrub` is bounded.)
  const body = hasUnstorable(text) ? scrub(redacted) : redacted
  return {
    method: r.method,
    path: r.path,
    ...(body === undefined
      ? {}
      : { body: text.length > SUMMARY_LIMIT ? { truncated: true, bytes: text.length } : body }),
    ...key
  }
}

/** The outcome recorded for an answer: `accepted` below 400, else the error's `code`, else the status. */
export const outcomeOf = (status: number, error: unknown): string =>
  status < 400 ? "accepted" : error !== undefined ? answerOf(error).body.code : `status_${status}`
