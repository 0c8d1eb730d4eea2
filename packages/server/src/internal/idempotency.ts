/**
 * Idempotency keys and the audit log, as one middleware on every mutating endpoint (after caller
 * authentication, budget and scope, so the caller is known and the scope of a key is that caller).
 *
 * With an `Idempotency-Key` the request's fingerprint (`./fingerprint.ts`) is claimed in the store
 * before anything goes upstream (the store decides a claim with `./store/claim.ts`):
 *
 * - new key: the call runs; then its answer is stored (`complete`), or the key is freed (`release`)
 *   when the call was not carried out, or kept for reconciliation when a create's outcome is unknown;
 * - same key, same request, answered: the stored answer again, `Idempotent-Replayed: true`;
 * - same key, another request: 422 `idempotency_mismatch`; first request still running: 409
 *   `idempotency_in_flight`;
 * - a create whose outcome is unknown (production.md §5, `./resolve.ts`): answered with the account
 *   once a webhook has named its (participant, label), `Idempotent-Replayed: true`; otherwise the
 *   retry sends the create again (the vendor's duplicate guard makes that safe: 202 is the answer, a
 *   duplicate conflict means it landed), unless a re-send is in flight or it landed, when it is 409
 *   `idempotency_outcome_pending` saying what it waits for; past `MTA_IDEMPOTENCY_PENDING_MAX_MS` the
 *   final answer says the cause. The resolver loop does the same in the background.
 * - a create released after "not carried out" (a 503, a 429) keeps its record: when its retry meets
 *   the vendor's duplicate conflict, that is the key's own account (it was applied after all), which
 *   becomes pending until its webhook names it, never a 409.
 *
 * What becomes of the key after the call is the failure table's to say (`../Failures.ts`: was the
 * call carried out?). Every call, with a key or without, leaves one audit entry (`./audit.ts`),
 * written in the same atomic step as the key's resolution and before the answer is sent.
 */
import type { Endpoint } from "@mta/domain"
import { Zrn } from "@mta/domain"
import { Either } from "effect"
import type { MiddlewareHandler } from "hono"
import * as Errors from "../Errors.js"
import { carriedOutOf } from "../Failures.js"
import type { KeyResolution, StoredResponse } from "../Store.js"
import { reconciledResponse } from "../Store.js"
import { auditPath, outcomeOf, summarize } from "./audit.js"
import { readBody } from "./body.js"
import type { HonoEnv, Shared } from "./context.js"
import { fingerprinter } from "./fingerprint.js"
import { expiredOf, genuineConflict, pendingAnswer, pendingOf, resend, type Settled } from "./resolve.js"

/** 1-255 visible ASCII characters (Stripe allows 255). */
const KEY = /^[\x21-\x7e]{1,255}$/

/**
 * What becomes of a claimed key, from the call's answer (Stripe's rules, plus reconciliation): the
 * failure table says whether the call was carried out (`Failures.ts`).
 */
export const resolutionFor = (
  isCreate: boolean,
  status: number,
  error: unknown,
  response: () => StoredResponse,
  at?: number
): KeyResolution => {
  const carriedOut = carriedOutOf(error)
  // No error, or one the table does not know (a bug, answered 500): by the answer's status.
  if (carriedOut === undefined) {
    if (status < 500) return { _tag: "complete", response: response() }
    return isCreate ? pendingFrom(at) : { _tag: "release" }
  }
  if (carriedOut === "no") return { _tag: "release" }
  if (carriedOut === "yes") return { _tag: "complete", response: response() }
  // The outcome is unknown (500/502/504, timeout, dropped connection, an unreadable answer, a bug
  // after the call): a create becomes pending (resolved from the webhook inbox or by sending it again,
  // which the vendor's duplicate guard makes safe); every other mutation sets a state, so sending it
  // again cannot apply it twice.
  return isCreate ? pendingFrom(at) : { _tag: "release" }
}

/** A create's outcome became unknown at `at`: pending, and may be sent again at once. */
const pendingFrom = (at: number | undefined): KeyResolution =>
  at === undefined ? { _tag: "reconcile" } : { _tag: "reconcile", at, retryAt: at }

const canonicalZrn = (raw: string, geo: Shared["geo"]): string | undefined => {
  const parsed = Zrn.parse(raw, { geo, subdomain: "customer" })
  return Either.isRight(parsed) ? Zrn.format(parsed.right) : undefined
}

