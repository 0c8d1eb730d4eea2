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
import { type DestinationStream, type Logger, pino } from "pino"

import { secretKeys } from "./internal/secrets.js"

export type { Logger } from "pino"

/**
 * Paths pino redacts: each secret key at the top level and under the objects the proxy logs
 * (`headers`, `config`, `err`). Explicit paths, not wildcards: wildcard redaction walks every logged
 * object and cost more than the rest of a request's log line.
 */
export const redactPaths: ReadonlyArray<string> = secretKeys
  .map((key) => (key.includes("-") ? `"${key}"` : key))
  .flatMap((key) => {
    const nested = key.startsWith('"') ? `[${key}]` : `.${key}`
    const top = key.startsWith('"') ? `[${key}]` : key
    return [
      top,
      ...["headers", "config", "config.upstream", "config.upstream.credentials", "err"].map(
        (o) => `${o}${nested}`
      )
    ]
  })
  .filter((path) => !path.startsWith("["))

/**
 * Where the proxy writes log lines: pino's own destination (sonic-boom) on a file descriptor, in its
 * asynchronous mode: lines written while a write is under way go out together in the next one, and
 * pino flushes what is left at exit. Not the synchronous mode: on a non-blocking pipe that is full
 * (a slow log reader) it sleeps 100 ms with the event loop held, measured in `bench/fanout.ts` (7% of
 * the proxy's CPU profile during a storm of 2,000 answers); the asynchronous mode retries on a timer.
 */
export const destination = (fd: number): ReturnType<typeof pino.destination> =>
  pino.destination({ dest: fd, sync: false })

let stdout: DestinationStream | undefined
/** The process's standard output for log lines (`destination(1)`, created on first use). */
export const standardOutput = (): DestinationStream => {
  stdout ??= destination(1)
  return stdout
}

/** Options of `make`. */
export interface LoggerOptions {
  readonly level: string
  /** Where lines go; stdout (`standardOutput()`) when omitted. */
  readonly destination?: DestinationStream | undefined
}

/** The destination of a logger made by `make` (its request lines are written there directly). */
const destinations = new WeakMap<Logger, DestinationStream>()

/** A JSON logger with the proxy's redaction rules. */
export const make = (options: LoggerOptions): Logger => {
  const destination = options.destination ?? standardOutput()
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

/** The trace and span of a request (W3C hex ids), when it has them. */
export interface TraceIds {
  readonly traceId: string
  readonly spanId: string
}

/** Writes the access line of one request (at `info`). */
export type RequestLine = (
  requestId: string,
  caller: string,
  method: string,
  route: string,
  status: number,
  durationMs: number,
  trace?: TraceIds | undefined
) => void

/**
 * The access line, one per request: `{"level":"info","time":…,"service":"mta-server","request_id":…,
 * "caller":…,"method":…,"route":…,"status":…,"duration_ms":…,"trace_id":…,"span_id":…,"msg":"request"}`;
 * `trace_id` and `span_id` (the request's span: README, "Observability / Tracing") only when the
 * request has a trace.
 *
 * For a logger from `make` the line is formatted here, exactly as pino formats it for that logger
 * (same fields, order and escaping), and written to the logger's destination; the timestamp text is
 * reused within a millisecond. Kept by hand, measured (`bench/MICRO-RESULTS.md`): `logger.info` (key
 * loop, redaction paths, a `Date` per line) costs about 7.6 µs of CPU a line against 4.3 µs, on every
 * request; none of these fields can hold a secret. Any other logger gets `logger.info(...)`.
 */
export const requestLine = (logger: Logger): RequestLine => {
  const destination = destinations.get(logger)
  if (destination === undefined) {
    return (requestId, caller, method, route, status, durationMs, trace) => {
      if (!logger.isLevelEnabled("info")) return
      const line: Record<string, unknown> = {
        request_id: requestId,
        caller,
        method,
        route,
        status,
        duration_ms: durationMs
      }
      if (trace !== undefined) {
        line.trace_id = trace.traceId
        line.span_id = trace.spanId
      }
      logger.info(line, "request")
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
  return (requestId, caller, method, route, status, durationMs, trace) => {
    if (!logger.isLevelEnabled("info")) return
    const now = Date.now()
    if (now !== lastMs) {
      lastMs = now
      lastTime = new Date(now).toISOString()
    }
    const id = SAFE_ID.test(requestId) ? `"${requestId}"` : JSON.stringify(requestId)
    // Trace and span ids are lower-case hex (a valid span context's): no escaping.
    const ids = trace === undefined ? "" : `,"trace_id":"${trace.traceId}","span_id":"${trace.spanId}"`
    destination.write(
      `{"level":"info","time":"${lastTime}","service":"mta-server","request_id":${id},"caller":${quote(caller)},"method":${quote(method)},"route":${quote(route)},"status":${status},"duration_ms":${durationMs}${ids},"msg":"request"}\n`
    )
  }
}
