/**
 * The customer accounts resource: create, update, details, the status reason, the status commands,
 * tenants and advisors, and the background work each accepted change schedules (provisioning, status
 * changes with their webhooks, liquidation). The domain decides: `Composition` the members,
 * `Lifecycle` the transitions.
 */
import { Api, Composition, Endpoint, type Enums, Lifecycle, Zrn } from "@mta/domain"
import { Either } from "effect"
import { errors, json, type RawResponse } from "./http.js"
import type { Ledger } from "./ledger.js"
import type { Account, AccountSlot, AsyncStep, Participant, StatusReasonFields } from "./model.js"
import type { EndpointName, Route } from "./router.js"
import type { Scheduler } from "./scheduler.js"
import type { Webhooks } from "./webhooks.js"
import * as Wire from "./wire.js"

/** The endpoints this resource answers: every one but the ledger listing. */
export type AccountEndpoint = Exclude<
  EndpointName,
  "listLedgerAccounts" | "createParticipant" | "createMinor" | "listParticipants" | "lockParticipant"
>

export interface AccountsConfig {
  readonly geo: Enums.Geo
  readonly platformCode: string
  readonly delays: Readonly<Record<AsyncStep, number>>
  readonly autoLiquidate: boolean
  readonly newId: () => string
}

/** What the accounts resource works with besides its own state. */
export interface AccountsDeps {
  readonly config: AccountsConfig
  readonly scheduler: Scheduler
  readonly webhooks: Webhooks
  readonly ledger: Ledger
  /** The participants known now (primaries, tenants and advisors must be among them, approved). */
  readonly participants: ReadonlyMap<string, Participant>
  /** The feature flags in force now. */
  readonly features: () => { readonly status_reason: boolean }
}

export class Accounts {
  private readonly slots = new Map<string, AccountSlot>()
  /** `(participant_code, account_label)` pairs taken, as `code\u0000label`. */
  private readonly labels = new Set<string>()
  private readonly detailsCache = new WeakMap<Account, RawResponse>()
  private readonly config: AccountsConfig

  constructor(private readonly deps: AccountsDeps) {
    this.config = deps.config
  }

  /** An account's record by canonical ZRN, for the control plane. */
  slot(zrn: string): AccountSlot | undefined {
    return this.slots.get(zrn)
  }

  /** Every account as reads currently see it. */
  all(): ReadonlyArray<Account> {
    return [...this.slots.values()].map((s) => s.committed)
  }

  clear(): void {
    this.slots.clear()
    this.labels.clear()
  }

  /** Answers an authenticated request to one of the account endpoints, its body already read. */
  handle(endpoint: AccountEndpoint, route: Route, body: unknown): RawResponse {
    if (endpoint === "createAccount") return this.create(body)
    const zrn = this.resolve(route.zrn!)
    if (typeof zrn !== "string") return zrn
    switch (endpoint) {
      case "updateAccount":
        return this.update(zrn, body)
      case "getAccount":
        return this.details(zrn)
      case "getStatusReason":
        return this.statusReason(zrn)
      case "lock":
      case "unlock":
      case "withdrawLock":
      case "withdrawUnlock":
      case "divest":
      case "close":
        return this.command(zrn, Endpoint.table[endpoint].command, body)
      case "addTenant":
      case "addAdvisor":
        return this.addMember(zrn, endpoint, body)
      case "removeTenant":
      case "removeAdvisor":
        return this.removeMember(zrn, endpoint, route.member!)
    }
  }

  // -------------------------------------------------------------------------------------------
  // Lookups
  // -------------------------------------------------------------------------------------------

  /** The canonical ZRN of a path segment, or the error to answer. */
  private resolve(segment: string): string | RawResponse {
    const parsed = Zrn.parse(segment, { geo: this.config.geo, subdomain: "customer" })
    if (Either.isLeft(parsed)) return errors.badRequest([parsed.left.message])
    if (parsed.right.subdomain !== "customer") {
      return errors.badRequest([
        `${segment} is a ledger ZRN; this endpoint takes a customer account ZRN (zrn:zh:<geo>:accounts:customer:<uuid>)`
      ])
    }
    return Zrn.format(parsed.right)
  }

  private found(zrn: string): AccountSlot | RawResponse {
    return this.slots.get(zrn) ?? errors.notFound("customer account not found")
  }

  /** Problems with a participant taking a role on an account, as 400 messages. */
  private participantProblems(code: string, role: string): ReadonlyArray<string> {
    const p = this.deps.participants.get(code)
    if (p === undefined) return [`participant not found: ${role} ${code} is not an onboarded participant`]
    if (p.status !== "approved") {
      return [
        `participant ${code} (${role}) is not approved (status ${p.status}); only approved participants can be on an account`
      ]
    }
    return []
  }

  // -------------------------------------------------------------------------------------------
  // Endpoints
  // -------------------------------------------------------------------------------------------

