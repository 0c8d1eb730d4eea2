/**
 * The proxy's own participant routes:
 *
 * - `GET /participants/{participant_code}/status?wait_for=&timeout_ms=` (scope `participants:read`):
 *   the participant projection, a long poll like `GET /accounts/{zrn}/status` (the same hub, the same
 *   `timeout_ms` limits). A participant the projection does not know is read once upstream with
 *   `GET /participants?participant_code=` (the caller's share of the vendor budget) and recorded; one
 *   zerohash does not list is a 404.
 * - `GET /accounts/{zrn}/access?participant=&action=` (scope `accounts:read`): the access decision
 *   (participants.md): the membership (`../memberships.ts`), the account status from the status
 *   projection, each member's status and reason code from the participant projection, and the
 *   domain's `Access.decide` for every (participant, action) asked. What the proxy does not know is
 *   read upstream first, once per account or participant however many requests ask at once.
 *
 * Reads: not audited (as every read).
 */
import { Access, Api, Enums, type Participants } from "@mta/domain"
import { Schema } from "effect"
import type { Context } from "hono"
import { Hono } from "hono"
import { InvalidRequest, RouteNotFound } from "../../Errors.js"
import * as Schemas from "../../Schemas.js"
import type { ParticipantRecord, StatusRecord } from "../../Store.js"
import type { HonoEnv, Shared } from "../context.js"
import * as LongPoll from "../longPoll.js"
import * as Memberships from "../memberships.js"
import { authorize, jsonResponse, upstreamCall } from "../middleware.js"
import * as Reconcile from "../reconcile.js"
import { forward, parseCustomerZrn, participantCodeOf } from "./accounts.js"

type Ctx = Context<HonoEnv>

const iso = (ms: number) => new Date(ms).toISOString()

const statusBody = (record: ParticipantRecord, timedOut: boolean): Schemas.ParticipantStatusResponse => ({
  participant_code: record.participantCode,
  status: record.status,
  reason_code: record.reasonCode,
  updated_at: iso(record.updatedAt),
  confirmed_at: iso(record.confirmedAt),
  timed_out: timedOut
})

/** Refuses query parameters a route does not take, naming the ones it does. */
const onlyParams = (raw: Readonly<Record<string, string>>, accepted: ReadonlyArray<string>): void => {
  const unknown = Object.keys(raw).filter((k) => !accepted.includes(k))
  if (unknown.length > 0) {
    throw new InvalidRequest({
      messages: unknown.map(
        (k) =>
          `unknown query parameter ${JSON.stringify(k.slice(0, 64))}: accepted are ${accepted.join(", ")}`
      )
    })
  }
}

/**
 * Reads a participant upstream (`GET /participants?participant_code=`) as the caller's call and records
 * what it found in the participant projection; `undefined` when zerohash lists none. Concurrent
 * requests about the same participant share one read.
 */
export const readParticipant = (
  shared: Shared,
  c: Ctx,
  code: string,
  source: "read" | "reconcile" = "read"
): Promise<ParticipantRecord | undefined> =>
  Memberships.readParticipantOnce(shared, code, async () => {
    const at = shared.now()
    const page = await forward(shared, c, "listParticipants", () =>
      shared.upstream.getParticipantPage(
        { participant_code: code } as Participants.ParticipantQuery,
        upstreamCall(c)
      )
    )
    const entry = page.message.find((e) => e.participant_code === code)
    if (entry === undefined) return undefined
    return Reconcile.applyParticipant(shared, "read", code, at, entry, source)
  })

const encodeAccount = Schema.encodeSync(Api.AccountRecord)

const ACTIONS: ReadonlyArray<Enums.Action> = Enums.Action.literals
const ACTION_SET: ReadonlySet<string> = new Set(ACTIONS)

type Decision = Schemas.AccessDecision
const NO_REASONS: ReadonlyArray<never> = Object.freeze([])
const NO_MEMBERS: ReadonlyArray<Memberships.Member> = Object.freeze([])
const NO_RECORDS: ReadonlyArray<ParticipantRecord | undefined> = Object.freeze([])

/** An access answer and what it was computed from. */
interface Answer {
  readonly membership: Memberships.Membership
  readonly status: StatusRecord | undefined
  readonly records: ReadonlyArray<ParticipantRecord | undefined>
  readonly text: string
}
/** Answers kept per (account, participant, action) asked. */
const ANSWERS = 10_000

