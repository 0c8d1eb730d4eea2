/**
 * Builds the proxy's Hono app from its dependencies. It never listens (`Server` and `main.ts` do), so
 * tests call `app.fetch(request)` directly, and the embedded simulator delivers webhooks to it in
 * process.
 *
 * Routes are grouped by resource and mounted with `app.route`: the 19 mirrored endpoints and the
 * status projection (`/`), the event stream (`/events`), the webhook receiver (`/webhooks`) and the
 * operations routes (`/`). Cross-cutting concerns are middleware: request id, access log and metrics
 * around everything; caller authentication, budget and scope on every caller route. Every error
 * becomes a response in `Errors.toResponse`, the one place that knows statuses.
 *
 * @since 0.1.0
 */
import { Endpoint } from "@mta/domain"
import { Hono } from "hono"
import type { Authenticator, Caller, RateLimitSetting } from "./Callers.js"
import type { BodyLimits } from "./Config.js"
import { defaults, type Tunables } from "./Config.js"
import * as Errors from "./Errors.js"
import { bodyLimit } from "./internal/body.js"
import type { HonoEnv, Shared, UpstreamClient } from "./internal/context.js"
import * as Hub from "./internal/hub.js"
import { observe } from "./internal/middleware.js"
import { type Egress, egress, keyedLimiter } from "./internal/rateLimit.js"
import * as Reconcile from "./internal/reconcile.js"
import { startResolver } from "./internal/resolve.js"
import * as AccountRoutes from "./internal/routes/accounts.js"
import * as AuditRoutes from "./internal/routes/audit.js"
import * as EventRoutes from "./internal/routes/events.js"
import * as OperationRoutes from "./internal/routes/operations.js"
import * as ParticipantRoutes from "./internal/routes/participants.js"
import * as WebhookRoutes from "./internal/routes/webhooks.js"
import type { Logger } from "./Logger.js"
import type { Metrics } from "./Metrics.js"
import type { Store } from "./Store.js"

export type { UpstreamClient } from "./internal/context.js"

/**
 * What the app is built from: its runtime dependencies, and any of the `Config.Tunables` (each
 * documented there, and defaulted from `Config.defaults` when absent; `egressLimit: undefined` turns
 * the vendor budget off).
 */
export interface Deps extends Partial<Tunables> {
  readonly authenticator: Authenticator
  readonly store: Store
  /** The upstream: a `@mta/client` Promise client (signed mode), or anything with the same methods. */
  readonly upstream: UpstreamClient
  /** The webhook secret (several during a rotation). */
  readonly webhookSecret: string | ReadonlyArray<string>
  readonly logger: Logger
  readonly metrics: Metrics
  /** Readiness checks besides the store's: `/readyz` is 503 when one fails. */
  readonly readiness?: Readonly<Record<string, () => Promise<void>>> | undefined
  /**
   * Checks `/readyz` reports in its body without turning not-ready (the upstream, by default: if it
   * made every replica not-ready at once, callers would get connection errors instead of the proxy's
   * 503 `upstream_unavailable`).
   */
  readonly reports?: Readonly<Record<string, () => Promise<void>>> | undefined
  /** The clock, epoch ms. Default `Date.now`. */
  readonly now?: (() => number) | undefined
  /**
   * The vendor's budget when it is not this process's own: the one every replica shares through
   * PostgreSQL (`Server` builds it, `internal/sharedBudget.ts`). Default: a local budget made from
   * `egressLimit`.
   */
  readonly sharedEgress?: Egress | undefined
}

/** The built app. */
export interface App {
  readonly hono: Hono<HonoEnv>
  /**
   * The standard fetch entry point. `env` is what `@hono/node-server` passes (`{ incoming, outgoing }`):
   * the proxy then reads request headers from Node's parsed headers instead of a fetch `Headers`.
   */
  readonly fetch: (request: Request, env?: unknown) => Response | Promise<Response>
  /** Starts a shutdown: `/readyz` answers 503, long polls answer now, event streams end. */
  readonly drain: () => void
  /** Releases the app's subscriptions (after the server has closed). */
  readonly close: () => void
  /**
   * The background reconciliation of the projection with the upstream (heartbeat, sweep, catch-up
   * after a downtime): `Server.start` starts it once listening and stops it before the store closes.
   * An app built by hand runs none until `start()`.
   */
  readonly reconciler: Reconcile.Reconciler
}

/** The vendor's documented limit (`Config.defaults.egressLimit`). */
export const DEFAULT_EGRESS_LIMIT: RateLimitSetting = defaults.egressLimit

/** The default share of the vendor's budget one caller may use (`Config.defaults.upstreamShare`). */
export const DEFAULT_UPSTREAM_SHARE = defaults.upstreamShare

/** The default request body limits (`Config.defaults.bodyLimits`). */
export const DEFAULT_BODY_LIMITS: BodyLimits = defaults.bodyLimits

