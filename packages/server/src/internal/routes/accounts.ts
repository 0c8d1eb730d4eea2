/**
 * The 19 mirrored endpoints (15 account, 4 participant), registered from the domain's endpoint table, the status projection
 * route `GET /accounts/{zrn}/status` (long poll) and `POST /accounts/{zrn}/status/refresh`.
 *
 * Each endpoint's handler: parse the ZRN (any accepted form, forwarded canonical), decode the body or
 * query with the endpoint's Schema, apply the domain's rules that can be checked here (composition on
 * create; the status transition where the projection knows the status, re-read first when the record
 * is older than the trust window), then call the upstream through the client and encode its answer
 * with the endpoint's response Schema.
 */
import { Api, Composition, Endpoint, Lifecycle, Limits, Participants, Zrn } from "@mta/domain"
import { Either, Schema } from "effect"
import type { Context } from "hono"
import { Hono } from "hono"
import * as Errors from "../../Errors.js"
import { InvalidRequest, NotReady, RateLimitExceeded, RouteNotFound } from "../../Errors.js"
import { errorCodeOf } from "../../Metrics.js"
import * as Schemas from "../../Schemas.js"
import type { ReconcileOutcome, StatusRecord } from "../../Store.js"
import { outcomeOf, summarize } from "../audit.js"
import { checkQuery, jsonBodyOf, readBody } from "../body.js"
import type { HonoEnv, RawAnswer, RawReads, Shared } from "../context.js"
import { guard } from "../idempotency.js"
import * as LongPoll from "../longPoll.js"
import * as Memberships from "../memberships.js"
import { authorize, jsonResponse, upstreamCall } from "../middleware.js"
import type { EgressRefusal, EgressSlot } from "../rateLimit.js"
import * as Reconcile from "../reconcile.js"

type Ctx = Context<HonoEnv>
type Call = ReturnType<typeof upstreamCall>

/** A route template in Hono's syntax: `/accounts/{zrn}/lock` → `/accounts/:zrn/lock`. */
export const honoPath = (template: string): string => template.replace(/\{(\w+)\}/g, ":$1")

/** Parses a path's ZRN as a customer-account ZRN; 400 `invalid_zrn` otherwise. */
export const parseCustomerZrn = (raw: string, geo: Shared["geo"]): string => {
  const parsed = Zrn.parse(raw, { geo, subdomain: "customer" })
  if (Either.isLeft(parsed)) throw parsed.left
  if (parsed.right.subdomain !== "customer") {
    throw new InvalidRequest({
      messages: [
        `expected a customer-account ZRN, got a ${parsed.right.subdomain} ZRN ${JSON.stringify(raw)}`
      ],
      code: "invalid_zrn"
    })
  }
  return Zrn.format(parsed.right)
}

const decoders = new Map<Schema.Schema.AnyNoContext, (u: unknown) => Either.Either<unknown, unknown>>()
// Decoders are built once per Schema, not per request.
const decoderOf = (schema: Schema.Schema.AnyNoContext) => {
  let decode = decoders.get(schema)
  if (decode === undefined) {
    decode = Schema.decodeUnknownEither(schema, { errors: "all" }) as (
      u: unknown
    ) => Either.Either<unknown, unknown>
    decoders.set(schema, decode)
  }
  return decode
}

const decodeWith = <A, I>(schema: Schema.Schema<A, I>, input: unknown): A => {
  const decoded = decoderOf(schema as Schema.Schema.AnyNoContext)(input)
  if (Either.isLeft(decoded)) {
    throw new InvalidRequest({ messages: Api.formatErrors(decoded.left as never) })
  }
  return decoded.right as A
}

/** A participant code as the proxy's participant routes take it (`Schemas.PARTICIPANT_CODE`); 400 otherwise. */
export const participantCodeOf = (raw: string, what: string): string => {
  if (!Schemas.PARTICIPANT_CODE.test(raw)) {
    throw new InvalidRequest({
      messages: [
        `${what} must be ${Schemas.PARTICIPANT_CODE_RULE}, got ${JSON.stringify(Limits.truncate(raw))}`
      ]
    })
  }
  return raw
}

