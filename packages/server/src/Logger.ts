/**
 * Structured JSON logs (pino). One line per request with the request id, the caller, the route, the
 * status and the duration; startup, webhook rejections and shutdown are logged too.
 *
 * Secrets never reach a line: the proxy logs no headers and no bodies, and redaction covers the keys
 * a secret could hide under anyway (`authorization`, the `x-scx-*` headers, tokens, secrets,
 * passphrases), should a future log call pass an object that holds one.
 *
 * @since 0.1.0
 */
import { writeSync } from "node:fs"
import { type DestinationStream, type Logger, pino } from "pino"

export type { Logger } from "pino"

const SECRET_KEYS = [
  "authorization",
  "Authorization",
  "token",
  "bearerToken",
  "secret",
  "apiSecret",
  "api_secret",
  "webhookSecret",
  "passphrase",
  "apiKey",
  "password",
  '"x-scx-api-key"',
  '"x-scx-passphrase"',
  '"x-scx-signed"',
  '"x-scx-timestamp"',
  '"X-SCX-API-KEY"',
  '"X-SCX-PASSPHRASE"',
  '"X-SCX-SIGNED"',
  '"x-zh-hook-signature"',
  '"x-zh-hook-signature-256"'
]

/**
 * Paths pino redacts: each secret key at the top level and under the objects the proxy logs
 * (`headers`, `config`, `err`). Explicit paths, not wildcards: wildcard redaction walks every logged
 * object and cost more than the rest of a request's log line.
 */
export const redactPaths: ReadonlyArray<string> = SECRET_KEYS.flatMap((key) => {
  const nested = key.startsWith('"') ? `[${key}]` : `.${key}`
  const top = key.startsWith('"') ? `[${key}]` : key
  return [
    top,
    ...["headers", "config", "config.upstream", "config.upstream.credentials", "err"].map(
      (o) => `${o}${nested}`
    )
  ]
}).filter((path) => !path.startsWith("["))

/**
 * Standard output for log lines, written in batches: the lines of one turn of the event loop are
 * joined and written with one `write(2)` when the turn ends (`setImmediate`). A line reaches stdout
 * within a turn of the loop, and under load one system call carries many lines.
 *
 * Measured under load (`bench/RESULTS.md`): `pino.destination({ sync: false })` (sonic-boom) sends
 * each of its writes through libuv's thread pool (about 17 µs of CPU a write here) and measures the
 * byte length of its whole pending buffer on every line; a synchronous write per line costs a system
 * call per request. One synchronous write per turn costs about 2 µs for ten lines. Like
 * `process.stdout` on Linux, a write blocks while a pipe's reader is stalled; on a non-blocking
 * descriptor a full pipe (`EAGAIN`) keeps the rest and retries shortly, gathering new lines meanwhile.
 */
export class BatchedWriter implements DestinationStream {
  private pending: Array<string> = []
  private scheduled = false
  /** Bytes a full pipe refused, retried before anything newer. */
  private blocked: Buffer | undefined
  private retry: NodeJS.Timeout | undefined
  private waiters: Array<(error?: Error) => void> = []

  constructor(private readonly fd: number) {}

  write(line: string): void {
    this.pending.push(line)
    if (!this.scheduled) {
      this.scheduled = true
      setImmediate(this.drain)
    }
  }

  /** Writes what is pending now; calls back once it has all reached the file descriptor. */
  flush(callback: (error?: Error) => void): void {
    this.drain()
    if (this.blocked === undefined) callback()
    else this.waiters.push(callback)
  }

