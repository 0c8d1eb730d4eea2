/**
 * The Effect API: a `ZeroHashClient` service with one method per endpoint of `upstream-api.md`
 * (names from the domain's `Endpoint.table`), plus `listLedgerAccounts` as a `Stream` over every page
 * and `waitForStatus`.
 *
 * Inputs are checked with the domain's request Schemas before anything is sent (a mistake is an
 * `InvalidInput`, not a 400 round trip); ZRNs are accepted in every form the domain parses and sent
 * canonical; responses are decoded with the domain's tolerant response Schemas, and a response that
 * does not decode is a `DecodeError`.
 *
 * @since 0.1.0
 */
import { Api, Endpoint, type Enums, Zrn } from "@mta/domain"
import { Chunk, Clock, Context, Effect, Either, Layer, Option, Schema, Stream } from "effect"
import type * as ConfigModule from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import { type ClientConfig, fromEnv, type InvalidConfig, type Resolved, resolve } from "./ClientConfig.js"
import { type ClientError, InvalidInput, Timeout } from "./ClientError.js"
import { type CallInfo, decodeError } from "./internal/errors.js"
import { type Call, newRequestId, type Received, send } from "./internal/http.js"

/** A customer account as read (create, update, details). */
export type Account = Api.AccountRecord
/** Why an account is in its status. */
export type StatusReason = Api.StatusReasonRecord
/** One ledger (balance) account. */
export type LedgerAccount = Api.LedgerAccount
/** One page of ledger accounts. */
export type LedgerPage = Api.LedgerPage
/** A customer-account ZRN in any form the domain accepts, or parsed. */
export type ZrnInput = string | Zrn.Zrn

/** Body of `createAccount` (the wire fields; `tenants` required for every type but `individual`). */
export type CreateAccountInput = typeof Api.CreateAccountRequest.Encoded
/** Body of `updateAccount`: both fields required. */
export type UpdateAccountInput = typeof Api.UpdateAccountRequest.Encoded

/** Filters of `listLedgerAccounts`; `zrn` narrows to one customer account. */
export interface LedgerQueryInput {
  readonly page?: number | undefined
  readonly account_group?: string | undefined
  readonly account_label?: string | undefined
  readonly account_owner?: string | undefined
  readonly asset?: string | undefined
  readonly account_type?: Enums.LedgerAccountType | undefined
  readonly zrn?: ZrnInput | undefined
}

/** Per-call options. */
export interface CallOptions {
  /** `X-Request-Id` of this call (generated when absent); reused on its retries. */
  readonly requestId?: string | undefined
  /** Sent as `Idempotency-Key` (the proxy stores the outcome under it; zerohash ignores it). */
  readonly idempotencyKey?: string | undefined
  /** Per-attempt timeout for this call, in milliseconds. */
  readonly timeoutMs?: number | undefined
}

/** Options of `waitForStatus`. */
export interface WaitOptions {
  /** How long to wait in total, in milliseconds. Default 60 000. */
  readonly timeoutMs?: number | undefined
  /** First pause between reads when polling, in milliseconds (doubles up to `maxIntervalMs`). Default 250. */
  readonly intervalMs?: number | undefined
  /** Longest pause between reads when polling. Default 5 000. */
  readonly maxIntervalMs?: number | undefined
  readonly requestId?: string | undefined
}

/** What `waitForStatus` saw when the account reached the status. */
export interface StatusReached {
  readonly zrn: Zrn.Zrn
  readonly status: Enums.AccountStatus
  /** The account as last read (when waiting by polling; the proxy's long poll returns only the status). */
  readonly account: Account | undefined
}

