/**
 * The simulator's state and request handling: authentication, the 15 endpoints, the background
 * work on the clock, faults, the rate limit and the request journal. `Simulator.ts` is the public
 * face; this module is the machinery behind it.
 */
import { Composition, type Enums, Lifecycle, Limits, Zrn } from "@mta/domain"
import { Either } from "effect"
import type { Clock } from "../Clock.js"
import type { Credentials } from "../Signing.js"
import { verifyRequest } from "../Signing.js"
import * as Decimal from "./decimal.js"
import {
  type Dropped,
  errorFor,
  errors,
  isDropped,
  json,
  type Outcome,
  type RawRequest,
  type RawResponse
} from "./http.js"
import { type RateLimitConfig, RateLimiter } from "./rateLimit.js"
import { type EndpointName, route } from "./router.js"
import { Scheduler } from "./scheduler.js"
import { type RetrySchedule, type WebhookModes, Webhooks } from "./webhooks.js"
import * as Wire from "./wire.js"

// ---------------------------------------------------------------------------------------------
// State
// ---------------------------------------------------------------------------------------------

/** A participant as the simulator knows it. */
export interface Participant {
  readonly participant_code: string
  readonly status: Enums.ParticipantStatus
  readonly reason_code?: Enums.ParticipantReasonCode | undefined
}

/** Who changed the status last, and why (the status reason endpoint). */
export interface StatusReasonFields {
  readonly author_type?: Enums.AuthorType
  readonly reason?: Enums.StatusReason
  readonly compliance_reasons?: ReadonlyArray<Enums.ComplianceReason>
  readonly notes?: string
  readonly case_number?: string
}

/** A customer account as the simulator holds it. */
export interface Account {
  readonly zrn: string
  readonly participant_code: string
  readonly platform_code: string
  readonly prefunded: boolean
  readonly account_label: string
  readonly account_group: string
  readonly type: Enums.AccountType
  readonly tier: Enums.Tier
  /** Absent while provisioning. */
  readonly status?: Enums.AccountStatus | undefined
  readonly tenants: ReadonlyArray<string>
  readonly financial_advisors: ReadonlyArray<string>
  readonly statusReason: StatusReasonFields
}

/** One ledger (balance) account. */
export interface LedgerEntry {
  readonly zrn: string
  readonly account_id: string
  /** The customer account it belongs to; absent for the platform's float. */
  readonly customerZrn?: string | undefined
  readonly asset: string
  readonly account_owner: string
  readonly account_type: Enums.LedgerAccountType
  readonly account_group: string
  readonly account_label: string
  readonly balance: string
  readonly last_update: number
}

interface AccountSlot {
  /** What reads return: the state after the background work that has run. */
  committed: Account
  /** The state after every accepted change; commands are checked against it. */
  projected: Account
}

/** One request and its answer, as the journal keeps it. */
export interface JournalEntry {
  readonly seq: number
  readonly at: number
  readonly method: string
  /** Path and query as received. */
  readonly path: string
  readonly endpoint: EndpointName | undefined
  /** Request headers, with the passphrase redacted. */
  readonly headers: Readonly<Record<string, string>>
  readonly requestBody: string
  /** `0` for a dropped connection. */
  readonly status: number
  readonly responseBody: string
  readonly responseHeaders: Readonly<Record<string, string>>
  /** What an injected fault did to this request, if anything. */
  readonly fault?: string
  readonly source: string
}

/** An injected fault; see `Simulator.FaultSpec` for the documented shape. */
export interface Fault {
  readonly id: number
  readonly endpoint: EndpointName | "*" | ReadonlyArray<EndpointName>
  readonly status?: number | undefined
  readonly body?: unknown
  readonly latencyMs?: number | undefined
  readonly drop?: boolean | undefined
  readonly afterApply?: boolean | undefined
  remaining: number | undefined
  readonly until: number | undefined
}

export interface EngineConfig {
  readonly clock: Clock
  readonly credentials: ReadonlyArray<Credentials>
  readonly geo: Enums.Geo
  readonly platformCode: string
  readonly timestampWindowMs: number
  readonly delays: Readonly<Record<AsyncStep, number>>
  readonly autoLiquidate: boolean
  readonly pageSize: number
  readonly rateLimit: RateLimitConfig | undefined
  readonly journalLimit: number
  readonly webhookSecret: string
  readonly webhookUrl: string | undefined
  readonly webhookFetch: (() => typeof globalThis.fetch) | undefined
  readonly webhookRetry: RetrySchedule
  readonly webhookModes: WebhookModes
  readonly webhookTimeoutMs: number
  readonly participants: ReadonlyArray<Participant>
  readonly features: { readonly status_reason: boolean }
  readonly newId: () => string
}

