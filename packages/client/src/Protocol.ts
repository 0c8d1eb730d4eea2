/**
 * The wire protocol of the Customer Accounts API, written once and derived from the domain's
 * `Endpoint.table`: for any endpoint, the request to send (method, path with its query, the body's
 * exact bytes, the headers to sign) and what a response means (its status, headers and body text →
 * the decoded value or a `ClientError`). Pure functions; nothing here sends, waits or retries.
 *
 * The Effect client is this protocol plus a transport, retries, time-outs and a span; the Promise
 * client wraps the Effect client; the proxy's upstream is this protocol plus a transport. So a path,
 * a query string, a signature or an error class cannot be spelled two ways.
 *
 * An endpoint's arguments (`Args`) follow from its row: its path parameters in order (a `zrn`, then
 * a participant code), then its body (none for the `{}` commands; the participant code alone for the
 * add-member calls), then its query (optional). Adding an endpoint means adding a row.
 *
 * @since 0.2.0
 */
import { Api, Endpoint, type Enums, Zrn } from "@mta/domain"
import { Either, type ParseResult, Redacted, Schema, SchemaAST } from "effect"
import { type ClientError, InvalidInput } from "./ClientError.js"
import { decodeError, fromResponse } from "./internal/errors.js"
import { EMPTY_BODY, type Signer, headers as signingHeaders, timestampSeconds } from "./Signing.js"

// ---------------------------------------------------------------------------------------------
// Types derived from the table
// ---------------------------------------------------------------------------------------------

/** Any endpoint: a row of `Endpoint.table`, or one of the proxy's own (its long poll). */
export type Row = Endpoint.Endpoint

/** A row of the table by name. */
export type RowOf<N extends Endpoint.Name> = (typeof Endpoint.table)[N]

/** A customer-account ZRN in any form the domain accepts, or parsed. */
export type ZrnInput = string | Zrn.Zrn

type ParamArgs<P> = P extends readonly [infer Head, ...infer Tail]
  ? [...(Head extends "zrn" ? [zrn: ZrnInput] : [participantCode: string]), ...ParamArgs<Tail>]
  : []

type BodyArgs<S> = S extends Schema.Schema.AnyNoContext
  ? S extends typeof Api.ParticipantCodeRequest
    ? [participantCode: string]
    : keyof Schema.Schema.Encoded<S> extends never
      ? []
      : [body: Schema.Schema.Encoded<S>]
  : []

/** The filters of a list endpoint: its query's decoded fields, each optional; a `zrn` in any form. */
export type QueryInput<Q> = Q extends Schema.Schema.AnyNoContext
  ? {
      readonly [K in keyof Schema.Schema.Type<Q>]?: K extends "zrn"
        ? ZrnInput | undefined
        : Schema.Schema.Type<Q>[K] | undefined
    }
  : never

type QueryArgs<E> = E extends { readonly query: infer Q } ? [query?: QueryInput<Q>] : []

/** An endpoint's arguments: its path parameters, then its body, then its query. */
export type Args<E extends Row> = [...ParamArgs<E["params"]>, ...BodyArgs<E["request"]>, ...QueryArgs<E>]

/** What an endpoint answers: its response Schema's decoded value, nothing for the 202 commands (`{}`). */
export type Result<E extends Row> = E["response"] extends typeof Api.Accepted
  ? // biome-ignore lint/suspicious/noConfusingVoidType: the methods' return type, as before (`Promise<void>`).
    void
  : Schema.Schema.Type<E["response"]>

/** The method that calls an endpoint once: the endpoint's name, `getLedgerPage` for one page of a list. */
export type MethodName<N extends Endpoint.Name> = N extends "listLedgerAccounts"
  ? "getLedgerPage"
  : N extends "listParticipants"
    ? "getParticipantPage"
    : N

/**
 * What a method answers, as a type of one parameter `A` (a "type lambda"): `Promised` is
 * `Promise<A>`; the Effect client's is `Effect<A, ClientError>`.
 */