/** The methods of the client. Every failure is a `ClientError`. */
export interface Service {
  readonly createAccount: (
    body: CreateAccountInput,
    options?: CallOptions
  ) => Effect.Effect<Account, ClientError>
  readonly updateAccount: (
    zrn: ZrnInput,
    body: UpdateAccountInput,
    options?: CallOptions
  ) => Effect.Effect<Account, ClientError>
  readonly getAccount: (zrn: ZrnInput, options?: CallOptions) => Effect.Effect<Account, ClientError>
  readonly getStatusReason: (zrn: ZrnInput, options?: CallOptions) => Effect.Effect<StatusReason, ClientError>
  readonly lock: (zrn: ZrnInput, options?: CallOptions) => Effect.Effect<void, ClientError>
  readonly unlock: (zrn: ZrnInput, options?: CallOptions) => Effect.Effect<void, ClientError>
  readonly withdrawLock: (zrn: ZrnInput, options?: CallOptions) => Effect.Effect<void, ClientError>
  readonly withdrawUnlock: (zrn: ZrnInput, options?: CallOptions) => Effect.Effect<void, ClientError>
  readonly addTenant: (
    zrn: ZrnInput,
    participantCode: string,
    options?: CallOptions
  ) => Effect.Effect<void, ClientError>
  readonly removeTenant: (
    zrn: ZrnInput,
    participantCode: string,
    options?: CallOptions
  ) => Effect.Effect<void, ClientError>
  readonly addAdvisor: (
    zrn: ZrnInput,
    participantCode: string,
    options?: CallOptions
  ) => Effect.Effect<void, ClientError>
  readonly removeAdvisor: (
    zrn: ZrnInput,
    participantCode: string,
    options?: CallOptions
  ) => Effect.Effect<void, ClientError>
  readonly divest: (zrn: ZrnInput, options?: CallOptions) => Effect.Effect<void, ClientError>
  readonly close: (zrn: ZrnInput, options?: CallOptions) => Effect.Effect<void, ClientError>
  /** Every ledger account matching the filters, page after page. */
  readonly listLedgerAccounts: (
    query?: LedgerQueryInput,
    options?: CallOptions
  ) => Stream.Stream<LedgerAccount, ClientError>
  /** One page of ledger accounts (`query.page`, default 1). */
  readonly getLedgerPage: (
    query?: LedgerQueryInput,
    options?: CallOptions
  ) => Effect.Effect<LedgerPage, ClientError>
  /** Waits until the account has `status`; a `Timeout` when `options.timeoutMs` passes first. */
  readonly waitForStatus: (
    zrn: ZrnInput,
    status: Enums.AccountStatus,
    options?: WaitOptions
  ) => Effect.Effect<StatusReached, ClientError>
}

/** The client service. Build it with `ZeroHashClient.layer(config)` or `ZeroHashClient.layerConfig()`. */
export class ZeroHashClient extends Context.Tag("@mta/client/ZeroHashClient")<ZeroHashClient, Service>() {
  /** A layer from a configuration value; fails with `InvalidConfig` when it cannot be used. */
  static readonly layer = (config: ClientConfig): Layer.Layer<ZeroHashClient, InvalidConfig> => layer(config)
  /** A layer reading its configuration (by default from the environment, see `ClientConfig.fromEnv`). */
  static readonly layerConfig = (
    config?: ConfigModule.Config<ClientConfig>
  ): Layer.Layer<ZeroHashClient, InvalidConfig | ConfigError.ConfigError> => layerConfig(config)
}

// ---------------------------------------------------------------------------------------------

const T = Endpoint.table

/** The proxy's long poll (not a zerohash endpoint). */
const STATUS_PATH = (zrn: string) => `/accounts/${zrn}/status`

const LongPollAnswer = Schema.Struct({
  zrn: Schema.optional(Schema.NullOr(Schema.String)),
  status: Schema.optional(Schema.NullOr(Schema.String)),
  updated_at: Schema.optional(Schema.Unknown),
  timed_out: Schema.optional(Schema.Boolean)
})

const QUERY_KEYS = [
  "page",
  "account_owner",
  "account_group",
  "account_label",
  "account_type",
  "asset",
  "zrn"
] as const

// Query values keep ZRN colons unencoded, like the path (the signed string is the sent string).
const encodeQueryValue = (value: string): string => encodeURIComponent(value).replace(/%3A/gi, ":")

const invalidInput = (operation: string, requestId: string, field: string, problems: ReadonlyArray<string>) =>
  new InvalidInput({
    message: `${operation}: invalid ${field}: ${problems.join("; ")} (nothing was sent)`,
    messages: problems,
    requestId,
    operation,
    field
  })

const decodeBody = <A, I>(
  schema: Schema.Schema<A, I>,
  received: Received,
  info: CallInfo,
  emptyIsObject: boolean
) => {
  const text = received.text.trim() === "" && emptyIsObject ? "{}" : received.text
  return Either.try({
    try: () => JSON.parse(text) as unknown,
    catch: (e) =>
      decodeError(info, received.status, "InvalidJson", e instanceof Error ? e.message : String(e))
  }).pipe(
    Either.flatMap((json) =>
      Either.mapLeft(Schema.decodeUnknownEither(schema)(json), (e) =>
        decodeError(info, received.status, "SchemaMismatch", Api.formatErrors(e).join("; "))
      )
    )
  )
}

