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

/** Options of `make`. */
export interface LoggerOptions {
  readonly level: string
  /** Where lines go; stdout when omitted. */
  readonly destination?: DestinationStream | undefined
}

/** A JSON logger with the proxy's redaction rules. */
export const make = (options: LoggerOptions): Logger =>
  pino(
    {
      level: options.level,
      base: { service: "mta-server" },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: [...redactPaths], censor: "[redacted]" },
      formatters: { level: (label) => ({ level: label }) }
    },
    options.destination ?? pino.destination({ dest: 1, sync: false })
  )