const memberCode = (raw: string, what: string): string => {
  if (!Api.PATH_PARTICIPANT_CODE.test(raw)) {
    throw new InvalidRequest({
      messages: [
        `${what}: expected a participant code of exactly 6 characters (A-Z, a-z, 0-9, _ or -), got ${JSON.stringify(raw)}`
      ]
    })
  }
  return raw
}

/**
 * Takes a slot of the vendor's budget for one upstream call of this request's caller (429 when the
 * budget or the caller's share of it is spent; 503 when the shared budget's database does not
 * answer); call the returned function when the answer came. The shared budget (PostgreSQL) answers
 * later only when it must first lease slots.
 */
const admit = (shared: Shared, c: Ctx): EgressSlot | Promise<EgressSlot> => {
  if (shared.egress === undefined) return noRelease
  const caller = c.get("caller")
  const slot = shared.egress.admit(caller?.name ?? "-", shared.upstreamShareOf(caller), shared.now())
  if (typeof slot === "function") return slot
  if (slot instanceof Promise) {
    return slot.then((s) => (typeof s === "function" ? s : refuse(shared, caller?.name ?? "-", s)))
  }
  return refuse(shared, caller?.name ?? "-", slot)
}

const refuse = (shared: Shared, caller: string, slot: EgressRefusal): never => {
  if (slot.reason === "unavailable") {
    throw new NotReady({
      message:
        "the shared upstream budget (PostgreSQL) does not answer; nothing was sent upstream; retry shortly"
    })
  }
  shared.metrics.rateLimited("upstream", caller)
  const retry = Math.ceil(slot.waitMs / 1000)
  throw new RateLimitExceeded({
    message:
      slot.reason === "share"
        ? `caller ${caller} has used its share of the upstream rate limit (${slot.share} requests per window); retry after ${retry} s`
        : `the upstream rate limit (shared by every caller) is reached; retry after ${retry} s`,
    retryAfterMs: slot.waitMs,
    limit: "upstream"
  })
}

const noRelease = (_at: number): void => {}

/** Calls the upstream under the vendor's budget, recording latency and errors. */
export const forward = async <A>(
  shared: Shared,
  c: Ctx,
  endpoint: string,
  call: () => Promise<A>
): Promise<A> => {
  const admitted = admit(shared, c)
  const release = typeof admitted === "function" ? admitted : await admitted
  const start = performance.now()
  try {
    const result = await call()
    shared.metrics.upstream(endpoint, (performance.now() - start) / 1000, undefined)
    return result
  } catch (error) {
    shared.metrics.upstream(endpoint, (performance.now() - start) / 1000, errorCodeOf(error))
    throw error
  } finally {
    release(shared.now())
  }
}

/**
 * Re-reads the account upstream as the caller's call (under its share of the vendor budget) and
 * reconciles the projection with what it says.
 */
const reread = async (
  shared: Shared,
  c: Ctx,
  zrn: string,
  trigger: "command" | "refresh"
): Promise<ReconcileOutcome> => {
  const at = shared.now()
  let account: Api.AccountRecord
  try {
    account = await forward(shared, c, "getAccount", () => shared.upstream.getAccount(zrn, upstreamCall(c)))
  } catch (error) {
    shared.metrics.reconcile(trigger, "failed")
    throw error
  }
  return Reconcile.apply(shared, trigger, zrn, at, account)
}

/**
 * Why the domain refuses `command` on the record's status; `undefined` when it does not, or when the
 * record cannot say: unknown account, still provisioning (we may have missed its webhook) or a status
 * this version does not know. The upstream decides those.
 */
