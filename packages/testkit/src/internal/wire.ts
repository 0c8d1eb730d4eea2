/**
 * The simulator's only contact with the wire shapes: requests are DECODED with the domain's Schemas
 * and responses ENCODED with them, so the fake cannot drift from what the client and the proxy read.
 */
import { Api, Limits, Webhook, Zrn } from "@mta/domain"
import { Either, Schema } from "effect"
import type { Account, LedgerEntry } from "./model.js"

const options = { errors: "all", onExcessProperty: "error" } as const

const decoder = <A, I>(schema: Schema.Schema<A, I>) => {
  const decode = Schema.decodeUnknownEither(schema, options)
  return (u: unknown): Either.Either<A, ReadonlyArray<string>> =>
    Either.mapLeft(decode(u), (e) => Api.formatErrors(e))
}

/** Body of `POST /accounts`. */
export const decodeCreate = decoder(Api.CreateAccountRequest)
/** Body of `PATCH /accounts/{zrn}`. */
export const decodeUpdate = decoder(Api.UpdateAccountRequest)
/** Body of the add-tenant and add-advisor calls; the participant code. */
export const decodeParticipantCode = (u: unknown): Either.Either<string, ReadonlyArray<string>> =>
  Either.map(decodeParticipantCodeRequest(u), (r) => r.participant_code)
const decodeParticipantCodeRequest = decoder(Api.ParticipantCodeRequest)
/** Body `{}` of the status commands. */
export const decodeEmpty = decoder(Api.EmptyRequest)

const decodeLedgerQueryObject = decoder(Api.LedgerQuery)

/** The filters of `GET /accounts`, with `zrn` canonical. */
export interface LedgerFilters {
  readonly page?: number
  readonly account_group?: string
  readonly account_label?: string
  readonly account_owner?: string
  readonly asset?: string
  readonly account_type?: string
  readonly zrn?: string
}

/** Query of `GET /accounts`; a parameter given twice is refused rather than silently picked. */
export const decodeLedgerQuery = (
  params: URLSearchParams,
  geo: Zrn.Zrn["geo"]
): Either.Either<LedgerFilters, ReadonlyArray<string>> => {
  const query: Record<string, string> = {}
  const repeated: Array<string> = []
  for (const [key, value] of params) {
    if (Object.hasOwn(query, key)) repeated.push(`${key}: query parameter given more than once; send it once`)
    query[key] = value
  }
  // Short ZRN forms in the query take the geo the API is served in, like path ZRNs do.
  const short = query.zrn ?? query.urn
  if (short !== undefined && !short.includes(":zh:") && !/^zh:/i.test(short)) {
    const parsed = Zrn.parse(short, { geo, subdomain: "customer" })
    if (Either.isRight(parsed)) {
      if (query.zrn !== undefined) query.zrn = Zrn.format(parsed.right)
      else query.urn = Zrn.format(parsed.right)
    }
  }
  const decoded = decodeLedgerQueryObject(query)
  if (Either.isLeft(decoded)) return Either.left([...repeated, ...decoded.left])
  if (repeated.length > 0) return Either.left(repeated)
  // The proxy's bounds on query values (length, valid Unicode, no U+0000): `Limits`.
  const problem = Limits.checkJson(query)
  if (problem !== undefined) return Either.left([problem])
  const { zrn, ...rest } = decoded.right
  return Either.right(zrn === undefined ? rest : { ...rest, zrn: Zrn.format(zrn) })
}

const encodeAccountRecord = Schema.encodeSync(Api.AccountRecord)
const encodeStatusReasonRecord = Schema.encodeSync(Api.StatusReasonRecord)
const encodeLedgerPageBody = Schema.encodeSync(Api.LedgerPage)
const encodePayload = Schema.encodeSync(Webhook.StatusChangedPayload)

const zrnOf = (zrn: string): Zrn.Zrn => Zrn.unsafeParse(zrn)

const accountBodies = new WeakMap<Account, unknown>()

/** The account record as the vendor sends it (no `status` while provisioning). Cached per state. */
export const encodeAccount = (a: Account): unknown => {
  let encoded = accountBodies.get(a)
  if (encoded === undefined) {
    encoded = encodeAccountRecord({
      zrn: zrnOf(a.zrn),
      participant_code: a.participant_code,
      platform_code: a.platform_code,
      prefunded: a.prefunded,
      account_label: a.account_label,
      account_group: a.account_group,
      type: a.type,
      tier: a.tier,
      ...(a.status === undefined ? {} : { status: a.status }),
      tenants: a.tenants,
      financial_advisors: a.financial_advisors
    })
    accountBodies.set(a, encoded)
  }
  return encoded
}

/** The status reason record: the account plus who changed its status last and why. */
export const encodeStatusReason = (a: Account): unknown => {
  const r = a.statusReason
  return encodeStatusReasonRecord({
    zrn: zrnOf(a.zrn),
    participant_code: a.participant_code,
    platform_code: a.platform_code,
    account_label: a.account_label,
    type: a.type,
    tier: a.tier,
    ...(a.status === undefined ? {} : { status: a.status }),
    ...(r.author_type === undefined ? {} : { author_type: r.author_type }),
    ...(r.reason === undefined ? {} : { reason: r.reason }),
    ...(r.compliance_reasons === undefined ? {} : { compliance_reasons: r.compliance_reasons }),
    ...(r.notes === undefined ? {} : { notes: r.notes }),
    ...(r.case_number === undefined ? {} : { case_number: r.case_number }),
    tenants: a.tenants,
    financial_advisors: a.financial_advisors
  })
}

/** One page of `GET /accounts`. */
export const encodeLedgerPage = (
  entries: ReadonlyArray<LedgerEntry>,
  page: number,
  totalPages: number
): unknown =>
  encodeLedgerPageBody({
    message: entries.map((e) => ({
      zrn: zrnOf(e.zrn),
      account_id: e.account_id,
      asset: e.asset,
      balance: e.balance,
      account_owner: e.account_owner,
      account_type: e.account_type,
      account_group: e.account_group,
      account_label: e.account_label,
      last_update: e.last_update
    })),
    page,
    total_pages: totalPages
  })

/** The webhook payload (encoded with the domain's Schema: the ZRN under `urn`) and its exact bytes. */
export const encodeWebhook = (a: Account): { readonly rawBody: string; readonly payload: unknown } => {
  const payload = encodePayload({
    zrn: zrnOf(a.zrn),
    status: a.status!,
    participant_code: a.participant_code,
    prefunded: a.prefunded,
    account_label: a.account_label,
    account_group: a.account_group,
    tier: a.tier,
    type: a.type,
    tenants: a.tenants,
    financial_advisors: a.financial_advisors
  })
  return { rawBody: JSON.stringify(payload), payload }
}
