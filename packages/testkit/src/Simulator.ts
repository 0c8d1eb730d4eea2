/**
 * A stateful, in-memory fake of the zerohash Customer Accounts API with a standard
 * `fetch(Request) → Promise<Response>` entry point, and the control plane a test needs: participants,
 * balances, features, faults, the request journal, the delivered webhooks, `settle()` and `reset()`.
 *
 * @since 0.1.0
 */

import { randomUUID } from "node:crypto"
import { Access, Api, type Participants as DomainParticipants, type Enums, Zrn } from "@mta/domain"
import { Either, Schema } from "effect"
import * as Clock from "./Clock.js"
import type { FaultSpec } from "./Fault.js"
import { isDecimal } from "./internal/decimal.js"
import { Engine } from "./internal/engine.js"
import { isDropped, type Outcome, type RawRequest } from "./internal/http.js"
import type { JournalEntry } from "./internal/journal.js"
import type { Account, AsyncStep, LedgerEntry, Participant, StatusReasonFields } from "./internal/model.js"
import type { KycOutcome } from "./internal/participants.js"
import { type EndpointName, endpointPaths, endpointNames as names } from "./internal/router.js"
import {
  defaultRetrySchedule,
  type RetrySchedule,
  type WebhookEvent,
  type WebhookListener,
  type WebhookRecord
} from "./internal/webhooks.js"
import type { Credentials } from "./Signing.js"

export type { KycOutcome } from "./internal/participants.js"
export type { WebhookAttempt, WebhookDelivery } from "./internal/webhooks.js"
export type {
  Account,
  AsyncStep,
  EndpointName,
  JournalEntry,
  LedgerEntry,
  Participant,
  RetrySchedule,
  StatusReasonFields,
  WebhookEvent,
  WebhookListener,
  WebhookRecord
}

/** The 15 endpoint names, in the order of upstream-api.md's table. */
export const endpointNames: ReadonlyArray<EndpointName> = names

/** Method, path template and success status of each endpoint. */
export const endpoints = endpointPaths

/** Credentials the simulator accepts unless told otherwise (they are fake; printing them is fine). */
export const defaultCredentials: Credentials = {
  apiKey: "mta-simulator-key",
  // base64 of "mta-simulator-secret-not-for-production"
  apiSecret: "bXRhLXNpbXVsYXRvci1zZWNyZXQtbm90LWZvci1wcm9kdWN0aW9u",
  passphrase: "mta-simulator-passphrase"
}

/** The webhook secret the simulator signs with unless told otherwise. */
export const defaultWebhookSecret = "mta-simulator-webhook-secret"

/** The platform code (and account group) of created accounts unless told otherwise. */
export const defaultPlatformCode = "PLAT01"

/** The demo participants of architecture.md, all approved: CUST01…CUST20, MINOR1, CUSTD1, TRUST1, TRSTE1, BUSNS1, ADVSR1, ADVSR2. */
export const demoParticipants: ReadonlyArray<string> = [
  ...Array.from({ length: 20 }, (_, i) => `CUST${String(i + 1).padStart(2, "0")}`),
  "MINOR1",
  "CUSTD1",
  "TRUST1",
  "TRSTE1",
  "BUSNS1",
  "ADVSR1",
  "ADVSR2"
]

/** A participant to add: a code, with status `approved` unless given. */
export interface ParticipantInput {
  readonly participant_code: string
  readonly status?: Enums.ParticipantStatus
  readonly reason_code?: Enums.ParticipantReasonCode
}

/** The vendor's rate limit: `limit` requests per rolling `windowMs`, then `lockoutMs` of 429. */
export interface RateLimitOptions {
  readonly limit?: number
  readonly windowMs?: number
  readonly lockoutMs?: number
}

/** Where and how `customer_account_status_changed` notifications are delivered. */
export interface WebhookOptions {
  /** POSTed here (with the vendor's retries); in-process listeners (`onWebhook`) get them too. */
  readonly url?: string
  /** HMAC secret; default `defaultWebhookSecret`. */
  readonly secret?: string
  readonly retry?: Partial<RetrySchedule>
  /** Deliver every notification twice, as at-least-once delivery does. */
  readonly duplicates?: boolean
  /** Hold notifications briefly and deliver each batch newest first. */
  readonly outOfOrder?: boolean | { readonly holdMs: number }
  /** Per-attempt timeout of URL delivery; default 10 000 ms. */
  readonly timeoutMs?: number
  /** The fetch used for URL delivery; default `globalThis.fetch` at the time of each attempt. */
  readonly fetch?: typeof globalThis.fetch
}

