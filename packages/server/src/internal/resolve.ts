/**
 * Resolving creates whose outcome is unknown (production.md §5): sending a pending create again, what
 * its answer means for the key, the final answer of one pending too long, and the resolver loop that
 * does it in the background (the same claims a caller's retry makes, so one decision: `store/claim.ts`).
 *
 * A re-send is safe because of the vendor's duplicate guard on (participant_code, account_label): a
 * 202 means the first attempt never landed (that is the answer), a duplicate conflict means it did
 * (the account's webhook will name it). Only the claim that got `resend` sends, and it holds the key
 * until its lease ends (across replicas with PostgreSQL: the row's lock decides the claim).
 */
import { randomUUID } from "node:crypto"
import { Conflict } from "@mta/client"
import { Api, Endpoint, Zrn } from "@mta/domain"
import { Either, Schema } from "effect"
import * as Errors from "../Errors.js"
import { carriedOutOf } from "../Failures.js"
import type { ClaimOutcome, KeyResolution, StoredResponse } from "../Store.js"
import { reconciledResponse } from "../Store.js"
import { summarize } from "./audit.js"
import type { Shared } from "./context.js"
import * as Tracing from "./tracing.js"

/** What a settled re-send (or a pending claim) leaves: the key's resolution and the caller's answer. */
export interface Settled {
  /** `undefined`: nothing to write (the key stays as the claim left it). */
  readonly resolution: KeyResolution | undefined
  readonly response: StoredResponse
  /** The audit outcome. */
  readonly outcome: string
  /** The account's ZRN when the answer names it. */
  readonly zrn: string | null
}

/** An error's answer, as a stored response (its body with `code` and `request_id`). */
export const storedError = (error: unknown, requestId: string): StoredResponse => {
  const r = Errors.toResponse(error, requestId)
  return {
    status: r.status,
    headers: { ...r.headers, "content-type": "application/json" },
    body: JSON.stringify(r.body)
  }
}

const seconds = (ms: number) => Math.round(ms / 1000)

/** 409 `idempotency_outcome_pending` with why and what comes next. */
export const pendingAnswer = (why: string, requestId: string): StoredResponse =>
  storedError(
    new Errors.IdempotencyConflict({
      reason: "outcome_pending",
      message: `${why}; retry later with the same Idempotency-Key`
    }),
    requestId
  )

/** The answer of a pending claim (`pending`), saying what it waits for. */
export const pendingOf = (
  shared: Shared,
  outcome: Extract<ClaimOutcome, { _tag: "pending" }>,
  requestId: string
): StoredResponse => {
  const left = Math.max(0, seconds(outcome.since + shared.idempotencyPendingMaxMs - shared.now()))
  return pendingAnswer(
    outcome.landed
      ? `the create sent with this key landed at zerohash (its duplicate guard found the account), and the webhook that names its ZRN has not arrived yet (final answer within ${left} s)`
      : `the outcome of the create sent with this key is unknown and it is being sent again to find out (final answer within ${left} s)`,
    requestId
  )
}

/** The final answer of a create pending too long (`expired`), with its cause. */
export const expiredOf = (
  shared: Shared,
  outcome: Extract<ClaimOutcome, { _tag: "expired" }>,
  requestId: string
): Settled => {
  const waited = seconds(shared.now() - outcome.since)
  const error = outcome.landed
    ? new Errors.CreateUnresolved({
        reason: "landed",
        message: `the create sent with this Idempotency-Key was carried out by zerohash (its duplicate guard reports the account for this participant_code and account_label), but no webhook named the account's ZRN within ${waited} s and zerohash offers no lookup by label: the account exists; its ZRN will be in the proxy's event stream (/events) when its webhook arrives. Do not create it again`
      })
    : new Errors.CreateUnresolved({
        reason: "unanswered",
        message: `the outcome of the create sent with this Idempotency-Key stayed unknown for ${waited} s: zerohash answered none of its re-sends, and no webhook reported the account. Whether it exists is unknown: a create with a new key answers 409 upstream_conflict if it does`
      })
  return {
    resolution: { _tag: "complete", response: storedError(error, requestId) },
    response: storedError(error, requestId),
    outcome: error.reason === "landed" ? "create_account_unreported" : "create_outcome_unresolved",
    zrn: null
  }
}

