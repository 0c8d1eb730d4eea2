/**
 * What every route and middleware shares: the Hono environment (per-request variables) and the
 * application's dependencies after `App.make` has prepared them.
 */
import type { Client } from "@mta/client"
import type { Context as OtelContext } from "@opentelemetry/api"
import type { Authenticator, Caller } from "../Callers.js"
import type { Geo } from "../Config.js"
import type { Logger } from "../Logger.js"
import type { Metrics } from "../Metrics.js"
import type { Store } from "../Store.js"
import type { Hub } from "./hub.js"
import type { Egress } from "./rateLimit.js"

/** Per-request variables. */
export interface Vars {
  requestId: string
  /** Route template for metrics and logs (`/accounts/:zrn/lock`); `unmatched` until a route sets it. */
  route: string
  caller: Caller | undefined
  /** The OpenTelemetry context of the request's span (the caller's trace without an SDK). */
  trace: OtelContext
}

/** The Hono environment of the proxy. */
export interface HonoEnv {
  Variables: Vars
}

/** A successful upstream answer: its status and its exact text, which has the documented shape. */
export interface RawAnswer {
  readonly status: number
  readonly text: string
}

/** An upstream call's request id, abort signal and parent OpenTelemetry context (the request's span). */
type CallOptions = {
  readonly requestId?: string | undefined
  readonly signal?: AbortSignal | undefined
  readonly context?: OtelContext | undefined
}

/**
 * The reads again, answering the upstream's checked text (`Upstream.make` has them): the proxy
 * answers a read with the upstream's bytes instead of re-encoding a decoded value.
 */
export interface RawReads {
  readonly getAccount: (zrn: string, options?: CallOptions) => Promise<RawAnswer>
  readonly getStatusReason: (zrn: string, options?: CallOptions) => Promise<RawAnswer>
  readonly getLedgerPage: (query?: Record<string, unknown>, options?: CallOptions) => Promise<RawAnswer>
}

/**
 * The upstream as the proxy uses it: the Promise client's endpoint methods, and optionally the raw
 * reads (a `@mta/client` client stands in without them; the proxy then re-encodes what it decoded).
 */
export type UpstreamClient = { readonly raw?: RawReads | undefined } & Pick<
  Client,
  | "createAccount"
  | "updateAccount"
  | "getAccount"
  | "getStatusReason"
  | "lock"
  | "unlock"
  | "withdrawLock"
  | "withdrawUnlock"
  | "addTenant"
  | "removeTenant"
  | "addAdvisor"
  | "removeAdvisor"
  | "divest"
  | "close"
  | "getLedgerPage"
  | "createParticipant"
  | "createMinor"
  | "getParticipantPage"
  | "lockParticipant"
>

/** Dependencies shared by the routes. */
export interface Shared {
  readonly authenticator: Authenticator
  readonly store: Store
  readonly upstream: UpstreamClient
  readonly webhookSecret: string | ReadonlyArray<string>
  /** Accept a webhook signed only with the legacy body-only HMAC (`ZH_WEBHOOK_ACCEPT_LEGACY`). */
  readonly webhookAcceptLegacy: boolean
  readonly logger: Logger
  readonly metrics: Metrics
  readonly geo: Geo
  readonly hub: Hub
  /** The vendor's budget, shared by every caller with a share each; `undefined` when off. */
  readonly egress: Egress | undefined
  /** A caller's share of the vendor's budget, (0, 1]. */
  readonly upstreamShareOf: (caller: Caller | undefined) => number
  /** Per-caller budgets: ms to wait, 0 when admitted. */
  readonly callerBudget: (caller: Caller, now: number) => number
  readonly longPollMaxMs: number
  readonly longPollDefaultMs: number
  readonly sseHeartbeatMs: number
  readonly now: () => number
  /** Extra readiness checks (name → check); each rejects when not ready. */
  readonly readiness: Readonly<Record<string, () => Promise<void>>>
  /** Checks reported by `/readyz` that do not make it not-ready. */
  readonly reports: Readonly<Record<string, () => Promise<void>>>
  readonly isDraining: () => boolean
  /** How long an idempotency key is remembered, ms. */
  readonly idempotencyTtlMs: number
  /** How long a claimed key is held for its call before another proxy may take it over, ms. */
  readonly idempotencyLeaseMs: number
  /** How long a create may stay pending (outcome unknown) before its final answer, ms. */
  readonly idempotencyPendingMaxMs: number
  /** How long after a re-send that settled nothing a pending create is sent again, ms. */
  readonly idempotencyResendAfterMs: number
  /** How long a record the upstream confirmed is trusted to refuse a status command on, ms. */
  readonly projectionTrustMs: number
}