const refusalOf = (record: StatusRecord | undefined, command: string) => {
  if (record === undefined || record.status === null || !Api.isKnownStatus(record.status)) return undefined
  const result = Lifecycle.transition(record.status, command)
  return Either.isLeft(result) ? result.left : undefined
}

/**
 * Refuses a status command the projection knows can only fail (the upstream is not called). Only on
 * a record the upstream confirmed within the trust window: an older one is re-read first (its webhook
 * may have been lost), and the command is judged on what the read says; when the read fails, the
 * upstream decides.
 */
const checkTransition = async (shared: Shared, c: Ctx, zrn: string, command: string): Promise<void> => {
  const record = await shared.store.status(zrn)
  const refusal = refusalOf(record, command)
  if (refusal === undefined) return
  if (shared.now() - record!.confirmedAt <= shared.projectionTrustMs) throw refusal
  let fresh: StatusRecord
  try {
    fresh = Reconcile.recordOf(await reread(shared, c, zrn, "command"))
  } catch {
    return
  }
  const still = refusalOf(fresh, command)
  if (still !== undefined) throw still
}

const encoders = new Map<Schema.Schema.AnyNoContext, (a: unknown) => unknown>()
const encode = (schema: Schema.Schema.AnyNoContext, value: unknown): unknown => {
  let e = encoders.get(schema)
  if (e === undefined) {
    e = Schema.encodeSync(schema) as (a: unknown) => unknown
    encoders.set(schema, e)
  }
  return e(value)
}

type Handler = (c: Ctx, shared: Shared, call: Call) => Promise<unknown>

/** The ledger query: each value within the string limits, then the endpoint's Schema. */
const ledgerQuery = (c: Ctx) => {
  const raw = c.req.query()
  const query = decodeWith(Api.LedgerQuery, raw)
  checkQuery(raw)
  return query
}

const zrnOf = (c: Ctx, shared: Shared) => parseCustomerZrn(c.req.param("zrn") ?? "", shared.geo)

const command =
  (name: "lock" | "unlock" | "withdrawLock" | "withdrawUnlock" | "divest" | "close"): Handler =>
  async (c, shared, call) => {
    const zrn = zrnOf(c, shared)
    decodeWith(Api.EmptyRequest, await jsonBodyOf(c))
    await checkTransition(shared, c, zrn, Endpoint.table[name].command)
    return forward(shared, c, name, () => shared.upstream[name](zrn, call))
  }

const member =
  (name: "addTenant" | "addAdvisor"): Handler =>
  async (c, shared, call) => {
    const zrn = zrnOf(c, shared)
    const body = decodeWith(Api.ParticipantCodeRequest, await jsonBodyOf(c))
    const result = await forward(shared, c, name, () =>
      shared.upstream[name](zrn, body.participant_code, call)
    )
    Memberships.forget(shared, zrn)
    return result
  }

/**
 * Submitting a participant (16, 17): the body's Schema, then the rules that need a clock (ages,
 * timestamp windows, no failed KYC), all before anything goes upstream.
 */
const submit =
  (name: "createParticipant" | "createMinor"): Handler =>
  async (c, shared, call) => {
    const schema =
      name === "createParticipant" ? Participants.CreateCustomerRequest : Participants.CreateMinorRequest
    const body = decodeWith(
      schema as unknown as Schema.Schema<Readonly<Record<string, unknown>>>,
      await jsonBodyOf(c)
    )
    const problems = Participants.clockProblems(
      name === "createParticipant" ? "customer" : "minor",
      body,
      shared.now()
    )
    if (problems.length > 0) throw new InvalidRequest({ messages: [...problems] })
    return forward(shared, c, name, () =>
      name === "createParticipant"
        ? shared.upstream.createParticipant(body as Participants.CreateCustomerRequest, call)
        : shared.upstream.createMinor(body as Participants.CreateMinorRequest, call)
    )
  }

