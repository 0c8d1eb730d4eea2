/**
 * The 19 endpoints of the Customer Accounts API (and its participants) as one data table: method, path template, success
 * status, body Schemas, the proxy scope that guards it and, for the status commands, the command it
 * carries. The client, the simulator and the proxy all read this table, so a route cannot exist in
 * one and be missing or different in another.
 *
 * `match` routes a request to its endpoint without scanning the table: it looks at the path's
 * segments directly (the simulator and the proxy call it on every request).
 *
 * @since 0.1.0
 */
import { Schema } from "effect"
import * as Api from "./Api.js"
import type { Command } from "./Enums.js"
import * as Participants from "./Participants.js"
import * as Zrn from "./Zrn.js"

/** Proxy scopes that guard the endpoints (the proxy also has `events:read` and `audit:read`). */
export const Scope = Schema.Literal(
  "accounts:read",
  "accounts:write",
  "accounts:access",
  "accounts:members",
  "accounts:wind_down",
  "participants:read",
  "participants:write"
).annotations({ identifier: "Scope" })
/** A proxy scope that guards an endpoint. */
export type Scope = typeof Scope.Type

/** HTTP methods the endpoints use. */
export type Method = "GET" | "POST" | "PATCH" | "DELETE"

/** Names of the path parameters. */
export type PathParam = "zrn" | "tenant" | "financial_advisor" | "participant_code"

/** One endpoint of the table. */
export interface Endpoint {
  readonly name: string
  readonly method: Method
  /** Path template, parameters in braces: `/accounts/{zrn}/lock`. */
  readonly path: string
  readonly params: ReadonlyArray<PathParam>
  readonly successStatus: 200 | 201 | 202
  /** Schema of the request body; `undefined` when the request has no body. */
  readonly request: Schema.Schema.AnyNoContext | undefined
  /** Schema of the query string, for the one endpoint that takes filters. */
  readonly query?: Schema.Schema.AnyNoContext
  /** Schema of the success body. */
  readonly response: Schema.Schema.AnyNoContext
  /** `text` when the success body is `text/plain` (the participant lock's `OK`); JSON otherwise. */
  readonly responseType?: "text"
  readonly scope: Scope
  /** The status command a command endpoint carries. */
  readonly command?: Command
}

const command = <const N extends string, const C extends Command>(name: N, segment: C, scope: Scope) =>
  ({
    name,
    method: "POST",
    path: `/accounts/{zrn}/${segment}`,
    params: ["zrn"],
    successStatus: 202,
    request: Api.EmptyRequest,
    response: Api.Accepted,
    scope,
    command: segment
  }) as const