/** Options of `createSimulator`; every one has a default. */
export interface SimulatorOptions {
  /** Accepted API keys; default `defaultCredentials`. */
  readonly credentials?: Credentials | ReadonlyArray<Credentials>
  /** Default the real clock (vitest fake timers apply). */
  readonly clock?: Clock.Clock
  /** The geo the API is served in: short ZRN forms take it, created ZRNs carry it. Default `us`. */
  readonly geo?: Enums.Geo
  /** `platform_code` and `account_group` of created accounts. Default `PLAT01`. */
  readonly platformCode?: string
  /** Delay of the background steps (ms), one for all or per step. Default 0 (the next timer tick). */
  readonly asyncDelayMs?: number | Partial<Record<AsyncStep, number>>
  /** Whether a divesting account is liquidated (balances out, then closed) on its own. Default true. */
  readonly autoLiquidate?: boolean
  /** Ledger accounts per page of `GET /accounts`. Default 50. */
  readonly pageSize?: number
  /** Requests per rolling 10 s (a number), the full shape, or `false`/`0` for none. Default 2000. */
  readonly rateLimit?: number | false | RateLimitOptions
  /** Allowed distance of `X-SCX-TIMESTAMP` from the clock. Default 60 000 ms. */
  readonly timestampWindowMs?: number
  /** Journal entries kept (oldest dropped first). Default 10 000. */
  readonly journalLimit?: number
  readonly webhook?: WebhookOptions
  /** Participants present from the start (codes are approved). */
  readonly participants?: ReadonlyArray<ParticipantInput | string>
  /** Add `demoParticipants` too. */
  readonly seedDemo?: boolean
  /** Feature flags; `status_reason` is off by default, as on the vendor's platforms. */
  readonly features?: { readonly status_reason?: boolean }
  /** Id generator for ZRNs, ledger accounts and notifications; default random UUIDs. */
  readonly ids?: () => string
}

/** Why a control call was refused; thrown, because a broken test setup must fail loudly. */
export class SimulatorControlError extends Schema.TaggedError<SimulatorControlError>()(
  "SimulatorControlError",
  {
    reason: Schema.Literal(
      "UnknownAccount",
      "InvalidBalance",
      "InvalidParticipant",
      "InvalidFault",
      "NotDivesting",
      "UnknownParticipant",
      "InvalidMove"
    ),
    message: Schema.String
  }
) {}

/** The simulator: a `fetch` entry point plus its control plane. */
export interface Simulator {
  /** Answers one request as the vendor would. A dropped-connection fault rejects, as `fetch` does. */
  readonly fetch: (request: Request) => Promise<Response>
  /** The first accepted credentials (sign requests with these). */
  readonly credentials: Credentials
  readonly webhookSecret: string
  readonly geo: Enums.Geo
  readonly platformCode: string
  readonly clock: Clock.Clock

  /** Adds or replaces a participant (status `approved` unless given). */
  addParticipant(input: ParticipantInput | string): Participant
  participant(code: string): Participant | undefined
  /**
   * Sets what KYC decides for the next submission (16 or 17), or for the submission with `email`:
   * `approved` (the default), `pending_approval` (then `decideParticipant`), or `rejected` with reasons.
   */
  setKycOutcome(outcome: KycOutcome, options?: { readonly email?: string }): void
  /** Decides a participant waiting in `pending_approval`: approved, or rejected with reasons. */
  decideParticipant(
    code: string,
    outcome:
      | { readonly status: "approved" }
      | { readonly status: "rejected"; readonly reject_reasons?: ReadonlyArray<string> }
  ): Participant
  /**
   * Moves a participant as zerohash compliance would (`participants.md`): `compliance_lock`,
   * `request_unlock`, `unlock`, `request_disable`, `disable`, `divest`, `close` (or any move of
   * `Participants.moves`), with a reason code. Sends the webhook (none for the `pending_*` statuses).
   */
  moveParticipant(
    code: string,
    move: DomainParticipants.Move,
    reason_code?: Enums.ParticipantReasonCode
  ): Participant
  /** Sets one balance (a decimal string) of a customer account; account type `available` unless given. */
  setBalance(input: {
    readonly zrn: string
    readonly asset: string
    readonly balance: string
    readonly account_type?: Enums.LedgerAccountType
  }): LedgerEntry
  /** Turns a feature flag on (or off). */
  enableFeature(name: "status_reason", enabled?: boolean): void
  /** Sets what the status reason endpoint answers for an account (author type, reason, notes, ...). */
  setStatusReason(zrn: string, fields: StatusReasonFields): void
  /**
   * Moves an account to a status at once, as zerohash's own staff or systems can (a compliance lock,
   * say): no transition check, one webhook, and the status reason given (default author `admin`).
   */
  forceStatus(zrn: string, status: Enums.AccountStatus, reason?: StatusReasonFields): void
  /** Liquidates a divesting account now (for `autoLiquidate: false`). */
  liquidate(zrn: string): void
  /** An account as reads currently see it. */
  account(zrn: string): Account | undefined
  accounts(): ReadonlyArray<Account>
  /** Ledger accounts, zero balances included. */
  ledger(): ReadonlyArray<LedgerEntry>
  /**
   * May this participant do this action (view, buy, sell, deposit, withdraw) on this account now?
   * The domain's access decision over the simulator's current account and participant state, for
   * tests of code that trades or moves funds on a customer account.
   */
  decide(zrn: string, participantCode: string, action: Enums.Action): Access.Decision