export interface Kind {
  readonly A: unknown
  readonly type: unknown
}

/** `F` of `A`. */
export type Apply<F extends Kind, A> = (F & { readonly A: A })["type"]

/** `Promise<A>`. */
export interface Promised extends Kind {
  readonly type: Promise<this["A"]>
}

/**
 * One method per endpoint of the table, named by `MethodName`: the endpoint's `Args`, then an
 * options argument `O`, answering `F` of its `Result`.
 */
export type Methods<O, F extends Kind> = {
  readonly [N in Endpoint.Name as MethodName<N>]: (
    ...args: [...Args<RowOf<N>>, options?: O]
  ) => Apply<F, Result<RowOf<N>>>
}

// ---------------------------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------------------------

/** What identifies a logical call besides its bytes; the same on every attempt. */
export interface Meta {
  readonly requestId: string
  /** Sent as `Idempotency-Key` (the proxy stores the outcome under it). */
  readonly idempotencyKey?: string | undefined
}

/** One request, exactly as it is signed and sent. */
export interface Request {
  /** The endpoint's (or method's) name, e.g. `lock`. */
  readonly operation: string
  readonly method: Endpoint.Method
  /** The path with its query string. */
  readonly path: string
  /** The body's exact text; `undefined` for GET and DELETE. */
  readonly body: string | undefined
  readonly requestId: string
  readonly idempotencyKey: string | undefined
}

/** How requests are authenticated: zerohash's signed headers, or the proxy's bearer token. */
export type Auth =
  | {
      readonly kind: "signed"
      readonly apiKey: string
      readonly passphrase: Redacted.Redacted<string>
      readonly sign: Signer
    }
  | { readonly kind: "bearer"; readonly token: Redacted.Redacted<string> }

type Decoder = (u: unknown) => Either.Either<unknown, ParseResult.ParseError>

/** What a row needs at run time, worked out once per row. */
interface Compiled {
  readonly body: "none" | "empty" | "code" | "json"
  readonly queryKeys: ReadonlyArray<string> | undefined
  readonly arity: number
  /** The 202 commands' `{}`: an empty body reads as `{}`, and the value is `undefined`. */
  readonly accepted: boolean
  readonly decodeResponse: Decoder
}

const compiled = new WeakMap<Row, Compiled>()

/**
 * The order of a query's parameters on the wire where it is not its Schema's: the ledger list's is
 * zerohash's own (its examples and signing vector 1 put `account_owner` before `account_group`).
 */
const QUERY_ORDER: Readonly<Record<string, ReadonlyArray<string>>> = {
  listLedgerAccounts: [
    "page",
    "account_owner",
    "account_group",
    "account_label",
    "account_type",
    "asset",
    "zrn"
  ]
}

const compile = (row: Row): Compiled => {
  let c = compiled.get(row)
  if (c !== undefined) return c
  const request = row.request
  const body =
    request === undefined
      ? "none"
      : request === Api.EmptyRequest
        ? "empty"
        : request === Api.ParticipantCodeRequest
          ? "code"
          : "json"
  const queryKeys =
    row.query === undefined
      ? undefined
      : (QUERY_ORDER[row.name] ??
        SchemaAST.getPropertySignatures(SchemaAST.typeAST(row.query.ast)).map((p) => String(p.name)))
  c = {
    body,
    queryKeys,
    arity:
      row.params.length + (body === "code" || body === "json" ? 1 : 0) + (row.query === undefined ? 0 : 1),
    accepted: row.response === Api.Accepted,
    decodeResponse: Schema.decodeUnknownEither(row.response) as Decoder
  }
  compiled.set(row, c)
  return c
}

/** How many arguments an endpoint takes before its options (`Args`). */
export const arity = (row: Row): number => compile(row).arity

