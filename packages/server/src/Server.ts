/**
 * The proxy's runtime: builds every dependency from a `Config` (store, logger, metrics, the upstream
 * client and, in the embedded default, the testkit simulator), listens, and shuts down gracefully.
 *
 * Embedded default: the simulator runs in process, seeded with the demo participants; the client
 * reaches it through its `fetch` entry point (no port), and the simulator delivers its signed
 * webhooks to the app's own `fetch` at `/webhooks/zerohash`, through the same verification as a real
 * delivery; the testkit is imported only then (dynamically), so a proxy with a real upstream never
 * loads it. With a real upstream the client signs and sends over a pooled keep-alive `node:http(s)`
 * transport, which decides the proxy's throughput (see `bench/RESULTS.md`).
 *
 * `close()` is the graceful shutdown: stop accepting, answer long polls, end event streams, let
 * in-flight requests finish (at most `shutdownTimeoutMs`), then release everything.
 *
 * @since 0.1.0
 */
import { randomBytes } from "node:crypto"
import type { Server as HttpServer } from "node:http"
import type { AddressInfo } from "node:net"
import { createAdaptorServer } from "@hono/node-server"
import { type ClosableTransport, fetchTransport } from "@mta/client"
import type { Simulator as SimulatorModule } from "@mta/testkit"
import { Redacted } from "effect"
import * as App from "./App.js"
import { makeAuthenticator } from "./Callers.js"
import { type Config, defaults, isLoopback, redacted, type StoreConfig, type Tunables } from "./Config.js"
import { startRetention } from "./internal/retention.js"
import * as SharedBudget from "./internal/sharedBudget.js"
import * as Logger from "./Logger.js"
import * as Metrics from "./Metrics.js"
import * as Store from "./Store.js"
import * as Upstream from "./Upstream.js"

/** Options of `start` beyond the configuration (for tests and embedding). */
export interface StartOptions {
  /** The store; by default the one the configuration names (`Server.openStore`). */
  readonly store?: Store.Store | undefined
  /** Where log lines go; stdout by default. */
  readonly logDestination?: Logger.LoggerOptions["destination"]
  /** Between two runs of the retention pruning; `Config.defaults.retentionIntervalMs` by default. */
  readonly retentionIntervalMs?: number | undefined
}

/** A running proxy. */
export interface RunningServer {
  /** Base URL to call it at, e.g. `http://127.0.0.1:8080` (a loopback URL when bound to every address). */
  readonly url: string
  /** The address actually bound, e.g. `127.0.0.1:8080`, `0.0.0.0:8080` or `[::]:8080`. */
  readonly address: string
  readonly port: number
  readonly app: App.App
  readonly store: Store.Store
  readonly logger: Logger.Logger
  readonly metrics: Metrics.Metrics
  /** The embedded simulator, in the embedded default. */
  readonly simulator: Simulator | undefined
  readonly server: HttpServer
  /** Graceful shutdown; resolves once everything is released. Safe to call twice. */
  readonly close: () => Promise<void>
}

type Simulator = SimulatorModule.Simulator

const INTERNAL_ORIGIN = "http://mta.internal"

/** Past the upstream deadline, how long a call of a leased slot is still taken to possibly arrive. */
const CALL_MARGIN_MS = 1_000

/** Opens the store a configuration names: memory, embedded (PGlite in `dataDir`) or PostgreSQL. */
export const openStore = (config: StoreConfig): Promise<Store.Store> => {
  switch (config.kind) {
    case "memory":
      return Promise.resolve(Store.memory())
    case "embedded":
      return Store.embedded({ dataDir: config.dataDir })
    case "postgres":
      return Store.postgres({ url: Redacted.value(config.url) })
  }
}