  /** Injects a fault; remove it with the returned handle (or `clearFaults`). */
  injectFault(spec: FaultSpec): { readonly id: number; readonly remove: () => void }
  clearFaults(): void

  /** Runs every pending background step now, in order, and waits for the webhook deliveries (with retries). */
  settle(): Promise<void>
  /** Labels of the background work not yet run. */
  pending(): ReadonlyArray<string>
  /** Every request and its answer, oldest first. */
  journal(): ReadonlyArray<JournalEntry>
  /** Every notification emitted, with its delivery attempts. */
  webhooks(): ReadonlyArray<WebhookRecord>
  /** Registers an in-process webhook receiver; returns its removal. */
  onWebhook(listener: WebhookListener): () => void
  /** Changes the webhook URL (`null` for none) and delivery modes, e.g. once a receiver's port is known. */
  configureWebhooks(options: {
    readonly url?: string | null
    readonly duplicates?: boolean
    readonly outOfOrder?: boolean | { readonly holdMs: number }
  }): void
  /**
   * Forgets accounts, balances, the journal, webhook records, faults and pending work; participants
   * and features go back to the options. Webhook wiring (listeners, URL, modes) stays, so a receiver
   * registered once (the proxy's) keeps receiving across tests.
   */
  reset(): void
}

const canonical = (geo: Enums.Geo, zrn: string): string | undefined => {
  const parsed = Zrn.parse(zrn, { geo, subdomain: "customer" })
  return Either.isRight(parsed) && parsed.right.subdomain === "customer"
    ? Zrn.format(parsed.right)
    : undefined
}

const resolveDelays = (d: SimulatorOptions["asyncDelayMs"]): Record<AsyncStep, number> => {
  const base = typeof d === "number" ? d : 0
  const per = typeof d === "object" ? d : {}
  return {
    provisioning: per.provisioning ?? base,
    statusChange: per.statusChange ?? base,
    members: per.members ?? base,
    update: per.update ?? base,
    liquidation: per.liquidation ?? base,
    kyc: per.kyc ?? base
  }
}

const resolveRateLimit = (r: SimulatorOptions["rateLimit"]) => {
  if (r === false || r === 0) return undefined
  const o = typeof r === "number" ? { limit: r } : (r ?? {})
  return { limit: o.limit ?? 2000, windowMs: o.windowMs ?? 10_000, lockoutMs: o.lockoutMs ?? 10_000 }
}

const toParticipant = (p: ParticipantInput | string): Participant =>
  typeof p === "string"
    ? { participant_code: p, status: "approved" }
    : { participant_code: p.participant_code, status: p.status ?? "approved", reason_code: p.reason_code }

const engines = new WeakMap<Simulator, Engine>()

/** The engine behind a simulator, for the adapters of this package (msw, the HTTP server). */
export const engineOf = (simulator: Simulator): Engine => {
  const engine = engines.get(simulator)
  if (engine === undefined) throw new TypeError("not a simulator made by createSimulator")
  return engine
}

