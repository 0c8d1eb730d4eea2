/**
 * Endpoints 16–19 (`participants.md`): submitting adults and minors, the background KYC on the
 * simulator's clock, listing with filters and pages, the platform's lock, and the compliance moves the
 * control plane makes as zerohash staff would. Every status change except the two `pending_*` ones
 * sends a `participant_status_changed` webhook.
 */
import { Api, type Enums, Participants as Rules } from "@mta/domain"
import { Either, type ParseResult, Schema } from "effect"

type ParseError = ParseResult.ParseError

import type { Clock } from "../Clock.js"
import { errors, json, type RawResponse } from "./http.js"
import type { Participant } from "./model.js"
import type { Route } from "./router.js"
import type { Scheduler } from "./scheduler.js"
import type { Webhooks } from "./webhooks.js"

/** What KYC decides for a submission. */
export type KycOutcome =
  | { readonly status: "approved" }
  | { readonly status: "pending_approval" }
  | { readonly status: "rejected"; readonly reject_reasons?: ReadonlyArray<string> }

export interface ParticipantsDeps {
  readonly clock: Clock
  readonly scheduler: Scheduler
  readonly webhooks: Webhooks
  readonly participants: Map<string, Participant>
  readonly platformCode: string
  /** Delay of the background KYC, ms on the simulator's clock. */
  readonly kycDelayMs: () => number
  readonly newCode: () => string
}

type Endpoint16to19 = "createParticipant" | "createMinor" | "listParticipants" | "lockParticipant"

const decodeCustomer = Schema.decodeUnknownEither(Rules.CreateCustomerRequest, { errors: "all" })
const decodeMinor = Schema.decodeUnknownEither(Rules.CreateMinorRequest, { errors: "all" })
const decodeLock = Schema.decodeUnknownEither(Rules.LockParticipantRequest, { errors: "all" })
const decodeQuery = Schema.decodeUnknownEither(Rules.ParticipantQuery, { errors: "all" })

/** Canonical JSON of a body (keys sorted): what "the same payload" means. */
const canonical = (value: unknown): string =>
  JSON.stringify(value, (_key, v: unknown) =>
    v !== null && typeof v === "object" && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : 1)))
      : v
  )

export class Participants {
  /** Outcomes set by the control plane: for the next submission, or for one email's. */
  private nextOutcomes: Array<KycOutcome> = []
  private outcomesByEmail = new Map<string, KycOutcome>()

  constructor(private readonly deps: ParticipantsDeps) {}

  clear(): void {
    this.nextOutcomes = []
    this.outcomesByEmail.clear()
  }

  /** Answers an authenticated request to 16–19, its body already read. */
  handle(
    endpoint: Endpoint16to19,
    route: Route,
    body: unknown,
    query: string,
    requestId: string | undefined
  ) {
    switch (endpoint) {
      case "createParticipant":
        return this.submit("customer", body, requestId)
      case "createMinor":
        return this.submit("minor", body, requestId)
      case "listParticipants":
        return this.list(query)
      case "lockParticipant":
        return this.lock(route.member ?? "", body)
    }
  }

  // -------------------------------------------------------------------------------------------
  // 16 and 17
  // -------------------------------------------------------------------------------------------

  private submit(kind: "customer" | "minor", body: unknown, requestId: string | undefined): RawResponse {
    const decoded: Either.Either<unknown, ParseError> =
      kind === "customer" ? decodeCustomer(body) : decodeMinor(body)
    if (Either.isLeft(decoded)) return errors.badRequest(Api.formatErrors(decoded.left))
    const input = decoded.right as Readonly<Record<string, unknown>> & { readonly email: string }
    const now = this.deps.clock.now()
    const problems = [...Rules.clockProblems(kind, input, now)]
    if (kind === "minor" && typeof input.custodian_participant_code === "string") {
      const custodian = this.deps.participants.get(input.custodian_participant_code)
      if (custodian === undefined) {
        problems.push(`custodian_participant_code: participant ${input.custodian_participant_code} not found`)
      } else if (custodian.status !== "approved") {
        problems.push(
          `custodian_participant_code: participant ${custodian.participant_code} is not approved (status ${custodian.status})`
        )
      } else if (custodian.minor === true) {
        problems.push(`custodian_participant_code: participant ${custodian.participant_code} is a minor`)
      }
    }
    if (problems.length > 0) return errors.badRequest(problems)

    const fingerprint = canonical({ kind, input })
    const existing = this.byEmail(input.email)
    if (existing !== undefined) {
      const sub = existing.submission
      const same = sub !== undefined && sub.fingerprint === fingerprint
      if (!same) return errors.badRequest(["Participant already exists with this email for this platform"])
      if (requestId !== undefined && requestId === sub.requestId) return sub.response
      if (existing.status !== "rejected") {
        return errors.badRequest(["Participant data already used with different requestID"])
      }
      // A rejected participant may be submitted again with the same email and data.
      if ((existing.kyc_attempts ?? 0) >= Rules.MAX_REJECTIONS) {
        return errors.badRequest([
          `participant ${existing.participant_code} was rejected ${existing.kyc_attempts} times; it cannot be submitted again`
        ])
      }
      const response = this.answer(input, existing.participant_code, "submitted")
      this.set({
        ...existing,
        status: "submitted",
        reason_code: undefined,
        reject_reasons: undefined,
        updated_at: now,
        submission: { fingerprint, requestId, response }
      })
      this.announce(existing.participant_code)
      this.scheduleKyc(existing.participant_code, input.email)
      return response
    }

    const code = this.newCode()
    const response = this.answer(input, code, "submitted")
    this.set({
      participant_code: code,
      status: "submitted",
      email: input.email,
      participant_name: `${String(input.first_name)} ${String(input.last_name)}`,
      jurisdiction_code: String(input.jurisdiction_code),
      minor: kind === "minor",
      updated_at: now,
      kyc_attempts: 0,
      submission: { fingerprint, requestId, response }
    })
    this.announce(code)
    this.scheduleKyc(code, input.email)
    return response
  }