// ZRN colons stay unencoded in the query, as in the path and in zerohash's examples: the signed
// string is the sent string, and `URLSearchParams` would write `%3A`.
const encodeValue = (value: string): string => encodeURIComponent(value).replace(/%3A/gi, ":")

const queryText = (value: unknown): string => (value instanceof Zrn.Zrn ? Zrn.format(value) : String(value))

/**
 * The one query-string encoding: `?k=v&…` (empty when no value is defined), the keys in `order`
 * first (a row's wire order) and any others after them as given, values percent-encoded except
 * `:`; a parsed ZRN is written canonical.
 */
export const encodeQuery = (
  query: Readonly<Record<string, unknown>> | undefined,
  order: ReadonlyArray<string> = []
): string => {
  if (query === undefined) return ""
  const pairs: Array<string> = []
  const add = (key: string) => {
    const value = query[key]
    if (value !== undefined) pairs.push(`${encodeURIComponent(key)}=${encodeValue(queryText(value))}`)
  }
  for (const key of order) add(key)
  for (const key of Object.keys(query)) if (!order.includes(key)) add(key)
  return pairs.length === 0 ? "" : `?${pairs.join("&")}`
}

/** The row's path with its parameters (the first `row.params.length` of `values`) filled in. */
const pathOf = (row: Row, values: ReadonlyArray<unknown>): string => {
  if (row.params.length === 0) return row.path
  const params: Record<string, Zrn.Zrn | string> = {}
  row.params.forEach((name, i) => {
    params[name] = values[i] as Zrn.Zrn | string
  })
  return Endpoint.fillPath(row.path, params)
}

const bodyText = (c: Compiled, arg: unknown): string | undefined => {
  switch (c.body) {
    case "none":
      return undefined
    case "empty":
      // The body-less commands send and sign `{}` (upstream-api.md).
      return EMPTY_BODY
    case "code":
      return JSON.stringify({ participant_code: arg })
    case "json":
      return JSON.stringify(arg)
  }
}

const build = (
  row: Row,
  c: Compiled,
  params: ReadonlyArray<unknown>,
  body: string | undefined,
  query: Readonly<Record<string, unknown>> | undefined,
  meta: Meta
): Request => ({
  operation: row.name,
  method: row.method,
  path:
    c.queryKeys === undefined
      ? pathOf(row, params)
      : `${pathOf(row, params)}${encodeQuery(query, c.queryKeys)}`,
  body,
  requestId: meta.requestId,
  idempotencyKey: meta.idempotencyKey
})

/**
 * The request for arguments that are valid already (the proxy has checked them with the same
 * Schemas): a ZRN canonical or parsed, a body in its wire form, a query's values written as text.
 */
export const request = <E extends Row>(row: E, args: Args<E>, meta: Meta): Request => {
  const c = compile(row)
  const all = args as ReadonlyArray<unknown>
  const n = row.params.length
  const hasBody = c.body === "code" || c.body === "json"
  const query = c.queryKeys === undefined ? undefined : all[n + (hasBody ? 1 : 0)]
  return build(row, c, all, bodyText(c, hasBody ? all[n] : undefined), query as Record<string, unknown>, meta)
}

// ---------------------------------------------------------------------------------------------
// Checking a caller's arguments
// ---------------------------------------------------------------------------------------------

/** The error for an argument refused before anything was sent. */
export const invalidInput = (
  operation: string,
  requestId: string,
  field: string,
  problems: ReadonlyArray<string>
): InvalidInput =>
  new InvalidInput({
    message: `${operation}: invalid ${field}: ${problems.join("; ")} (nothing was sent)`,
    messages: problems,
    requestId,
    operation,
    field
  })

