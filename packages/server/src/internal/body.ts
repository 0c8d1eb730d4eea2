/**
 * The request body, read once per request and bounded (`production.md` §1):
 *
 * - `bodyLimit`: Hono's `bodyLimit` in front of every route that takes a body: 64 KiB on the API
 *   routes, 256 KiB on `POST /webhooks/zerohash`; a `Content-Length` over the limit is refused before
 *   anything is read, a chunked body as soon as it passes the limit. The 413 closes the connection, so
 *   the rest of a huge body is not read either.
 * - `jsonBodyOf`: the body as JSON within `Limits` (nesting, array sizes, string lengths, valid
 *   Unicode, no U+0000), or a 400 naming the JSON path of the first problem. An empty body reads as
 *   `{}`. The idempotency guard and the handler share one reading.
 */
import { Limits } from "@mta/domain"
import type { Context, MiddlewareHandler } from "hono"
import { bodyLimit as honoBodyLimit } from "hono/body-limit"
import type { BodyLimits } from "../Config.js"
import * as Errors from "../Errors.js"
import type { HonoEnv } from "./context.js"

type Ctx = Context<HonoEnv>

/** The body limits of the routes, in bytes (`Config.BodyLimits`). */
export type { BodyLimits } from "../Config.js"

const WEBHOOK_PATH = "/webhooks/zerohash"

const tooLarge = (c: Ctx, maxBytes: number): Response => {
  const r = Errors.toResponse(
    new Errors.PayloadTooLarge({ message: `request body is larger than ${maxBytes} bytes`, maxBytes }),
    c.get("requestId")
  )
  // Closing the connection stops Node from reading (and discarding) the rest of the body.
  return c.json(r.body, 413, { ...r.headers, connection: "close" })
}

/**
 * Hono's `bodyLimit` on every request that may carry a body; GET and HEAD skip it (reading `c.req.raw`
 * costs the Node adapter a full `Request`, and they carry none).
 */
export const bodyLimit = (limits: BodyLimits): MiddlewareHandler<HonoEnv> => {
  const api = honoBodyLimit({ maxSize: limits.api, onError: (c) => tooLarge(c as Ctx, limits.api) })
  const webhook = honoBodyLimit({
    maxSize: limits.webhook,
    onError: (c) => tooLarge(c as Ctx, limits.webhook)
  })
  return (c, next) => {
    const method = c.req.method
    if (method === "GET" || method === "HEAD") return next()
    return c.req.path === WEBHOOK_PATH ? webhook(c, next) : api(c, next)
  }
}

/** What reading the body gave: JSON within the limits, or why not (and the JSON, when it parsed). */
export type BodyReading = (
  | { readonly _tag: "ok"; readonly value: unknown }
  | { readonly _tag: "refused"; readonly error: Errors.InvalidRequest; readonly parsed: unknown }
) & {
  /** The body's length in UTF-16 units (what a summary of it would cost). */
  readonly length: number
}

const readings = new WeakMap<Ctx, Promise<BodyReading>>()

const read = async (c: Ctx): Promise<BodyReading> => {
  const text = await c.req.text()
  const length = text.length
  if (text.trim() === "") return { _tag: "ok", value: {}, length }
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    return {
      _tag: "refused",
      error: new Errors.InvalidRequest({ messages: ["the request body is not valid JSON"] }),
      parsed: undefined,
      length
    }
  }
  const problem = Limits.checkJson(parsed)
  return problem === undefined
    ? { _tag: "ok", value: parsed, length }
    : { _tag: "refused", error: new Errors.InvalidRequest({ messages: [problem] }), parsed, length }
}

/** Reads the body once per request (later calls get the same reading). */
export const readBody = (c: Ctx): Promise<BodyReading> => {
  let reading = readings.get(c)
  if (reading === undefined) {
    reading = read(c)
    readings.set(c, reading)
  }
  return reading
}

/** The JSON body within `Limits`; throws the 400 otherwise. */
export const jsonBodyOf = async (c: Ctx): Promise<unknown> => {
  const reading = await readBody(c)
  if (reading._tag === "refused") throw reading.error
  return reading.value
}

/** Query parameters within the string limits (length, valid Unicode, no U+0000); 400 otherwise. */
export const checkQuery = (query: Readonly<Record<string, string>>): void => {
  const problem = Limits.checkJson(query)
  if (problem !== undefined) throw new Errors.InvalidRequest({ messages: [problem] })
}