  /** The 201 of a submission: its fields, the platform, the code and (**Decision**) `submitted`. */
  private answer(input: Readonly<Record<string, unknown>>, code: string, status: string): RawResponse {
    return json(201, {
      message: { ...input, platform_code: this.deps.platformCode, participant_code: code, status }
    })
  }

  private newCode(): string {
    for (;;) {
      const code = this.deps.newCode()
      if (!this.deps.participants.has(code)) return code
    }
  }

  private byEmail(email: string): Participant | undefined {
    const wanted = email.toLowerCase()
    for (const p of this.deps.participants.values()) if (p.email?.toLowerCase() === wanted) return p
    return undefined
  }

  private scheduleKyc(code: string, email: string): void {
    const outcome = this.outcomesByEmail.get(email.toLowerCase()) ?? this.nextOutcomes.shift()
    this.outcomesByEmail.delete(email.toLowerCase())
    this.deps.scheduler.schedule(this.deps.kycDelayMs(), `kyc ${code}`, () => {
      const p = this.deps.participants.get(code)
      if (p === undefined || p.status !== "submitted") return
      this.applyKyc(p, outcome ?? { status: "approved" })
    })
  }

  private applyKyc(p: Participant, outcome: KycOutcome): void {
    if (outcome.status === "approved") this.move(p.participant_code, "kyc_approved")
    else if (outcome.status === "pending_approval") this.move(p.participant_code, "kyc_pending")
    else {
      const reasons = outcome.reject_reasons ?? ["kyc_failed"]
      this.move(p.participant_code, "kyc_rejected", {
        reject_reasons: reasons,
        kyc_attempts: (p.kyc_attempts ?? 0) + 1
      })
    }
  }

  // -------------------------------------------------------------------------------------------
  // 18
  // -------------------------------------------------------------------------------------------

  private list(queryText: string): RawResponse {
    const raw: Record<string, string> = {}
    for (const [k, v] of new URLSearchParams(queryText)) raw[k] = v
    const decoded = decodeQuery(raw)
    if (Either.isLeft(decoded)) return errors.badRequest(Api.formatErrors(decoded.left))
    const q = decoded.right
    const matching = [...this.deps.participants.values()]
      .filter(
        (p) =>
          (q.participant_code === undefined || p.participant_code === q.participant_code) &&
          (q.email === undefined || p.email?.toLowerCase() === q.email.toLowerCase()) &&
          (q.status === undefined || p.status === q.status) &&
          (q.minors === undefined || (p.minor === true) === (q.minors === "true"))
      )
      .sort((a, b) => (a.participant_code < b.participant_code ? -1 : 1))
    const page = q.page ?? 1
    const size = Rules.PAGE_SIZE
    const totalPages = Math.max(1, Math.ceil(matching.length / size))
    return json(200, {
      message: matching.slice((page - 1) * size, page * size).map((p) => ({
        participant_code: p.participant_code,
        participant_name: p.participant_name ?? p.participant_code,
        email: p.email ?? null,
        status: p.status,
        reason_code: reasonOf(p) ?? null,
        jurisdiction_code: p.jurisdiction_code ?? null,
        updated_at: p.updated_at ?? 0
      })),
      count: matching.length,
      page,
      page_size: size,
      total_pages: totalPages
    })
  }

  // -------------------------------------------------------------------------------------------
  // 19
  // -------------------------------------------------------------------------------------------

