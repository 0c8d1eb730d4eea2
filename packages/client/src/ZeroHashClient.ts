/**
 * The Effect API: a `ZeroHashClient` service with one method per endpoint of `upstream-api.md`
 * (names and arguments from the domain's `Endpoint.table`, through `Protocol`), plus
 * `listLedgerAccounts` as a `Stream` over every page and `waitForStatus`.
 *
 * Each method is the protocol (`Protocol.prepare`: inputs checked with the domain's request Schemas
 * before anything is sent, a mistake an `InvalidInput`; ZRNs accepted in every form the domain parses
 * and sent canonical; `Protocol.response`: the body decoded with the domain's tolerant response
 * Schemas, a `DecodeError` otherwise) plus the transport, retries, time-outs and a span
 * (`internal/http.ts`).
 *
 * @since 0.1.0
 */
import { randomUUID } from "node:crypto"
import { type Api, Endpoint, type Enums, type Participants, Zrn } from "@mta/domain"
import type { Context as OtelContext } from "@opentelemetry/api"
import { Chunk, Clock, Context, Effect, Either, Layer, Option, Schema, Stream } from "effect"
import type * as ConfigModule from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import { type ClientConfig, fromEnv, type InvalidConfig, type Resolved, resolve } from "./ClientConfig.js"
import { type ClientError, type InvalidInput, NotFound, Timeout } from "./ClientError.js"
import type { Hooks } from "./Hooks.js"
import { isMutation } from "./internal/errors.js"
import { type Limits, newRequestId, send } from "./internal/http.js"
import * as Protocol from "./Protocol.js"
import { type AccessAnswer, type AccessQuery, accessRow, participantStatusRow } from "./ProxyRoutes.js"
import type { WithResponse } from "./ResponseInfo.js"

/** A customer account as read (create, update, details). */
export type Account = Api.AccountRecord
/** Why an account is in its status. */
export type StatusReason = Api.StatusReasonRecord
/** One ledger (balance) account. */
export type LedgerAccount = Api.LedgerAccount
/** One page of ledger accounts. */
export type LedgerPage = Api.LedgerPage
/** A customer-account ZRN in any form the domain accepts, or parsed. */
export type ZrnInput = Protocol.ZrnInput

/** Body of `createAccount` (the wire fields; `tenants` required for every type but `individual`). */
export type CreateAccountInput = typeof Api.CreateAccountRequest.Encoded
/** Body of `updateAccount`: both fields required. */
export type UpdateAccountInput = typeof Api.UpdateAccountRequest.Encoded

/** Filters of `listLedgerAccounts`; `zrn` narrows to one customer account. */
export type LedgerQueryInput = Protocol.QueryInput<typeof Endpoint.table.listLedgerAccounts.query>

/** Per-call options; each overrides the client's setting for this call only. */
export interface CallOptions {
  /** `X-Request-Id` of this call (1-255 visible ASCII characters; a UUID when absent); reused on its retries. */
  readonly requestId?: string | undefined
  /**
   * Sent as `Idempotency-Key` (1-255 visible ASCII characters), the same on every retry: the proxy
   * stores the outcome under it (zerohash ignores it). With a bearer token (the proxy) every mutation
   * sends one: this, or a generated UUID. With signed credentials, only this one.
   */
  readonly idempotencyKey?: string | undefined
  /** Per-attempt timeout for this call, in milliseconds. */
  readonly timeoutMs?: number | undefined
  /** Deadline of this call with all its retries, in milliseconds. */
  readonly deadlineMs?: number | undefined
  /** Retries after the first attempt for this call (0: none). */
  readonly maxRetries?: number | undefined
}

/** Where the Promise API hands a call the OpenTelemetry context it was made in (not public). */
export const PARENT_CONTEXT: unique symbol = Symbol.for("@mta/client/parentContext") as never

/** `CallOptions` with the caller's OpenTelemetry context, captured when the call was made. */
export interface InternalCallOptions extends CallOptions {
  readonly [PARENT_CONTEXT]?: OtelContext | undefined
}

/** Filters of `listParticipants` (every one optional). */
export type ParticipantQueryInput = Protocol.QueryInput<typeof Endpoint.table.listParticipants.query>

/** One entry of `GET /participants`. */
export type ParticipantEntry = Participants.ParticipantEntry

