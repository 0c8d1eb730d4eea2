/**
 * Routing through the domain's endpoint table (`Endpoint.match`), plus what the simulator adds: path
 * parameters percent-decoded, and hints for the known wrong paths of older guides.
 */
import { Endpoint } from "@mta/domain"

/** The endpoint names, as the client's methods and the contract suite call them. */
export type EndpointName = Endpoint.Name

export const endpointNames: ReadonlyArray<EndpointName> = Endpoint.all.map((e) => e.name)

export interface Route {
  readonly endpoint: EndpointName
  /** The ZRN path segment, percent-decoded. */
  readonly zrn?: string
  /** The tenant, advisor or participant path segment, percent-decoded. */
  readonly member?: string
}

/** A path that is not an endpoint, with a hint when it is a known mistake. */
export interface NoRoute {
  readonly hint?: string
}

const decode = (segment: string): string | undefined => {
  if (!segment.includes("%")) return segment
  try {
    return decodeURIComponent(segment)
  } catch {
    return undefined
  }
}

const hintFor = (method: string, pathname: string): NoRoute => {
  if (method === "POST" && pathname === "/accounts/new") {
    return { hint: "POST /accounts/new is not in the vendor's API (OpenAPI 1.7.0); use POST /accounts" }
  }
  if (method === "GET" && /^\/accounts\/[^/]+\/status_reason$/.test(pathname)) {
    return { hint: "the status reason is served at GET /account/{zrn}/status_reason (singular /account/)" }
  }
  return {}
}

/** Matches a method and a path (no query) to an endpoint. */
export const route = (method: string, pathname: string): Route | NoRoute => {
  const m = Endpoint.match(method, pathname)
  if (m === undefined) return hintFor(method, pathname)
  const { zrn, tenant, financial_advisor, participant_code } = m.params
  const member = tenant ?? financial_advisor ?? participant_code
  const z = zrn === undefined ? undefined : decode(zrn)
  const p = member === undefined ? undefined : decode(member)
  if ((zrn !== undefined && z === undefined) || (member !== undefined && p === undefined)) return {}
  return {
    endpoint: m.endpoint.name,
    ...(z === undefined ? {} : { zrn: z }),
    ...(p === undefined ? {} : { member: p })
  }
}

/** Method, path template and success status of each endpoint. */
export const endpointPaths: Readonly<
  Record<EndpointName, { method: string; path: string; success: number }>
> = Object.fromEntries(
  Endpoint.all.map((e) => [e.name, { method: e.method, path: e.path, success: e.successStatus }])
) as Record<EndpointName, { method: string; path: string; success: number }>