/** A customer-account ZRN in any accepted form (short forms in `geo`), canonical; `InvalidInput` otherwise. */
export const customerZrn = (
  operation: string,
  requestId: string,
  geo: Enums.Geo | undefined,
  input: ZrnInput
): Either.Either<string, InvalidInput> => {
  const parsed =
    input instanceof Zrn.Zrn ? Either.right(input) : Zrn.parse(input, { geo, subdomain: "customer" })
  if (Either.isLeft(parsed))
    return Either.left(invalidInput(operation, requestId, "zrn", [parsed.left.message]))
  if (parsed.right.subdomain !== "customer") {
    return Either.left(
      invalidInput(operation, requestId, "zrn", [`expected a customer ZRN, got ${Zrn.format(parsed.right)}`])
    )
  }
  return Either.right(Zrn.format(parsed.right))
}

/** Decodes `input` with `schema` and encodes it back: the wire form, or `InvalidInput` naming `field`. */
const wireOf = (
  schema: Schema.Schema.AnyNoContext,
  operation: string,
  requestId: string,
  field: string,
  input: unknown
): Either.Either<unknown, InvalidInput> =>
  Either.flatMap(Schema.decodeUnknownEither(schema)(input), Schema.encodeEither(schema)).pipe(
    Either.mapLeft((e) => invalidInput(operation, requestId, field, Api.formatErrors(e)))
  )

/** The options of `prepare`: the call's `Meta` and the geo that short ZRN forms belong to. */
export interface PrepareOptions extends Meta {
  readonly geo?: Enums.Geo | undefined
}

/**
 * The request for a caller's arguments, checked first with the endpoint's Schemas: ZRNs in any
 * accepted form (sent canonical), participant codes, the body and the query. The first argument at
 * fault is an `InvalidInput`, and nothing is sent.
 */
export const prepare = <E extends Row>(
  row: E,
  args: Args<E>,
  options: PrepareOptions
): Either.Either<Request, InvalidInput> => {
  const c = compile(row)
  const all = args as ReadonlyArray<unknown>
  const op = row.name
  const id = options.requestId
  const params: Array<string> = []
  for (let i = 0; i < row.params.length; i++) {
    const value = all[i]
    const checked =
      row.params[i] === "zrn"
        ? customerZrn(op, id, options.geo, value as ZrnInput)
        : Either.mapLeft(Schema.decodeUnknownEither(Api.PathParticipantCode)(value), (e) =>
            invalidInput(op, id, "participantCode", Api.formatErrors(e))
          )
    if (Either.isLeft(checked)) return Either.left(checked.left)
    params.push(checked.right)
  }
  let next = row.params.length
  let body = bodyText(c, undefined)
  if (c.body === "code" || c.body === "json") {
    const arg = all[next++]
    const wire =
      c.body === "code"
        ? wireOf(row.request!, op, id, "participantCode", { participant_code: arg })
        : wireOf(row.request!, op, id, "body", arg)
    if (Either.isLeft(wire)) return Either.left(wire.left)
    body = JSON.stringify(wire.right)
  }
  let query: Record<string, string> | undefined
  if (c.queryKeys !== undefined) {
    query = {}
    const given = (all[next] ?? {}) as Readonly<Record<string, unknown>>
    for (const key of [...c.queryKeys, ...Object.keys(given)]) {
      const value = given[key]
      if (value === undefined || Object.hasOwn(query, key)) continue
      if (key === "zrn") {
        const zrn = customerZrn(op, id, options.geo, value as ZrnInput)
        if (Either.isLeft(zrn)) return Either.left(zrn.left)
        query.zrn = zrn.right
      } else query[key] = String(value)
    }
    const checked = wireOf(row.query!, op, id, "query", query)
    if (Either.isLeft(checked)) return Either.left(checked.left)
  }
  return Either.right(build(row, c, params, body, query, options))
}

// ---------------------------------------------------------------------------------------------
// Headers
// ---------------------------------------------------------------------------------------------

/**
 * The headers of one attempt at `nowMs`: JSON, `User-Agent`, `X-Request-Id`, `Idempotency-Key` when
 * given, and either zerohash's signed set (key, passphrase, timestamp, `X-SCX-SIGNED` over the exact
 * path and body) or `Authorization: Bearer`.
 */
