/**
 * The simulator's engine: it wires the rooms together and walks each request through them — the
 * rate limit, faults (`faults.ts`), authentication (`auth.ts`), routing (`router.ts`), bounded input
 * (`input.ts`), the resource that owns the endpoint (`accounts.ts`, `ledger.ts`) and the journal
 * (`journal.ts`). Background work runs on the scheduler; status changes leave through the webhooks.
 * `Simulator.ts` is the public face; this module is the machinery behind it.
 */
import type { Enums } from "@mta/domain"
import { Either } from "effect"
import type { Clock } from "../Clock.js"
import type { Credentials } from "../Signing.js"
import { Accounts } from "./accounts.js"
import { Authenticator } from "./auth.js"
import { afterLatency, describeFault, Faults, faultedOutcome } from "./faults.js"
import { errors, json, type Outcome, type RawRequest, type RawResponse } from "./http.js"
import { readBody } from "./input.js"
import { Journal } from "./journal.js"
import { Ledger } from "./ledger.js"
import type { AsyncStep, LedgerEntry, Participant } from "./model.js"
import { Participants } from "./participants.js"
import { type RateLimitConfig, RateLimiter } from "./rateLimit.js"
import { route } from "./router.js"
import { Scheduler } from "./scheduler.js"
import { type RetrySchedule, type WebhookModes, Webhooks } from "./webhooks.js"

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

export class Engine {
  readonly scheduler: Scheduler
  readonly webhooks: Webhooks
  readonly faults: Faults
  readonly journal: Journal
  readonly accounts: Accounts
  readonly ledger: Ledger
  /** Endpoints 16–19, KYC and the compliance moves. */
  readonly people: Participants
  /** The participants known now; reset brings back the configured ones. */
  readonly participants = new Map<string, Participant>()
  features: { status_reason: boolean }
  private readonly limiter: RateLimiter
  private readonly auth: Authenticator

  constructor(readonly config: EngineConfig) {
    this.scheduler = new Scheduler(config.clock)
    this.limiter = new RateLimiter(config.rateLimit)
    this.auth = new Authenticator(config.credentials, config.clock, config.timestampWindowMs)
    this.faults = new Faults(config.clock)
    this.journal = new Journal(config.clock, config.journalLimit)
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
    this.ledger = new Ledger(config)
    this.accounts = new Accounts({
      config,
      scheduler: this.scheduler,
      webhooks: this.webhooks,
      ledger: this.ledger,
      participants: this.participants,
      features: () => this.features
    })
    this.people = new Participants({
      clock: config.clock,
      scheduler: this.scheduler,
      webhooks: this.webhooks,
      participants: this.participants,
      platformCode: config.platformCode,
      kycDelayMs: () => config.delays.kyc,
      newCode: () => participantCode(config.newId())
    })
    this.features = { ...config.features }
    this.seedParticipants()
  }

  private seedParticipants(): void {
    this.participants.clear()
    for (const p of this.config.participants) this.participants.set(p.participant_code, p)
  }

  /** Back to the state right after creation: options kept, everything else forgotten. */
  reset(): void {
    this.scheduler.clear()
    this.webhooks.clear()
    this.limiter.reset()
    this.seedParticipants()
    this.accounts.clear()
    this.people.clear()
    this.ledger.clear()
    this.faults.clear()
    this.journal.clear()
    this.features = { ...this.config.features }
  }

  // -------------------------------------------------------------------------------------------
  // Control
  // -------------------------------------------------------------------------------------------

  /** Sets one balance of a customer account (creating its ledger account on first use). */
  setBalance(
    customerZrn: string,
    asset: string,
    balance: string,
    accountType: Enums.LedgerAccountType
  ): LedgerEntry | undefined {
    const slot = this.accounts.slot(customerZrn)
    return slot === undefined
      ? undefined
      : this.ledger.setBalance(slot.committed, asset, balance, accountType)
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
      return this.journal.record(request, endpoint, json(200, { epoch: Math.floor(now / 1000) }), undefined)
    }
    if (!this.limiter.admit(request.source, now)) {
      return this.journal.record(request, endpoint, errors.tooManyRequests(), "rate limit")
    }
    const fault = this.faults.take(endpoint, now)
    if (fault !== undefined) {
      return afterLatency(fault, this.config.clock, () =>
        this.journal.record(
          request,
          endpoint,
          faultedOutcome(fault, () => this.respond(request, matched, q)),
          describeFault(fault)
        )
      )
    }
    return this.journal.record(request, endpoint, this.respond(request, matched, q), undefined)
  }

  /** Authentication, then the resource that owns the endpoint. */
  private respond(request: RawRequest, matched: ReturnType<typeof route>, q: number): RawResponse {
    const denied = this.auth.check(request)
    if (denied !== undefined) return denied
    if (!("endpoint" in matched)) return errors.notFound(matched.hint)
    const { endpoint } = matched
    if (endpoint === "listLedgerAccounts") {
      return this.ledger.list(q === -1 ? "" : request.target.slice(q + 1))
    }
    if (endpoint === "listParticipants") {
      return this.people.handle(
        endpoint,
        matched,
        undefined,
        q === -1 ? "" : request.target.slice(q + 1),
        undefined
      )
    }
    const body = readBody(endpoint, request.body)
    if (Either.isLeft(body)) return body.left
    if (endpoint === "createParticipant" || endpoint === "createMinor" || endpoint === "lockParticipant") {
      return this.people.handle(endpoint, matched, body.right, "", request.header("x-request-id"))
    }
    return this.accounts.handle(endpoint, matched, body.right)
  }
}

/** A new participant code: 6 upper-case characters derived from a fresh id (`participants.md`). */
const participantCode = (id: string): string => {
  const alnum = id.replace(/[^A-Za-z0-9]/g, "").toUpperCase()
  return alnum.length >= 6 ? alnum.slice(-6) : alnum.padStart(6, "0")
}
