/**
 * `GET /accounts/{zrn}/access` (participants.md, "The proxy's access decision") as table tests through
 * the proxy, the simulator as its upstream: every account type × every role (primary, tenant, advisor)
 * × every action; every account status × action; every row of the participant status table (status ×
 * reason code × action). The expectations are derived from the domain's tables (`Composition`,
 * `Access`), and a few rows are written out by hand from domain-rules.md so the test can fail if the
 * tables and the rules drift apart. Statuses are fed by signed webhooks (the projection path) and by the
 * simulator (the upstream read path).
 */
import { Access, Composition, Enums } from "@mta/domain"
import { beforeAll, describe, expect, it } from "vitest"
import { type Harness, harness, signWebhook } from "./support.js"

interface Decision {
  readonly participant: string
  readonly role: string | null
  readonly authorization: string | null
  readonly participant_status: string | null
  readonly reason_code: string | null
  readonly action: string
  readonly allowed: boolean
  readonly reasons: ReadonlyArray<{ readonly rule: string; readonly message: string }>
}
interface AccessBody {
  readonly zrn: string
  readonly as_of: { readonly account_status: string | null; readonly updated_at: string | null }
  readonly decisions: ReadonlyArray<Decision>
}

const ACTIONS = Enums.Action.literals
const ADVISOR = "ADVSR1"

/** One account per type: its primary and its tenant (none for `individual`), and the advisor on each. */
const layouts: ReadonlyArray<{ type: Enums.AccountType; primary: string; tenants: ReadonlyArray<string> }> = [
  { type: "individual", primary: "CUST03", tenants: [] },
  { type: "jtic", primary: "CUST04", tenants: ["CUST05"] },
  { type: "jtwros", primary: "CUST06", tenants: ["CUST07"] },
  { type: "community_property", primary: "CUST08", tenants: ["CUST09"] },
  { type: "utma", primary: "MINOR1", tenants: ["CUSTD1"] },
  { type: "trust", primary: "TRUST1", tenants: ["TRSTE1"] },
  { type: "business", primary: "BUSNS1", tenants: ["CUST10"] }
]

const access = async (h: Harness, zrn: string, query = ""): Promise<{ status: number; body: AccessBody }> => {
  const r = await h.request(`/accounts/${zrn}/access${query}`)
  return { status: r.status, body: (await r.json()) as AccessBody }
}

const create = async (
  h: Harness,
  fields: { type: string; primary: string; tenants: ReadonlyArray<string>; advisors?: ReadonlyArray<string> }
): Promise<string> => {
  const r = await h.request("/accounts", {
    method: "POST",
    json: {
      participant_code: fields.primary,
      account_label: `access-${fields.type}-${crypto.randomUUID().slice(0, 8)}`,
      type: fields.type,
      tier: "pro",
      prefunded: false,
      ...(fields.tenants.length > 0 ? { tenants: fields.tenants } : {}),
      financial_advisors: fields.advisors ?? [ADVISOR]
    }
  })
  expect(r.status).toBe(202)
  return ((await r.json()) as { message: { zrn: string } }).message.zrn
}

let clock = 0
/** Posts a signed webhook of either kind to the proxy; each a millisecond after the one before. */
const post = async (h: Harness, type: "account" | "participant", payload: Record<string, unknown>) => {
  // After anything the simulator sent: ordered by timestamp, an older one would be stale.
  clock = Math.max(clock + 1, Date.now())
  const at = clock
  const body = JSON.stringify(type === "participant" ? { ...payload, timestamp: at } : payload)
  const r = await h.request("/webhooks/zerohash", {
    method: "POST",
    token: null,
    body,
    headers: signWebhook(body, {
      timestamp: type === "account" ? at : Date.now(),
      payloadType: type === "account" ? "customer_account_status_changed" : "participant_status_changed"
    })
  })
  expect(r.status).toBe(200)
  return (await r.json()) as { outcome: string }
}

/** The authorization the domain's composition table gives a role on a type. */
const authorizationOf = (type: Enums.AccountType, role: "primary" | "secondary" | "advisor") =>
  role === "advisor"
    ? Composition.advisorAuthorization
    : role === "primary"
      ? Composition.compositionTable[type].primaryDefault
      : Composition.compositionTable[type].secondaryDefault