/** Every endpoint, keyed by the client method that calls it. */
export const table = {
  createAccount: {
    name: "createAccount",
    method: "POST",
    path: "/accounts",
    params: [],
    successStatus: 202,
    request: Api.CreateAccountRequest,
    response: Api.AccountResponse,
    scope: "accounts:write"
  },
  updateAccount: {
    name: "updateAccount",
    method: "PATCH",
    path: "/accounts/{zrn}",
    params: ["zrn"],
    successStatus: 202,
    request: Api.UpdateAccountRequest,
    response: Api.AccountResponse,
    scope: "accounts:write"
  },
  getAccount: {
    name: "getAccount",
    method: "GET",
    path: "/accounts/{zrn}/details",
    params: ["zrn"],
    successStatus: 200,
    request: undefined,
    response: Api.AccountResponse,
    scope: "accounts:read"
  },
  getStatusReason: {
    name: "getStatusReason",
    method: "GET",
    path: "/account/{zrn}/status_reason",
    params: ["zrn"],
    successStatus: 200,
    request: undefined,
    response: Api.StatusReasonResponse,
    scope: "accounts:read"
  },
  lock: command("lock", "lock", "accounts:access"),
  unlock: command("unlock", "unlock", "accounts:access"),
  withdrawLock: command("withdrawLock", "withdraw_lock", "accounts:access"),
  withdrawUnlock: command("withdrawUnlock", "withdraw_unlock", "accounts:access"),
  addTenant: {
    name: "addTenant",
    method: "POST",
    path: "/accounts/{zrn}/tenants",
    params: ["zrn"],
    successStatus: 202,
    request: Api.ParticipantCodeRequest,
    response: Api.Accepted,
    scope: "accounts:members"
  },
  removeTenant: {
    name: "removeTenant",
    method: "DELETE",
    path: "/accounts/{zrn}/tenants/{tenant}",
    params: ["zrn", "tenant"],
    successStatus: 202,
    request: undefined,
    response: Api.Accepted,
    scope: "accounts:members"
  },
  addAdvisor: {
    name: "addAdvisor",
    method: "POST",
    path: "/accounts/{zrn}/advisors",
    params: ["zrn"],
    successStatus: 202,
    request: Api.ParticipantCodeRequest,
    response: Api.Accepted,
    scope: "accounts:members"
  },
  removeAdvisor: {
    name: "removeAdvisor",
    method: "DELETE",
    path: "/accounts/{zrn}/advisors/{financial_advisor}",
    params: ["zrn", "financial_advisor"],
    successStatus: 202,
    request: undefined,
    response: Api.Accepted,
    scope: "accounts:members"
  },
  divest: command("divest", "divest", "accounts:wind_down"),
  close: command("close", "close", "accounts:wind_down"),
  listLedgerAccounts: {
    name: "listLedgerAccounts",
    method: "GET",
    path: "/accounts",
    params: [],
    successStatus: 200,
    request: undefined,
    query: Api.LedgerQuery,
    response: Api.LedgerPage,
    scope: "accounts:read"
  },
  createParticipant: {
    name: "createParticipant",
    method: "POST",
    path: "/participants/customers/new",
    params: [],
    successStatus: 201,
    request: Participants.CreateCustomerRequest,
    response: Participants.ParticipantResponse,
    scope: "participants:write"
  },
  createMinor: {
    name: "createMinor",
    method: "POST",
    path: "/participants/customers/minor",
    params: [],
    successStatus: 201,
    request: Participants.CreateMinorRequest,
    response: Participants.ParticipantResponse,
    scope: "participants:write"
  },
  listParticipants: {
    name: "listParticipants",
    method: "GET",
    path: "/participants",
    params: [],
    successStatus: 200,
    request: undefined,
    query: Participants.ParticipantQuery,
    response: Participants.ParticipantPage,
    scope: "participants:read"
  },
  lockParticipant: {
    name: "lockParticipant",
    method: "POST",
    path: "/participants/customers/{participant_code}/lock",
    params: ["participant_code"],
    successStatus: 200,
    request: Participants.LockParticipantRequest,
    response: Participants.LockParticipantResponse,
    responseType: "text",
    scope: "participants:write"
  }
} as const satisfies { readonly [N in string]: Endpoint & { readonly name: N } }

/** The name of an endpoint, which is also the client method's name. */
export type Name = keyof typeof table

/** Every endpoint, in the order of `upstream-api.md` (1–15), then `participants.md` (16–19). */
export const all: ReadonlyArray<(typeof table)[Name]> = [
  table.createAccount,
  table.updateAccount,
  table.getAccount,
  table.getStatusReason,
  table.lock,
  table.unlock,
  table.withdrawLock,
  table.withdrawUnlock,
  table.addTenant,
  table.removeTenant,
  table.addAdvisor,
  table.removeAdvisor,
  table.divest,
  table.close,
  table.listLedgerAccounts,
  table.createParticipant,
  table.createMinor,
  table.listParticipants,
  table.lockParticipant
]

/** Path parameters as found in a request path: raw strings, not decoded (parse `zrn` with `Zrn.parse`). */
export interface Params {
  readonly zrn?: string
  readonly tenant?: string
  readonly financial_advisor?: string
  readonly participant_code?: string
}

/** A request routed to its endpoint. */
export interface Match {
  readonly endpoint: (typeof table)[Name]
  readonly params: Params
}

// Third segment of `POST /accounts/{zrn}/<segment>`.
const postActions: Readonly<Record<string, (typeof table)[Name]>> = {
  lock: table.lock,
  unlock: table.unlock,
  withdraw_lock: table.withdrawLock,
  withdraw_unlock: table.withdrawUnlock,
  divest: table.divest,
  close: table.close,
  tenants: table.addTenant,
  advisors: table.addAdvisor
}