/** The path and query of an absolute URL, without building a `URL` (it is on the hot path). */
const targetOf = (url: string): string => {
  const scheme = url.indexOf("://")
  const slash = scheme === -1 ? url.indexOf("/") : url.indexOf("/", scheme + 3)
  if (slash === -1) return "/"
  const hash = url.indexOf("#", slash)
  return hash === -1 ? url.slice(slash) : url.slice(slash, hash)
}

/** A rejected fetch like undici's on a reset connection. */
export const droppedConnectionError = (): TypeError =>
  new TypeError("fetch failed", {
    cause: Object.assign(new Error("socket hang up (connection dropped by a simulator fault)"), {
      code: "ECONNRESET"
    })
  })

/** Builds a web `Response` from the simulator's outcome, or rejects like a dropped connection. */
export const toResponse = (outcome: Outcome): Response => {
  if (isDropped(outcome)) throw droppedConnectionError()
  return new Response(outcome.body, { status: outcome.status, headers: outcome.headers })
}

/** Creates a simulator. */
export const createSimulator = (options: SimulatorOptions = {}): Simulator => {
  const credentials =
    options.credentials === undefined
      ? [defaultCredentials]
      : Array.isArray(options.credentials)
        ? (options.credentials as ReadonlyArray<Credentials>)
        : [options.credentials as Credentials]
  if (credentials.length === 0) throw new TypeError("createSimulator: credentials must not be empty")
  const clock = options.clock ?? Clock.system
  const geo = options.geo ?? "us"
  const platformCode = options.platformCode ?? defaultPlatformCode
  const webhookSecret = options.webhook?.secret ?? defaultWebhookSecret
  const participants = [
    ...(options.seedDemo === true ? demoParticipants : []),
    ...(options.participants ?? [])
  ].map(toParticipant)
  const webhookFetch = options.webhook?.fetch
  const engine = new Engine({
    clock,
    credentials,
    geo,
    platformCode,
    timestampWindowMs: options.timestampWindowMs ?? 60_000,
    delays: resolveDelays(options.asyncDelayMs),
    autoLiquidate: options.autoLiquidate ?? true,
    pageSize: options.pageSize ?? 50,
    rateLimit: resolveRateLimit(options.rateLimit),
    journalLimit: options.journalLimit ?? 10_000,
    webhookSecret,
    webhookUrl: options.webhook?.url,
    webhookFetch: webhookFetch === undefined ? undefined : () => webhookFetch,
    webhookRetry: { ...defaultRetrySchedule, ...options.webhook?.retry },
    webhookModes: {
      ...(options.webhook?.duplicates === undefined ? {} : { duplicates: options.webhook.duplicates }),
      ...(options.webhook?.outOfOrder === undefined ? {} : { outOfOrder: options.webhook.outOfOrder })
    },
    webhookTimeoutMs: options.webhook?.timeoutMs ?? 10_000,
    participants,
    features: { status_reason: options.features?.status_reason ?? false },
    newId: options.ids ?? randomUUID
  })

  const slotOf = (zrn: string) => {
    const key = canonical(geo, zrn)
    const slot = key === undefined ? undefined : engine.accounts.slot(key)
    if (slot === undefined || key === undefined) {
      throw new SimulatorControlError({ reason: "UnknownAccount", message: `no customer account ${zrn}` })
    }
    return { key, slot }
  }

  /** A participant after a control move, or the move's refusal thrown (a broken test setup). */
  const moved = (
    result: Either.Either<Participant, { readonly _tag: string; readonly message: string }>
  ): Participant => {
    if (Either.isRight(result)) return result.right
    throw new SimulatorControlError({
      reason: result.left._tag === "NotFound" ? "UnknownParticipant" : "InvalidMove",
      message: result.left.message
    })
  }

  const simulator: Simulator = {
    credentials: credentials[0]!,
    webhookSecret,
    geo,
    platformCode,
    clock,
    fetch: async (request) => {
      const method = request.method
      const body = method === "GET" || method === "HEAD" ? "" : await request.text()
      const raw: RawRequest = {
        method,
        target: targetOf(request.url),
        header: (name) => request.headers.get(name) ?? undefined,
        body,
        source: "in-process"
      }
      return toResponse(await engine.handle(raw))
    },
    addParticipant: (input) => {
      const p = toParticipant(input)
      if (!Api.PARTICIPANT_CODE.test(p.participant_code)) {
        throw new SimulatorControlError({
          reason: "InvalidParticipant",
          message: `participant_code must be 1 to 6 characters of [A-Za-z0-9_-], got ${JSON.stringify(p.participant_code)}`
        })
      }
      engine.participants.set(p.participant_code, p)
      return p
    },
    participant: (code) => engine.participants.get(code),
    setKycOutcome: (outcome, options) => engine.people.setOutcome(outcome, options?.email),
    decideParticipant: (code, outcome) => moved(engine.people.decide(code, outcome)),
    moveParticipant: (code, move, reason_code) =>
      moved(engine.people.move(code, move, reason_code === undefined ? {} : { reason_code })),
    setBalance: ({ zrn, asset, balance, account_type }) => {
      if (!isDecimal(balance)) {
        throw new SimulatorControlError({
          reason: "InvalidBalance",
          message: `balance must be a decimal string such as "12.50", got ${JSON.stringify(balance)}`
        })
      }
      const { key } = slotOf(zrn)
      return engine.setBalance(key, asset, balance, account_type ?? "available")!
    },
    enableFeature: (name, enabled = true) => {
      engine.features[name] = enabled
    },
    setStatusReason: (zrn, fields) => {
      const { slot } = slotOf(zrn)
      slot.committed = { ...slot.committed, statusReason: { ...slot.committed.statusReason, ...fields } }
    },
    forceStatus: (zrn, status, reason) => {
      const { key, slot } = slotOf(zrn)
      slot.projected = { ...slot.projected, status }
      engine.accounts.applyStatus(key, status, { author_type: "admin", ...reason })
    },
    liquidate: (zrn) => {
      const { key } = slotOf(zrn)
      if (!engine.accounts.liquidate(key)) {
        throw new SimulatorControlError({
          reason: "NotDivesting",
          message: `account ${zrn} is not divesting`
        })
      }
    },
    account: (zrn) => {
      const key = canonical(geo, zrn)
      return key === undefined ? undefined : engine.accounts.slot(key)?.committed
    },
    accounts: () => engine.accounts.all(),
    ledger: () => engine.ledger.all(),
    decide: (zrn, participantCode, action) => {
      const { slot } = slotOf(zrn)
      const a = slot.committed
      const p = engine.participants.get(participantCode)
      return Access.decide({
        account: {
          type: a.type,
          participant_code: a.participant_code,
          tenants: a.tenants,
          financial_advisors: a.financial_advisors,
          status: a.status ?? null
        },
        // An unknown participant is asked about as one that is not approved.
        participant:
          p === undefined
            ? { code: participantCode, status: "submitted" }
            : { code: p.participant_code, status: p.status, reason_code: p.reason_code ?? null },
        action
      })
    },
    injectFault: (spec) => {
      if (
        spec.status !== undefined &&
        (!Number.isInteger(spec.status) || spec.status < 100 || spec.status > 599)
      ) {
        throw new SimulatorControlError({
          reason: "InvalidFault",
          message: `status must be an HTTP status, got ${spec.status}`
        })
      }
      if (spec.status === undefined && spec.drop !== true && spec.latencyMs === undefined) {
        throw new SimulatorControlError({
          reason: "InvalidFault",
          message: "a fault needs at least one of status, drop or latencyMs"
        })
      }
      const fault = engine.faults.add({
        endpoint: spec.endpoint ?? "*",
        status: spec.status,
        body: spec.body,
        latencyMs: spec.latencyMs,
        drop: spec.drop,
        afterApply: spec.afterApply,
        ...(spec.times === undefined ? {} : { times: spec.times }),
        ...(spec.forMs === undefined ? {} : { forMs: spec.forMs })
      })
      return { id: fault.id, remove: () => engine.faults.remove(fault.id) }
    },
    clearFaults: () => engine.faults.clear(),
    settle: () => engine.scheduler.settle(),
    pending: () => engine.scheduler.pending(),
    journal: () => [...engine.journal.list()],
    webhooks: () => engine.webhooks.list(),
    onWebhook: (listener) => engine.webhooks.listen(listener),
    configureWebhooks: ({ url, duplicates, outOfOrder }) =>
      engine.webhooks.configure({
        ...(url === undefined ? {} : { url }),
        modes: {
          ...(duplicates === undefined ? {} : { duplicates }),
          ...(outOfOrder === undefined ? {} : { outOfOrder })
        }
      }),
    reset: () => engine.reset()
  }
  engines.set(simulator, engine)
  return simulator
}
