/**
 * Request bodies written once for the testkit's tests and the server's (which import this file by
 * relative path, `../../testkit/test/support/bodies.js`: a testkit test cannot import the server's
 * tests, the other way round is plain TypeScript). Nothing here depends on either package's source.
 */

/** A valid create (a joint JTIC account of CUST01 with tenant CUST02) under `label`, `fields` added or replaced. */
export const createBody = (label: string, fields: Record<string, unknown> = {}) => ({
  participant_code: "CUST01",
  account_label: label,
  type: "jtic",
  tier: "pro",
  prefunded: false,
  tenants: ["CUST02"],
  ...fields
})

/** A create as raw JSON text, `account_label` written as given (so it may hold `\ud800`), `extra` appended. */
export const rawCreate = (labelJson: string, extra = "") =>
  `{"participant_code":"CUST01","account_label":"${labelJson}","type":"jtic","tier":"pro","prefunded":false,"tenants":["CUST02"]${extra}}`

/** `depth` nested arrays around `0`: `[[[0]]]` is 3 deep. */
export const nestedArrays = (depth: number) => `${"[".repeat(depth)}0${"]".repeat(depth)}`

/** `n` distinct, well-formed participant codes: `C00000`, `C00001`, … */
export const codes = (n: number) => Array.from({ length: n }, (_, i) => `C${String(i).padStart(5, "0")}`)
