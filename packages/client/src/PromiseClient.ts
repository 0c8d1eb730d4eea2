/**
 * The Promise API, for teams that do not use Effect: `createClient(config)` returns an object with the
 * same methods as the Effect service, returning Promises that reject with the client's error classes
 * (`err instanceof NotFound`), and `listLedgerAccounts` as an async iterable over every page.
 *
 * It wraps the Effect service rather than re-implementing it, so both APIs sign, retry and map errors
 * the same way. Each call also takes an `AbortSignal`, which interrupts the call (and its retries).
 *
 * @since 0.1.0
 */
import type { Endpoint, Enums } from "@mta/domain"
import { Cause, Effect, Either, Exit, Option } from "effect"
import { type ClientConfig, resolve } from "./ClientConfig.js"
import type { ClientError } from "./ClientError.js"
import * as Protocol from "./Protocol.js"
import {
  type CallOptions,
  fromResolved,
  type LedgerAccount,
  type LedgerQueryInput,
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
  /** The Effect service underneath, for code that mixes both APIs. */
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

const split = <O extends { readonly signal?: AbortSignal | undefined }>(options: O | undefined) => {
  if (options === undefined) return { effectOptions: undefined, signal: undefined }
  const { signal, ...effectOptions } = options
  return { effectOptions, signal }
}

/** Builds a Promise client; throws `InvalidConfig` when the configuration cannot be used. */
export const createClient = (config: ClientConfig): Client => {
  const resolved = resolve(config)
  if (Either.isLeft(resolved)) throw resolved.left
  const service = fromResolved(resolved.right)

  const endpoints = Protocol.methods<PromiseCallOptions, Protocol.Promised>((row, args, options) => {
    const { effectOptions, signal } = split(options)
    const method = service[Protocol.methodName(row.name as Endpoint.Name)] as (
      ...all: ReadonlyArray<unknown>
    ) => Effect.Effect<unknown, ClientError>
    return runPromise(method(...args, effectOptions), signal)
  })

  const client: Client = {
    ...endpoints,
    listLedgerAccounts: (query = {}, options) => {
      const { effectOptions, signal } = split(options)
      return {
        async *[Symbol.asyncIterator]() {
          // Pages are fetched lazily: a loop that breaks early does not read the rest.
          for (let page = query.page ?? 1; ; page++) {
            const result = await runPromise(service.getLedgerPage({ ...query, page }, effectOptions), signal)
            yield* result.message
            if (page >= result.total_pages) return
          }
        }
      }
    },
    waitForStatus: (zrn, status, options) => {
      const { effectOptions, signal } = split(options)
      return runPromise(service.waitForStatus(zrn, status, effectOptions), signal)
    },
    effect: service
  }
  return withSummary(client, "ZeroHashClient", resolved.right.summary)
}