export const headers = (
  auth: Auth,
  request: Request,
  userAgent: string,
  nowMs: number
): Record<string, string> => {
  const h: Record<string, string> = {
    accept: "application/json",
    "user-agent": userAgent,
    "x-request-id": request.requestId
  }
  if (request.body !== undefined) h["content-type"] = "application/json"
  if (request.idempotencyKey !== undefined) h["idempotency-key"] = request.idempotencyKey
  if (auth.kind === "signed") {
    const timestamp = timestampSeconds(nowMs)
    h[signingHeaders.apiKey] = auth.apiKey
    h[signingHeaders.passphrase] = Redacted.value(auth.passphrase)
    h[signingHeaders.timestamp] = timestamp
    h[signingHeaders.signature] = auth.sign(timestamp, request.method, request.path, request.body)
  } else {
    h.authorization = `Bearer ${Redacted.value(auth.token)}`
  }
  return h
}

// ---------------------------------------------------------------------------------------------
// Responses
// ---------------------------------------------------------------------------------------------

/** A response read to its end. */
export interface Received {
  readonly status: number
  readonly headers: { get(name: string): string | null }
  readonly text: string
}

/** Whether a status is a success (any 2xx). */
export const isSuccess = (status: number): boolean => status >= 200 && status < 300

/**
 * What a response means for an endpoint: a success (2xx) body decoded with its response Schema (an
 * empty body of a 202 command reads as `{}`), or the `ClientError` of `upstream-api.md`'s mapping —
 * a `DecodeError` for a body that is not JSON or not the documented shape.
 */
export const response = <E extends Row>(
  row: E,
  request: Request,
  received: Received,
  nowMs: number
): Either.Either<Result<E>, ClientError> => {
  const { status, text } = received
  if (!isSuccess(status)) return Either.left(fromResponse(request, status, received.headers, text, nowMs))
  const c = compile(row)
  let json: unknown
  try {
    // A `text/plain` answer (the participant lock's `OK`) is decoded as its trimmed text.
    json =
      row.responseType === "text" ? text.trim() : JSON.parse(c.accepted && text.trim() === "" ? "{}" : text)
  } catch (e) {
    return Either.left(
      decodeError(request, status, "InvalidJson", e instanceof Error ? e.message : String(e))
    )
  }
  const decoded = c.decodeResponse(json)
  if (Either.isLeft(decoded)) {
    return Either.left(
      decodeError(request, status, "SchemaMismatch", Api.formatErrors(decoded.left).join("; "))
    )
  }
  return Either.right((c.accepted ? undefined : decoded.right) as Result<E>)
}

// ---------------------------------------------------------------------------------------------
// One method per endpoint
// ---------------------------------------------------------------------------------------------

/** The method name of an endpoint (`MethodName`). */
export const methodName = <N extends Endpoint.Name>(name: N): MethodName<N> =>
  (name === "listLedgerAccounts"
    ? "getLedgerPage"
    : name === "listParticipants"
      ? "getParticipantPage"
      : name) as MethodName<N>

/**
 * The `Methods` of `invoke`: each passes its endpoint's row, exactly its `Args` (missing ones
 * `undefined`, so the options never take an argument's place) and its options.
 */
export const methods = <O, F extends Kind>(
  invoke: (row: Row, args: ReadonlyArray<unknown>, options: O | undefined) => Apply<F, unknown>
): Methods<O, F> => {
  const out: Record<string, (...all: ReadonlyArray<unknown>) => unknown> = {}
  for (const row of Endpoint.all) {
    const n = arity(row)
    out[methodName(row.name as Endpoint.Name)] = (...all) =>
      invoke(
        row,
        all.length === n ? all : Array.from({ length: n }, (_, i) => all[i]),
        all[n] as O | undefined
      )
  }
  return out as unknown as Methods<O, F>
}
