/**
 * Where secrets may hide, in one place: the key names the logger redacts (pino needs explicit
 * paths), the rule the audit log redacts any body key by, and the settings whose values are secret
 * (`Config.secretSettings`, which never repeats them in an error).
 */

/**
 * Key names a secret goes under in what the proxy handles: credentials, tokens, signing headers. The
 * logger redacts each at the top level and under the objects it logs.
 */
export const secretKeys: ReadonlyArray<string> = [
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
  "x-scx-api-key",
  "x-scx-passphrase",
  "x-scx-signed",
  "x-scx-timestamp",
  "X-SCX-API-KEY",
  "X-SCX-PASSPHRASE",
  "X-SCX-SIGNED",
  "x-zh-hook-signature",
  "x-zh-hook-signature-256"
]

/**
 * Any key that looks like a secret's (any case, any spelling): every name of `secretKeys` matches it,
 * and so do `client_secret`, `X-Api-Key`, `cookie`, `credentials`…
 */
export const SECRET_KEY =
  /secret|token|passw|passphrase|authorization|api[-_]?key|signature|signed|credential|cookie|x-scx-/i

/** Whether a key names a secret. */
export const isSecretKey = (key: string): boolean => SECRET_KEY.test(key)

/** The settings whose values are secrets: never repeated in an error, kept `Redacted` in `Config`. */
export const secretSettings: ReadonlySet<string> = new Set([
  "ZH_API_SECRET",
  "ZH_API_PASSPHRASE",
  "ZH_WEBHOOK_SECRET",
  "DATABASE_URL",
  "MTA_DEV_TOKEN"
])
