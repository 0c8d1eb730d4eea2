/**
 * Prometheus metrics (prom-client), one registry per proxy instance so several can run in one
 * process (tests) without sharing counters.
 *
 * The request path updates three series per request (requests, request duration, upstream duration).
 * prom-client validates and hashes the label set again on every `inc`/`observe`, even through a child
 * from `labels(...)`; under load that was a visible share of the request path. Those three are
 * therefore kept here as plain numbers per label set (found with one `Map` lookup) and rendered in
 * prom-client's own format by the same registry; every other metric is an ordinary prom-client one.
 *
 * @since 0.1.0
 */
import { Counter, collectDefaultMetrics, Gauge, type Metric, Registry } from "prom-client"

/** What the proxy records. */
export interface Metrics {
  readonly registry: Registry
  /** One finished request: route template, method, status, caller name (`-` when none), seconds. */
  readonly request: (route: string, method: string, status: number, caller: string, seconds: number) => void
  /** One upstream call: endpoint name, seconds, and the error code when it failed. */
  readonly upstream: (endpoint: string, seconds: number, errorCode: string | undefined) => void
  /** One webhook: `applied`, `stale`, `duplicate` or `rejected` (with the reason). */
  readonly webhook: (outcome: "applied" | "stale" | "duplicate" | "rejected", reason?: string) => void
  /** A refusal for a budget: `caller` (with its name) or `upstream`. */
  readonly rateLimited: (limit: "caller" | "upstream", caller: string) => void
  readonly longPolls: Gauge
  readonly eventStreams: Gauge
  /** The exposition text. */
  readonly render: () => Promise<string>
  readonly contentType: string
}

/** One label set of a hot series: its count, and for a histogram its sum and per-bucket counts. */
interface Series {
  readonly labels: Readonly<Record<string, string>>
  count: number
  sum: number
  /** Observations per bucket (not cumulative); the last one is above every bound. */
  readonly buckets: Float64Array
}

/** What a prom-client registry reads from a metric. */
interface MetricValue {
  readonly labels: Readonly<Record<string, string | number>>
  readonly value: number
  readonly metricName?: string
}

/**
 * A counter (no bounds) or a histogram (with bounds) whose series are updated without label hashing,
 * rendered exactly as prom-client renders its own (`le` first, then the labels; `_bucket`
 * cumulative, `+Inf`, `_sum`, `_count`).
 */
class HotMetric {
  readonly aggregator = "sum"
  private readonly series = new Map<string, Series>()

  constructor(
    readonly name: string,
    readonly help: string,
    readonly type: "counter" | "histogram",
    private readonly bounds: ReadonlyArray<number>
  ) {}

  /** The series of `key` (its label values joined), if it has been recorded. */
  find(key: string): Series | undefined {
    return this.series.get(key)
  }

  /** Starts the series of `key` with its labels. */
  add(key: string, labels: Record<string, string>): Series {
    const series: Series = { labels, count: 0, sum: 0, buckets: new Float64Array(this.bounds.length + 1) }
    this.series.set(key, series)
    return series
  }

  observe(series: Series, value: number): void {
    series.count++
    series.sum += value
    const bounds = this.bounds
    let i = 0
    while (i < bounds.length && value > bounds[i]!) i++
    series.buckets[i]!++
  }

  async get(): Promise<{
    name: string
    help: string
    type: string
    values: Array<MetricValue>
    aggregator: string
  }> {
    const values: Array<MetricValue> = []
    for (const series of this.series.values()) {
      if (this.type === "counter") {
        values.push({ labels: series.labels, value: series.count })
        continue
      }
      let cumulative = 0
      for (let i = 0; i < this.bounds.length; i++) {
        cumulative += series.buckets[i]!
        values.push({
          labels: { le: this.bounds[i]!, ...series.labels },
          value: cumulative,
          metricName: `${this.name}_bucket`
        })
      }
      values.push(
        { labels: { le: "+Inf", ...series.labels }, value: series.count, metricName: `${this.name}_bucket` },
        { labels: series.labels, value: series.sum, metricName: `${this.name}_sum` },
        { labels: series.labels, value: series.count, metricName: `${this.name}_count` }
      )
    }
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator }
  }

  reset(): void {
    this.series.clear()
  }
}

const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]

/** Options of `make`. */
export interface MetricsOptions {
  /** Also collect Node.js process metrics (CPU, memory, event loop). Default `true`. */
  readonly processMetrics?: boolean
}

/** A fresh registry with every metric of the proxy. */
export const make = (options: MetricsOptions = {}): Metrics => {
  const registry = new Registry()
  if (options.processMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: "mta_" })

  const requests = new HotMetric(
    "mta_http_requests_total",
    "Requests answered by the proxy, by route template, method, status and caller.",
    "counter",
    []
  )
  const duration = new HotMetric(
    "mta_http_request_duration_seconds",
    "Time to answer a request (to the response headers for streams), by route template and method.",
    "histogram",
    LATENCY_BUCKETS
  )
  const upstreamDuration = new HotMetric(
    "mta_upstream_request_duration_seconds",
    "Duration of upstream calls, by endpoint.",
    "histogram",
    LATENCY_BUCKETS
  )
  for (const hot of [requests, duration, upstreamDuration]) registry.registerMetric(hot as unknown as Metric)
  const upstreamErrors = new Counter({
    name: "mta_upstream_errors_total",
    help: "Upstream calls that failed, by endpoint and error code.",
    labelNames: ["endpoint", "code"] as const,
    registers: [registry]
  })
  const webhooks = new Counter({
    name: "mta_webhooks_received_total",
    help: "Webhook notifications received, by outcome (applied, stale, duplicate, rejected).",
    labelNames: ["outcome"] as const,
    registers: [registry]
  })
  const webhooksRejected = new Counter({
    name: "mta_webhooks_rejected_total",
    help: "Webhook notifications refused, by reason.",
    labelNames: ["reason"] as const,
    registers: [registry]
  })
  const webhooksDuplicate = new Counter({
    name: "mta_webhooks_duplicate_total",
    help: "Webhook notifications acknowledged without effect (notification id seen before).",
    registers: [registry]
  })
  const limited = new Counter({
    name: "mta_rate_limited_total",
    help: "Requests refused with 429 by the proxy, by budget (caller, upstream) and caller.",
    labelNames: ["limit", "caller"] as const,
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
      // Keys join the label values with spaces, which none of them contains.
      const key = `${route} ${method}`
      const requestKey = `${key} ${status} ${caller}`
      const counted =
        requests.find(requestKey) ??
        requests.add(requestKey, { route, method, status: String(status), caller })
      counted.count++
      duration.observe(duration.find(key) ?? duration.add(key, { route, method }), seconds)
    },
    upstream: (endpoint, seconds, errorCode) => {
      upstreamDuration.observe(
        upstreamDuration.find(endpoint) ?? upstreamDuration.add(endpoint, { endpoint }),
        seconds
      )
      if (errorCode !== undefined) upstreamErrors.labels({ endpoint, code: errorCode }).inc()
    },
    webhook: (outcome, reason) => {
      webhooks.labels({ outcome }).inc()
      if (outcome === "duplicate") webhooksDuplicate.inc()
      if (outcome === "rejected") webhooksRejected.labels({ reason: reason ?? "unknown" }).inc()
    },
    rateLimited: (limit, caller) => limited.labels({ limit, caller }).inc(),
    render: () => registry.metrics()
  }
}