/** Builds the runtime from a configuration and starts listening. */
export const start = async (config: Config, options: StartOptions = {}): Promise<RunningServer> => {
  if (config.upstream.mode === "embedded" && !isLoopback(config.host)) {
    // `Config.load` refuses this too; a configuration built by hand must not get past it either.
    throw new Error(
      `the embedded default only binds a loopback address, not ${JSON.stringify(config.host)}: configure a real upstream to serve other addresses`
    )
  }
  const logger = Logger.make({ level: config.logLevel, destination: options.logDestination })
  const metrics = Metrics.make()
  const store = options.store ?? (await openStore(config.store))
  const authenticator = makeAuthenticator(config.callers)

  let app: App.App | undefined
  let simulator: Simulator | undefined
  let transport: ClosableTransport | undefined
  let upstream: App.UpstreamClient
  let webhookSecret: string | ReadonlyArray<string>
  const readiness: Record<string, () => Promise<void>> = {}
  // The upstream is reported by `/readyz`; it gates readiness only with MTA_READY_REQUIRES_UPSTREAM.
  const upstreamChecks: Record<string, () => Promise<void>> = {}

  if (config.upstream.mode === "embedded") {
    // Random per start: `/webhooks/zerohash` is reachable from outside, and nobody else must sign for it.
    webhookSecret = randomBytes(32).toString("hex")
    // Loaded here and only here: with a real upstream the process never loads the testkit (production.md §2).
    const { createSimulator } = await import("@mta/testkit")
    const sim = createSimulator({
      seedDemo: true,
      geo: config.geo,
      asyncDelayMs: config.upstream.simDelayMs,
      webhook: {
        url: `${INTERNAL_ORIGIN}/webhooks/zerohash`,
        secret: webhookSecret,
        fetch: ((input: string | URL | Request, init?: RequestInit) => {
          if (app === undefined) return Promise.reject(new Error("the proxy is not started yet"))
          return Promise.resolve(app.fetch(new Request(input, init)))
        }) as typeof globalThis.fetch
      }
    })
    simulator = sim
    upstream = Upstream.make({
      baseUrl: "http://simulator.internal",
      credentials: sim.credentials,
      transport: fetchTransport((url, init) => sim.fetch(new Request(url, init)))
    })
    upstreamChecks.upstream = async () => {}
  } else {
    const remote = config.upstream
    // Several during a rotation: any one verifies.
    webhookSecret = remote.webhookSecrets.map((secret) => Redacted.value(secret))
    // The client's pooled `node:http` transport, with the proxy's pool sizes (`Upstream.nodeTransport`).
    transport = Upstream.nodeTransport({ maxSockets: 256, maxFreeSockets: 256 })
    const t = transport
    // No retries here: callers retry (they know whether a call is safe to repeat); a retry in the
    // proxy would spend the vendor's budget twice and hide the upstream's answer.
    upstream = Upstream.make({
      baseUrl: remote.baseUrl,
      credentials: {
        apiKey: remote.credentials.apiKey,
        apiSecret: Redacted.value(remote.credentials.apiSecret),
        passphrase: Redacted.value(remote.credentials.passphrase)
      },
      timeoutMs: remote.timeoutMs,
      transport: t
    })
    // Ready when the upstream answers at all (`GET /time` needs no signature; any status will do).
    upstreamChecks.upstream = async () => {
      const response = await t({
        method: "GET",
        url: `${remote.baseUrl}/time`,
        headers: { accept: "application/json" },
        body: undefined,
        signal: AbortSignal.timeout(2_000)
      })
      await response.text().catch(() => "")
    }
  }

  // The tunables come from the configuration as they are (`Config.Tunables`): declared once there.
  const tunables: Tunables = {
    geo: config.geo,
    egressLimit: config.egressLimit,
    callerLimit: config.callerLimit,
    upstreamShare: config.upstreamShare,
    bodyLimits: config.bodyLimits,
    longPollMaxMs: config.longPollMaxMs,
    longPollDefaultMs: config.longPollDefaultMs,
    sseHeartbeatMs: config.sseHeartbeatMs,
    idempotencyTtlMs: config.idempotencyTtlMs,
    idempotencyLeaseMs: config.idempotencyLeaseMs,
    idempotencyPendingMaxMs: config.idempotencyPendingMaxMs,
    idempotencyResendAfterMs: config.idempotencyResendAfterMs,
    idempotencyResolveIntervalMs: config.idempotencyResolveIntervalMs,
    webhookAcceptLegacy: config.webhookAcceptLegacy,
    projectionTrustMs: config.projectionTrustMs,
    reconcileMaxAgeMs: config.reconcileMaxAgeMs,
    reconcileProvisioningMs: config.reconcileProvisioningMs,
    reconcileShare: config.reconcileShare,
    reconcileCatchUpShare: config.reconcileCatchUpShare,
    reconcileIntervalMs: config.reconcileIntervalMs,
    reconcileDowntimeMs: config.reconcileDowntimeMs
  }
  // With PostgreSQL every replica spends one vendor budget, leased in blocks from the database
  // (`internal/sharedBudget.ts`); the memory and embedded stores are one process, with its own.
  const budgetLease =
    store.kind === "postgres" && config.store.kind === "postgres" && config.egressLimit !== undefined
      ? await SharedBudget.postgresLease(Redacted.value(config.store.url))
      : undefined
  const budget =
    budgetLease === undefined || config.egressLimit === undefined
      ? undefined
      : SharedBudget.sharedBudget({
          requests: config.egressLimit.requests,
          windowMs: config.egressLimit.window_ms,
          block: config.budget.block,
          leaseMs: config.budget.leaseMs,
          callMs:
            (config.upstream.mode === "remote" ? config.upstream.timeoutMs : defaults.upstreamTimeoutMs) +
            CALL_MARGIN_MS,
          lease: budgetLease.lease
        })
  const closeBudget = async () => {
    await budget?.close().catch(() => {})
    await budgetLease?.close().catch(() => {})
  }
  app = App.make({
    ...tunables,
    sharedEgress: budget,
    authenticator,
    store,
    upstream,
    webhookSecret,
    logger,
    metrics,
    readiness: config.readyRequiresUpstream ? { ...readiness, ...upstreamChecks } : readiness,
    reports: config.readyRequiresUpstream ? {} : upstreamChecks
  })
  const built = app

  const server = createAdaptorServer({ fetch: built.fetch }) as HttpServer
  try {
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject)
      server.listen(config.port, config.host, () => {
        server.off("error", reject)
        resolve()
      })
    })
  } catch (error) {
    built.close()
    await closeBudget()
    simulator?.reset()
    transport?.close()
    // Release the data directory (or the pool) of a store opened here.
    if (options.store === undefined) await store.close().catch(() => {})
    throw error
  }
  const address = server.address() as AddressInfo
  const host = address.family === "IPv6" ? `[${address.address}]` : address.address
  const bound = `${host}:${address.port}`
  if (config.upstream.mode === "embedded" && !isLoopback(address.address)) {
    // `localhost` resolved to something else: fail closed.
    server.close()
    built.close()
    await closeBudget()
    simulator?.reset()
    if (options.store === undefined) await store.close().catch(() => {})
    throw new Error(`the embedded default bound ${bound}, which is not a loopback address; refusing to serve`)
  }
  const url = `http://${host === "0.0.0.0" ? "127.0.0.1" : host === "[::]" ? "[::1]" : host}:${address.port}`
  const retention = startRetention({
    store,
    retentionMs: config.retentionMs,
    intervalMs: options.retentionIntervalMs ?? defaults.retentionIntervalMs,
    logger
  })
  logger.info(
    { address: bound, url, mode: config.upstream.mode, store: store.kind, config: redacted(config) },
    "listening"
  )
  // Heartbeat, background reconciliation, and the catch-up after a downtime.
  built.reconciler.start()

  let closing: Promise<void> | undefined
  const close = () => {
    closing ??= (async () => {
      logger.info({}, "shutting down: no new connections; finishing in-flight requests")
      built.drain()
      // No new reconciliation pass; the one under way finishes before the store closes.
      const reconciling = built.reconciler.stop()
      const closed = new Promise<void>((resolve) => server.close(() => resolve()))
      // Idle keep-alive connections would hold `close` open; in-flight ones end after their response.
      server.closeIdleConnections()
      const sweeper = setInterval(() => server.closeIdleConnections(), 50)
      let timer: NodeJS.Timeout | undefined
      const timedOut = new Promise<"timeout">((resolve) => {
        timer = setTimeout(() => resolve("timeout"), config.shutdownTimeoutMs)
      })
      const outcome = await Promise.race([closed.then(() => "closed" as const), timedOut])
      clearInterval(sweeper)
      clearTimeout(timer)
      if (outcome === "timeout") {
        logger.warn(
          { timeout_ms: config.shutdownTimeoutMs },
          "shutdown timeout: closing the remaining connections"
        )
        server.closeAllConnections()
        await closed
      }
      await reconciling
      built.close()
      await closeBudget()
      simulator?.reset()
      transport?.close()
      await retention.stop()
      await store.close()
      logger.info({}, "stopped")
      await new Promise<void>((resolve) => logger.flush(() => resolve()))
    })()
    return closing
  }

  return {
    url,
    address: bound,
    port: address.port,
    app: built,
    store,
    logger,
    metrics,
    simulator,
    server,
    close
  }
}