/** The background steps whose delay can be set. */
export type AsyncStep = "provisioning" | "statusChange" | "members" | "update" | "liquidation"

// ---------------------------------------------------------------------------------------------
// Engine
// ---------------------------------------------------------------------------------------------

const FORBIDDEN_HINT = "sign timestamp + METHOD + path_with_query + body with the base64-decoded API secret"

export class Engine {
  readonly scheduler: Scheduler
  readonly webhooks: Webhooks
  private readonly limiter: RateLimiter
  private readonly keys: ReadonlyMap<string, Credentials>
  participants = new Map<string, Participant>()
  accounts = new Map<string, AccountSlot>()
  /** `(participant_code, account_label)` pairs taken, as `code\u0000label`. */
  private labels = new Set<string>()
  ledger = new Map<string, LedgerEntry>()
  private faults: Array<Fault> = []
  private faultSeq = 0
  private journal: Array<JournalEntry> = []
  private journalSeq = 0
  features: { status_reason: boolean }
  private readonly detailsCache = new WeakMap<Account, RawResponse>()

  constructor(readonly config: EngineConfig) {
    this.scheduler = new Scheduler(config.clock)
    this.limiter = new RateLimiter(config.rateLimit)
    this.keys = new Map(config.credentials.map((c) => [c.apiKey, c]))
    this.webhooks = new Webhooks({
      clock: config.clock,
      scheduler: this.scheduler,
      secret: config.webhookSecret,
      url: config.webhookUrl,
      fetch: config.webhookFetch,
      retry: config.webhookRetry,
      modes: config.webhookModes,
      timeoutMs: config.webhookTimeoutMs,
      newId: config.newId
    })
    this.features = { ...config.features }
    this.seedParticipants()
  }

  private seedParticipants(): void {
    this.participants = new Map(this.config.participants.map((p) => [p.participant_code, p]))
  }

  /** Back to the state right after creation: options kept, everything else forgotten. */
  reset(): void {
    this.scheduler.clear()
    this.webhooks.clear()
    this.limiter.reset()
    this.seedParticipants()
    this.accounts.clear()
    this.labels.clear()
    this.ledger.clear()
    this.faults = []
    this.journal = []
    this.features = { ...this.config.features }
  }

  // -------------------------------------------------------------------------------------------
  // Control
  // -------------------------------------------------------------------------------------------

  addFault(spec: Omit<Fault, "id" | "remaining" | "until"> & { times?: number; forMs?: number }): Fault {
    const fault: Fault = {
      id: ++this.faultSeq,
      endpoint: spec.endpoint,
      status: spec.status,
      body: spec.body,
      latencyMs: spec.latencyMs,
      drop: spec.drop,
      afterApply: spec.afterApply,
      remaining: spec.times,
      until: spec.forMs === undefined ? undefined : this.config.clock.now() + spec.forMs
    }
    this.faults.push(fault)
    return fault
  }

  removeFault(id: number): void {
    this.faults = this.faults.filter((f) => f.id !== id)
  }

  clearFaults(): void {
    this.faults = []
  }

  listFaults(): ReadonlyArray<Fault> {
    return this.faults
  }

  journalEntries(): ReadonlyArray<JournalEntry> {
    const excess = this.journal.length - this.config.journalLimit
    return excess > 0 ? this.journal.slice(excess) : this.journal
  }

  clearJournal(): void {
    this.journal = []
  }

  // -------------------------------------------------------------------------------------------
  // Requests
  // -------------------------------------------------------------------------------------------