/** Builds the service from a checked configuration. */
export const fromResolved = (resolved: Resolved): Service => {
  const { settings, geo } = resolved

  const parseZrn = (
    operation: string,
    requestId: string,
    input: ZrnInput
  ): Either.Either<string, InvalidInput> => {
    if (input instanceof Zrn.Zrn) {
      return input.subdomain === "customer"
        ? Either.right(Zrn.format(input))
        : Either.left(
            invalidInput(operation, requestId, "zrn", [`expected a customer ZRN, got ${Zrn.format(input)}`])
          )
    }
    const parsed = Zrn.parse(input, { geo, subdomain: "customer" })
    if (Either.isLeft(parsed))
      return Either.left(invalidInput(operation, requestId, "zrn", [parsed.left.message]))
    if (parsed.right.subdomain !== "customer") {
      return Either.left(
        invalidInput(operation, requestId, "zrn", [
          `expected a customer ZRN, got ${Zrn.format(parsed.right)}`
        ])
      )
    }
    return Either.right(Zrn.format(parsed.right))
  }

  const validate = <A, I>(
    schema: Schema.Schema<A, I>,
    operation: string,
    requestId: string,
    field: string,
    input: unknown
  ): Either.Either<I, InvalidInput> =>
    Either.flatMap(Schema.decodeUnknownEither(schema)(input), Schema.encodeEither(schema)).pipe(
      Either.mapLeft((e) => invalidInput(operation, requestId, field, Api.formatErrors(e)))
    )

  /** Runs one logical call and decodes its success body. */
  const run = <A, I>(
    operation: string,
    prepare: (
      requestId: string
    ) => Either.Either<Omit<Call, "requestId" | "operation" | "idempotencyKey">, InvalidInput>,
    response: Schema.Schema<A, I>,
    options: CallOptions | undefined,
    emptyIsObject = false
  ): Effect.Effect<A, ClientError> =>
    Effect.flatMap(
      options?.requestId !== undefined ? Effect.succeed(options.requestId) : newRequestId,
      (requestId) => {
        const prepared = prepare(requestId)
        if (Either.isLeft(prepared)) return Effect.fail(prepared.left)
        const call: Call = {
          ...prepared.right,
          operation,
          requestId,
          idempotencyKey: options?.idempotencyKey,
          timeoutMs: prepared.right.timeoutMs ?? options?.timeoutMs
        }
        return Effect.flatMap(send(settings, call), (received) =>
          decodeBody(
            response,
            received,
            {
              operation,
              method: call.method,
              path: call.path,
              requestId,
              idempotencyKey: call.idempotencyKey
            },
            emptyIsObject
          )
        )
      }
    )

  const createAccount: Service["createAccount"] = (body, options) =>
    run(
      "createAccount",
      (requestId) =>
        Either.map(validate(Api.CreateAccountRequest, "createAccount", requestId, "body", body), (wire) => ({
          method: "POST" as const,
          path: T.createAccount.path,
          body: JSON.stringify(wire)
        })),
      Api.AccountResponse,
      options
    )

  const updateAccount: Service["updateAccount"] = (zrn, body, options) =>
    run(
      "updateAccount",
      (requestId) =>
        Either.all([
          parseZrn("updateAccount", requestId, zrn),
          validate(Api.UpdateAccountRequest, "updateAccount", requestId, "body", body)
        ]).pipe(
          Either.map(([z, wire]) => ({
            method: "PATCH" as const,
            path: Endpoint.pathFor("updateAccount", { zrn: z }),
            body: JSON.stringify(wire)
          }))
        ),
      Api.AccountResponse,
      options
    )

  const read =
    <N extends "getAccount" | "getStatusReason", A, I>(name: N, response: Schema.Schema<A, I>) =>
    (zrn: ZrnInput, options?: CallOptions): Effect.Effect<A, ClientError> =>
      run(
        name,
        (requestId) =>
          Either.map(parseZrn(name, requestId, zrn), (z) => ({
            method: "GET" as const,
            path: Endpoint.pathFor(name, { zrn: z } as Endpoint.PathParams<N>),
            body: undefined
          })),
        response,
        options
      )

  const EMPTY = "{}"
  const command =
    (name: "lock" | "unlock" | "withdrawLock" | "withdrawUnlock" | "divest" | "close") =>
    (zrn: ZrnInput, options?: CallOptions): Effect.Effect<void, ClientError> =>
      Effect.asVoid(
        run(
          name,
          (requestId) =>
            Either.map(parseZrn(name, requestId, zrn), (z) => ({
              method: "POST" as const,
              path: Endpoint.pathFor(name, { zrn: z }),
              // The body-less commands send and sign `{}` (upstream-api.md).
              body: EMPTY
            })),
          Api.Accepted,
          options,
          true
        )
      )

  const addMember =
    (name: "addTenant" | "addAdvisor") =>
    (zrn: ZrnInput, participantCode: string, options?: CallOptions): Effect.Effect<void, ClientError> =>
      Effect.asVoid(
        run(
          name,
          (requestId) =>
            Either.all([
              parseZrn(name, requestId, zrn),
              validate(Api.ParticipantCodeRequest, name, requestId, "participantCode", {
                participant_code: participantCode
              })
            ]).pipe(
              Either.map(([z, wire]) => ({
                method: "POST" as const,
                path: Endpoint.pathFor(name, { zrn: z }),
                body: JSON.stringify(wire)
              }))
            ),
          Api.Accepted,
          options,
          true
        )
      )

  const removeMember =
    (name: "removeTenant" | "removeAdvisor") =>
    (zrn: ZrnInput, participantCode: string, options?: CallOptions): Effect.Effect<void, ClientError> =>
      Effect.asVoid(
        run(
          name,
          (requestId) =>
            Either.all([
              parseZrn(name, requestId, zrn),
              Either.mapLeft(Schema.decodeUnknownEither(Api.PathParticipantCode)(participantCode), (e) =>
                invalidInput(name, requestId, "participantCode", Api.formatErrors(e))
              )
            ]).pipe(
              Either.map(([z, code]) => ({
                method: "DELETE" as const,
                path:
                  name === "removeTenant"
                    ? Endpoint.pathFor("removeTenant", { zrn: z, tenant: code })
                    : Endpoint.pathFor("removeAdvisor", { zrn: z, financial_advisor: code }),
                body: undefined
              }))
            ),
          Api.Accepted,
          options,
          true
        )
      )

  const getLedgerPage: Service["getLedgerPage"] = (query = {}, options) =>
    run(
      "listLedgerAccounts",
      (requestId) => {
        const wire: Record<string, string> = {}
        for (const key of QUERY_KEYS) {
          const value = query[key]
          if (value === undefined) continue
          if (key === "zrn") {
            const z = parseZrn("listLedgerAccounts", requestId, value as ZrnInput)
            if (Either.isLeft(z)) return Either.left(z.left)
            wire.zrn = z.right
          } else wire[key] = String(value)
        }
        for (const key of Object.keys(query)) {
          if (
            !(QUERY_KEYS as ReadonlyArray<string>).includes(key) &&
            query[key as keyof LedgerQueryInput] !== undefined
          ) {
            wire[key] = String(query[key as keyof LedgerQueryInput])
          }
        }
        return Either.map(validate(Api.LedgerQuery, "listLedgerAccounts", requestId, "query", wire), () => {
          const pairs = Object.keys(wire).map((k) => `${k}=${encodeQueryValue(wire[k]!)}`)
          return {
            method: "GET" as const,
            path:
              pairs.length === 0
                ? T.listLedgerAccounts.path
                : `${T.listLedgerAccounts.path}?${pairs.join("&")}`,
            body: undefined
          }
        })
      },
      Api.LedgerPage,
      options
    )

  const listLedgerAccounts: Service["listLedgerAccounts"] = (query = {}, options) =>
    Stream.paginateChunkEffect(query.page ?? 1, (page) =>
      Effect.map(getLedgerPage({ ...query, page }, options), (result) => [
        Chunk.fromIterable(result.message),
        // Advance from the page asked for, not the one echoed back: a server that echoes a wrong
        // page number cannot make the walk loop forever.
        page < result.total_pages ? Option.some(page + 1) : Option.none()
      ])
    )

  const timeoutError = (requestId: string, zrn: string, status: string, timeoutMs: number, last: string) =>
    new Timeout({
      message: `waitForStatus: account ${zrn} did not reach status ${status} within ${timeoutMs} ms (last seen: ${last}; request id ${requestId})`,
      messages: [],
      requestId,
      operation: "waitForStatus",
      timeoutMs
    })

  const waitForStatus: Service["waitForStatus"] = (zrn, status, options = {}) =>
    Effect.gen(function* () {
      const requestId = options.requestId ?? (yield* newRequestId)
      const canonical = parseZrn("waitForStatus", requestId, zrn)
      if (Either.isLeft(canonical)) return yield* Effect.fail(canonical.left)
      const z = canonical.right
      const parsed = Zrn.unsafeParse(z)
      const timeoutMs = options.timeoutMs ?? 60_000
      const maxInterval = options.maxIntervalMs ?? 5_000
      let interval = options.intervalMs ?? 250
      const deadline = (yield* Clock.currentTimeMillis) + timeoutMs
      let last = "nothing read yet"
      let longPoll = resolved.waitStrategy === "longPoll"

      for (;;) {
        const remaining = deadline - (yield* Clock.currentTimeMillis)
        if (remaining <= 0) return yield* Effect.fail(timeoutError(requestId, z, status, timeoutMs, last))
        if (longPoll) {
          const waitMs = Math.max(1, Math.min(remaining, 30_000))
          const answer = yield* Effect.either(
            run(
              "waitForStatus",
              () =>
                Either.right({
                  method: "GET" as const,
                  path: `${STATUS_PATH(z)}?wait_for=${status}&timeout_ms=${waitMs}`,
                  body: undefined,
                  // The proxy holds the request up to `timeout_ms`: allow that plus a margin.
                  timeoutMs: waitMs + 5_000,
                  deadlineMs: remaining + 5_000
                }),
              LongPollAnswer,
              { requestId }
            )
          )
          if (Either.isLeft(answer)) {
            // An account the proxy's projection has not seen yet (or a proxy without the long poll):
            // fall back to reading the account, which also gives the real NotFound if there is none.
            if (answer.left._tag === "NotFound") {
              longPoll = false
              continue
            }
            return yield* Effect.fail(answer.left)
          }
          last = answer.right.status ?? "no status (provisioning)"
          if (answer.right.status === status) return { zrn: parsed, status, account: undefined }
          if (answer.right.timed_out === true) continue
        } else {
          const account = yield* run(
            "getAccount",
            () =>
              Either.right({
                method: "GET" as const,
                path: Endpoint.pathFor("getAccount", { zrn: z }),
                body: undefined,
                deadlineMs: remaining
              }),
            Api.AccountResponse,
            { requestId }
          )
          last = account.status ?? "no status (provisioning)"
          if (account.status === status) return { zrn: parsed, status, account }
        }
        const now = yield* Clock.currentTimeMillis
        yield* Effect.sleep(Math.max(0, Math.min(interval, deadline - now)))
        interval = Math.min(maxInterval, interval * 2)
      }
    })

  const service: Service = {
    createAccount,
    updateAccount,
    getAccount: read("getAccount", Api.AccountResponse),
    getStatusReason: read("getStatusReason", Api.StatusReasonResponse),
    lock: command("lock"),
    unlock: command("unlock"),
    withdrawLock: command("withdrawLock"),
    withdrawUnlock: command("withdrawUnlock"),
    addTenant: addMember("addTenant"),
    removeTenant: removeMember("removeTenant"),
    addAdvisor: addMember("addAdvisor"),
    removeAdvisor: removeMember("removeAdvisor"),
    divest: command("divest"),
    close: command("close"),
    listLedgerAccounts,
    getLedgerPage,
    waitForStatus
  }
  return withSummary(service, "ZeroHashClient", resolved.summary)
}