/** What `waitForParticipantStatus` saw when the participant reached the status. */
export interface ParticipantStatusReached {
  readonly participant: ParticipantEntry
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

/** `Effect<A, ClientError>`, what the methods answer. */
export interface Effected extends Protocol.Kind {
  readonly type: Effect.Effect<this["A"], ClientError>
}

/** `Effect<WithResponse<A>, ClientError>`, what the `withResponse` methods answer. */
export interface EffectedWithResponse extends Protocol.Kind {
  readonly type: Effect.Effect<WithResponse<this["A"]>, ClientError>
}

/**
 * One method per endpoint of `Endpoint.table`, each taking the endpoint's `Protocol.Args` and then
 * `CallOptions`: `createAccount(body)`, `updateAccount(zrn, body)`, `getAccount(zrn)`,
 * `getStatusReason(zrn)`, `lock`, `unlock`, `withdrawLock`, `withdrawUnlock`, `divest` and `close`
 * `(zrn)`, `addTenant`, `removeTenant`, `addAdvisor` and `removeAdvisor` `(zrn, participantCode)`,
 * and `getLedgerPage(query?)` (one page of ledger accounts, `query.page` default 1).
 */
export type EndpointMethods = Protocol.Methods<CallOptions, Effected>

/** The endpoint methods answering `{ data, response }`: the result and its response's metadata. */
export type EndpointMethodsWithResponse = Protocol.Methods<CallOptions, EffectedWithResponse>

/** The methods of the client. Every failure is a `ClientError`. */
export interface Service extends EndpointMethods {
  /**
   * The same methods answering `{ data, response }`: `response` is the last response's status,
   * headers, request id and whether the proxy replayed it (`ResponseInfo`).
   */
  readonly withResponse: EndpointMethodsWithResponse
  /** Every ledger account matching the filters, page after page. */
  readonly listLedgerAccounts: (
    query?: LedgerQueryInput,
    options?: CallOptions
  ) => Stream.Stream<LedgerAccount, ClientError>
  /** Waits until the account has `status`; a `Timeout` when `options.timeoutMs` passes first. */
  readonly waitForStatus: (
    zrn: ZrnInput,
    status: Enums.AccountStatus,
    options?: WaitOptions
  ) => Effect.Effect<StatusReached, ClientError>
  /** Every participant matching the filters, page after page (`GET /participants`). */
  readonly listParticipants: (
    query?: ParticipantQueryInput,
    options?: CallOptions
  ) => Stream.Stream<ParticipantEntry, ClientError>
  /** One participant, through the list's `participant_code` filter; `NotFound` when there is none. */
  readonly getParticipant: (
    code: string,
    options?: CallOptions
  ) => Effect.Effect<ParticipantEntry, ClientError>
  /**
   * Waits until the participant has `status`; a `Timeout` when `options.timeoutMs` passes first. With
   * bearer credentials (the proxy) it long-polls `GET /participants/{code}/status`, falling back to
   * reading the list on a 404; signed, it reads `GET /participants`, backing off between reads.
   */
  readonly waitForParticipantStatus: (
    code: string,
    status: Participants.ParticipantStatusOrUnknown,
    options?: WaitOptions
  ) => Effect.Effect<ParticipantStatusReached, ClientError>
  /**
   * The proxy's access decision (`GET /accounts/{zrn}/access`, bearer credentials only): may each
   * member (or `query.participant`) do each action (or `query.action`) on the account now, and if not,
   * every rule that says no. Advice from the proxy's latest knowledge (`as_of`); zerohash decides at
   * order time. With signed credentials an `InvalidInput` (zerohash has no such endpoint).
   */
  readonly access: (
    zrn: ZrnInput,
    query?: AccessQuery,
    options?: CallOptions
  ) => Effect.Effect<AccessAnswer, ClientError>
}

/** One status read while waiting: the status (none while provisioning), and the answer once it is the one waited for. */
interface Seen<A> {
  readonly status: string | null | undefined
  /** The long poll ended at its `timeout_ms` (ask again at once). */
  readonly timedOut?: boolean | undefined
  readonly reached: () => A
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

/** The proxy's long poll `GET /accounts/{zrn}/status?wait_for=&timeout_ms=` (not a zerohash endpoint). */
const longPoll = {
  name: "waitForStatus",
  method: "GET",
  path: "/accounts/{zrn}/status",
  params: ["zrn"],
  successStatus: 200,
  request: undefined,
  query: Schema.Struct({ wait_for: Schema.String, timeout_ms: Schema.NumberFromString }),
  response: Schema.Struct({
    zrn: Schema.optional(Schema.NullOr(Schema.String)),
    status: Schema.optional(Schema.NullOr(Schema.String)),
    updated_at: Schema.optional(Schema.Unknown),
    timed_out: Schema.optional(Schema.Boolean)
  }),
  scope: "accounts:read"
} as const satisfies Endpoint.Endpoint

const VISIBLE_ASCII = /^[\x21-\x7e]{1,255}$/

const positiveOrUndefined = (value: unknown): boolean =>
  value === undefined || (typeof value === "number" && Number.isFinite(value) && value > 0)

/** The first per-call option that cannot be used, as an `InvalidInput` (nothing is sent). */
const checkOptions = (
  operation: string,
  requestId: string,
  options: CallOptions | undefined
): InvalidInput | undefined => {
  if (options === undefined) return undefined
  const bad = (field: string, problem: string) =>
    Protocol.invalidInput(operation, requestId, `options.${field}`, [problem])
  const { requestId: id, idempotencyKey, timeoutMs, deadlineMs, maxRetries } = options
  if (id !== undefined && (typeof id !== "string" || !VISIBLE_ASCII.test(id)))
    return bad("requestId", "expected 1-255 visible ASCII characters (no spaces or control characters)")
  if (
    idempotencyKey !== undefined &&
    (typeof idempotencyKey !== "string" || !VISIBLE_ASCII.test(idempotencyKey))
  )
    return bad("idempotencyKey", "expected 1-255 visible ASCII characters (no spaces or control characters)")
  if (!positiveOrUndefined(timeoutMs)) return bad("timeoutMs", "expected a positive number of milliseconds")
  if (!positiveOrUndefined(deadlineMs)) return bad("deadlineMs", "expected a positive number of milliseconds")
  if (maxRetries !== undefined && !(Number.isInteger(maxRetries) && maxRetries >= 0))
    return bad("maxRetries", "expected a whole number ≥ 0")
  return undefined
}

/**
 * Builds the service from a checked configuration. `hooks` are called for every attempt (the Promise
 * API's `on`).
 */
export const fromResolved = (resolved: Resolved, hooks?: Hooks): Service => {
  const { geo } = resolved
  const settings = hooks === undefined ? resolved.settings : { ...resolved.settings, hooks }
  const bearer = settings.auth.kind === "bearer"
  // The base URL's path, in front of each template (`/v1/accounts/{zrn}/lock`).
  const basePath = new URL(settings.baseUrl).pathname.replace(/\/+$/, "")

  /** One logical call of an endpoint: the protocol's request, sent with retries, its response read. */
  const call = <E extends Protocol.Row>(
    row: E,
    args: Protocol.Args<E>,
    options: InternalCallOptions | undefined,
    limits?: Limits
  ): Effect.Effect<WithResponse<Protocol.Result<E>>, ClientError> =>
    Effect.suspend(() => {
      const requestId = options?.requestId ?? randomUUID()
      const invalid = checkOptions(row.name, requestId, options)
      if (invalid !== undefined) return Effect.fail(invalid)
      // Through the proxy every mutation carries a key, so its retries are safe (Retry.ts).
      const idempotencyKey =
        options?.idempotencyKey ?? (bearer && isMutation(row.method) ? randomUUID() : undefined)
      const prepared = Protocol.prepare(row, args, { requestId, idempotencyKey, geo })
      if (Either.isLeft(prepared)) return Effect.fail(prepared.left)
      return send(
        settings,
        prepared.right,
        (request, received, now) => Protocol.response(row, request, received, now),
        {
          timeoutMs: limits?.timeoutMs ?? options?.timeoutMs,
          deadlineMs: limits?.deadlineMs ?? options?.deadlineMs,
          maxRetries: options?.maxRetries,
          parent: options?.[PARENT_CONTEXT],
          template: `${basePath}${row.path}`
        }
      )
    })

  const withResponse = Protocol.methods<CallOptions, EffectedWithResponse>((row, args, options) =>
    call(row, args as Protocol.Args<Protocol.Row>, options)
  )
  const endpoints = Protocol.methods<CallOptions, Effected>((row, args, options) =>
    Effect.map(call(row, args as Protocol.Args<Protocol.Row>, options), (r) => r.data)
  )

  /**
   * Every entry of a paged list, from page `first` on. It advances from the page asked for, not the
   * one echoed back, so a server that echoes a wrong page number cannot make the walk loop forever;
   * an answer without `total_pages` is the last page.
   */
  const walk = <A>(
    first: number,
    getPage: (
      page: number
    ) => Effect.Effect<
      { readonly message: ReadonlyArray<A>; readonly total_pages?: number | undefined },
      ClientError
    >
  ): Stream.Stream<A, ClientError> =>
    Stream.paginateChunkEffect(first, (page) =>
      Effect.map(getPage(page), (result) => [
        Chunk.fromIterable(result.message),
        page < (result.total_pages ?? page) ? Option.some(page + 1) : Option.none()
      ])
    )

  const listLedgerAccounts: Service["listLedgerAccounts"] = (query = {}, options) =>
    walk(query.page ?? 1, (page) => endpoints.getLedgerPage({ ...query, page }, options))

  /**
   * The wait both `waitFor…` methods share: the proxy's long poll while it answers (held up to 30 s
   * at a time, each call allowed that plus a margin), else reads backing off from `intervalMs` to
   * `maxIntervalMs`, until `status` is seen or `timeoutMs` passes (a `Timeout` naming the last status
   * seen). A long poll answering NotFound (a subject the proxy's projection has not seen yet, or a
   * proxy without the route) switches to reading, which also gives the real NotFound if there is none.
   */
  const waitUntil = <E extends Protocol.Row, A>(wait: {
    readonly operation: string
    /** What is waited on, for the `Timeout` message (`account zrn:…`, `participant ABC123`). */
    readonly subject: string
    readonly status: string
    readonly options: WaitOptions
    readonly requestId: string
    readonly longPoll: E
    readonly longPollArgs: (timeoutMs: number) => Protocol.Args<E>
    readonly seenByLongPoll: (answer: Protocol.Result<E>) => Seen<A>
    /** The fallback read (given the call's options, with the remaining time as deadline). */
    readonly read: (options: InternalCallOptions) => Effect.Effect<Seen<A>, ClientError>
  }): Effect.Effect<A, ClientError> =>
    Effect.gen(function* () {
      const { options, requestId, status } = wait
      const parent = (options as InternalCallOptions)[PARENT_CONTEXT]
      const timeoutMs = options.timeoutMs ?? 60_000
      const maxInterval = options.maxIntervalMs ?? 5_000
      let interval = options.intervalMs ?? 250
      const deadline = (yield* Clock.currentTimeMillis) + timeoutMs
      let last = "nothing read yet"
      let longPolling = resolved.waitStrategy === "longPoll"

      for (;;) {
        const remaining = deadline - (yield* Clock.currentTimeMillis)
        if (remaining <= 0) {
          return yield* Effect.fail(
            new Timeout({
              message: `${wait.operation}: ${wait.subject} did not reach status ${status} within ${timeoutMs} ms (last seen: ${last}; request id ${requestId})`,
              messages: [],
              requestId,
              operation: wait.operation,
              timeoutMs
            })
          )
        }
        const inner: InternalCallOptions = { requestId, deadlineMs: remaining, [PARENT_CONTEXT]: parent }
        if (longPolling) {
          const waitMs = Math.max(1, Math.min(remaining, 30_000))
          const answer = yield* Effect.either(
            // The proxy holds the request up to `timeout_ms`: allow that plus a margin.
            call(wait.longPoll, wait.longPollArgs(waitMs), inner, {
              timeoutMs: waitMs + 5_000,
              deadlineMs: remaining + 5_000
            }).pipe(Effect.map((r) => r.data))
          )
          if (Either.isLeft(answer)) {
            if (answer.left._tag === "NotFound") {
              longPolling = false
              continue
            }
            return yield* Effect.fail(answer.left)
          }
          const seen = wait.seenByLongPoll(answer.right)
          last = seen.status ?? "no status (provisioning)"
          if (seen.status === status) return seen.reached()
          if (seen.timedOut === true) continue
        } else {
          const seen = yield* wait.read(inner)
          last = seen.status ?? "no status (provisioning)"
          if (seen.status === status) return seen.reached()
        }
        const now = yield* Clock.currentTimeMillis
        yield* Effect.sleep(Math.max(0, Math.min(interval, deadline - now)))
        interval = Math.min(maxInterval, interval * 2)
      }
    })

  const waitForStatus: Service["waitForStatus"] = (zrn, status, options = {}) =>
    Effect.gen(function* () {
      const requestId = options.requestId ?? (yield* newRequestId)
      const canonical = Protocol.customerZrn("waitForStatus", requestId, geo, zrn)
      if (Either.isLeft(canonical)) return yield* Effect.fail(canonical.left)
      const z = canonical.right
      const parsed = Zrn.unsafeParse(z)
      return yield* waitUntil({
        operation: "waitForStatus",
        subject: `account ${z}`,
        status,
        options,
        requestId,
        longPoll,
        longPollArgs: (timeoutMs) => [z, { wait_for: status, timeout_ms: timeoutMs }],
        seenByLongPoll: (answer) => ({
          status: answer.status,
          timedOut: answer.timed_out,
          reached: (): StatusReached => ({ zrn: parsed, status, account: undefined })
        }),
        read: (inner) =>
          Effect.map(call(Endpoint.table.getAccount, [z], inner), ({ data: account }) => ({
            status: account.status,
            reached: (): StatusReached => ({ zrn: parsed, status, account })
          }))
      })
    })

  const listParticipants: Service["listParticipants"] = (query = {}, options) =>
    walk(query.page ?? 1, (page) => endpoints.getParticipantPage({ ...query, page }, options))

  const getParticipant: Service["getParticipant"] = (code, options = {}) =>
    Effect.gen(function* () {
      const requestId = options.requestId ?? (yield* newRequestId)
      const page = yield* endpoints.getParticipantPage({ participant_code: code }, { ...options, requestId })
      const found = page.message.find((p) => p.participant_code === code)
      if (found !== undefined) return found
      return yield* Effect.fail(
        new NotFound({
          message: `participant ${code} not found (GET /participants?participant_code=${code} listed none; request id ${requestId})`,
          messages: [],
          requestId,
          operation: "getParticipant",
          status: 404
        })
      )
    })

  /** The proxy's record of the participant, as a list entry (the fields the long poll carries). */
  const entryOfAnswer = (answer: {
    readonly participant_code: string
    readonly status: Participants.ParticipantStatusOrUnknown
    readonly reason_code?: string | null | undefined
    readonly updated_at?: string | null | undefined
  }): ParticipantEntry => {
    const updated = answer.updated_at == null ? Number.NaN : Date.parse(answer.updated_at)
    return {
      participant_code: answer.participant_code,
      status: answer.status,
      ...(answer.reason_code == null ? {} : { reason_code: answer.reason_code }),
      ...(Number.isNaN(updated) ? {} : { updated_at: updated })
    } as ParticipantEntry
  }

  const waitForParticipantStatus: Service["waitForParticipantStatus"] = (code, status, options = {}) =>
    Effect.gen(function* () {
      const requestId = options.requestId ?? (yield* newRequestId)
      return yield* waitUntil({
        operation: "waitForParticipantStatus",
        subject: `participant ${code}`,
        status,
        options,
        requestId,
        // The proxy's participant projection: it holds the request until the status or `timeout_ms`.
        longPoll: participantStatusRow,
        longPollArgs: (timeoutMs) => [code, { wait_for: status, timeout_ms: timeoutMs }],
        seenByLongPoll: (answer) => ({
          status: answer.status,
          timedOut: answer.timed_out,
          reached: (): ParticipantStatusReached => ({ participant: entryOfAnswer(answer) })
        }),
        read: (inner) =>
          Effect.map(getParticipant(code, inner), (participant) => ({
            status: participant.status,
            reached: (): ParticipantStatusReached => ({ participant })
          }))
      })
    })

  const access: Service["access"] = (zrn, query = {}, options) => {
    if (!bearer) {
      const requestId = options?.requestId ?? randomUUID()
      return Effect.fail(
        Protocol.invalidInput("access", requestId, "credentials", [
          "access is a route of the mta proxy, not of zerohash: configure the client with { bearerToken } and the proxy's baseUrl"
        ])
      )
    }
    return Effect.map(call(accessRow, [zrn, query], options), (r) => r.data)
  }

  const service: Service = {
    ...endpoints,
    withResponse,
    listLedgerAccounts,
    waitForStatus,
    listParticipants,
    getParticipant,
    waitForParticipantStatus,
    access
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