/** One handler per endpoint; the table is keyed like `Endpoint.table`, so none can be missing. */
const handlers: { readonly [N in Endpoint.Name]: Handler } = {
  createAccount: async (c, shared, call) => {
    const started = shared.now()
    const body = decodeWith(Api.CreateAccountRequest, await jsonBodyOf(c))
    const composition = Composition.validate({
      type: body.type,
      participant_code: body.participant_code,
      tenants: body.tenants ?? [],
      financial_advisors: body.financial_advisors ?? []
    })
    if (Either.isLeft(composition)) throw composition.left
    const account = await forward(shared, c, "createAccount", () =>
      shared.upstream.createAccount(Schema.encodeSync(Api.CreateAccountRequest)(body), call)
    )
    // The proxy now knows the account exists (provisioning until its first webhook).
    await shared.store.observe({
      zrn: Zrn.format(account.zrn),
      status: account.status ?? null,
      source: "create",
      at: started
    })
    return account
  },
  updateAccount: async (c, shared, call) => {
    const zrn = zrnOf(c, shared)
    const body = decodeWith(Api.UpdateAccountRequest, await jsonBodyOf(c))
    return forward(shared, c, "updateAccount", () =>
      shared.upstream.updateAccount(zrn, Schema.encodeSync(Api.UpdateAccountRequest)(body), call)
    )
  },
  getAccount: async (c, shared, call) => {
    const zrn = zrnOf(c, shared)
    return forward(shared, c, "getAccount", () => shared.upstream.getAccount(zrn, call))
  },
  getStatusReason: async (c, shared, call) => {
    const zrn = zrnOf(c, shared)
    return forward(shared, c, "getStatusReason", () => shared.upstream.getStatusReason(zrn, call))
  },
  lock: command("lock"),
  unlock: command("unlock"),
  withdrawLock: command("withdrawLock"),
  withdrawUnlock: command("withdrawUnlock"),
  addTenant: member("addTenant"),
  removeTenant: async (c, shared, call) => {
    const zrn = zrnOf(c, shared)
    const code = memberCode(c.req.param("tenant") ?? "", "tenant")
    const result = await forward(shared, c, "removeTenant", () =>
      shared.upstream.removeTenant(zrn, code, call)
    )
    Memberships.forget(shared, zrn)
    return result
  },
  addAdvisor: member("addAdvisor"),
  removeAdvisor: async (c, shared, call) => {
    const zrn = zrnOf(c, shared)
    const code = memberCode(c.req.param("financial_advisor") ?? "", "financial_advisor")
    const result = await forward(shared, c, "removeAdvisor", () =>
      shared.upstream.removeAdvisor(zrn, code, call)
    )
    Memberships.forget(shared, zrn)
    return result
  },
  divest: command("divest"),
  close: command("close"),
  listLedgerAccounts: async (c, shared, call) => {
    const query = ledgerQuery(c)
    return forward(shared, c, "listLedgerAccounts", () => shared.upstream.getLedgerPage(query, call))
  },
  createParticipant: submit("createParticipant"),
  createMinor: submit("createMinor"),
  listParticipants: async (c, shared, call) => {
    const raw = c.req.query()
    const query = decodeWith(Participants.ParticipantQuery, raw)
    checkQuery(raw)
    return forward(shared, c, "listParticipants", () => shared.upstream.getParticipantPage(query, call))
  },
  lockParticipant: async (c, shared, call) => {
    const code = memberCode(c.req.param("participant_code") ?? "", "participant_code")
    const body = decodeWith(Participants.LockParticipantRequest, await jsonBodyOf(c))
    return forward(shared, c, "lockParticipant", () => shared.upstream.lockParticipant(code, body, call))
  }
}

type RawRead = "getAccount" | "getStatusReason" | "listLedgerAccounts"

/** A raw read: what to ask for (checked before the budget is spent), and the upstream call. */
interface RawReadSteps {
  readonly prepare: (c: Ctx, shared: Shared) => unknown
  readonly send: (raw: RawReads, arg: unknown, call: Call) => Promise<RawAnswer>
}

