/**
 * `mta-server` (no command) and `pnpm start`: reads the configuration from the environment, starts
 * the proxy, prints how to call it, and shuts down gracefully on SIGINT or SIGTERM (exit 0). A
 * configuration error names every setting at fault and exits 2.
 */
import { Either, Redacted } from "effect"
import * as Config from "../Config.js"
import * as Server from "../Server.js"

/**
 * Why the proxy could not start, and what to do: a port in use or not allowed names the `PORT` to
 * choose instead; anything else is its own message (the store's refusals already say what to do).
 */
export const startFailure = (error: unknown): string => {
  const e = error as Partial<NodeJS.ErrnoException> & { readonly port?: number; readonly address?: string }
  const message = error instanceof Error ? error.message : String(error)
  const where =
    e.port === undefined ? "the port" : `port ${e.port}${e.address === undefined ? "" : ` on ${e.address}`}`
  if (e.code === "EADDRINUSE") {
    const other = e.port === undefined || e.port === 65535 ? 8081 : e.port + 1
    return `${where} is already in use (another mta proxy, or another program). Stop that process, or start on another port: PORT=${other} pnpm start (PORT=0 takes any free port) [${message}]`
  }
  if (e.code === "EACCES") {
    return `${where} may not be bound by this user (ports below 1024 need privileges): choose another, e.g. PORT=8080 pnpm start [${message}]`
  }
  if (e.code === "EADDRNOTAVAIL") {
    return `the address is not one of this machine's: set HOST to a local address (or unset it) [${message}]`
  }
  return message
}

/** Starts the proxy; the process then runs until a signal. */
export const serve = async (): Promise<void> => {
  const loaded = Config.load(process.env)
  if (Either.isLeft(loaded)) {
    process.stderr.write(`mta-server: ${loaded.left.message}\n`)
    process.exit(2)
  }
  const config = loaded.right
  const running = await Server.start(config)

  const everywhere = running.address.startsWith("0.0.0.0:") || running.address.startsWith("[::]:")
  const lines = [
    everywhere
      ? `mta proxy listening on ${running.address} (every interface); call it at ${running.url}`
      : `mta proxy listening on http://${running.address}`
  ]
  if (config.upstream.mode === "embedded") {
    lines.push(
      "upstream: the embedded testkit simulator (demo participants CUST01..CUST20, MINOR1, CUSTD1, TRUST1, TRSTE1, BUSNS1, ADVSR1, ADVSR2)"
    )
  } else {
    lines.push(`upstream: ${config.upstream.baseUrl}`)
  }
  lines.push(`state: ${Config.describeStore(config.store)}`)
  if (config.devToken !== undefined) {
    const token = config.devToken.isDefault ? Redacted.value(config.devToken.token) : "$MTA_DEV_TOKEN"
    lines.push(
      `caller "dev" (every scope), token: ${token}`,
      `try: curl -H "Authorization: Bearer ${token}" "${running.url}/participants?participant_code=CUST01"`
    )
  }
  lines.push(`API reference: ${running.url}/docs   metrics: ${running.url}/metrics`)
  // Human-readable on stderr; stdout carries only the JSON log lines.
  process.stderr.write(`\n${lines.map((l) => `  ${l}`).join("\n")}\n\n`)

  let stopping = false
  const stop = (signal: string) => {
    if (stopping) {
      running.logger.warn({ signal }, "second signal: exiting now")
      process.exit(1)
    }
    stopping = true
    running.logger.info({ signal }, "signal received")
    running.close().then(
      () => process.exit(0),
      (error: unknown) => {
        process.stderr.write(
          `mta-server: shutdown failed: ${error instanceof Error ? error.message : String(error)}\n`
        )
        process.exit(1)
      }
    )
  }
  process.on("SIGINT", () => stop("SIGINT"))
  process.on("SIGTERM", () => stop("SIGTERM"))
}