describe("GET /accounts/{zrn}/access", () => {
  let h: Harness
  const zrns = new Map<string, string>()
  beforeAll(async () => {
    h = harness()
    for (const layout of layouts) zrns.set(layout.type, await create(h, layout))
    // Provisioned: the simulator's `open` webhooks reach the proxy (and carry each account's record).
    await h.simulator.settle()
  })

  it("covers every account type of the domain", () => {
    expect(layouts.map((l) => l.type).sort()).toEqual([...Enums.AccountType.literals].sort())
  })

  it("every account type × role × action, as the composition and authorization tables say", async () => {
    for (const layout of layouts) {
      const zrn = zrns.get(layout.type)!
      const { status, body } = await access(h, zrn)
      expect(status).toBe(200)
      expect(body.zrn).toBe(zrn)
      expect(body.as_of.account_status).toBe("open")
      const members: ReadonlyArray<[string, "primary" | "secondary" | "advisor"]> = [
        [layout.primary, "primary"],
        ...layout.tenants.map((t): [string, "secondary"] => [t, "secondary"]),
        [ADVISOR, "advisor"]
      ]
      const expected = members.flatMap(([code, role]) =>
        ACTIONS.map((action) => {
          const authorization = authorizationOf(layout.type, role)
          const allowed = authorization !== null && Composition.authorizationTable[authorization][action]
          return {
            participant: code,
            role,
            authorization,
            participant_status: "approved",
            reason_code: null,
            action,
            allowed,
            reasons: allowed ? [] : [expect.objectContaining({ rule: "Authorization" })]
          }
        })
      )
      expect(body.decisions).toEqual(expected)
    }
  })

  it("rows written by hand from domain-rules.md §3 and the participants seed", async () => {
    const pick = (body: AccessBody, participant: string, action: string) =>
      body.decisions.find((d) => d.participant === participant && d.action === action)!
    const utma = (await access(h, zrns.get("utma")!)).body
    // The minor may view but not trade; the custodian may withdraw.
    expect(pick(utma, "MINOR1", "view")).toMatchObject({ allowed: true, authorization: "view_only" })
    expect(pick(utma, "MINOR1", "buy")).toMatchObject({
      allowed: false,
      reasons: [{ rule: "Authorization", message: expect.stringMatching(/view_only .* does not allow buy/) }]
    })
    expect(pick(utma, "CUSTD1", "withdraw")).toMatchObject({ allowed: true, role: "secondary" })
    // An advisor trades but does not move funds (limited_trading).
    const jtic = (await access(h, zrns.get("jtic")!)).body
    expect(pick(jtic, ADVISOR, "sell")).toMatchObject({ allowed: true, authorization: "limited_trading" })
    expect(pick(jtic, ADVISOR, "deposit")).toMatchObject({ allowed: false })
    expect(pick(jtic, ADVISOR, "withdraw")).toMatchObject({ allowed: false })
    // A trust's beneficiary only views; its trustee has full trading.
    const trust = (await access(h, zrns.get("trust")!)).body
    expect(pick(trust, "TRUST1", "sell").allowed).toBe(false)
    expect(pick(trust, "TRSTE1", "withdraw").allowed).toBe(true)
    expect(pick((await access(h, zrns.get("individual")!)).body, "CUST03", "withdraw").allowed).toBe(true)
  })

  it("serves from the projection: members read upstream once, then no upstream call at all", async () => {
    const zrn = await create(h, {
      type: "jtic",
      primary: "CUST11",
      tenants: ["CUST12"],
      advisors: ["ADVSR2"]
    })
    await h.simulator.settle()
    const before = h.simulator.journal().length
    // The membership came with the `open` webhook; the three members are read upstream once each.
    expect((await access(h, zrn)).status).toBe(200)
    const reads = h.simulator.journal().slice(before)
    expect(reads.map((e) => e.path).sort()).toEqual([
      "/participants?participant_code=ADVSR2",
      "/participants?participant_code=CUST11",
      "/participants?participant_code=CUST12"
    ])
    await Promise.all([1, 2, 3].map(() => access(h, zrn, "?action=buy")))
    expect(h.simulator.journal().length).toBe(before + 3)
  })

  it("a tenant added through the proxy is a member at once", async () => {
    const zrn = zrns.get("jtwros")!
    const added = await h.request(`/accounts/${zrn}/tenants`, {
      method: "POST",
      json: { participant_code: "CUST13" }
    })
    expect(added.status).toBe(202)
    // The vendor applies it in the background: until then a read does not show it yet, and the proxy
    // does not keep that read for the trust window (it reads again while the change settles).
    expect((await access(h, zrn, "?participant=CUST13&action=buy")).body.decisions[0]!.role).toBe(null)
    await h.simulator.settle()
    const { body } = await access(h, zrn, "?participant=CUST13&action=buy")
    expect(body.decisions).toEqual([
      expect.objectContaining({ participant: "CUST13", role: "secondary", allowed: true, reasons: [] })
    ])
  })

  it("every account status × action, as the account status table says (fed by signed webhooks)", async () => {
    const layout = layouts[1]! // jtic: the primary has full_trading
    const zrn = zrns.get(layout.type)!
    const record = {
      zrn,
      participant_code: layout.primary,
      type: layout.type,
      tenants: layout.tenants,
      financial_advisors: [ADVISOR]
    }
    for (const status of Enums.AccountStatus.literals) {
      // Applied, or confirmed for the status it already has (open).
      expect(["applied", "confirmed"]).toContain((await post(h, "account", { ...record, status })).outcome)
      const { body } = await access(h, zrn, `?participant=${layout.primary}`)
      expect(body.as_of.account_status).toBe(status)
      expect(body.decisions.map((d) => [d.action, d.allowed])).toEqual(
        ACTIONS.map((a) => [a, Access.accountStatusTable[status][a]])
      )
      for (const d of body.decisions.filter((x) => !x.allowed)) {
        expect(d.reasons).toEqual([
          {
            rule: "AccountStatus",
            message: expect.stringContaining(`account status ${status} does not allow`)
          }
        ])
      }
    }
    // By hand (domain-rules.md §4): locked allows view and deposit only; divesting view, sell, withdraw.
    await post(h, "account", { ...record, status: "locked" })
    expect(
      (await access(h, zrn, `?participant=${layout.primary}`)).body.decisions
        .filter((d) => d.allowed)
        .map((d) => d.action)
    ).toEqual(["view", "deposit"])
    await post(h, "account", { ...record, status: "divesting" })
    expect(
      (await access(h, zrn, `?participant=${layout.primary}`)).body.decisions
        .filter((d) => d.allowed)
        .map((d) => d.action)
    ).toEqual(["view", "sell", "withdraw"])
  })

  it("an account still provisioning allows view only", async () => {
    const slow = harness({ simDelayMs: 600_000 })
    const zrn = await create(slow, { type: "individual", primary: "CUST14", tenants: [] })
    const { body } = await access(slow, zrn, "?participant=CUST14")
    expect(body.as_of).toEqual({ account_status: null, updated_at: expect.any(String) })
    expect(body.decisions.map((d) => [d.action, d.allowed])).toEqual(
      ACTIONS.map((a) => [a, Access.accountStatusTable.provisioning[a]])
    )
    expect(body.decisions[1]!.reasons[0]!.message).toMatch(/still provisioning/)
  })

  it("every row of the participant status table: status × reason code × action (fed by signed webhooks)", async () => {
    const zrn = zrns.get("individual")!
    // Open again, and its primary (full_trading) is the participant whose status moves.
    await post(h, "account", {
      zrn,
      participant_code: "CUST03",
      type: "individual",
      tenants: [],
      financial_advisors: [ADVISOR],
      status: "open"
    })
    const reasons = [null, ...Enums.ParticipantReasonCode.literals] as const
    let rows = 0
    for (const status of Enums.ParticipantStatus.literals) {
      for (const reason of reasons) {
        await post(h, "participant", {
          participant_code: "CUST03",
          participant_status: status,
          ...(reason === null ? {} : { reason_code: reason })
        })
        const { body } = await access(h, zrn, "?participant=CUST03")
        expect(body.decisions.map((d) => [d.participant_status, d.reason_code])).toEqual(
          ACTIONS.map(() => [status, reason])
        )
        expect(body.decisions.map((d) => [d.action, d.allowed])).toEqual(
          ACTIONS.map((a) => [a, Access.participantStatusAllows(status, reason, a)])
        )
        for (const d of body.decisions.filter((x) => !x.allowed)) {
          expect(d.reasons.map((r) => r.rule)).toEqual(["ParticipantStatus"])
        }
        rows++
      }
    }
    expect(rows).toBe(Enums.ParticipantStatus.literals.length * 4)
    // By hand (domain-rules.md §5).
    const allowedFor = async (status: string, reason?: string) => {
      await post(h, "participant", {
        participant_code: "CUST03",
        participant_status: status,
        ...(reason === undefined ? {} : { reason_code: reason })
      })
      return (await access(h, zrn, "?participant=CUST03")).body.decisions
        .filter((d) => d.allowed)
        .map((d) => d.action)
    }
    expect(await allowedFor("locked", "user_request")).toEqual(["view", "sell", "withdraw"])
    expect(await allowedFor("locked", "compliance_issue")).toEqual(["view"])
    expect(await allowedFor("locked")).toEqual(["view"])
    expect(await allowedFor("pending_unlock", "risk_cleared")).toEqual(["view"])
    expect(await allowedFor("approved", "risk_cleared")).toEqual([
      "view",
      "buy",
      "sell",
      "deposit",
      "withdraw"
    ])
    expect(await allowedFor("submitted")).toEqual(["view"])
    // An unknown status is kept and read the most restrictive way.
    expect(await allowedFor("frozen_by_regulator")).toEqual(["view"])
  })

  it("reads a member's status upstream when the projection does not know it (the simulator's state)", async () => {
    // No webhooks reach this proxy: what it knows of the participant is what it reads.
    const fresh = harness({ webhooks: false })
    const zrn = await create(fresh, { type: "individual", primary: "CUST17", tenants: [], advisors: [] })
    await fresh.simulator.settle()
    fresh.simulator.moveParticipant("CUST17", "platform_lock", "user_request")
    const { body } = await access(fresh, zrn)
    expect(body.decisions.map((d) => [d.participant_status, d.reason_code, d.action, d.allowed])).toEqual([
      ["locked", "user_request", "view", true],
      ["locked", "user_request", "buy", false],
      ["locked", "user_request", "sell", true],
      ["locked", "user_request", "deposit", false],
      ["locked", "user_request", "withdraw", true]
    ])
  })

  it("reads the account upstream when the proxy has never seen it", async () => {
    const other = harness({ webhooks: false })
    const zrn = await create(other, { type: "jtic", primary: "CUST15", tenants: ["CUST16"], advisors: [] })
    await other.simulator.settle()
    const before = other.simulator.journal().length
    const { status, body } = await access(other, zrn, "?action=deposit")
    expect(status).toBe(200)
    expect(body.as_of.account_status).toBe("open")
    expect(body.decisions.map((d) => [d.participant, d.allowed])).toEqual([
      ["CUST15", true],
      ["CUST16", true]
    ])
    expect(
      other.simulator
        .journal()
        .slice(before)
        .map((e) => e.path)
    ).toContain(`/accounts/${zrn}/details`)
  })

  it("a participant who is not a member: one decision, not allowed, rule Membership (200)", async () => {
    const zrn = zrns.get("jtic")!
    await post(h, "account", {
      zrn,
      participant_code: "CUST04",
      type: "jtic",
      tenants: ["CUST05"],
      financial_advisors: [ADVISOR],
      status: "open"
    })
    const all = await access(h, zrn, "?participant=CUST20")
    expect(all.status).toBe(200)
    expect(all.body.decisions).toEqual([
      {
        participant: "CUST20",
        role: null,
        authorization: null,
        participant_status: null,
        reason_code: null,
        action: "view",
        allowed: false,
        reasons: [{ rule: "Membership", message: expect.stringMatching(/CUST20 is not the primary holder/) }]
      }
    ])
    const buy = await access(h, zrn, "?participant=CUST20&action=buy")
    expect(buy.body.decisions.map((d) => [d.action, d.allowed, d.reasons[0]!.rule])).toEqual([
      ["buy", false, "Membership"]
    ])
  })

  it("refuses a bad action, a bad participant code, an unknown parameter and a bad ZRN (400)", async () => {
    const zrn = zrns.get("jtic")!
    const errors = async (query: string, path = `/accounts/${zrn}/access`) => {
      const r = await h.request(`${path}${query}`)
      return { status: r.status, errors: ((await r.json()) as { errors: Array<string> }).errors }
    }
    expect(await errors("?action=trade")).toEqual({
      status: 400,
      errors: ['action must be one of view, buy, sell, deposit, withdraw, got "trade"']
    })
    expect(await errors("?participant=cust04")).toEqual({
      status: 400,
      errors: ['participant must be exactly 6 characters A-Z or 0-9 (e.g. CUST01), got "cust04"']
    })
    expect((await errors("?participant=CUST4&action=Buy")).errors).toHaveLength(2)
    expect(await errors("?member=CUST04")).toEqual({
      status: 400,
      errors: ['unknown query parameter "member": accepted are participant, action']
    })
    expect((await errors("", "/accounts/not-a-zrn/access")).status).toBe(400)
    const reader = await h.request(`/accounts/${zrn}/access`, { token: "test-reader-token" })
    expect(reader.status).toBe(200)
  })
})