  private create(body: unknown): RawResponse {
    const decoded = Wire.decodeCreate(body)
    if (Either.isLeft(decoded)) return errors.badRequest(decoded.left)
    const input = decoded.right
    const tenants = input.tenants ?? []
    const advisors = input.financial_advisors ?? []
    const problems: Array<string> = [...this.participantProblems(input.participant_code, "primary")]
    for (const code of new Set(tenants)) problems.push(...this.participantProblems(code, "tenant"))
    for (const code of new Set(advisors))
      problems.push(...this.participantProblems(code, "financial advisor"))
    const composition = Composition.validate({
      type: input.type,
      participant_code: input.participant_code,
      tenants,
      financial_advisors: advisors
    })
    if (Either.isLeft(composition)) problems.push(...composition.left.problems.map((p) => p.message))
    if (problems.length > 0) return errors.badRequest(problems)
    const labelKey = `${input.participant_code}\u0000${input.account_label}`
    if (this.labels.has(labelKey)) {
      return errors.conflict([
        `an account with account_label ${JSON.stringify(input.account_label)} already exists for participant ${input.participant_code}; (participant_code, account_label) must be unique`
      ])
    }
    this.labels.add(labelKey)
    const zrn = `zrn:zh:${this.config.geo}:accounts:customer:${this.config.newId()}`
    const account: Account = {
      zrn,
      participant_code: input.participant_code,
      platform_code: this.config.platformCode,
      prefunded: input.prefunded,
      account_label: input.account_label,
      account_group: this.config.platformCode,
      type: input.type,
      tier: input.tier,
      tenants: [...tenants],
      financial_advisors: [...advisors],
      statusReason: {}
    }
    // Commands are refused until provisioning completes, so the projection has no status either.
    this.slots.set(zrn, { committed: account, projected: account })
    this.deps.scheduler.schedule(this.config.delays.provisioning, `provision ${zrn}`, () => {
      const slot = this.slots.get(zrn)
      const result = Lifecycle.transition(slot?.committed.status ?? null, "provisioned")
      if (slot === undefined || Either.isLeft(result)) return
      if (slot.projected.status === undefined)
        slot.projected = { ...slot.projected, status: result.right.status }
      this.applyStatus(zrn, result.right.status, { author_type: "system", reason: "unknown" })
    })
    return json(202, { message: Wire.encodeAccount(account) })
  }

  private update(zrn: string, body: unknown): RawResponse {
    const decoded = Wire.decodeUpdate(body)
    if (Either.isLeft(decoded)) return errors.badRequest(decoded.left)
    const slot = this.found(zrn)
    if (!("projected" in slot)) return slot
    if (slot.projected.status === "closed")
      return errors.badRequest(["customer account is closed; it cannot be updated"])
    const { prefunded, tier } = decoded.right
    slot.projected = { ...slot.projected, prefunded, tier }
    this.deps.scheduler.schedule(this.config.delays.update, `update ${zrn}`, () => {
      slot.committed = { ...slot.committed, prefunded, tier }
    })
    // The answer shows the record as the update will leave it; reads show it once applied.
    return json(202, { message: Wire.encodeAccount({ ...slot.committed, prefunded, tier }) })
  }

  private details(zrn: string): RawResponse {
    const slot = this.found(zrn)
    if (!("committed" in slot)) return slot
    // Reads dominate; the answer is built once per state of the account.
    let response = this.detailsCache.get(slot.committed)
    if (response === undefined) {
      response = json(200, { message: Wire.encodeAccount(slot.committed) })
      this.detailsCache.set(slot.committed, response)
    }
    return response
  }

  private statusReason(zrn: string): RawResponse {
    if (!this.deps.features().status_reason)
      return errors.forbidden("status reason is not enabled for this platform")
    const slot = this.found(zrn)
    if (!("committed" in slot)) return slot
    return json(200, { message: Wire.encodeStatusReason(slot.committed) })
  }

  private command(zrn: string, command: Enums.Command, body: unknown): RawResponse {
    const decoded = Wire.decodeEmpty(body)
    if (Either.isLeft(decoded)) return errors.badRequest(decoded.left)
    const slot = this.found(zrn)
    if (!("projected" in slot)) return slot
    const refusal = zerohashLock(slot.committed, command)
    if (refusal !== undefined) return refusal
    const result = Lifecycle.transition(slot.projected.status ?? null, command, {
      hasBalance: this.deps.ledger.hasBalance(zrn)
    })
    if (Either.isLeft(result)) return errors.badRequest([result.left.message])
    if (result.right.changed) {
      const to = result.right.status
      slot.projected = { ...slot.projected, status: to }
      this.deps.scheduler.schedule(this.config.delays.statusChange, `${command} ${zrn}`, () => {
        this.applyStatus(zrn, to, { author_type: "platform", reason: "user_request" })
        if (to === "divesting" && this.config.autoLiquidate) this.scheduleLiquidation(zrn)
      })
    }
    return json(202, {})
  }