  /** Handles one request: rate limit, faults, authentication, the endpoint, the journal. */
  handle(request: RawRequest): Outcome | Promise<Outcome> {
    const now = this.config.clock.now()
    const q = request.target.indexOf("?")
    const pathname = q === -1 ? request.target : request.target.slice(0, q)
    const matched = route(request.method, pathname)
    const endpoint = "endpoint" in matched ? matched.endpoint : undefined

    if (request.method === "GET" && pathname === "/time") {
      return this.record(request, endpoint, json(200, { epoch: Math.floor(now / 1000) }), undefined)
    }
    if (!this.limiter.admit(request.source, now)) {
      return this.record(request, endpoint, errors.tooManyRequests(), "rate limit")
    }
    const fault = this.takeFault(endpoint, now)
    if (fault !== undefined) {
      const faulted = (): Outcome | Promise<Outcome> => {
        if (fault.afterApply === true) {
          // The request takes effect, and the answer is lost: the case a client must read back.
          this.respond(request, matched, q)
        }
        const outcome: Outcome =
          fault.drop === true
            ? { dropped: true }
            : fault.status !== undefined
              ? fault.body === undefined
                ? errorFor(fault.status)
                : json(
                    fault.status,
                    fault.body,
                    fault.status === 503 ? { "zh-allow-retry": "true" } : undefined
                  )
              : this.respond(request, matched, q)
        return this.record(request, endpoint, outcome, describeFault(fault))
      }
      if (fault.latencyMs !== undefined && fault.latencyMs > 0) {
        return new Promise((resolve) => {
          this.config.clock.setTimeout(() => resolve(faulted()), fault.latencyMs!)
        })
      }
      return faulted()
    }
    return this.record(request, endpoint, this.respond(request, matched, q), undefined)
  }

  private takeFault(endpoint: EndpointName | undefined, now: number): Fault | undefined {
    if (this.faults.length === 0) return undefined
    for (let i = 0; i < this.faults.length; i++) {
      const f = this.faults[i]!
      if (f.until !== undefined && now >= f.until) {
        this.faults.splice(i--, 1)
        continue
      }
      const applies =
        f.endpoint === "*" ||
        (endpoint !== undefined &&
          (typeof f.endpoint === "string" ? f.endpoint === endpoint : f.endpoint.includes(endpoint)))
      if (!applies) continue
      if (f.remaining !== undefined) {
        f.remaining--
        if (f.remaining <= 0) this.faults.splice(i, 1)
      }
      return f
    }
    return undefined
  }

  private record(
    request: RawRequest,
    endpoint: EndpointName | undefined,
    outcome: Outcome,
    fault: string | undefined
  ): Outcome {
    const dropped = isDropped(outcome)
    const entry: JournalEntry = {
      seq: ++this.journalSeq,
      at: this.config.clock.now(),
      method: request.method,
      path: request.target,
      endpoint,
      headers: journalHeaders(request),
      requestBody: request.body,
      status: dropped ? 0 : outcome.status,
      responseBody: dropped ? "" : outcome.body,
      responseHeaders: dropped ? {} : outcome.headers,
      source: request.source,
      ...(fault === undefined ? {} : { fault })
    }
    this.journal.push(entry)
    // Trimmed in batches: dropping one entry per request would move the whole array every time.
    if (this.journal.length > this.config.journalLimit + Math.max(16, this.config.journalLimit >> 3)) {
      this.journal.splice(0, this.journal.length - this.config.journalLimit)
    }
    return outcome
  }

  private authenticate(request: RawRequest): RawResponse | undefined {
    const apiKey = request.header("x-scx-api-key")
    if (apiKey === undefined || apiKey === "") return errors.forbidden("missing X-SCX-API-KEY header")
    const credentials = this.keys.get(apiKey)
    if (credentials === undefined) return errors.forbidden("unknown API key (X-SCX-API-KEY)")
    const passphrase = request.header("x-scx-passphrase")
    if (passphrase === undefined || passphrase === "") {
      return errors.forbidden("missing X-SCX-PASSPHRASE header")
    }
    if (passphrase !== credentials.passphrase) {
      return errors.forbidden("wrong passphrase for this API key (X-SCX-PASSPHRASE)")
    }
    const timestamp = request.header("x-scx-timestamp")
    if (timestamp === undefined || timestamp === "") return errors.forbidden("missing X-SCX-TIMESTAMP header")
    if (!/^\d{1,12}$/.test(timestamp)) {
      return errors.forbidden(
        /^\d{13,}$/.test(timestamp)
          ? "X-SCX-TIMESTAMP looks like milliseconds; send Unix time in seconds"
          : "X-SCX-TIMESTAMP is not a Unix time in seconds"
      )
    }
    const skewMs = Math.abs(this.config.clock.now() - Number(timestamp) * 1000)
    if (skewMs > this.config.timestampWindowMs) {
      return errors.forbidden(
        `X-SCX-TIMESTAMP is ${Math.round(skewMs / 1000)} s away from the server's time (at most ${this.config.timestampWindowMs / 1000} s allowed)`
      )
    }
    const signature = request.header("x-scx-signed")
    if (signature === undefined || signature === "") return errors.forbidden("missing X-SCX-SIGNED header")
    const ok = verifyRequest(
      credentials.apiSecret,
      { timestamp, method: request.method, path: request.target, body: request.body },
      signature
    )
    if (!ok) return errors.forbidden(`invalid signature (X-SCX-SIGNED): ${FORBIDDEN_HINT}`)
    return undefined
  }

