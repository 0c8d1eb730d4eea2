/**
 * The Promise API, for teams that do not use Effect: `createClient(config)` returns an object with the
 * same methods as the Effect service, returning Promises that reject with the client's error classes
 * (`err instanceof NotFound`), and `listLedgerAccounts` as an async iterable over every page.
 *
 * It wraps the Effect service rather than re-implementing it, so both APIs sign, retry and map errors
 * the same way. Each call also takes an `AbortSignal`, which interrupts the call (and its retries).
 * `client.on("request" | "response" | "retry", handler)` observes every attempt (`Hooks.ts`);
 * `client.withResponse.<method>(...)` answers `{ data, response }` (`ResponseInfo.ts`). The
 * OpenTelemetry context active when a method is called is the parent of the call's spans.
 *
 * @since 0.1.0
 */
import type { Endpoint, Enums, Participants } from "@mta/domain"
import { Cause, Effect, Either, Exit, Option } from "effect"
import { type ClientConfig, resolve } from "./ClientConfig.js"
import type { ClientError } from "./ClientError.js"
import type { Hook, HookEvents, HookName, Hooks } from "./Hooks.js"
import * as Protocol from "./Protocol.js"
import type { AccessAnswer, AccessQuery } from "./ProxyRoutes.js"
import type { WithResponse } from "./ResponseInfo.js"
import { activeContext } from "./Tracing.js"
import {
  type CallOptions,
  fromResolved,
  type InternalCallOptions,
  type LedgerAccount,
  type LedgerQueryInput,
  PARENT_CONTEXT,
  type ParticipantEntry,
  type ParticipantQueryInput,
  type ParticipantStatusReached,
  type Service,
  type StatusReached,
  type WaitOptions,
  withSummary,
  type ZrnInput
} from "./ZeroHashClient.js"

/** Per-call options of the Promise API: those of the Effect API plus an `AbortSignal`. */
export interface PromiseCallOptions extends CallOptions {
  /** Aborts the call and its retries; the Promise then rejects with the signal's reason. */
  readonly signal?: AbortSignal | undefined
}

/** Options of `waitForStatus` in the Promise API. */
export interface PromiseWaitOptions extends WaitOptions {
  readonly signal?: AbortSignal | undefined
}

/** The Effect service's endpoint methods (`EndpointMethods`), each returning a Promise. */
export type PromiseEndpointMethods = Protocol.Methods<PromiseCallOptions, Protocol.Promised>

/** `Promise<WithResponse<A>>`. */
export interface PromisedWithResponse extends Protocol.Kind {
  readonly type: Promise<WithResponse<this["A"]>>
}

/** The endpoint methods answering `{ data, response }` (the result and its response's metadata). */
export type PromiseEndpointMethodsWithResponse = Protocol.Methods<PromiseCallOptions, PromisedWithResponse>

/** What `createClient` takes: the client's configuration, and hooks to register at once. */
export interface PromiseClientConfig extends ClientConfig {
  /** Handlers of `request`, `response` and `retry` (as `client.on` registers them). */
  readonly hooks?: Hooks | undefined
}

/** The Promise client. Every rejection is a `ClientError` (or the abort reason). */
export interface Client extends PromiseEndpointMethods {
  /** Every ledger account matching the filters, fetched page by page as the loop asks for them. */
  listLedgerAccounts(query?: LedgerQueryInput, options?: PromiseCallOptions): AsyncIterable<LedgerAccount>
  /** Resolves when the account has `status`; rejects with `Timeout` after `options.timeoutMs`. */
  waitForStatus(
    zrn: ZrnInput,
    status: Enums.AccountStatus,
    options?: PromiseWaitOptions
  ): Promise<StatusReached>
  /** Every participant matching the filters, fetched page by page as the loop asks for them. */
  listParticipants(
    query?: ParticipantQueryInput,
    options?: PromiseCallOptions
  ): AsyncIterable<ParticipantEntry>
  /** One participant (through the list's `participant_code` filter); rejects with `NotFound` when none. */
  getParticipant(code: string, options?: PromiseCallOptions): Promise<ParticipantEntry>
  /** Resolves when the participant has `status`; rejects with `Timeout` after `options.timeoutMs`. */
  waitForParticipantStatus(
    code: string,
    status: Participants.ParticipantStatusOrUnknown,
    options?: PromiseWaitOptions
  ): Promise<ParticipantStatusReached>
  /**
   * The proxy's access decision (`GET /accounts/{zrn}/access`; bearer credentials only): may each
   * member do each action now, and every rule that says no. Rejects with `InvalidInput` when signed.
   */
  access(zrn: ZrnInput, query?: AccessQuery, options?: PromiseCallOptions): Promise<AccessAnswer>
  /**
   * The same methods answering `{ data, response }`: `response` is the last response's status,
   * headers, request id and whether the proxy replayed it (`ResponseInfo`).
   */
  readonly withResponse: PromiseEndpointMethodsWithResponse
  /** Calls `handler` for every attempt's `request`, `response` or `retry` (in registration order). */
  on<N extends HookName>(event: N, handler: Hook<N>): this
  /** Removes a handler registered with `on`. */
  off<N extends HookName>(event: N, handler: Hook<N>): this
  /** The Effect service underneath, for code that mixes both APIs (it calls this client's hooks too). */
  readonly effect: Service
}

