/**
 * Cross-cutting middleware: request id, access log and metrics (one outer middleware, so a request
 * is timed once), and caller authentication with its scope and budget.
 */
import { randomUUID } from "node:crypto"
import type { MiddlewareHandler } from "hono"
import type { Scope } from "../Callers.js"
import { Forbidden, RateLimitExceeded, Unauthorized } from "../Errors.js"
import type { HonoEnv, Shared } from "./context.js"

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/

/** A request id from the header when it is well formed, a new UUID otherwise. */
export const requestIdOf = (header: string | undefined): string =>
  header !== undefined && REQUEST_ID.test(header) ? header : randomUUID()

/** Request id, access log line, request metrics; sets `X-Request-Id` on every response. */
export const observe =
  (shared: Shared): MiddlewareHandler<HonoEnv> =>
  async (c, next) => {
    const start = performance.now()
    const requestId = requestIdOf(c.req.header("x-request-id"))
    c.set("requestId", requestId)
    c.set("route", "unmatched")
    c.set("caller", undefined)
    await next()
    c.res.headers.set("x-request-id", requestId)
    const seconds = (performance.now() - start) / 1000
    const status = c.res.status
    const caller = c.var.caller?.name ?? "-"
    const route = c.var.route
    shared.metrics.request(route, c.req.method, status, caller, seconds)
    if (shared.logger.isLevelEnabled("info")) {
      shared.logger.info(
        {
          request_id: requestId,
          caller,
          method: c.req.method,
          route,
          status,
          duration_ms: Math.round(seconds * 100_000) / 100
        },
        "request"
      )
    }
  }

/** Names the route for metrics and logs (a template, never the raw path). */
export const named =
  (route: string): MiddlewareHandler<HonoEnv> =>
  async (c, next) => {
    c.set("route", route)
    await next()
  }

const BEARER = /^Bearer[ \t]+(\S+)\s*$/i

/**
 * Authenticates the bearer token (401), applies the caller's budget (429 with `Retry-After`) and
 * checks the route's scope (403, naming the scope).
 */
export const authorize =
  (shared: Shared, route: string, scope: Scope): MiddlewareHandler<HonoEnv> =>
  async (c, next) => {
    c.set("route", route)
    const header = c.req.header("authorization")
    if (header === undefined) {
      throw new Unauthorized({ message: "missing bearer token: send Authorization: Bearer <token>" })
    }
    const token = BEARER.exec(header)?.[1]
    if (token === undefined) {
      throw new Unauthorized({ message: "malformed Authorization header: expected Bearer <token>" })
    }
    const caller = shared.authenticator.authenticate(token)
    if (caller === undefined) throw new Unauthorized({ message: "unknown bearer token" })
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
    await next()
  }