/** The 202 of a create, as the create route answers it. */
export const createdResponse = (account: unknown): StoredResponse => ({
  status: 202,
  headers: { "content-type": "application/json" },
  body: JSON.stringify(
    Schema.encodeSync(Endpoint.table.createAccount.response as Schema.Schema.AnyNoContext)(account)
  )
})

const decodeCreate = Schema.decodeUnknownEither(Api.CreateAccountRequest)
const encodeCreate = Schema.encodeSync(Api.CreateAccountRequest)

/**
 * Sends a pending create again (`resend`) under the vendor's budget of `caller`, and settles what its
 * answer means: 202 is the answer; a duplicate conflict is the key's own account when `ownConflict`
 * (it landed: wait for its webhook), else a genuine 409; an answer that says it was carried out is
 * final; anything else keeps it pending (sent again after `idempotencyResendAfterMs`).
 */
export const resend = async (
  shared: Shared,
  caller: string,
  outcome: Extract<ClaimOutcome, { _tag: "resend" }>,
  requestId: string
): Promise<Settled> => {
  const at = shared.now()
  let parsed: unknown
  try {
    parsed = JSON.parse(outcome.body)
  } catch {
    parsed = undefined
  }
  const decoded = decodeCreate(parsed)
  if (Either.isLeft(decoded)) {
    // Only a record written by hand can get here (the body was checked before it was first sent).
    const response = storedError(
      new Errors.InvalidRequest({
        messages: ["the stored create of this Idempotency-Key cannot be sent again"]
      }),
      requestId
    )
    return { resolution: { _tag: "complete", response }, response, outcome: "invalid_request", zrn: null }
  }
  let release: ((at: number) => void) | undefined
  try {
    if (shared.egress !== undefined) {
      const callerEntry = shared.authenticator.callers.find((c) => c.name === caller)
      // The shared budget (PostgreSQL) may answer after a round trip.
      const slot = await shared.egress.admit(caller, shared.upstreamShareOf(callerEntry), at)
      if (typeof slot !== "function") {
        const response = pendingAnswer(
          `the create sent with this key has an unknown outcome; sending it again waits for the upstream rate limit (${seconds(slot.waitMs)} s)`,
          requestId
        )
        return {
          resolution: { _tag: "reconcile", at, retryAt: at + slot.waitMs },
          response,
          outcome: "idempotency_outcome_pending",
          zrn: null
        }
      }
      release = slot
    }
    const account = await shared.upstream.createAccount(encodeCreate(decoded.right), { requestId })
    const zrn = Zrn.format(account.zrn)
    await shared.store.observe({ zrn, status: account.status ?? null, source: "create", at })
    const response = createdResponse(account)
    return { resolution: { _tag: "complete", response }, response, outcome: "accepted", zrn }
  } catch (error) {
    const tag = (error as { _tag?: unknown } | null)?._tag
    if (tag === "Conflict") {
      if (outcome.ownConflict) {
        return {
          resolution: { _tag: "landed", at },
          response: pendingAnswer(
            "the create sent with this key landed at zerohash (sent again, its duplicate guard found the account), and the webhook that names its ZRN has not arrived yet",
            requestId
          ),
          outcome: "idempotency_outcome_pending",
          zrn: null
        }
      }
      const response = storedError(error, requestId)
      return { resolution: { _tag: "complete", response }, response, outcome: "upstream_conflict", zrn: null }
    }
    if (carriedOutOf(error) === "yes") {
      const response = storedError(error, requestId)
      return { resolution: { _tag: "complete", response }, response, outcome: String(tag), zrn: null }
    }
    const answered = storedError(error, requestId)
    return {
      resolution: { _tag: "reconcile", at, retryAt: shared.now() + shared.idempotencyResendAfterMs },
      response: pendingAnswer(
        `the outcome of the create sent with this key is unknown; sent again, zerohash answered ${answered.status} (${JSON.parse(answered.body).code}), so it will be sent again within ${seconds(shared.idempotencyResendAfterMs)} s`,
        requestId
      ),
      outcome: "idempotency_outcome_pending",
      zrn: null
    }
  } finally {
    release?.(shared.now())
  }
}