/**
 * Routes a request to its endpoint, or `undefined`. `pathname` excludes the query string; it must
 * match exactly (no trailing slash, no empty segment). The method is compared case-insensitively.
 * `POST /accounts/new` of older guides is not an endpoint.
 */
export const match = (method: string, pathname: string): Match | undefined => {
  if (pathname.charCodeAt(0) !== 47 /* "/" */) return undefined
  const segments = pathname.slice(1).split("/")
  for (const s of segments) if (s.length === 0) return undefined
  const m = method.toUpperCase()
  const [root, zrn, action, member] = segments
  if (root === "participants") return matchParticipants(m, segments)
  switch (segments.length) {
    case 1:
      if (root !== "accounts") return undefined
      if (m === "GET") return { endpoint: table.listLedgerAccounts, params: {} }
      if (m === "POST") return { endpoint: table.createAccount, params: {} }
      return undefined
    case 2:
      return root === "accounts" && m === "PATCH"
        ? { endpoint: table.updateAccount, params: { zrn: zrn! } }
        : undefined
    case 3: {
      if (root === "account") {
        return m === "GET" && action === "status_reason"
          ? { endpoint: table.getStatusReason, params: { zrn: zrn! } }
          : undefined
      }
      if (root !== "accounts") return undefined
      if (m === "GET")
        return action === "details" ? { endpoint: table.getAccount, params: { zrn: zrn! } } : undefined
      if (m !== "POST" || !Object.hasOwn(postActions, action!)) return undefined
      return { endpoint: postActions[action!]!, params: { zrn: zrn! } }
    }
    case 4:
      if (root !== "accounts" || m !== "DELETE") return undefined
      if (action === "tenants")
        return { endpoint: table.removeTenant, params: { zrn: zrn!, tenant: member! } }
      if (action === "advisors") {
        return { endpoint: table.removeAdvisor, params: { zrn: zrn!, financial_advisor: member! } }
      }
      return undefined
    default:
      return undefined
  }
}

/** `/participants…` (16–19). */
const matchParticipants = (m: string, segments: ReadonlyArray<string>): Match | undefined => {
  if (segments.length === 1) return m === "GET" ? { endpoint: table.listParticipants, params: {} } : undefined
  if (segments[1] !== "customers" || m !== "POST") return undefined
  if (segments.length === 3) {
    if (segments[2] === "new") return { endpoint: table.createParticipant, params: {} }
    if (segments[2] === "minor") return { endpoint: table.createMinor, params: {} }
    return undefined
  }
  return segments.length === 4 && segments[3] === "lock"
    ? { endpoint: table.lockParticipant, params: { participant_code: segments[2]! } }
    : undefined
}

const METHODS: ReadonlyArray<Method> = ["GET", "POST", "PATCH", "DELETE"]

/** The methods some endpoint answers at `pathname`: for a 405 with `Allow` rather than a 404. */
export const methodsAt = (pathname: string): ReadonlyArray<Method> =>
  METHODS.filter((m) => match(m, pathname) !== undefined)

/** The path parameters an endpoint needs; a `zrn` may be given parsed. */
export type PathParams<N extends Name> = {
  readonly [K in (typeof table)[N]["params"][number]]: K extends "zrn" ? Zrn.Zrn | string : string
}

/**
 * The request path of an endpoint. A parsed `zrn` is written canonical; every value is inserted as
 * given, colons unencoded (the vendor's examples and our signing Decision), so pass a canonical ZRN.
 */
export const pathFor = <N extends Name>(name: N, params: PathParams<N>): string =>
  fillPath(table[name].path, params as Readonly<Record<string, Zrn.Zrn | string>>)

/** `pathFor` for any path template, the table's or another (the proxy's own long poll). */
export const fillPath = (template: string, params: Readonly<Record<string, Zrn.Zrn | string>>): string =>
  template.replace(/\{(\w+)\}/g, (_, key: string) => {
    const value = params[key]
    return value instanceof Zrn.Zrn ? Zrn.format(value) : String(value)
  })
