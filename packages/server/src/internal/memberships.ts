/**
 * Who is on an account, as the proxy last learnt it, for the access decision (`GET
 * /accounts/{zrn}/access`): the account record of a webhook (every account event carries the record,
 * with `participant_code`, `tenants` and `financial_advisors`), of a repair, or of a read. Held in
 * process, parsed once per record (members, their roles and authorizations from the domain's
 * `Composition.authorizationOf`), so an answer served from it allocates nothing for the membership.
 *
 * **Decision**: a membership is trusted for `MTA_PROJECTION_TRUST_MS` (default 60 s) after the proxy
 * learnt it; older, the account is read again before answering. The proxy's own tenant and advisor
 * changes forget the account's membership at once; a change made elsewhere (another replica, the
 * vendor's dashboard) is seen by the next webhook of the account, or at the latest after the trust
 * window. Every replica learns from the change feed, which carries the other replicas' events too.
 *
 * Reads are deduplicated: concurrent requests about the same account, or the same unknown participant,
 * share one upstream read.
 */
import { Composition, type Enums } from "@mta/domain"
import { Option } from "effect"
import type { ParticipantRecord, Store } from "../Store.js"
import type { Shared } from "./context.js"

/** A member of an account, with its role and authorization (the account type's defaults). */
export interface Member {
  readonly code: string
  readonly role: "primary" | "secondary" | "advisor"
  /** `null`: none (a tenant of an account type that takes none, or an unknown type). */
  readonly authorization: Enums.Authorization | null
}

/** An account's membership as parsed once from its record. */
export interface Membership {
  /** What `Access.decide` takes (without the status, which comes from the status projection). */
  readonly account: Composition.Membership
  /** Primary, tenants, advisors, each once, in that order. */
  readonly members: ReadonlyArray<Member>
  /** Their codes, in the same order. */
  readonly codes: ReadonlyArray<string>
  readonly byCode: ReadonlyMap<string, Member>
  /** When the proxy learnt it (its clock), ms: what the trust window goes by. */
  readonly learntAt: number
  /** When the record it came from was true, ms: a record older than the one held is ignored. */
  readonly occurredAt: number
}

const codes = (value: unknown): ReadonlyArray<string> =>
  Array.isArray(value) ? value.filter((v): v is string => typeof v === "string") : []

/** The membership an account record (a webhook payload, a read) names; `undefined` without a primary. */
export const parse = (payload: unknown, learntAt: number, occurredAt: number): Membership | undefined => {
  if (typeof payload !== "object" || payload === null) return undefined
  const p = payload as Record<string, unknown>
  if (typeof p.participant_code !== "string") return undefined
  const account: Composition.Membership = {
    type: (typeof p.type === "string" ? p.type : "") as Enums.AccountType,
    participant_code: p.participant_code,
    tenants: codes(p.tenants),
    financial_advisors: codes(p.financial_advisors)
  }
  const members: Array<Member> = []
  const byCode = new Map<string, Member>()
  const add = (code: string, role: Member["role"]) => {
    if (byCode.has(code)) return
    const member: Member = {
      code,
      role,
      authorization: Option.getOrNull(Composition.authorizationOf(account, code))
    }
    members.push(member)
    byCode.set(code, member)
  }
  add(account.participant_code, "primary")
  for (const code of account.tenants) add(code, "secondary")
  for (const code of account.financial_advisors) add(code, "advisor")
  return { account, members, codes: members.map((m) => m.code), byCode, learntAt, occurredAt }
}

const LIMIT = 100_000

/**
 * How long after a tenant or advisor change through this proxy the account's membership is read again
 * for every access request (the vendor applies such a change in the background, after its 202).
 */
const UNSETTLED_MS = 30_000

interface State {
  readonly entries: Map<string, Membership>
  /** Accounts with a member change in flight: until when their membership is not kept. */
  readonly unsettled: Map<string, number>
  /** Upstream reads in flight, shared by concurrent requests. */
  readonly accountReads: Map<string, Promise<Membership | undefined>>
  readonly participantReads: Map<string, Promise<ParticipantRecord | undefined>>
}

const states = new WeakMap<Store, State>()

/** The state of this proxy's store (created, and subscribed to the change feed, at first use). */
const stateOf = (shared: Shared): State => {
  let state = states.get(shared.store)
  if (state === undefined) {
    const created: State = {
      entries: new Map(),
      unsettled: new Map(),
      accountReads: new Map(),
      participantReads: new Map()
    }
    state = created
    states.set(shared.store, created)
    shared.store.subscribe((change) => {
      const event = change.event
      if (event === undefined) return
      learnInto(created, event.zrn, event.payload, shared.now(), event.occurredAt)
    })
  }
  return state
}

const learnInto = (
  state: State,
  zrn: string,
  payload: unknown,
  learntAt: number,
  occurredAt: number
): Membership | undefined => {
  const parsed = parse(payload, learntAt, occurredAt)
  const held = state.entries.get(zrn)
  if (parsed === undefined || (held !== undefined && occurredAt < held.occurredAt)) return parsed
  state.entries.delete(zrn)
  state.entries.set(zrn, parsed)
  if (state.entries.size > LIMIT) state.entries.delete(state.entries.keys().next().value as string)
  return parsed
}

/** Records an account record read at `at` (a read is as new as when it was sent); its membership. */
export const learn = (shared: Shared, zrn: string, payload: unknown, at: number): Membership | undefined =>
  learnInto(stateOf(shared), zrn, payload, shared.now(), at)

/**
 * Forgets an account's membership after a tenant or advisor change through this proxy, and keeps none
 * for a while (`UNSETTLED_MS`): the vendor applies the change after answering, so a read made meanwhile
 * may not show it yet.
 */
export const forget = (shared: Shared, zrn: string): void => {
  const state = stateOf(shared)
  state.entries.delete(zrn)
  state.unsettled.set(zrn, shared.now() + UNSETTLED_MS)
}

/** The membership held for `zrn` when learnt within the trust window (none while a change settles). */
export const fresh = (shared: Shared, zrn: string): Membership | undefined => {
  const state = stateOf(shared)
  const held = state.entries.get(zrn)
  if (held === undefined) return undefined
  const now = shared.now()
  if (state.unsettled.size > 0) {
    const until = state.unsettled.get(zrn)
    if (until !== undefined) {
      if (now < until) return undefined
      state.unsettled.delete(zrn)
    }
  }
  return now - held.learntAt <= shared.projectionTrustMs ? held : undefined
}

/** Runs `read` once for concurrent callers of the same key. */
const once = <A>(reads: Map<string, Promise<A>>, key: string, read: () => Promise<A>): Promise<A> => {
  let pending = reads.get(key)
  if (pending === undefined) {
    pending = read().finally(() => reads.delete(key))
    reads.set(key, pending)
  }
  return pending
}

/** Reads an account once for concurrent callers. */
export const readAccountOnce = (
  shared: Shared,
  zrn: string,
  read: () => Promise<Membership | undefined>
): Promise<Membership | undefined> => once(stateOf(shared).accountReads, zrn, read)

/** Reads a participant once for concurrent callers. */
export const readParticipantOnce = (
  shared: Shared,
  code: string,
  read: () => Promise<ParticipantRecord | undefined>
): Promise<ParticipantRecord | undefined> => once(stateOf(shared).participantReads, code, read)

/** Starts learning from the change feed now (at startup), rather than at the first access request. */
export const start = (shared: Shared): void => {
  stateOf(shared)
}