const sameRecords = (
  a: ReadonlyArray<ParticipantRecord | undefined>,
  b: ReadonlyArray<ParticipantRecord | undefined>
): boolean => {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

export const routes = (shared: Shared): Hono<HonoEnv> => {
  const app = new Hono<HonoEnv>()
  Memberships.start(shared)
  const answers = new Map<string, Answer>()

  const statusQuery = Schema.decodeUnknownEither(Schemas.ParticipantStatusQuery, { errors: "all" })
  const statusPath = "/participants/:participant_code/status"
  app.get(statusPath, authorize(shared, statusPath, "participants:read"), async (c) => {
    const code = participantCodeOf(c.req.param("participant_code") ?? "", "participant_code")
    const rawQuery = c.req.query()
    onlyParams(rawQuery, ["wait_for", "timeout_ms"])
    return LongPoll.answer(c, shared, rawQuery, {
      decode: statusQuery,
      wait: (accept, timeoutMs) => shared.hub.waitParticipant(code, accept, timeoutMs),
      read: async () => {
        const [known] = await shared.store.participants([code])
        if (known !== undefined) return known
        const read = await readParticipant(shared, c, code)
        if (read !== undefined) return read
        throw new RouteNotFound({
          message: `participant ${code} is not known: zerohash lists no participant with this code (GET /participants?participant_code=${code})`
        })
      },
      answer: (record) => c.json(statusBody(record, false)),
      reached: (record) => c.json(statusBody(record, false)),
      timedOut: async (known) => {
        const [now] = await shared.store.participants([code])
        return c.json(statusBody(now ?? known, true))
      }
    })
  })

  /** The membership to decide on: the one held when fresh, else the account read upstream. */
  const membershipOf = async (c: Ctx, zrn: string): Promise<Memberships.Membership> => {
    const held = Memberships.fresh(shared, zrn)
    if (held !== undefined) return held
    const read = await Memberships.readAccountOnce(shared, zrn, async () => {
      const at = shared.now()
      const account = await forward(shared, c, "getAccount", () =>
        shared.upstream.getAccount(zrn, upstreamCall(c))
      )
      await Reconcile.apply(shared, "access", zrn, at, account)
      return Memberships.learn(shared, zrn, encodeAccount(account), at)
    })
    if (read === undefined) {
      throw new RouteNotFound({
        message: `account ${zrn} names no primary participant in its record, so no access can be decided`
      })
    }
    return read
  }

  /** The participant records of `codes`, reading the unknown ones upstream (once each). */
  const statusesOf = async (c: Ctx, codes: ReadonlyArray<string>) => {
    const known = await shared.store.participants(codes)
    if (!known.includes(undefined)) return known
    return Promise.all(known.map((r, i) => (r !== undefined ? r : readParticipant(shared, c, codes[i]!))))
  }

  const accessPath = "/accounts/:zrn/access"
  app.get(accessPath, authorize(shared, accessPath, "accounts:read"), async (c) => {
    const zrn = parseCustomerZrn(c.req.param("zrn") ?? "", shared.geo)
    const raw = c.req.query()
    onlyParams(raw, ["participant", "action"])
    const problems: Array<string> = []
    const participant = raw.participant
    if (participant !== undefined && !Schemas.PARTICIPANT_CODE.test(participant)) {
      problems.push(
        `participant must be ${Schemas.PARTICIPANT_CODE_RULE}, got ${JSON.stringify(participant.slice(0, 64))}`
      )
    }
    const action = raw.action
    if (action !== undefined && !ACTION_SET.has(action)) {
      problems.push(`action must be one of ${ACTIONS.join(", ")}, got ${JSON.stringify(action.slice(0, 64))}`)
    }
    if (problems.length > 0) throw new InvalidRequest({ messages: problems })
    const actions = action === undefined ? ACTIONS : [action as Enums.Action]

    const membership = await membershipOf(c, zrn)
    const statusRecord = await shared.store.status(zrn)
    const nonMember = participant !== undefined && !membership.byCode.has(participant)
    const members = nonMember
      ? NO_MEMBERS
      : participant === undefined
        ? membership.members
        : [membership.byCode.get(participant)!]
    const records: ReadonlyArray<ParticipantRecord | undefined> =
      members.length === 0
        ? NO_RECORDS
        : await statusesOf(c, participant === undefined ? membership.codes : [participant])
    // The answer is a function of these inputs only: the same objects (nothing changed since) answer
    // the same text, without deciding and serialising again.
    const key = `${zrn}\u0000${participant ?? ""}\u0000${action ?? ""}`
    const cached = answers.get(key)
    if (
      cached !== undefined &&
      cached.membership === membership &&
      cached.status === statusRecord &&
      sameRecords(cached.records, records)
    ) {
      return jsonResponse(c, 200, cached.text)
    }
    const accountStatus = statusRecord?.status ?? null
    const account: Access.Account = {
      ...membership.account,
      status: accountStatus as Enums.AccountStatus | null
    }
    const decisions: Array<Decision> = []
    const decide = (
      code: string,
      member: Memberships.Member | undefined,
      record: ParticipantRecord | undefined,
      act: Enums.Action
    ) => {
      const decision = Access.decide({
        account,
        participant:
          member === undefined
            ? { code }
            : {
                code,
                // Unknown statuses and reason codes are passed as they are: the domain then reads the
                // most restrictive row; a participant zerohash does not list is one too.
                status: (record?.status ?? "unknown") as Enums.ParticipantStatus,
                reason_code: (record?.reasonCode ?? null) as Enums.ParticipantReasonCode | null
              },
        action: act
      })
      decisions.push({
        participant: code,
        role: member?.role ?? null,
        authorization: member?.authorization ?? null,
        participant_status: record?.status ?? null,
        reason_code: record?.reasonCode ?? null,
        action: act,
        allowed: decision.allowed,
        reasons: decision.allowed ? NO_REASONS : decision.reasons
      })
    }
    if (nonMember) {
      // Not a member: one decision (the action asked, or view), whatever the actions asked.
      decide(participant!, undefined, undefined, action === undefined ? "view" : (action as Enums.Action))
    } else {
      for (let i = 0; i < members.length; i++) {
        const member = members[i]!
        for (const act of actions) decide(member.code, member, records[i], act)
      }
    }
    const body: Schemas.AccessResponse = {
      zrn,
      as_of: {
        account_status: accountStatus,
        updated_at: statusRecord === undefined ? null : iso(statusRecord.updatedAt)
      },
      decisions
    }
    const text = JSON.stringify(body)
    answers.delete(key)
    answers.set(key, { membership, status: statusRecord, records, text })
    if (answers.size > ANSWERS) answers.delete(answers.keys().next().value as string)
    return jsonResponse(c, 200, text)
  })

  return app
}
