/**
 * The fingerprint of a mutating request, which an `Idempotency-Key` is claimed for: SHA-256 of the
 * method, the route, the canonical path parameters and the body as the domain decodes and re-encodes
 * it, as canonical JSON (keys sorted). Two requests that mean the same have the same fingerprint,
 * whatever their ZRN spelling, key order or optional spellings.
 */
import { createHash } from "node:crypto"
import type { Endpoint } from "@mta/domain"
import { Either, Schema } from "effect"

/**
 * JSON with object keys sorted at every level: equal values, equal text. Recursive, on bodies that
 * passed `Limits` (at most 32 levels deep), so the depth of the recursion is bounded.
 */
export const canonicalJson = (value: unknown): string => {
  if (Array.isArray(value)) {
    let out = "["
    for (let i = 0; i < value.length; i++) out += (i === 0 ? "" : ",") + canonicalJson(value[i])
    return `${out}]`
  }
  if (typeof value === "object" && value !== null) {
    // `sort()` orders by UTF-16 code units, as `<` does.
    const keys = Object.keys(value).sort()
    let out = "{"
    let first = true
    for (const k of keys) {
      const v = (value as Record<string, unknown>)[k]
      if (v === undefined) continue
      out += `${first ? "" : ","}${JSON.stringify(k)}:${canonicalJson(v)}`
      first = false
    }
    return `${out}}`
  }
  return JSON.stringify(value) ?? "null"
}

/** What a request's fingerprint is made of, besides its endpoint. */
export interface Parts {
  /** The ZRN of the path: canonical when it parses, as sent otherwise. */
  readonly zrn: string
  /** The tenant and advisor codes of the path, in order. */
  readonly members: ReadonlyArray<string>
  /** The parsed body (a POST's or PATCH's). */
  readonly body: unknown
}

/** The fingerprint function of one endpoint (its Schemas are prepared once). */
export const fingerprinter = (endpoint: Endpoint.Endpoint): ((parts: Parts) => string) => {
  const request = endpoint.request
  const decode = request === undefined ? undefined : Schema.decodeUnknownEither(request)
  const encode = request === undefined ? undefined : Schema.encodeEither(request)
  const hasBody = endpoint.method === "POST" || endpoint.method === "PATCH"

  /**
   * The body as the domain reads it (re-encoded, so spelling and key order do not matter). A body the
   * domain refuses is answered 400 and its key freed, so it is never replayed: its fingerprint need
   * not tell such bodies apart, and costs nothing to compute.
   */
  const canonicalBody = (parsed: unknown): string => {
    if (decode === undefined || encode === undefined) return ""
    const decoded = decode(parsed)
    if (Either.isRight(decoded)) {
      const encoded = encode(decoded.right)
      if (Either.isRight(encoded)) return canonicalJson(encoded.right)
    }
    return "(a body the domain refuses)"
  }

  return ({ zrn, members, body }) =>
    createHash("sha256")
      .update(`${endpoint.method} ${endpoint.path}\n${zrn}\n${members.join(",")}\n`)
      .update(hasBody ? canonicalBody(body) : "")
      .digest("hex")
}