/** Options of the resolver loop. */
export interface ResolverOptions {
  /** How often it looks for pending creates, ms. */
  readonly intervalMs: number
  /** Keys resolved per pass at most. */
  readonly batch?: number
}

/**
 * The resolver loop: every `intervalMs`, each pending create (oldest retry first) is claimed as a
 * caller's retry would claim it, and settled: answered from the webhook inbox, sent again, or given its
 * final answer. Each settled key leaves an audit entry (request id `resolver-…`). Returns `stop`.
 */
export const startResolver = (shared: Shared, options: ResolverOptions): (() => Promise<void>) => {
  let stopped = false
  let running: Promise<void> | undefined
  const pass = async () => {
    const now = shared.now()
    const due = await shared.store.pendingCreates({
      now,
      limit: options.batch ?? 100,
      pendingLimitMs: shared.idempotencyPendingMaxMs
    })
    if (due.length === 0) return
    // A pass with work is a trace of its own: its re-sends and store steps are the root span's children.
    await Tracing.background("resolve pass", { "mta.resolve.keys": due.length }, async () => {
      for (const k of due) {
        if (stopped) return
        await resolveOne(shared, k.caller, k.key, k.fingerprint).catch(() => {})
      }
    })
  }
  const timer = setInterval(() => {
    if (running !== undefined || stopped) return
    running = pass()
      .catch((error: unknown) => {
        shared.logger.warn({ err: { message: (error as Error).message } }, "idempotency resolver pass failed")
      })
      .finally(() => {
        running = undefined
      })
  }, options.intervalMs)
  timer.unref()
  return async () => {
    stopped = true
    clearInterval(timer)
    await running
  }
}

/** Claims one pending create as its caller's retry would, and settles it. */
export const resolveOne = async (shared: Shared, caller: string, key: string, fingerprint: string) => {
  const now = shared.now()
  const requestId = `resolver-${randomUUID()}`
  const outcome = await shared.store.claimIdempotencyKey({
    caller,
    key,
    fingerprint,
    now,
    expiresAt: now + shared.idempotencyTtlMs,
    leaseUntil: now + shared.idempotencyLeaseMs,
    pendingLimitMs: shared.idempotencyPendingMaxMs
  })
  let settled: Settled | undefined
  switch (outcome._tag) {
    case "resend":
      settled = await resend(shared, caller, outcome, requestId)
      break
    case "expired":
      settled = expiredOf(shared, outcome, requestId)
      break
    case "reconciling": {
      const response = reconciledResponse(outcome.account)
      settled = {
        resolution: { _tag: "complete", response },
        response,
        outcome: "reconciled",
        zrn: outcome.account.zrn
      }
      break
    }
    case "conflict": {
      const response = genuineConflict(requestId)
      settled = {
        resolution: { _tag: "complete", response },
        response,
        outcome: "upstream_conflict",
        zrn: null
      }
      break
    }
    case "claimed":
      // The record expired meanwhile and this claimed it afresh: nothing to send, forget it again.
      settled = {
        resolution: { _tag: "release" },
        response: pendingAnswer("", requestId),
        outcome: "released",
        zrn: null
      }
      break
    default:
      return
  }
  await shared.store.finishCall({
    idempotency:
      settled.resolution === undefined ? undefined : { caller, key, resolution: settled.resolution },
    audit: {
      at: now,
      caller,
      action: "createAccount",
      target: settled.zrn,
      summary: {
        ...summarize({
          method: "POST",
          path: "/accounts",
          body: undefined,
          bytes: undefined,
          idempotencyKey: key
        }),
        resolver: true
      },
      outcome: settled.outcome,
      status: settled.response.status,
      requestId
    }
  })
}

/** The final 409 of a pending create whose (participant, label) is someone else's account. */
export const genuineConflict = (requestId: string): StoredResponse =>
  storedError(
    new Conflict({
      status: 409,
      requestId,
      operation: "createAccount",
      message: "duplicate account",
      messages: [
        "an account with this participant_code and account_label exists already and it is not the one this Idempotency-Key created (a webhook reported it before this key first sent its create, or another key created it): (participant_code, account_label) must be unique"
      ]
    }),
    requestId
  )