const rawReads: { readonly [N in RawRead]: RawReadSteps } = {
  getAccount: { prepare: zrnOf, send: (raw, zrn, call) => raw.getAccount(zrn as string, call) },
  getStatusReason: { prepare: zrnOf, send: (raw, zrn, call) => raw.getStatusReason(zrn as string, call) },
  listLedgerAccounts: {
    prepare: (c) => ledgerQuery(c),
    send: (raw, query, call) => raw.getLedgerPage(query as Record<string, unknown>, call)
  }
}

/**
 * A read with the raw upstream (`Upstream.make`): the upstream's own JSON text, checked there with
 * the endpoint's response Schema (a malformed answer is a 502), is the answer. The caller gets exactly
 * what the upstream sent, with no decode-and-encode, in one async step from the request to the
 * answer (the request path of a read is the proxy's hot path: `bench/RESULTS.md`).
 */
const rawRead = (shared: Shared, raw: RawReads, name: RawRead, success: number) => {
  const steps = rawReads[name]
  return async (c: Ctx) => {
    const arg = steps.prepare(c, shared)
    const admitted = admit(shared, c)
    const release = typeof admitted === "function" ? admitted : await admitted
    const started = performance.now()
    let answer: RawAnswer
    try {
      answer = await steps.send(raw, arg, upstreamCall(c))
    } catch (error) {
      shared.metrics.upstream(name, (performance.now() - started) / 1000, errorCodeOf(error))
      throw error
    } finally {
      release(shared.now())
    }
    shared.metrics.upstream(name, (performance.now() - started) / 1000, undefined)
    return jsonResponse(c, success, answer.text)
  }
}

const isoOrNull = (ms: number | undefined): string | null =>
  ms === undefined ? null : new Date(ms).toISOString()

const statusBody = (
  zrn: string,
  record: StatusRecord | undefined,
  timedOut: boolean
): Schemas.StatusResponse => ({
  zrn,
  status: record?.status ?? null,
  updated_at: isoOrNull(record?.updatedAt),
  confirmed_at: isoOrNull(record?.confirmedAt),
  timed_out: timedOut
})

/**
 * The answer of the long polls a change satisfies, serialised once per record: every waiter on the
 * account gets the same text (`bench/FANOUT-RESULTS.md`).
 */
const reachedBodies = new WeakMap<StatusRecord, string>()
const reachedBody = (zrn: string, record: StatusRecord): string => {
  if (record.zrn !== zrn) return JSON.stringify(statusBody(zrn, record, false))
  let text = reachedBodies.get(record)
  if (text === undefined) {
    text = JSON.stringify(statusBody(zrn, record, false))
    reachedBodies.set(record, text)
  }
  return text
}

