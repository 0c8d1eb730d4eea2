/** Configuration from the environment: the embedded default, a real upstream, and every problem named. */
import { mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Callers, Config } from "@mta/server"
import { Redacted } from "effect"
import { describe, expect, it } from "vitest"
import { ok, problems, remote } from "./support/config.js"

describe("Config.load", () => {
  it("defaults to the embedded simulator on port 8080 with the dev caller holding every scope", () => {
    const c = ok({})
    expect(c.port).toBe(8080)
    expect(c.upstream).toEqual({ mode: "embedded", simDelayMs: 300 })
    expect(c.callers).toHaveLength(1)
    expect(c.callers[0]).toMatchObject({ name: "dev", token_sha256: Callers.hashToken("dev-token") })
    expect([...c.callers[0]!.scopes].sort()).toEqual([...Callers.allScopes].sort())
    // Secrets stay Redacted in the configuration; the value is the default token.
    expect(c.devToken?.isDefault).toBe(true)
    expect(Redacted.value(c.devToken!.token)).toBe("dev-token")
    expect(c.egressLimit).toEqual({ requests: 2000, window_ms: 10_000 })
    expect(c.callerLimit).toBeUndefined()
  })

  it("takes MTA_DEV_TOKEN, PORT, MTA_SIM_DELAY_MS, ZH_RATE_LIMIT=0 and a caller budget", () => {
    const c = ok({
      MTA_DEV_TOKEN: "other",
      PORT: "0",
      MTA_SIM_DELAY_MS: "50",
      ZH_RATE_LIMIT: "0",
      MTA_CALLER_RATE_LIMIT: "5"
    })
    expect(c.callers[0]!.token_sha256).toBe(Callers.hashToken("other"))
    expect(c.devToken?.isDefault).toBe(false)
    expect(c.port).toBe(0)
    expect(c.upstream).toEqual({ mode: "embedded", simDelayMs: 50 })
    expect(c.egressLimit).toBeUndefined()
    expect(c.callerLimit).toEqual({ requests: 5, window_ms: 1000 })
  })

  it("with a real upstream: no default caller, no simulator, every missing setting named at once", () => {
    const e = problems({ ZH_ENV: "cert" })
    const named = e.problems.map((p) => p.setting).sort()
    expect(named).toEqual([
      "MTA_CALLERS",
      "ZH_API_KEY",
      "ZH_API_PASSPHRASE",
      "ZH_API_SECRET",
      "ZH_REGION",
      "ZH_WEBHOOK_SECRET"
    ])
    expect(e.message).toContain("MTA_CALLERS: is required with a real upstream")
  })

  it("resolves ZH_ENV + ZH_REGION to the vendor's host and its geo", () => {
    const { ZH_BASE_URL: _, ...rest } = remote
    const c = ok({ ...rest, ZH_ENV: "prod", ZH_REGION: "eu" })
    expect(c.upstream).toMatchObject({ mode: "remote", baseUrl: "https://api.zerohash.eu" })
    expect(c.geo).toBe("eu")
    expect(c.devToken).toBeUndefined()
    const upstream = ok(remote).upstream
    expect(upstream).toMatchObject({ mode: "remote", baseUrl: "http://127.0.0.1:4010" })
    expect(upstream.mode === "remote" && Redacted.value(upstream.webhookSecret)).toBe("whsec")
  })

  it("names each malformed setting without echoing a secret", () => {
    const e = problems({
      ...remote,
      PORT: "eighty",
      ZH_BASE_URL: "ftp://x",
      ZH_API_SECRET: "not base64!!",
      ZH_RATE_LIMIT: "-1",
      LOG_LEVEL: "loud",
      MTA_CALLERS: '[{"name":"x","token_sha256":"abc","scopes":["accounts:admin"]}]'
    })
    expect(e.problems.map((p) => p.setting).sort()).toEqual(
      ["LOG_LEVEL", "MTA_CALLERS", "PORT", "ZH_API_SECRET", "ZH_BASE_URL", "ZH_RATE_LIMIT"].sort()
    )
    expect(e.message).not.toContain("not base64!!")
    expect(e.message).toMatch(/token_sha256/)
    expect(e.message).toMatch(/scope "accounts:admin" is unknown; expected one of accounts:read, /)
  })

  it("reads MTA_CALLERS from a file with @path, and refuses duplicates", () => {
    const dir = mkdtempSync(join(tmpdir(), "mta-callers-"))
    const file = join(dir, "callers.json")
    writeFileSync(file, remote.MTA_CALLERS)
    expect(ok({ ...remote, MTA_CALLERS: `@${file}` }).callers[0]?.name).toBe("ops")
    expect(problems({ ...remote, MTA_CALLERS: `@${join(dir, "missing.json")}` }).message).toMatch(/ENOENT/)
    const twice = JSON.stringify([
      { name: "a", token_sha256: Callers.hashToken("t"), scopes: [] },
      { name: "a", token_sha256: Callers.hashToken("u"), scopes: [] }
    ])
    expect(problems({ ...remote, MTA_CALLERS: twice }).message).toMatch(/appears twice/)
  })

  it("refuses credentials with no upstream to send them to", () => {
    expect(problems({ ZH_API_KEY: "k" }).problems).toEqual([
      { setting: "ZH_API_KEY", message: "is set but neither ZH_BASE_URL nor ZH_ENV says where to send it" }
    ])
  })

  it("bounds how long a create may stay pending: defaults within 2 minutes, every setting checked", () => {
    const c = ok({})
    expect(c.idempotencyPendingMaxMs).toBe(90_000)
    expect(c.idempotencyResendAfterMs).toBe(10_000)
    expect(c.idempotencyResolveIntervalMs).toBe(5_000)
    // The bound of production.md §5 on the defaults: the first resolver pass after the pending limit
    // answers, and its answer may wait for one upstream call.
    const upstreamDeadline = Config.defaults.upstreamTimeoutMs
    expect(c.idempotencyPendingMaxMs + c.idempotencyResolveIntervalMs + upstreamDeadline).toBeLessThanOrEqual(
      120_000
    )
    expect(
      ok({
        MTA_IDEMPOTENCY_PENDING_MAX_MS: "20000",
        MTA_IDEMPOTENCY_RESEND_AFTER_MS: "200",
        MTA_IDEMPOTENCY_RESOLVE_INTERVAL_MS: "100"
      })
    ).toMatchObject({
      idempotencyPendingMaxMs: 20_000,
      idempotencyResendAfterMs: 200,
      idempotencyResolveIntervalMs: 100
    })
    const bad = problems({
      MTA_IDEMPOTENCY_PENDING_MAX_MS: "0",
      MTA_IDEMPOTENCY_RESEND_AFTER_MS: "x",
      MTA_IDEMPOTENCY_RESOLVE_INTERVAL_MS: "-1"
    })
    expect(bad.problems.map((p) => p.setting).sort()).toEqual([
      "MTA_IDEMPOTENCY_PENDING_MAX_MS",
      "MTA_IDEMPOTENCY_RESEND_AFTER_MS",
      "MTA_IDEMPOTENCY_RESOLVE_INTERVAL_MS"
    ])
    // Settings that together pass 2 minutes are refused, with the sum and the bound.
    const long = problems({ ...remote, ZH_TIMEOUT_MS: "30000", MTA_IDEMPOTENCY_PENDING_MAX_MS: "100000" })
    expect(long.problems).toEqual([
      {
        setting: "MTA_IDEMPOTENCY_PENDING_MAX_MS",
        message: expect.stringMatching(/is 135000 ms; expected at most 120000/)
      }
    ])
  })

  it("reads the reconciliation settings, each with its default, and names each that cannot work", () => {
    const reconcile = (c: Config.Config) => ({
      projectionTrustMs: c.projectionTrustMs,
      reconcileMaxAgeMs: c.reconcileMaxAgeMs,
      reconcileProvisioningMs: c.reconcileProvisioningMs,
      reconcileShare: c.reconcileShare,
      reconcileCatchUpShare: c.reconcileCatchUpShare,
      reconcileIntervalMs: c.reconcileIntervalMs,
      reconcileDowntimeMs: c.reconcileDowntimeMs
    })
    expect(reconcile(ok({}))).toEqual({
      projectionTrustMs: 60_000,
      reconcileMaxAgeMs: 900_000,
      reconcileProvisioningMs: 30_000,
      reconcileShare: 0.1,
      reconcileCatchUpShare: 0.5,
      reconcileIntervalMs: 1_000,
      reconcileDowntimeMs: 5_000
    })
    expect(
      reconcile(
        ok({
          MTA_PROJECTION_TRUST_MS: "0",
          MTA_RECONCILE_MAX_AGE_MS: "60000",
          MTA_RECONCILE_PROVISIONING_MS: "5000",
          MTA_RECONCILE_SHARE: "0",
          MTA_RECONCILE_INTERVAL_MS: "250",
          MTA_RECONCILE_DOWNTIME_MS: "2000"
        })
      )
    ).toEqual({
      projectionTrustMs: 0,
      reconcileMaxAgeMs: 60_000,
      reconcileProvisioningMs: 5_000,
      reconcileShare: 0,
      reconcileCatchUpShare: 0.5,
      reconcileIntervalMs: 250,
      reconcileDowntimeMs: 2_000
    })
    // A sweep share above the default catch-up share raises the catch-up's with it.
    expect(ok({ MTA_RECONCILE_SHARE: "0.8" }).reconcileCatchUpShare).toBe(0.8)
    const e = problems({
      MTA_PROJECTION_TRUST_MS: "-1",
      MTA_RECONCILE_MAX_AGE_MS: "10",
      MTA_RECONCILE_PROVISIONING_MS: "soon",
      MTA_RECONCILE_SHARE: "1.5",
      MTA_RECONCILE_INTERVAL_MS: "10",
      MTA_RECONCILE_DOWNTIME_MS: "100"
    })
    expect(e.problems.map((p) => p.setting).sort()).toEqual([
      "MTA_PROJECTION_TRUST_MS",
      "MTA_RECONCILE_DOWNTIME_MS",
      "MTA_RECONCILE_INTERVAL_MS",
      "MTA_RECONCILE_MAX_AGE_MS",
      "MTA_RECONCILE_PROVISIONING_MS",
      "MTA_RECONCILE_SHARE"
    ])
    expect(problems({ MTA_RECONCILE_SHARE: "0.2", MTA_RECONCILE_CATCH_UP_SHARE: "0.1" }).problems).toEqual([
      {
        setting: "MTA_RECONCILE_CATCH_UP_SHARE",
        message:
          "is 0.1, below MTA_RECONCILE_SHARE (0.2): the catch-up after a downtime must not be slower than the background sweep"
      }
    ])
    expect(problems({ MTA_RECONCILE_CATCH_UP_SHARE: "0" }).problems.map((p) => p.setting)).toEqual([
      "MTA_RECONCILE_CATCH_UP_SHARE"
    ])
  })

  it("redacts secrets for logging", () => {
    const text = JSON.stringify(Config.redacted(ok(remote)))
    expect(text).not.toContain("c2VjcmV0LXNlY3JldA==")
    expect(text).not.toContain("whsec")
    expect(text).not.toContain('pass"')
    expect(text).not.toContain(Callers.hashToken("t"))
  })
})

describe("Callers", () => {
  it("authenticates by the token's SHA-256 and caches the lookup", () => {
    const auth = Callers.makeAuthenticator([
      { name: "a", token_sha256: Callers.hashToken("secret-a").toUpperCase(), scopes: ["accounts:read"] }
    ])
    expect(auth.authenticate("secret-a")?.name).toBe("a")
    expect(auth.authenticate("secret-a")?.scopes.has("accounts:read")).toBe(true)
    expect(auth.authenticate("secret-b")).toBeUndefined()
    expect(Callers.hashToken("dev-token")).toMatch(/^[0-9a-f]{64}$/)
  })
})
