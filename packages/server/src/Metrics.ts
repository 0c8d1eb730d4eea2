/**
 * Prometheus metrics (prom-client), one registry per proxy instance so several can run in one
 * process (tests) without sharing counters. Every metric is an ordinary prom-client one, updated with
 * its labels on each request: under 1 µs a request more than plain numbers per label set kept by hand
 * (1.2 against 0.4 µs in `bench/MICRO-RESULTS.md`), within the read path's budget (`bench/RESULTS.md`).
 *
 * The process metrics are prom-client's defaults under their stock names (`process_cpu_seconds_total`,
 * `nodejs_eventloop_lag_seconds`, …: no `mta_` prefix, so stock Node.js dashboards work); the proxy's
 * own are `mta_*`, with `mta_build_info` (always 1) naming the version. No metric repeats another's
 * information (README, "Metrics"; `test/Metrics.test.ts` audits the registry).
 *
 * @since 0.1.0
 */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client"
import { packageInfo } from "./internal/packageInfo.js"

/** What the proxy records. */
export interface Metrics {
  readonly registry: Registry
  /** One finished request: route template, method, status, caller name (`-` when none), seconds. */
  readonly request: (route: string, method: string, status: number, caller: string, seconds: number) => void
  /** One upstream call: endpoint name, seconds, and the error code when it failed. */
  readonly upstream: (endpoint: string, seconds: number, errorCode: string | undefined) => void
  /**
   * One webhook: `applied`, `confirmed`, `stale`, `duplicate` or `rejected` (with the reason), of a
   * `kind`: `account` (`customer_account_status_changed`, the default) or `participant`, all in
   * `mta_webhooks_received_total{outcome, kind, reason}` (`reason` only on `rejected`). A rejection
   * is counted under `account` when the payload type was not read yet.
   */
  readonly webhook: (
    outcome: "applied" | "confirmed" | "stale" | "duplicate" | "rejected",
    reason?: string,
    kind?: "account" | "participant"
  ) => void
  /**
   * One re-read of an account: why (`sweep`, `catch_up`, `command`: before refusing a status command,
   * `refresh`) and what it did (`repaired`, `confirmed`, `stale`: a newer fact was held, `failed`).
   */
  readonly reconcile: (
    trigger: "sweep" | "catch_up" | "command" | "refresh" | "access" | "read",
    outcome: "repaired" | "confirmed" | "stale" | "failed",
    kind?: "account" | "participant"
  ) => void
  /** 1 while the background reconciliation is catching up after a start, else 0. */
  readonly reconcileCatchingUp: Gauge
  /** A refusal for a budget: `caller` (with its name) or `upstream`. */
  readonly rateLimited: (limit: "caller" | "upstream", caller: string) => void
  readonly longPolls: Gauge
  readonly eventStreams: Gauge
  /** The exposition text. */
  readonly render: () => Promise<string>
  readonly contentType: string
}

/** The `code` label of a failed upstream call: the error's tag (`Timeout`, `NotFound`, …). */
export const errorCodeOf = (error: unknown): string => {
  const tag = (error as { _tag?: unknown } | null)?._tag
  return typeof tag === "string" ? tag : "Error"
}

const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]

/** Options of `make`. */
export interface MetricsOptions {
  /** Also collect Node.js process metrics (CPU, memory, event loop), under their stock names. Default `true`. */
  readonly processMetrics?: boolean
  /** The `version` label of `mta_build_info`. Default: this package's version (its `package.json`). */
  readonly version?: string
}