  /** Writes everything still pending now, waiting out a full pipe (at exit). */
  flushSync(): void {
    for (let attempt = 0; attempt < 1000; attempt++) {
      this.drain()
      if (this.blocked === undefined) return
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1)
    }
  }

  private readonly drain = (): void => {
    this.scheduled = false
    if (this.retry !== undefined) {
      clearTimeout(this.retry)
      this.retry = undefined
    }
    let data = this.blocked
    if (this.pending.length > 0) {
      const text = this.pending.length === 1 ? this.pending[0]! : this.pending.join("")
      this.pending = []
      data = data === undefined ? Buffer.from(text) : Buffer.concat([data, Buffer.from(text)])
    }
    this.blocked = undefined
    if (data === undefined) return
    let offset = 0
    try {
      while (offset < data.length) offset += writeSync(this.fd, data, offset, data.length - offset)
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "EAGAIN") {
        // A full pipe: keep the rest and try again shortly.
        this.blocked = data.subarray(offset)
        this.retry = setTimeout(this.drain, 10)
        return
      }
      this.settle(error as Error)
      return
    }
    this.settle()
  }

  private settle(error?: Error): void {
    if (this.waiters.length === 0) return
    const waiters = this.waiters
    this.waiters = []
    for (const waiter of waiters) waiter(error)
  }
}

let stdout: BatchedWriter | undefined
/** The process's one batched standard output (created on first use; flushed at exit). */
export const batchedStdout = (): BatchedWriter => {
  if (stdout === undefined) {
    const writer = new BatchedWriter(1)
    process.once("exit", () => writer.flushSync())
    stdout = writer
  }
  return stdout
}

/** Options of `make`. */
export interface LoggerOptions {
  readonly level: string
  /** Where lines go; stdout (`batchedStdout()`) when omitted. */
  readonly destination?: DestinationStream | undefined
}

/** The destination of a logger made by `make` (its request lines are written there directly). */
const destinations = new WeakMap<Logger, DestinationStream>()

/** A JSON logger with the proxy's redaction rules. */
export const make = (options: LoggerOptions): Logger => {
  const destination = options.destination ?? batchedStdout()
  const logger = pino(
    {
      level: options.level,
      base: { service: "mta-server" },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: [...redactPaths], censor: "[redacted]" },
      formatters: { level: (label) => ({ level: label }) }
    },
    destination
  )
  destinations.set(logger, destination)
  return logger
}

/** Text that needs no escaping in a JSON string (request ids are made of these). */
const SAFE_ID = /^[A-Za-z0-9._:-]*$/

/** Writes the access line of one request (at `info`). */
export type RequestLine = (
  requestId: string,
  caller: string,
  method: string,
  route: string,
  status: number,
  durationMs: number
) => void

/**
 * The access line, one per request: `{"level":"info","time":…,"service":"mta-server","request_id":…,
 * "caller":…,"method":…,"route":…,"status":…,"duration_ms":…,"msg":"request"}`.
 *
 * For a logger from `make` the line is formatted here, exactly as pino formats it for that logger
 * (same fields, order and escaping), and written to the logger's destination; the timestamp text is
 * reused within a millisecond. pino's generic path (key loop, per-key stringifier and redaction
 * lookups, a new `Date` per line) was a visible share of a request under load, and none of these
 * fields can hold a secret. Any other logger gets `logger.info(...)`.
 */
export const requestLine = (logger: Logger): RequestLine => {
  const destination = destinations.get(logger)
  if (destination === undefined) {
    return (requestId, caller, method, route, status, durationMs) => {
      if (!logger.isLevelEnabled("info")) return
      logger.info(
        { request_id: requestId, caller, method, route, status, duration_ms: durationMs },
        "request"
      )
    }
  }
  let lastMs = -1
  let lastTime = ""
  // Callers, methods and routes are a few known names: each is quoted once.
  const quoted = new Map<string, string>()
  const quote = (text: string): string => {
    let q = quoted.get(text)
    if (q === undefined) {
      q = JSON.stringify(text)
      if (quoted.size < 1024) quoted.set(text, q)
    }
    return q
  }
  return (requestId, caller, method, route, status, durationMs) => {
    if (!logger.isLevelEnabled("info")) return
    const now = Date.now()
    if (now !== lastMs) {
      lastMs = now
      lastTime = new Date(now).toISOString()
    }
    const id = SAFE_ID.test(requestId) ? `"${requestId}"` : JSON.stringify(requestId)
    destination.write(
      `{"level":"info","time":"${lastTime}","service":"mta-server","request_id":${id},"caller":${quote(caller)},"method":${quote(method)},"route":${quote(route)},"status":${status},"duration_ms":${durationMs},"msg":"request"}\n`
    )
  }
}