  private addMember(zrn: string, endpoint: "addTenant" | "addAdvisor", body: unknown): RawResponse {
    const decoded = Wire.decodeParticipantCode(body)
    if (Either.isLeft(decoded)) return errors.badRequest(decoded.left)
    const slot = this.found(zrn)
    if (!("projected" in slot)) return slot
    const code = decoded.right
    const tenant = endpoint === "addTenant"
    const problems = this.participantProblems(code, tenant ? "tenant" : "financial advisor")
    if (problems.length > 0) return errors.badRequest(problems)
    if (slot.projected.status === "closed") {
      return errors.badRequest(["customer account is closed; its tenants and advisors cannot change"])
    }
    const change = (tenant ? Composition.addTenant : Composition.addAdvisor)(membership(slot.projected), code)
    if (Either.isLeft(change)) return memberError(change.left)
    return this.applyMembers(slot, zrn, change.right)
  }

  private removeMember(zrn: string, endpoint: "removeTenant" | "removeAdvisor", code: string): RawResponse {
    if (!Api.PATH_PARTICIPANT_CODE.test(code)) {
      return errors.badRequest([
        `${endpoint === "removeTenant" ? "tenant" : "financial_advisor"} in the path must be a participant code of exactly 6 characters of [A-Za-z0-9_-]`
      ])
    }
    const slot = this.found(zrn)
    if (!("projected" in slot)) return slot
    if (slot.projected.status === "closed") {
      return errors.badRequest(["customer account is closed; its tenants and advisors cannot change"])
    }
    if (!this.deps.participants.has(code)) return errors.badRequest([`participant not found: ${code}`])
    const change = (endpoint === "removeTenant" ? Composition.removeTenant : Composition.removeAdvisor)(
      membership(slot.projected),
      code
    )
    if (Either.isLeft(change)) return memberError(change.left)
    return this.applyMembers(slot, zrn, change.right)
  }

  private applyMembers(slot: AccountSlot, zrn: string, next: Composition.Membership): RawResponse {
    const tenants = [...next.tenants]
    const financial_advisors = [...next.financial_advisors]
    slot.projected = { ...slot.projected, tenants, financial_advisors }
    this.deps.scheduler.schedule(this.config.delays.members, `members ${zrn}`, () => {
      slot.committed = { ...slot.committed, tenants, financial_advisors }
    })
    return json(202, {})
  }

  // -------------------------------------------------------------------------------------------
  // Status changes and wind-down
  // -------------------------------------------------------------------------------------------

  /** Divestment: every balance moves to the platform's float, then the account closes. */
  private scheduleLiquidation(zrn: string): void {
    const slot = this.slots.get(zrn)
    if (slot === undefined) return
    slot.projected = { ...slot.projected, status: "closed" }
    this.deps.scheduler.schedule(this.config.delays.liquidation, `liquidate ${zrn}`, () => {
      this.liquidate(zrn)
    })
  }

  /** Moves every balance of a divesting account out, then raises `liquidated`. */
  liquidate(zrn: string): boolean {
    const slot = this.slots.get(zrn)
    if (slot === undefined || slot.committed.status !== "divesting") return false
    this.deps.ledger.moveToFloat(zrn)
    const result = Lifecycle.transition("divesting", "liquidated")
    if (Either.isRight(result)) {
      this.applyStatus(zrn, result.right.status, { author_type: "system", reason: "unknown" })
    }
    return true
  }

  /** Commits a status and emits its webhook; a no-op when the status is already that. */
  applyStatus(zrn: string, status: Enums.AccountStatus, reason: StatusReasonFields): void {
    const slot = this.slots.get(zrn)
    if (slot === undefined || slot.committed.status === status) return
    slot.committed = { ...slot.committed, status, statusReason: reason }
    const { rawBody, payload } = Wire.encodeWebhook(slot.committed)
    this.deps.webhooks.emit(zrn, status, rawBody, payload)
  }
}

/**
 * "Who unlocks" (`participants.md`, **Decision**): a lock or withdraw lock authored by zerohash (its
 * status reason's `author_type` is `admin` or `system`) cannot be lifted by the platform: 403.
 */
const zerohashLock = (a: Account, command: Enums.Command): RawResponse | undefined => {
  const lockedBy = a.statusReason.author_type
  if (lockedBy !== "admin" && lockedBy !== "system") return undefined
  const lifts =
    (command === "unlock" && a.status === "locked") ||
    (command === "withdraw_unlock" && a.status === "withdraw_locked")
  if (!lifts) return undefined
  const what = command === "unlock" ? "locked" : "withdraw-locked"
  return errors.forbidden(
    `account was ${what} by zerohash (${a.statusReason.reason ?? "unknown"}); contact zerohash to ${command === "unlock" ? "unlock" : "withdraw-unlock"} it`
  )
}

const membership = (a: Account): Composition.Membership => ({
  type: a.type,
  participant_code: a.participant_code,
  tenants: a.tenants,
  financial_advisors: a.financial_advisors
})

/** Conflicts with the account's members are 409 (upstream-api.md); broken counts are 400. */
const memberError = (e: Composition.MemberChangeError): RawResponse => {
  switch (e.reason) {
    case "AlreadyTenant":
    case "AlreadyAdvisor":
    case "IsPrimary":
      return errors.conflict([e.message])
    default:
      return errors.badRequest([e.message])
  }
}