  private lock(code: string, body: unknown): RawResponse {
    if (!Rules.PARTICIPANT_CODE.test(code)) {
      return errors.badRequest([
        `participant_code: expected a participant code of exactly 6 characters (A-Z, a-z, 0-9, _ or -), got ${JSON.stringify(code)}`
      ])
    }
    const decoded = decodeLock(body)
    if (Either.isLeft(decoded)) return errors.badRequest(Api.formatErrors(decoded.left))
    const p = this.deps.participants.get(code)
    if (p === undefined) return errors.notFound("participant not found")
    const result = Rules.transition(p.status, "platform_lock")
    if (Either.isLeft(result)) return errors.badRequest([result.left.message])
    this.move(code, "platform_lock", { reason_code: decoded.right.reason_code, author: "platform" })
    return { status: 200, headers: { "content-type": "text/plain; charset=utf-8" }, body: "OK" }
  }

  // -------------------------------------------------------------------------------------------
  // Moves (KYC, the platform's lock, the control plane's compliance moves)
  // -------------------------------------------------------------------------------------------

  /**
   * Applies a move to a participant: its new status and reason, then the webhook (none for the two
   * `pending_*` statuses). Answers the move's refusal when it does not apply from the current status.
   */
  move(
    code: string,
    move: Rules.Move,
    extra: {
      readonly reason_code?: Enums.ParticipantReasonCode | undefined
      readonly reject_reasons?: ReadonlyArray<string>
      readonly kyc_attempts?: number
      readonly author?: "platform" | "zerohash"
    } = {}
  ): Either.Either<Participant, Rules.MoveRefused | { readonly _tag: "NotFound"; readonly message: string }> {
    const p = this.deps.participants.get(code)
    if (p === undefined) return Either.left({ _tag: "NotFound", message: `participant ${code} not found` })
    const result = Rules.transition(p.status, move)
    if (Either.isLeft(result)) return Either.left(result.left)
    const to = result.right
    const reason: Enums.ParticipantReasonCode | undefined =
      extra.reason_code ??
      (to === "approved" && move === "unlock"
        ? "risk_cleared"
        : to === "approved" || to === "submitted" || to === "rejected"
          ? undefined
          : p.reason_code)
    const next: Participant = {
      ...p,
      status: to,
      reason_code: reason,
      reject_reasons: to === "rejected" ? (extra.reject_reasons ?? p.reject_reasons) : undefined,
      kyc_attempts: to === "approved" ? 0 : (extra.kyc_attempts ?? p.kyc_attempts),
      locked_by: to === "locked" ? (extra.author ?? "zerohash") : p.locked_by,
      updated_at: this.deps.clock.now()
    }
    this.set(next)
    this.announce(code)
    return Either.right(next)
  }

  /** Sets the KYC outcome of the next submission, or of the submission with `email`. */
  setOutcome(outcome: KycOutcome, email?: string): void {
    if (email === undefined) this.nextOutcomes.push(outcome)
    else this.outcomesByEmail.set(email.toLowerCase(), outcome)
  }

  /** Decides a participant waiting in `pending_approval` (approved or rejected). */
  decide(code: string, outcome: Exclude<KycOutcome, { status: "pending_approval" }>) {
    const p = this.deps.participants.get(code)
    if (p === undefined)
      return Either.left({ _tag: "NotFound" as const, message: `participant ${code} not found` })
    if (outcome.status === "approved") return this.move(code, "kyc_approved")
    return this.move(code, "kyc_rejected", {
      reject_reasons: outcome.reject_reasons ?? ["kyc_failed"],
      kyc_attempts: (p.kyc_attempts ?? 0) + 1
    })
  }

  private set(p: Participant): void {
    this.deps.participants.set(p.participant_code, p)
  }

  /** The webhook of the participant's current status; none for the two `pending_*` statuses. */
  private announce(code: string): void {
    const p = this.deps.participants.get(code)
    if (p === undefined || Rules.unannounced.has(p.status)) return
    const reason = reasonOf(p)
    const payload: Record<string, unknown> = {
      participant_code: p.participant_code,
      participant_status: p.status,
      timestamp: p.updated_at ?? this.deps.clock.now()
    }
    if (reason !== undefined) payload.reason_code = reason
    if (p.status === "rejected") {
      payload.reject_reasons = p.reject_reasons ?? []
      payload.kyc_attempts = p.kyc_attempts ?? 1
    }
    this.deps.webhooks.emitParticipant(p.participant_code, p.status, JSON.stringify(payload), payload)
  }
}

/** The reason code a list entry and a webhook carry: a rejection's first reject reason, else the code. */
const reasonOf = (p: Participant): string | undefined =>
  p.status === "rejected" ? (p.reject_reasons?.[0] ?? undefined) : p.reason_code
