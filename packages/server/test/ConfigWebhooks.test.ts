/**
 * The settings of webhook authenticity and bounded state: `ZH_WEBHOOK_SECRET` as a comma-separated
 * list (rotation), `ZH_WEBHOOK_ACCEPT_LEGACY` (off by default), `MTA_RETENTION_DAYS` (30 by default),
 * each validated at startup with the others' problems, never echoing a secret.
 */
import { Redacted } from "effect"
import { describe, expect, it } from "vitest"
import { ok, problems, remote } from "./support/config.js"

describe("webhook and retention settings", () => {
  it("defaults: legacy signatures refused, 30 days of retention", () => {
    expect(ok({}).webhookAcceptLegacy).toBe(false)
    expect(ok({}).retentionMs).toBe(30 * 86_400_000)
    expect(ok(remote).webhookAcceptLegacy).toBe(false)
  })

  it("takes several webhook secrets separated by commas, each trimmed", () => {
    const c = ok({ ...remote, ZH_WEBHOOK_SECRET: " whsec-old , whsec-new " })
    const secrets = c.upstream.mode === "remote" ? c.upstream.webhookSecrets.map(Redacted.value) : []
    expect(secrets).toEqual(["whsec-old", "whsec-new"])
    const one = ok(remote)
    expect(one.upstream.mode === "remote" && one.upstream.webhookSecrets.map(Redacted.value)).toEqual([
      "whsec"
    ])
  })

  it("refuses an empty entry in ZH_WEBHOOK_SECRET without echoing the secrets", () => {
    for (const value of ["whsec-old,,whsec-new", "whsec-old,", ",whsec-new"]) {
      const e = problems({ ...remote, ZH_WEBHOOK_SECRET: value })
      expect(e.problems.map((p) => p.setting)).toEqual(["ZH_WEBHOOK_SECRET"])
      expect(e.message).toMatch(/empty entry/)
      expect(e.message).not.toContain("whsec-old")
      expect(e.message).not.toContain("whsec-new")
    }
  })

  it("reads ZH_WEBHOOK_ACCEPT_LEGACY and MTA_RETENTION_DAYS, and names every malformed one at once", () => {
    const c = ok({ ...remote, ZH_WEBHOOK_ACCEPT_LEGACY: "true", MTA_RETENTION_DAYS: "7" })
    expect(c.webhookAcceptLegacy).toBe(true)
    expect(c.retentionMs).toBe(7 * 86_400_000)
    expect(ok({ ZH_WEBHOOK_ACCEPT_LEGACY: "false" }).webhookAcceptLegacy).toBe(false)
    const e = problems({ ZH_WEBHOOK_ACCEPT_LEGACY: "yes", MTA_RETENTION_DAYS: "0", PORT: "x" })
    expect(e.problems.map((p) => p.setting).sort()).toEqual([
      "MTA_RETENTION_DAYS",
      "PORT",
      "ZH_WEBHOOK_ACCEPT_LEGACY"
    ])
    expect(e.message).toMatch(/ZH_WEBHOOK_ACCEPT_LEGACY: expected true or false/)
    expect(e.message).toMatch(/MTA_RETENTION_DAYS: expected an integer from 1 to 3650/)
    expect(problems({ MTA_RETENTION_DAYS: "1.5" }).message).toMatch(/MTA_RETENTION_DAYS: expected an integer/)
  })
})
