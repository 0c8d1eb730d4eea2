/**
 * Onboarding end to end (issue 14): the proxy started as a process on a real port in front of a
 * standalone simulator that delivers its webhooks to it, driven by `@mta/client` in bearer mode, the
 * way a platform's onboarding code and trading screens would use it.
 *
 * Create a custodian and a minor, wait for both to be approved with the proxy's long poll (the
 * simulator's KYC runs in the background and its `participant_status_changed` webhooks feed the
 * participant projection), open a UTMA account for them, then ask `GET /accounts/{zrn}/access`: the
 * minor may view but not trade, the custodian may withdraw; lock the account: nobody may buy; unlock
 * it and lock the custodian participant at its own request (`user_request`): it may sell and withdraw
 * but not buy.
 */

import { join } from "node:path"
import { pathToFileURL } from "node:url"
import { type AccessAnswer, type Client, createClient, verifyWebhook } from "@mta/client"
import type { Enums } from "@mta/domain"
import { Callers } from "@mta/server"
import { type Server as SimServer, type Simulator, startSimulatorServer } from "@mta/testkit"
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest"
import { freePort, type ProxyProcess, repoDir, startProxyProcess, upstreamEnv } from "./support.js"

const TOKEN = "onboarding-token"
const WEBHOOK_SECRET = "onboarding-webhook-secret"
const callers = JSON.stringify([
  { name: "onboarding", token_sha256: Callers.hashToken(TOKEN), scopes: Callers.allScopes }
])

const run = Math.random().toString(36).slice(2, 8)
const now = Date.now()
const year = new Date(now).getUTCFullYear()

const custodianBody = {
  first_name: "Ada",
  last_name: "Lovelace",
  email: `ada-${run}@example.com`,
  address_one: "1 Main St",
  city: "Chicago",
  zip: "60601",
  jurisdiction_code: "US-IL",
  date_of_birth: `${year - 40}-04-21`,
  sanction_screening: "pass" as const,
  sanction_screening_timestamp: now - 60_000
}

const minorBody = (custodian: string) => ({
  first_name: "Tim",
  last_name: "Lovelace",
  email: `tim-${run}@example.com`,
  address_one: "1 Main St",
  city: "Chicago",
  jurisdiction_code: "US-IL",
  date_of_birth: `${year - 10}-01-15`,
  custodian_participant_code: custodian,
  custodian_relationship: "parent" as const,
  utma_signed_timestamp: now - 60_000
})

/** `participant action` → allowed, for every decision of an answer. */
const table = (answer: AccessAnswer): Record<string, boolean> =>
  Object.fromEntries(answer.decisions.map((d) => [`${d.participant} ${d.action}`, d.allowed]))

/** The rules that denied `action` to `participant`. */
const rulesOf = (answer: AccessAnswer, participant: string, action: Enums.Action) =>
  answer.decisions
    .find((d) => d.participant === participant && d.action === action)
    ?.reasons.map((r) => r.rule)