/** The account routes, mounted at `/`. */
export const routes = (shared: Shared): Hono<HonoEnv> => {
  const app = new Hono<HonoEnv>()
  for (const endpoint of Endpoint.all) {
    const path = honoPath(endpoint.path)
    const handler = handlers[endpoint.name as Endpoint.Name]
    const success = endpoint.successStatus
    const response = endpoint.response as Schema.Schema.AnyNoContext
    const isVoid = success === 202 && response === (Api.Accepted as Schema.Schema.AnyNoContext)
    const raw = shared.upstream.raw
    const answer =
      raw !== undefined && Object.hasOwn(rawReads, endpoint.name)
        ? rawRead(shared, raw, endpoint.name as RawRead, success)
        : async (c: Ctx) => {
            // No abort signal here: reading `c.req.raw` makes the Node adapter build a full `Request`
            // (measurably slower); the upstream call has its own deadline.
            const result = await handler(c, shared, upstreamCall(c))
            if ("responseType" in endpoint && endpoint.responseType === "text")
              return c.text(String(result), 200)
            return c.json(isVoid ? {} : (encode(response, result) as object), success as 200)
          }
    // Mutations: Idempotency-Key and the audit log (`../idempotency.ts`); reads go straight through.
    if (endpoint.method === "GET")
      app.on(endpoint.method, path, authorize(shared, path, endpoint.scope), answer)
    else
      app.on(endpoint.method, path, authorize(shared, path, endpoint.scope), guard(shared, endpoint), answer)
  }

  const statusQuery = Schema.decodeUnknownEither(Schemas.StatusQuery, { errors: "all" })
  const statusPath = "/accounts/:zrn/status"
  app.get(statusPath, authorize(shared, statusPath, "accounts:read"), async (c) => {
    const zrn = zrnOf(c, shared)
    return LongPoll.answer(c, shared, c.req.query(), {
      decode: statusQuery,
      wait: (accept, timeoutMs) => shared.hub.wait(zrn, accept, timeoutMs),
      read: async () => {
        const record = await shared.store.status(zrn)
        if (record !== undefined) return record
        // Not seen yet (created before this proxy started, or elsewhere): read it once upstream.
        const started = shared.now()
        const account = await forward(shared, c, "getAccount", () =>
          shared.upstream.getAccount(zrn, { ...upstreamCall(c), signal: c.req.raw.signal })
        )
        return shared.store.observe({ zrn, status: account.status ?? null, source: "read", at: started })
      },
      answer: (record) => c.json(statusBody(zrn, record, false)),
      reached: (record) => jsonResponse(c, 200, reachedBody(zrn, record)),
      timedOut: async () => c.json(statusBody(zrn, await shared.store.status(zrn), true))
    })
  })

  // Re-reads the account now, as the caller's call, and answers the record in force afterwards (the
  // body of `GET /accounts/{zrn}/status`). It changes nothing upstream, but it spends the vendor budget
  // and may repair the projection (an event, waiters woken): audited like the mutating calls.
  // `Idempotency-Key` is not used: repeating a refresh is safe.
  const refreshPath = "/accounts/:zrn/status/refresh"
  app.post(refreshPath, authorize(shared, refreshPath, "accounts:access"), async (c) => {
    const at = shared.now()
    const caller = c.get("caller")!
    const requestId = c.get("requestId")
    const rawZrn = c.req.param("zrn") ?? ""
    let target: string | null = null
    const reading = await readBody(c)
    const audit = async (status: number, outcome: string) => {
      try {
        await shared.store.finishCall({
          audit: {
            at,
            caller: caller.name,
            action: "refreshStatus",
            target,
            summary: summarize({
              method: "POST",
              path: `/accounts/${target ?? rawZrn}/status/refresh`,
              body: reading._tag === "ok" ? reading.value : reading.parsed,
              bytes: reading.length,
              idempotencyKey: c.req.header("idempotency-key")
            }),
            outcome,
            status,
            requestId
          }
        })
      } catch {
        throw new Errors.NotReady({
          message: "the state store is unavailable: the account may have been re-read; repeat the refresh"
        })
      }
    }
    try {
      const zrn = zrnOf(c, shared)
      target = zrn
      if (reading._tag === "refused") throw reading.error
      decodeWith(Api.EmptyRequest, reading.value)
      const record = Reconcile.recordOf(await reread(shared, c, zrn, "refresh"))
      await audit(200, "accepted")
      return c.json(statusBody(zrn, record, false), 200)
    } catch (error) {
      if (error instanceof Errors.NotReady) throw error
      const status = Errors.toResponse(error, requestId).status
      await audit(status, outcomeOf(status, error))
      throw error
    }
  })
  return app
}

/** Why a path is not found, with the hint for the older guides' `POST /accounts/new`. */
export const notFoundMessage = (method: string, path: string): RouteNotFound =>
  new RouteNotFound({
    message:
      method === "POST" && path === "/accounts/new"
        ? "POST /accounts/new is not an endpoint (it appears only in older guides); use POST /accounts"
        : `no route for ${method} ${path}`
  })
