/**
 * Bounded input: a request body read as JSON within the same limits as the proxy (`Limits`,
 * production.md §1), so a test cannot pass against the fake and fail against the proxy.
 */
import { Api, Endpoint, Limits } from "@mta/domain"
import { Either } from "effect"
import { errors, json, type RawResponse } from "./http.js"
import type { EndpointName } from "./router.js"

/**
 * The JSON body of a request, or the answer refusing it: 413 over `Limits.defaults.apiBodyBytes`,
 * 400 for text that is not JSON or JSON outside `Limits.checkJson`. An empty body is `{}` for an
 * endpoint that takes none or `{}`, and absent (for its Schema to refuse) for one that needs fields.
 */
export const readBody = (endpoint: EndpointName, text: string): Either.Either<unknown, RawResponse> => {
  if (overBodyLimit(text)) {
    return Either.left(
      json(413, { errors: [`request body is larger than ${Limits.defaults.apiBodyBytes} bytes`] })
    )
  }
  if (text === "") {
    const schema = Endpoint.table[endpoint].request
    return Either.right(schema === undefined || schema === Api.EmptyRequest ? {} : undefined)
  }
  let body: unknown
  try {
    body = JSON.parse(text)
  } catch (error) {
    return Either.left(
      errors.badRequest([`body is not valid JSON: ${error instanceof Error ? error.message : String(error)}`])
    )
  }
  const problem = Limits.checkJson(body)
  return problem === undefined ? Either.right(body) : Either.left(errors.badRequest([problem]))
}

/**
 * Whether a body's UTF-8 form is over `Limits.defaults.apiBodyBytes`, counted without encoding it (the
 * engine also runs in browsers, without `Buffer`).
 */
const overBodyLimit = (s: string): boolean => {
  // Each UTF-16 unit is at most 3 bytes of UTF-8.
  if (s.length * 3 <= Limits.defaults.apiBodyBytes) return false
  let bytes = 0
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c < 0x80) bytes += 1
    else if (c < 0x800) bytes += 2
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1)
      if (d >= 0xdc00 && d <= 0xdfff) {
        bytes += 4
        i++
      } else bytes += 3
    } else bytes += 3
  }
  return bytes > Limits.defaults.apiBodyBytes
}