/** Builds the app. */
export const make = (deps: Deps): App => {
  const hub = Hub.make(deps.store)
  let draining = false
  const egressLimit = "egressLimit" in deps ? deps.egressLimit : DEFAULT_EGRESS_LIMIT
  const defaultBudget =
    deps.callerLimit === undefined
      ? undefined
      : keyedLimiter(deps.callerLimit.requests, deps.callerLimit.window_ms)
  const ownBudgets = new Map<string, ReturnType<typeof keyedLimiter>>()
  for (const caller of deps.authenticator.callers) {
    if (caller.rateLimit !== undefined) {
      ownBudgets.set(caller.name, keyedLimiter(caller.rateLimit.requests, caller.rateLimit.window_ms))
    }
  }
  const callerBudget = (caller: Caller, now: number): number => {
    const own = ownBudgets.get(caller.name)
    if (own !== undefined) return own(caller.name, now)
    return defaultBudget === undefined ? 0 : defaultBudget(caller.name, now)
  }
  const longPollMaxMs = deps.longPollMaxMs ?? defaults.longPollMaxMs
  const defaultShare = deps.upstreamShare ?? DEFAULT_UPSTREAM_SHARE
  const shared: Shared = {
    authenticator: deps.authenticator,
    store: deps.store,
    upstream: deps.upstream,
    webhookSecret: deps.webhookSecret,
    webhookAcceptLegacy: deps.webhookAcceptLegacy ?? defaults.webhookAcceptLegacy,
    logger: deps.logger,
    metrics: deps.metrics,
    geo: deps.geo ?? defaults.geo,
    hub,
    egress:
      deps.sharedEgress ??
      (egressLimit === undefined ? undefined : egress(egressLimit.requests, egressLimit.window_ms)),
    upstreamShareOf: (caller) => caller?.upstreamShare ?? defaultShare,
    callerBudget,
    longPollMaxMs,
    longPollDefaultMs: Math.min(deps.longPollDefaultMs ?? defaults.longPollDefaultMs, longPollMaxMs),
    sseHeartbeatMs: deps.sseHeartbeatMs ?? defaults.sseHeartbeatMs,
    now: deps.now ?? Date.now,
    readiness: deps.readiness ?? {},
    reports: deps.reports ?? {},
    isDraining: () => draining,
    idempotencyTtlMs: deps.idempotencyTtlMs ?? defaults.idempotencyTtlMs,
    idempotencyLeaseMs: deps.idempotencyLeaseMs ?? defaults.idempotencyLeaseMs,
    idempotencyPendingMaxMs: deps.idempotencyPendingMaxMs ?? defaults.idempotencyPendingMaxMs,
    idempotencyResendAfterMs: deps.idempotencyResendAfterMs ?? defaults.idempotencyResendAfterMs,
    projectionTrustMs: deps.projectionTrustMs ?? defaults.projectionTrustMs
  }
  // Pending creates are resolved in the background too (production.md §5, `internal/resolve.ts`).
  const stopResolver = startResolver(shared, {
    intervalMs: deps.idempotencyResolveIntervalMs ?? defaults.idempotencyResolveIntervalMs
  })
  const reconcileShare = deps.reconcileShare ?? defaults.reconcileShare
  const reconciler = Reconcile.make(shared, {
    maxAgeMs: deps.reconcileMaxAgeMs ?? defaults.reconcileMaxAgeMs,
    provisioningMs: deps.reconcileProvisioningMs ?? defaults.reconcileProvisioningMs,
    share: reconcileShare,
    catchUpShare: Math.max(deps.reconcileCatchUpShare ?? defaults.reconcileCatchUpShare, reconcileShare),
    intervalMs: deps.reconcileIntervalMs ?? defaults.reconcileIntervalMs,
    downtimeMs: deps.reconcileDowntimeMs ?? defaults.reconcileDowntimeMs,
    budget: egressLimit ?? DEFAULT_EGRESS_LIMIT
  })

  const app = new Hono<HonoEnv>()
  app.use(observe(shared))
  // Bodies are bounded before anything reads them (413 `payload_too_large`), the webhook's before its
  // signature is checked.
  app.use(bodyLimit(deps.bodyLimits ?? DEFAULT_BODY_LIMITS))
  app.route("/", OperationRoutes.routes(shared))
  app.route("/webhooks", WebhookRoutes.routes(shared))
  app.route("/events", EventRoutes.routes(shared))
  app.route("/audit", AuditRoutes.routes(shared))
  app.route("/", ParticipantRoutes.routes(shared))
  app.route("/", AccountRoutes.routes(shared))

  app.notFound((c) => {
    const path = c.req.path
    const allow = Endpoint.methodsAt(path)
    const error =
      allow.length > 0 && !allow.includes(c.req.method as Endpoint.Method) && path !== "/accounts/new"
        ? new Errors.MethodNotAllowed({ message: `${c.req.method} is not allowed on ${path}`, allow })
        : AccountRoutes.notFoundMessage(c.req.method, path)
    const r = Errors.toResponse(error, c.var.requestId)
    return c.json(r.body, r.status as 404, r.headers)
  })

  app.onError((error, c) => {
    const requestId = c.var.requestId
    const r = Errors.toResponse(error, requestId)
    if (!Errors.isExpected(error)) {
      shared.logger.error(
        {
          request_id: requestId,
          route: c.var.route,
          err: { name: error.name, message: error.message, stack: error.stack }
        },
        "unexpected error"
      )
    }
    return c.json(r.body, r.status as 500, r.headers)
  })

  return {
    hono: app,
    fetch: (request, env) => app.fetch(request, env),
    drain: () => {
      draining = true
      hub.drain()
    },
    close: () => {
      void stopResolver()
      hub.close()
    },
    reconciler
  }
}