/** Adds a secret-free `toString`, `toJSON` and `util.inspect` view to a client object. */
export const withSummary = <S extends object>(
  service: S,
  name: string,
  summary: Readonly<Record<string, unknown>>
): S => {
  const text = `${name}(${JSON.stringify(summary)})`
  Object.defineProperties(service, {
    toString: { value: () => text, enumerable: false },
    toJSON: { value: () => ({ _id: name, ...summary }), enumerable: false },
    [Symbol.for("nodejs.util.inspect.custom")]: { value: () => text, enumerable: false }
  })
  return service
}

/** Builds the service from a configuration; fails with `InvalidConfig` when it cannot be used. */
export const make = (config: ClientConfig): Effect.Effect<Service, InvalidConfig> =>
  Effect.map(
    Effect.suspend(() => resolve(config)),
    fromResolved
  )

/** A layer from a configuration value. */
export const layer = (config: ClientConfig): Layer.Layer<ZeroHashClient, InvalidConfig> =>
  Layer.effect(ZeroHashClient, make(config))

/** A layer reading its configuration (by default `ClientConfig.fromEnv`). */
export const layerConfig = (
  config: ConfigModule.Config<ClientConfig> = fromEnv
): Layer.Layer<ZeroHashClient, InvalidConfig | ConfigError.ConfigError> =>
  Layer.effect(ZeroHashClient, Effect.flatMap(config, make))