/** Runs a client effect as a Promise that rejects with the typed error itself (not a wrapper). */
export const runPromise = <A>(effect: Effect.Effect<A, ClientError>, signal?: AbortSignal): Promise<A> =>
  Effect.runPromiseExit(effect, signal === undefined ? undefined : { signal }).then((exit) => {
    if (Exit.isSuccess(exit)) return exit.value
    const failure = Cause.failureOption(exit.cause)
    if (Option.isSome(failure)) throw failure.value
    if (Cause.isInterruptedOnly(exit.cause) && signal?.aborted === true) throw signal.reason
    throw Cause.squash(exit.cause)
  })

/**
 * The options without the signal, with the OpenTelemetry context active now (when the method is
 * called: the fiber may later run in another asynchronous context).
 */
const split = <O extends { readonly signal?: AbortSignal | undefined }>(options: O | undefined) => {
  const { signal, ...rest } = options ?? ({} as O)
  const effectOptions: Omit<O, "signal"> & InternalCallOptions = {
    ...rest,
    [PARENT_CONTEXT]: activeContext()
  }
  return { effectOptions, signal }
}

type Handlers = { [N in HookName]: Array<Hook<N>> }

/**
 * Every entry of a paged list from page `first` on, fetched as the loop asks for them: a loop that
 * breaks early does not read the rest. An answer without `total_pages` is the last page.
 */
const walk = <A>(
  first: number,
  getPage: (
    page: number
  ) => Promise<{ readonly message: ReadonlyArray<A>; readonly total_pages?: number | undefined }>
): AsyncIterable<A> => ({
  async *[Symbol.asyncIterator]() {
    for (let page = first; ; page++) {
      const result = await getPage(page)
      yield* result.message
      if (page >= (result.total_pages ?? page)) return
    }
  }
})

/** Builds a Promise client; throws `InvalidConfig` when the configuration cannot be used. */
export const createClient = (config: PromiseClientConfig): Client => {
  const resolved = resolve(config)
  if (Either.isLeft(resolved)) throw resolved.left
  const handlers: Handlers = { request: [], response: [], retry: [] }
  const emit =
    <N extends HookName>(name: N) =>
    (event: HookEvents[N]): void => {
      // A copy: a handler may remove itself.
      for (const handler of [...handlers[name]] as Array<Hook<N>>) handler(event)
    }
  const emitters = { request: emit("request"), response: emit("response"), retry: emit("retry") }
  // Read on every attempt: no handler, no event built (the common case costs one length check).
  const hooks: Hooks = {
    get request() {
      return handlers.request.length === 0 ? undefined : emitters.request
    },
    get response() {
      return handlers.response.length === 0 ? undefined : emitters.response
    },
    get retry() {
      return handlers.retry.length === 0 ? undefined : emitters.retry
    }
  }
  const service = fromResolved(resolved.right, hooks)

  const invoke =
    (methods: Record<string, unknown>) =>
    (row: Protocol.Row, args: ReadonlyArray<unknown>, options: PromiseCallOptions | undefined) => {
      const { effectOptions, signal } = split(options)
      const method = methods[Protocol.methodName(row.name as Endpoint.Name)] as (
        ...all: ReadonlyArray<unknown>
      ) => Effect.Effect<unknown, ClientError>
      return runPromise(method(...args, effectOptions), signal)
    }
  const endpoints = Protocol.methods<PromiseCallOptions, Protocol.Promised>(
    invoke(service as unknown as Record<string, unknown>)
  )
  const withResponse = Protocol.methods<PromiseCallOptions, PromisedWithResponse>(
    invoke(service.withResponse as unknown as Record<string, unknown>) as never
  )

  const client: Client = {
    ...endpoints,
    listLedgerAccounts: (query = {}, options) => {
      const { effectOptions, signal } = split(options)
      return walk(query.page ?? 1, (page) =>
        runPromise(service.getLedgerPage({ ...query, page }, effectOptions), signal)
      )
    },
    waitForStatus: (zrn, status, options) => {
      const { effectOptions, signal } = split(options)
      return runPromise(service.waitForStatus(zrn, status, effectOptions), signal)
    },
    listParticipants: (query = {}, options) => {
      const { effectOptions, signal } = split(options)
      return walk(query.page ?? 1, (page) =>
        runPromise(service.getParticipantPage({ ...query, page }, effectOptions), signal)
      )
    },
    getParticipant: (code, options) => {
      const { effectOptions, signal } = split(options)
      return runPromise(service.getParticipant(code, effectOptions), signal)
    },
    waitForParticipantStatus: (code, status, options) => {
      const { effectOptions, signal } = split(options)
      return runPromise(service.waitForParticipantStatus(code, status, effectOptions), signal)
    },
    access: (zrn, query, options) => {
      const { effectOptions, signal } = split(options)
      return runPromise(service.access(zrn, query, effectOptions), signal)
    },
    withResponse,
    on(event, handler) {
      ;(handlers[event] as Array<typeof handler>).push(handler)
      return this
    },
    off(event, handler) {
      const list = handlers[event] as Array<typeof handler>
      const i = list.indexOf(handler)
      if (i >= 0) list.splice(i, 1)
      return this
    },
    effect: service
  }
  for (const name of ["request", "response", "retry"] as const) {
    const hook = config.hooks?.[name]
    if (hook !== undefined) client.on(name, hook as Hook<typeof name>)
  }
  return withSummary(client, "ZeroHashClient", resolved.right.summary)
}