  private respond(request: RawRequest, matched: ReturnType<typeof route>, q: number): RawResponse {
    const denied = this.authenticate(request)
    if (denied !== undefined) return denied
    if (!("endpoint" in matched)) return errors.notFound(matched.hint)
    const { endpoint } = matched
    if (endpoint === "listLedgerAccounts") {
      return this.listLedger(q === -1 ? "" : request.target.slice(q + 1))
    }
    // The same bounds as the proxy (`Limits`, production.md §1), so a test cannot pass against the fake
    // and fail against the proxy.
    if (overBodyLimit(request.body)) {
      return json(413, { errors: [`request body is larger than ${Limits.defaults.apiBodyBytes} bytes`] })
    }
    let body: unknown
    if (request.body === "") {
      body =
        endpoint === "createAccount" ||
        endpoint === "updateAccount" ||
        endpoint === "addTenant" ||
        endpoint === "addAdvisor"
          ? undefined
          : {}
    } else {
      try {
        body = JSON.parse(request.body)
      } catch (error) {
        return errors.badRequest([
          `body is not valid JSON: ${error instanceof Error ? error.message : String(error)}`
        ])
      }
      const problem = Limits.checkJson(body)
      if (problem !== undefined) return errors.badRequest([problem])
    }
    if (endpoint === "createAccount") return this.create(body)
    const zrn = this.resolve(matched.zrn!)
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
        return this.command(zrn, endpoint, body)
      case "addTenant":
      case "addAdvisor":
        return this.addMember(zrn, endpoint, body)
      case "removeTenant":
      case "removeAdvisor":
        return this.removeMember(zrn, endpoint, matched.member!)
    }
  }

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

  private slot(zrn: string): AccountSlot | RawResponse {
    return this.accounts.get(zrn) ?? errors.notFound("customer account not found")
  }

  /** Problems with a participant taking a role on an account, as 400 messages. */
  private participantProblems(code: string, role: string): ReadonlyArray<string> {
    const p = this.participants.get(code)
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
    this.accounts.set(zrn, { committed: account, projected: account })
    this.scheduler.schedule(this.config.delays.provisioning, `provision ${zrn}`, () => {
      const slot = this.accounts.get(zrn)
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
    const slot = this.slot(zrn)
    if (!("projected" in slot)) return slot
    if (slot.projected.status === "closed")
      return errors.badRequest(["customer account is closed; it cannot be updated"])
    const { prefunded, tier } = decoded.right
    slot.projected = { ...slot.projected, prefunded, tier }
    this.scheduler.schedule(this.config.delays.update, `update ${zrn}`, () => {
      slot.committed = { ...slot.committed, prefunded, tier }
    })
    // The answer shows the record as the update will leave it; reads show it once applied.
    return json(202, { message: Wire.encodeAccount({ ...slot.committed, prefunded, tier }) })
  }

  private details(zrn: string): RawResponse {
    const slot = this.slot(zrn)
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
    if (!this.features.status_reason)
      return errors.forbidden("status reason is not enabled for this platform")
    const slot = this.slot(zrn)
    if (!("committed" in slot)) return slot
    return json(200, { message: Wire.encodeStatusReason(slot.committed) })
  }

  private hasBalance(zrn: string): boolean {
    for (const entry of this.ledger.values()) {
      if (entry.customerZrn === zrn && !Decimal.isZero(entry.balance)) return true
    }
    return false
  }

  private command(zrn: string, endpoint: EndpointName, body: unknown): RawResponse {
    const decoded = Wire.decodeEmpty(body)
    if (Either.isLeft(decoded)) return errors.badRequest(decoded.left)
    const slot = this.slot(zrn)
    if (!("projected" in slot)) return slot
    const command = COMMAND_OF[endpoint]!
    const result = Lifecycle.transition(slot.projected.status ?? null, command, {
      hasBalance: this.hasBalance(zrn)
    })
    if (Either.isLeft(result)) return errors.badRequest([result.left.message])
    if (result.right.changed) {
      const to = result.right.status
      slot.projected = { ...slot.projected, status: to }
      this.scheduler.schedule(this.config.delays.statusChange, `${command} ${zrn}`, () => {
        this.applyStatus(zrn, to, { author_type: "platform", reason: "user_request" })
        if (to === "divesting" && this.config.autoLiquidate) this.scheduleLiquidation(zrn)
      })
    }
    return json(202, {})
  }

  /** Divestment: every balance moves to the platform's float, then the account closes. */
  scheduleLiquidation(zrn: string): void {
    const slot = this.accounts.get(zrn)
    if (slot === undefined) return
    slot.projected = { ...slot.projected, status: "closed" }
    this.scheduler.schedule(this.config.delays.liquidation, `liquidate ${zrn}`, () => {
      this.liquidate(zrn)
    })
  }

  /** Moves every balance of a divesting account out, then raises `liquidated`. */
  liquidate(zrn: string): boolean {
    const slot = this.accounts.get(zrn)
    if (slot === undefined || slot.committed.status !== "divesting") return false
    const now = this.config.clock.now()
    for (const [key, entry] of this.ledger) {
      if (entry.customerZrn !== zrn || Decimal.isZero(entry.balance)) continue
      this.ledger.set(key, { ...entry, balance: "0", last_update: now })
      this.credit(
        undefined,
        this.config.platformCode,
        "general",
        entry.asset,
        entry.account_type,
        entry.balance
      )
    }
    const result = Lifecycle.transition("divesting", "liquidated")
    if (Either.isRight(result)) {
      this.applyStatus(zrn, result.right.status, { author_type: "system", reason: "unknown" })
    }
    return true
  }

  /** Commits a status and emits its webhook; a no-op when the status is already that. */
  applyStatus(zrn: string, status: Enums.AccountStatus, reason: StatusReasonFields): void {
    const slot = this.accounts.get(zrn)
    if (slot === undefined || slot.committed.status === status) return
    slot.committed = { ...slot.committed, status, statusReason: reason }
    const { rawBody, payload } = Wire.encodeWebhook(slot.committed)
    this.webhooks.emit(zrn, status, rawBody, payload)
  }

  private addMember(zrn: string, endpoint: "addTenant" | "addAdvisor", body: unknown): RawResponse {
    const decoded = Wire.decodeParticipantCode(body)
    if (Either.isLeft(decoded)) return errors.badRequest(decoded.left)
    const slot = this.slot(zrn)
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
    if (!/^[A-Za-z0-9_-]{6}$/.test(code)) {
      return errors.badRequest([
        `${endpoint === "removeTenant" ? "tenant" : "financial_advisor"} in the path must be a participant code of exactly 6 characters of [A-Za-z0-9_-]`
      ])
    }
    const slot = this.slot(zrn)
    if (!("projected" in slot)) return slot
    if (slot.projected.status === "closed") {
      return errors.badRequest(["customer account is closed; its tenants and advisors cannot change"])
    }
    if (!this.participants.has(code)) return errors.badRequest([`participant not found: ${code}`])
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
    this.scheduler.schedule(this.config.delays.members, `members ${zrn}`, () => {
      slot.committed = { ...slot.committed, tenants, financial_advisors }
    })
    return json(202, {})
  }

  // -------------------------------------------------------------------------------------------
  // Ledger
  // -------------------------------------------------------------------------------------------

  /** Sets one balance of a customer account (creating its ledger account on first use). */
  setBalance(
    customerZrn: string,
    asset: string,
    balance: string,
    accountType: Enums.LedgerAccountType
  ): LedgerEntry | undefined {
    const slot = this.accounts.get(customerZrn)
    if (slot === undefined) return undefined
    const key = `${customerZrn}|${asset}|${accountType}`
    const existing = this.ledger.get(key)
    const now = this.config.clock.now()
    const id = existing?.account_id ?? this.config.newId()
    const entry: LedgerEntry = {
      zrn: `zrn:zh:${this.config.geo}:accounts:ledger:${id}`,
      account_id: id,
      customerZrn,
      asset,
      account_owner: slot.committed.participant_code,
      account_type: accountType,
      account_group: slot.committed.account_group,
      account_label: slot.committed.account_label,
      balance,
      last_update: now
    }
    this.ledger.set(key, entry)
    return entry
  }

  private credit(
    customerZrn: string | undefined,
    owner: string,
    label: string,
    asset: string,
    accountType: Enums.LedgerAccountType,
    amount: string
  ): void {
    const key = `${customerZrn ?? `float:${owner}`}|${asset}|${accountType}`
    const existing = this.ledger.get(key)
    const id = existing?.account_id ?? this.config.newId()
    this.ledger.set(key, {
      zrn: `zrn:zh:${this.config.geo}:accounts:ledger:${id}`,
      account_id: id,
      customerZrn,
      asset,
      account_owner: owner,
      account_type: accountType,
      account_group: this.config.platformCode,
      account_label: label,
      balance: existing === undefined ? amount : Decimal.add(existing.balance, amount),
      last_update: this.config.clock.now()
    })
  }

  private listLedger(query: string): RawResponse {
    const decoded = Wire.decodeLedgerQuery(new URLSearchParams(query), this.config.geo)
    if (Either.isLeft(decoded)) return errors.badRequest(decoded.left)
    const f = decoded.right
    const matches: Array<LedgerEntry> = []
    for (const entry of this.ledger.values()) {
      if (Decimal.isZero(entry.balance)) continue
      if (f.zrn !== undefined && entry.customerZrn !== f.zrn) continue
      if (f.account_group !== undefined && entry.account_group !== f.account_group) continue
      if (f.account_label !== undefined && entry.account_label !== f.account_label) continue
      if (f.account_owner !== undefined && entry.account_owner !== f.account_owner) continue
      if (f.asset !== undefined && entry.asset !== f.asset) continue
      if (f.account_type !== undefined && entry.account_type !== f.account_type) continue
      matches.push(entry)
    }
    const size = this.config.pageSize
    const page = f.page ?? 1
    const totalPages = Math.max(1, Math.ceil(matches.length / size))
    return json(200, Wire.encodeLedgerPage(matches.slice((page - 1) * size, page * size), page, totalPages))
  }
}

const COMMAND_OF: Partial<Record<EndpointName, Enums.Command>> = {
  lock: "lock",
  unlock: "unlock",
  withdrawLock: "withdraw_lock",
  withdrawUnlock: "withdraw_unlock",
  divest: "divest",
  close: "close"
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

const describeFault = (f: Fault): string =>
  [
    f.drop === true ? "dropped connection" : undefined,
    f.status !== undefined ? `status ${f.status}` : undefined,
    f.latencyMs !== undefined ? `latency ${f.latencyMs} ms` : undefined,
    f.afterApply === true ? "after applying" : undefined
  ]
    .filter((s) => s !== undefined)
    .join(", ") || "fault"

const journalHeaders = (request: RawRequest): Record<string, string> => {
  const out: Record<string, string> = {}
  for (const name of [
    "x-scx-api-key",
    "x-scx-timestamp",
    "x-scx-signed",
    "content-type",
    "x-request-id",
    "idempotency-key"
  ]) {
    const v = request.header(name)
    if (v !== undefined) out[name] = v
  }
  if (request.header("x-scx-passphrase") !== undefined) out["x-scx-passphrase"] = "[redacted]"
  return out
}

export type { Dropped }

/**
 * Whether a body's UTF-8 form is over `Limits.defaults.apiBodyBytes`, counted without encoding it (the
 * engine also runs in browsers, without `Buffer`).
 */
const overBodyLimit = (s: string): boolean => {
  // Each UTF-16 unit is at most 3 bytes of UTF-8.
  if (s.length * 3 <= Limits.defaults.apiBodyBytes) return false
  let bytes = 0
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c < 0x80) bytes += 1
    else if (c < 0x800) bytes += 2
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1)
      if (d >= 0xdc00 && d <= 0xdfff) {
        bytes += 4
        i++
      } else bytes += 3
    } else bytes += 3
  }
  return bytes > Limits.defaults.apiBodyBytes
}
