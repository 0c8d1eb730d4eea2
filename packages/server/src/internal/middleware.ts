/**
 * Cross-cutting middleware: request id, the request's span, access log and metrics (one outer
 * middleware, so a request is timed once), and caller authentication with its scope and budget.
 */
import { randomUUID } from "node:crypto"
import type { IncomingMessage, ServerResponse } from "node:http"
import { context, type Context as OtelContext } from "@opentelemetry/api"
import type { Context, MiddlewareHandler } from "hono"
import type { Scope } from "../Callers.js"
import { Forbidden, RateLimitExceeded, Unauthorized } from "../Errors.js"
import * as Logger from "../Logger.js"
import type { HonoEnv, Shared } from "./context.js"
import * as Tracing from "./tracing.js"

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/

/**
 * A request id from the header when it is well formed, a new UUID otherwise. Kept by hand rather than
 * Hono's `requestId`: its check is fixed to `[\w\-=]`, so ids we keep (`trace-abc.123`, `a:b`) would be
 * replaced; only its generator is configurable, which would leave it nothing to do.
 */
export const requestIdOf = (header: string | undefined): string =>
  header !== undefined && REQUEST_ID.test(header) ? header : randomUUID()

/**
 * A request header (name in lower case). Served by `@hono/node-server`, it is read from Node's own
 * parsed headers (the adapter's `env.incoming`): `c.req.header` would make the adapter build a fetch
 * `Headers` from the raw headers on every request. A repeated header reads as Node reads it
 * (`authorization` keeps the first; others are joined with ", ", as `Headers` joins them).
 */
export const headerOf = (c: Context<HonoEnv>, name: string): string | undefined => {
  const incoming = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming
  if (incoming === undefined) return c.req.header(name)
  const value = incoming.headers[name]
  return Array.isArray(value) ? value.join(", ") : value
}

/**
 * Calls `listener` once if the client goes away before its response has been written; returns the
 * function that removes it. Served by `@hono/node-server`, it watches the adapter's `env.outgoing` as the
 * adapter itself does to abort `c.req.raw.signal`: reading that signal makes the adapter build a full
 * fetch `Request` with its own `AbortController` for every waiting long poll and stream.
 */
export const onClientGone = (c: Context<HonoEnv>, listener: () => void): (() => void) => {
  const outgoing = (c.env as { outgoing?: ServerResponse } | undefined)?.outgoing
  if (outgoing === undefined) {
    const signal = c.req.raw.signal
    signal.addEventListener("abort", listener, { once: true })
    return () => signal.removeEventListener("abort", listener)
  }
  const onClose = () => {
    if (!outgoing.writableFinished) listener()
  }
  outgoing.once("close", onClose)
  return () => outgoing.off("close", onClose)
}

/** Marks a response that already carries its `X-Request-Id` (the value is the id). */
const STAMPED: unique symbol = Symbol("mta.requestId")

/**
 * A JSON response with its `X-Request-Id`, from JSON text, in the form the Node adapter writes
 * fastest (a string body and a plain header object: no fetch `Headers`, no `Response` built).
 */
export const jsonResponse = (c: Context<HonoEnv>, status: number, text: string): Response => {
  const requestId = c.get("requestId")
  const response = new Response(text, {
    status,
    headers: { "content-type": "application/json", "x-request-id": requestId }
  })
  ;(response as Response & { [STAMPED]?: string })[STAMPED] = requestId
  return response
}

/**
 * Request id, the request's `SERVER` span (the active context while the request runs), access log
 * line with the trace and span ids, request metrics; sets `X-Request-Id` on every response.
 */
export const observe = (shared: Shared): MiddlewareHandler<HonoEnv> => {
  const requestLine = Logger.requestLine(shared.logger)
  return async (c, next) => {
    const start = performance.now()
    const requestId = requestIdOf(headerOf(c, "x-request-id"))
    c.set("requestId", requestId)
    c.set("route", "unmatched")
    c.set("caller", undefined)
    const traced = Tracing.startRequest(c, c.req.path)
    c.set("trace", traced.context)
    await context.with(traced.context, next)
    const res = c.res as Response & { [STAMPED]?: string }
    if (res[STAMPED] !== requestId) res.headers.set("x-request-id", requestId)
    const seconds = (performance.now() - start) / 1000
    const status = res.status
    // `c.get`, not `c.var`: `c.var` copies every variable into a new object on each access.
    const caller = c.get("caller")?.name ?? "-"
    const route = c.get("route")
    const method = c.req.method
    shared.metrics.request(route, method, status, caller, seconds)
    const ids = Tracing.idsOf(traced.span)
    Tracing.endRequest(traced.span, { method, route, status, caller: c.get("caller")?.name, requestId })
    requestLine(requestId, caller, method, route, status, Math.round(seconds * 100_000) / 100, ids)
  }
}

/**
 * The options of an upstream call made for this request: its request id, and the request span's
 * context (the parent of the call's `CLIENT` span, whose `traceparent` goes upstream; passed
 * explicitly, as without an SDK there is no context manager to carry it).
 */
export const upstreamCall = (
  c: Context<HonoEnv>
): { readonly requestId: string; readonly context: OtelContext } => ({
  requestId: c.get("requestId"),
  context: c.get("trace")
})

/** Names the route for metrics and logs (a template, never the raw path). */
export const named =
  (route: string): MiddlewareHandler<HonoEnv> =>
  async (c, next) => {
    c.set("route", route)
    await next()
  }

const BEARER = /^Bearer[ \t]+(\S+)\s*$/i

/** What to do about a token no caller has (it names where tokens are configured, never one). */
export const UNKNOWN_TOKEN =
  "unknown bearer token: send the token of a caller configured for this proxy (MTA_CALLERS lists the callers and their tokens' SHA-256; with the embedded default, the dev token printed at startup)"

/**
 * Authenticates the bearer token (401), applies the caller's budget (429 with `Retry-After`) and
 * checks the route's scope (403, naming the scope).
 */
export const authorize =
  (shared: Shared, route: string, scope: Scope): MiddlewareHandler<HonoEnv> =>
  // Not `async`: one promise less per request; a refusal thrown here reaches `onError` all the same.
  (c, next) => {
    c.set("route", route)
    const header = headerOf(c, "authorization")
    if (header === undefined) {
      throw new Unauthorized({ message: "missing bearer token: send Authorization: Bearer <token>" })
    }
    const token = BEARER.exec(header)?.[1]
    if (token === undefined) {
      throw new Unauthorized({ message: "malformed Authorization header: expected Bearer <token>" })
    }
    const caller = shared.authenticator.authenticate(token)
    if (caller === undefined) throw new Unauthorized({ message: UNKNOWN_TOKEN })
    c.set("caller", caller)
    const wait = shared.callerBudget(caller, shared.now())
    if (wait > 0) {
      shared.metrics.rateLimited("caller", caller.name)
      throw new RateLimitExceeded({
        message: `caller ${caller.name} is over its rate limit; retry after ${Math.ceil(wait / 1000)} s`,
        retryAfterMs: wait,
        limit: "caller"
      })
    }
    if (!caller.scopes.has(scope)) {
      throw new Forbidden({ message: `caller ${caller.name} lacks the scope ${scope}`, scope })
    }
    return next()
  }