const replayed = (response: StoredResponse): Response =>
  new Response(response.body, {
    status: response.status,
    headers: { ...response.headers, "idempotent-replayed": "true" }
  })

/** A stored answer that is not a replay (a refusal or a pending answer). */
const answer = (response: StoredResponse): Response =>
  new Response(response.body, { status: response.status, headers: response.headers })

const genuine = (requestId: string): Omit<Settled, "outcome"> => {
  const response = genuineConflict(requestId)
  return { resolution: { _tag: "complete", response }, response, zrn: null }
}

const zrnOfAccountBody = (body: string): string | null => {
  try {
    const parsed = JSON.parse(body) as { message?: { zrn?: unknown } }
    const raw = parsed.message?.zrn
    return typeof raw === "string" ? raw : null
  } catch {
    return null
  }
}

/** The middleware of one endpoint; a pass-through for reads. */
export const guard = (shared: Shared, endpoint: Endpoint.Endpoint): MiddlewareHandler<HonoEnv> => {
  if (endpoint.method === "GET") return async (_c, next) => next()
  const fingerprint = fingerprinter(endpoint)
  const isCreate = endpoint.name === "createAccount"
  const hasBody = endpoint.method === "POST" || endpoint.method === "PATCH"

  return async (c, next) => {
    const caller = c.var.caller
    if (caller === undefined) return next()
    const at = shared.now()
    const requestId = c.var.requestId
    const rawZrn = c.req.param("zrn")
    let target = rawZrn === undefined ? null : (canonicalZrn(rawZrn, shared.geo) ?? null)
    const members = [c.req.param("tenant"), c.req.param("financial_advisor")].filter((m) => m !== undefined)

    // The body, read once and checked against `Limits` (nesting, sizes, valid Unicode, no U+0000); a
    // refused one is refused below, before a key is claimed or anything goes upstream.
    const reading = hasBody ? await readBody(c) : undefined
    const parsed: unknown =
      reading === undefined ? undefined : reading._tag === "ok" ? reading.value : reading.parsed
    const path = auditPath(
      endpoint,
      {
        zrn: target ?? rawZrn ?? "",
        tenant: c.req.param("tenant") ?? "",
        financial_advisor: c.req.param("financial_advisor") ?? ""
      },
      c.req.path
    )
    const key = c.req.header("idempotency-key")
    /** This key sent this create before: a duplicate conflict is its own account. */
    let ownConflict = false
    const summary = () =>
      summarize({
        method: endpoint.method,
        path,
        body: parsed,
        bytes: reading?.length,
        idempotencyKey: key
      })

    const finish = async (
      outcome: string,
      status: number,
      resolution: KeyResolution | undefined
    ): Promise<void> => {
      try {
        await shared.store.finishCall({
          idempotency:
            resolution === undefined || key === undefined
              ? undefined
              : { caller: caller.name, key, resolution },
          audit: {
            at,
            caller: caller.name,
            action: endpoint.name,
            target,
            summary: summary(),
            outcome,
            status,
            requestId
          }
        })
      } catch {
        // Without its audit entry (and its key's resolution) the call must not be answered as done.
        throw new Errors.NotReady({
          message:
            "the state store is unavailable: the call may have been carried out; repeat it with the same Idempotency-Key"
        })
      }
    }
    /** Answers a settled pending create (its resolution written with the audit entry). */
    const settle = async (settled: Settled): Promise<Response> => {
      if (settled.zrn !== null) target = settled.zrn
      await finish(settled.outcome, settled.response.status, settled.resolution)
      return answer(settled.response)
    }
    const refuse = async (error: Error): Promise<Response> => {
      const r = Errors.toResponse(error, requestId)
      await finish(String(r.body.code), r.status, undefined)
      return c.json(r.body, r.status as 400, r.headers)
    }

    // A body that is not JSON or is over a limit: refused before a key is claimed (the claim of a create
    // stores its label) and before anything goes upstream, and audited.
    if (reading?._tag === "refused") return refuse(reading.error)

    if (key !== undefined) {
      if (!KEY.test(key)) {
        return refuse(
          new Errors.InvalidRequest({
            messages: ["Idempotency-Key must be 1 to 255 visible ASCII characters (a UUID will do)"]
          })
        )
      }
      const create =
        isCreate && typeof parsed === "object" && parsed !== null
          ? (parsed as { participant_code?: unknown; account_label?: unknown })
          : undefined
      const identity =
        typeof create?.participant_code === "string" && typeof create.account_label === "string"
          ? { participantCode: create.participant_code, accountLabel: create.account_label }
          : undefined
      let outcome: Awaited<ReturnType<typeof shared.store.claimIdempotencyKey>>
      try {
        outcome = await shared.store.claimIdempotencyKey({
          caller: caller.name,
          key,
          fingerprint: fingerprint({ zrn: target ?? rawZrn ?? "", members, body: parsed }),
          now: at,
          expiresAt: at + shared.idempotencyTtlMs,
          leaseUntil: at + shared.idempotencyLeaseMs,
          create: identity,
          // What a re-send sends (the body is within the API body limit, and checked before it is sent).
          createBody: identity === undefined ? undefined : JSON.stringify(parsed),
          pendingLimitMs: shared.idempotencyPendingMaxMs
        })
      } catch {
        throw new Errors.NotReady({ message: "the state store is unavailable; nothing was sent upstream" })
      }
      switch (outcome._tag) {
        case "claimed":
          ownConflict = outcome.ownConflict === true
          break
        case "replay": {
          if (isCreate) target = zrnOfAccountBody(outcome.response.body)
          await finish("replayed", outcome.response.status, undefined)
          return replayed(outcome.response)
        }
        case "mismatch":
          return refuse(
            new Errors.IdempotencyKeyReused({
              message: `Idempotency-Key ${JSON.stringify(key)} was used for a different request by this caller; use a new key for a new request`
            })
          )
        case "in_flight":
          return refuse(
            new Errors.IdempotencyConflict({
              reason: "in_flight",
              message: `a request with Idempotency-Key ${JSON.stringify(key)} is still in flight; retry after it has been answered`
            })
          )
        case "reconciling": {
          const response = reconciledResponse(outcome.account)
          target = outcome.account.zrn
          await finish("reconciled", response.status, { _tag: "complete", response })
          return replayed(response)
        }
        case "conflict":
          return settle({
            ...genuine(requestId),
            outcome: "upstream_conflict"
          })
        case "pending": {
          const response = pendingOf(shared, outcome, requestId)
          await finish("idempotency_outcome_pending", response.status, undefined)
          return answer(response)
        }
        case "expired":
          return settle(expiredOf(shared, outcome, requestId))
        case "resend":
          return settle(await resend(shared, caller.name, outcome, requestId))
      }
    }

    await next()

    const status = c.res.status
    const error = c.error
    let text: string | undefined
    if ((key !== undefined && status < 500) || (isCreate && status === 202)) {
      text = await c.res.text()
      c.res = new Response(text, c.res)
      if (isCreate && status === 202) target = zrnOfAccountBody(text) ?? target
    }
    const outcome = outcomeOf(status, error)
    // The stored body is the answer's JSON text as `c.json` wrote it, never the upstream's bytes: a
    // U+0000 the upstream echoed (in a label, in an error message) is in it as the six characters
    // `\u0000`, which every store keeps (a text holding the escape is not a string holding U+0000), and
    // valid JSON cannot hold a literal U+0000. So such an answer is stored and replayed like any other
    // (test/Nul.test.ts); no case is needed here.
    if (
      key !== undefined &&
      isCreate &&
      ownConflict &&
      (error as { _tag?: unknown } | undefined)?._tag === "Conflict"
    ) {
      // The vendor's duplicate guard found the account this key's earlier attempt created (answered
      // "not carried out", yet applied): the key's own account, pending until its webhook names it.
      const response = pendingAnswer(
        "the create sent with this key before was carried out by zerohash after all (its duplicate guard found the account), and the webhook that names its ZRN has not arrived yet",
        requestId
      )
      await finish("idempotency_outcome_pending", response.status, { _tag: "landed", at: shared.now() })
      c.res = answer(response)
      return
    }
    const resolution =
      key === undefined
        ? undefined
        : resolutionFor(
            isCreate,
            status,
            error,
            () => ({
              status,
              headers: { "content-type": c.res.headers.get("content-type") ?? "application/json" },
              body: text ?? ""
            }),
            shared.now()
          )
    await finish(outcome, status, resolution)
  }
}