/** A fresh registry with every metric of the proxy. */
export const make = (options: MetricsOptions = {}): Metrics => {
  const registry = new Registry()
  // No prefix: the names stock dashboards and alerts query (`process_cpu_seconds_total`, …).
  if (options.processMetrics ?? true) collectDefaultMetrics({ register: registry })

  const buildInfo = new Gauge({
    name: "mta_build_info",
    help: "Always 1; the labels name the running build: the package version and the Node.js version.",
    labelNames: ["version", "node_version"] as const,
    registers: [registry]
  })
  buildInfo.set({ version: options.version ?? packageInfo().version, node_version: process.versions.node }, 1)

  const requests = new Counter({
    name: "mta_http_requests_total",
    help: "Requests answered by the proxy, by route template, method, status and caller.",
    labelNames: ["route", "method", "status", "caller"] as const,
    registers: [registry]
  })
  const duration = new Histogram({
    name: "mta_http_request_duration_seconds",
    help: "Time to answer a request (to the response headers for streams), by route template and method.",
    labelNames: ["route", "method"] as const,
    buckets: LATENCY_BUCKETS,
    registers: [registry]
  })
  const upstreamDuration = new Histogram({
    name: "mta_upstream_request_duration_seconds",
    help: "Duration of upstream calls, by endpoint.",
    labelNames: ["endpoint"] as const,
    buckets: LATENCY_BUCKETS,
    registers: [registry]
  })
  const upstreamErrors = new Counter({
    name: "mta_upstream_errors_total",
    help: "Upstream calls that failed, by endpoint and error code.",
    labelNames: ["endpoint", "code"] as const,
    registers: [registry]
  })
  // One counter: the former `mta_webhooks_rejected_total{reason}` and `mta_webhooks_duplicate_total`
  // were this counter's `rejected` and `duplicate` series again.
  const webhooks = new Counter({
    name: "mta_webhooks_received_total",
    help: "Webhook notifications received, by outcome (applied, confirmed, stale, duplicate, rejected), kind (account, participant) and, for rejected ones, the reason.",
    labelNames: ["outcome", "kind", "reason"] as const,
    registers: [registry]
  })
  const limited = new Counter({
    name: "mta_rate_limited_total",
    help: "Requests refused with 429 by the proxy, by budget (caller, upstream) and caller.",
    labelNames: ["limit", "caller"] as const,
    registers: [registry]
  })
  const reconciled = new Counter({
    name: "mta_reconcile_total",
    help: "Accounts and participants re-read upstream to reconcile the projections, by trigger (sweep, catch_up, command, refresh, access, read), outcome (repaired, confirmed, stale, failed) and kind (account, participant).",
    labelNames: ["trigger", "outcome", "kind"] as const,
    registers: [registry]
  })
  const reconcileCatchingUp = new Gauge({
    name: "mta_reconcile_catching_up",
    help: "1 while the background reconciliation re-reads the accounts confirmed before a downtime, else 0.",
    registers: [registry]
  })
  const longPolls = new Gauge({
    name: "mta_long_polls_waiting",
    help: "Long polls on /accounts/{zrn}/status waiting for a status.",
    registers: [registry]
  })
  const eventStreams = new Gauge({
    name: "mta_event_streams_open",
    help: "Server-sent event streams open on /events.",
    registers: [registry]
  })

  return {
    registry,
    longPolls,
    eventStreams,
    contentType: registry.contentType,
    request: (route, method, status, caller, seconds) => {
      requests.inc({ route, method, status, caller })
      duration.observe({ route, method }, seconds)
    },
    upstream: (endpoint, seconds, errorCode) => {
      upstreamDuration.observe({ endpoint }, seconds)
      if (errorCode !== undefined) upstreamErrors.inc({ endpoint, code: errorCode })
    },
    webhook: (outcome, reason, kind = "account") => {
      if (outcome === "rejected") webhooks.inc({ outcome, kind, reason: reason ?? "unknown" })
      else webhooks.inc({ outcome, kind })
    },
    rateLimited: (limit, caller) => limited.inc({ limit, caller }),
    reconcile: (trigger, outcome, kind = "account") => reconciled.inc({ trigger, outcome, kind }),
    reconcileCatchingUp,
    render: () => registry.metrics()
  }
}