describe("onboarding through the proxy (process, real port), driven by @mta/client in bearer mode", () => {
  let sim: SimServer.SimulatorServer
  let proxy: ProxyProcess
  let client: Client
  /** Every request the client sent, as `METHOD path?query`. */
  const sent: Array<string> = []
  /** Every webhook the simulator sent, as received (beside the proxy's copy). */
  const heard: Array<Simulator.WebhookEvent> = []

  beforeAll(async () => {
    const port = await freePort()
    // KYC and provisioning run in the background on the simulator's (real) clock, so the long polls
    // below really wait for the webhooks.
    sim = await startSimulatorServer({
      seedDemo: true,
      asyncDelayMs: 300,
      webhook: { url: `http://127.0.0.1:${port}/webhooks/zerohash`, secret: WEBHOOK_SECRET }
    })
    sim.simulator.onWebhook((e) => {
      heard.push(e)
    })
    proxy = await startProxyProcess(
      { ...upstreamEnv(sim), ZH_WEBHOOK_SECRET: WEBHOOK_SECRET, MTA_CALLERS: callers, LOG_LEVEL: "warn" },
      port
    )
    client = createClient({ baseUrl: proxy.url, credentials: { bearerToken: TOKEN } })
    client.on("request", (e) => {
      const url = new URL(e.url)
      sent.push(`${e.method} ${url.pathname}${url.search}`)
    })
  }, 60_000)

  afterAll(async () => {
    await proxy?.stop()
    await sim?.close()
  })

  it("custodian and minor approved (long poll), a UTMA account, and what each may do as statuses change", async () => {
    // 1. The custodian: submitted, then approved by KYC in the background.
    const custodianCreated = await client.createParticipant(custodianBody)
    const custodian = custodianCreated.message.participant_code
    expect(custodianCreated.message.status).toBe("submitted")
    const custodianApproved = await client.waitForParticipantStatus(custodian, "approved", {
      timeoutMs: 15_000
    })
    expect(custodianApproved.participant).toMatchObject({ participant_code: custodian, status: "approved" })

    // 2. The minor, linked to the approved custodian.
    const minorCreated = await client.createMinor(minorBody(custodian))
    const minor = minorCreated.message.participant_code
    expect(minor).not.toBe(custodian)
    await client.waitForParticipantStatus(minor, "approved", { timeoutMs: 15_000 })

    // Both waits were the proxy's long poll on its participant projection, never the list.
    const polls = sent.filter((s) => s.startsWith("GET /participants"))
    expect(polls.length).toBeGreaterThanOrEqual(2)
    for (const p of polls)
      expect(p).toMatch(/^GET \/participants\/[A-Z0-9]{6}\/status\?wait_for=approved&timeout_ms=\d+$/)
    expect(polls.some((p) => p.startsWith(`GET /participants/${custodian}/status`))).toBe(true)
    expect(polls.some((p) => p.startsWith(`GET /participants/${minor}/status`))).toBe(true)
    // The projection holds them: the status route answers at once.
    const status = await fetch(`${proxy.url}/participants/${minor}/status`, {
      headers: { authorization: `Bearer ${TOKEN}` }
    })
    expect(await status.json()).toMatchObject({
      participant_code: minor,
      status: "approved",
      timed_out: false
    })

    // 3. The UTMA account: the minor primary (beneficiary), the custodian its one tenant.
    const account = await client.createAccount({
      participant_code: minor,
      account_label: `utma-${run}`,
      type: "utma",
      tier: "pro",
      prefunded: false,
      tenants: [custodian]
    })
    await client.waitForStatus(account.zrn, "open", { timeoutMs: 15_000 })

    // 4. Open account, both approved: the minor may view only; the custodian may do everything.
    const open = await client.access(account.zrn)
    expect(open.as_of.account_status).toBe("open")
    expect(table(open)).toEqual({
      [`${minor} view`]: true,
      [`${minor} buy`]: false,
      [`${minor} sell`]: false,
      [`${minor} deposit`]: false,
      [`${minor} withdraw`]: false,
      [`${custodian} view`]: true,
      [`${custodian} buy`]: true,
      [`${custodian} sell`]: true,
      [`${custodian} deposit`]: true,
      [`${custodian} withdraw`]: true
    })
    const minorDecision = open.decisions.find((d) => d.participant === minor && d.action === "buy")
    expect(minorDecision).toMatchObject({
      role: "primary",
      authorization: "view_only",
      participant_status: "approved"
    })
    expect(rulesOf(open, minor, "buy")).toEqual(["Authorization"])
    expect(open.decisions.find((d) => d.participant === custodian)).toMatchObject({
      role: "secondary",
      authorization: "full_trading"
    })
    const withdraw = await client.access(account.zrn, { participant: custodian, action: "withdraw" })
    expect(withdraw.decisions).toEqual([
      expect.objectContaining({ participant: custodian, action: "withdraw", allowed: true, reasons: [] })
    ])

    // 5. Lock the account: nobody may buy.
    await client.lock(account.zrn)
    await client.waitForStatus(account.zrn, "locked", { timeoutMs: 15_000 })
    const locked = await client.access(account.zrn, { action: "buy" })
    expect(locked.as_of.account_status).toBe("locked")
    expect(locked.decisions.map((d) => [d.participant, d.allowed])).toEqual([
      [minor, false],
      [custodian, false]
    ])
    expect(rulesOf(locked, custodian, "buy")).toEqual(["AccountStatus"])
    expect(rulesOf(locked, minor, "buy")).toEqual(["Authorization", "AccountStatus"])

    // 6. Unlock it, and lock the custodian participant at its own request: closing only.
    await client.unlock(account.zrn)
    await client.waitForStatus(account.zrn, "open", { timeoutMs: 15_000 })
    expect(
      await client.lockParticipant(custodian, {
        reason_code: "user_request",
        notes: "moving to another broker"
      })
    ).toBe("OK")
    const lockedCustodian = await client.waitForParticipantStatus(custodian, "locked", { timeoutMs: 15_000 })
    expect(lockedCustodian.participant.reason_code).toBe("user_request")
    const closing = await client.access(account.zrn, { participant: custodian })
    expect(closing.as_of.account_status).toBe("open")
    expect(table(closing)).toEqual({
      [`${custodian} view`]: true,
      [`${custodian} buy`]: false,
      [`${custodian} sell`]: true,
      [`${custodian} deposit`]: false,
      [`${custodian} withdraw`]: true
    })
    expect(closing.decisions[0]).toMatchObject({ participant_status: "locked", reason_code: "user_request" })
    expect(rulesOf(closing, custodian, "buy")).toEqual(["ParticipantStatus"])

    // Someone who is not a member: one decision, denied by Membership (200, not 404).
    const stranger = await client.access(account.zrn, { participant: "CUST09", action: "view" })
    expect(stranger.decisions).toEqual([
      expect.objectContaining({ participant: "CUST09", role: null, allowed: false })
    ])
    expect(rulesOf(stranger, "CUST09", "view")).toEqual(["Membership"])

    // Every participant webhook went to the proxy, was taken, and passes the client's verifyWebhook.
    const hooks = sim.simulator.webhooks().filter((w) => w.payloadType === "participant_status_changed")
    expect(hooks.map((h) => `${h.zrn} ${h.status}`)).toEqual([
      `${custodian} submitted`,
      `${custodian} approved`,
      `${minor} submitted`,
      `${minor} approved`,
      `${custodian} locked`
    ])
    for (const h of hooks) expect(h.outcome).toBe("delivered")
    const received = heard.filter((e) => e.headers["x-zh-hook-payload-type"] === "participant_status_changed")
    expect(received).toHaveLength(hooks.length)
    for (const e of received) {
      const event = verifyWebhook({ secret: WEBHOOK_SECRET, headers: e.headers, rawBody: e.rawBody })
      expect(event.type).toBe("participant_status_changed")
    }
  }, 120_000)

  it("the client README's onboarding example runs as written against this proxy", async () => {
    const lines: Array<string> = []
    vi.spyOn(console, "log").mockImplementation((...args: Array<unknown>) => {
      lines.push(args.map(String).join(" "))
    })
    vi.stubEnv("MTA_PROXY_URL", proxy.url)
    vi.stubEnv("MTA_TOKEN", TOKEN)
    try {
      await import(pathToFileURL(join(repoDir, "packages/client/examples/onboarding.ts")).href)
    } finally {
      vi.restoreAllMocks()
      vi.unstubAllEnvs()
    }
    expect(lines).toEqual([
      "approved both",
      "minor primary view_only may not buy (Authorization)",
      "custodian secondary full_trading may buy"
    ])
  }, 60_000)
})
