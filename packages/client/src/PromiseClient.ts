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
import type { Enums } from "@mta/domain"
import { Cause, Effect, Either, Exit, Option } from "effect"
import { type ClientConfig, resolve } from "./ClientConfig.js"
import type { ClientError } from "./ClientError.js"
import {
  type Account,
  type CallOptions,
  type CreateAccountInput,
  fromResolved,
  type LedgerAccount,
  type LedgerPage,
  type LedgerQueryInput,
  type Service,
  type StatusReached,
  type StatusReason,
  type UpdateAccountInput,
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

/** The Promise client. Every rejection is a `ClientError` (or the abort reason). */
export interface Client {
  createAccount(body: CreateAccountInput, options?: PromiseCallOptions): Promise<Account>
  updateAccount(zrn: ZrnInput, body: UpdateAccountInput, options?: PromiseCallOptions): Promise<Account>
  getAccount(zrn: ZrnInput, options?: PromiseCallOptions): Promise<Account>
  getStatusReason(zrn: ZrnInput, options?: PromiseCallOptions): Promise<StatusReason>
  lock(zrn: ZrnInput, options?: PromiseCallOptions): Promise<void>
  unlock(zrn: ZrnInput, options?: PromiseCallOptions): Promise<void>
  withdrawLock(zrn: ZrnInput, options?: PromiseCallOptions): Promise<void>
  withdrawUnlock(zrn: ZrnInput, options?: PromiseCallOptions): Promise<void>
  addTenant(zrn: ZrnInput, participantCode: string, options?: PromiseCallOptions): Promise<void>
  removeTenant(zrn: ZrnInput, participantCode: string, options?: PromiseCallOptions): Promise<void>
  addAdvisor(zrn: ZrnInput, participantCode: string, options?: PromiseCallOptions): Promise<void>
  removeAdvisor(zrn: ZrnInput, participantCode: string, options?: PromiseCallOptions): Promise<void>
  divest(zrn: ZrnInput, options?: PromiseCallOptions): Promise<void>
  close(zrn: ZrnInput, options?: PromiseCallOptions): Promise<void>
  /** Every ledger account matching the filters, fetched page by page as the loop asks for them. */
  listLedgerAccounts(query?: LedgerQueryInput, options?: PromiseCallOptions): AsyncIterable<LedgerAccount>
  /** One page of ledger accounts. */
  getLedgerPage(query?: LedgerQueryInput, options?: PromiseCallOptions): Promise<LedgerPage>
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

  const zrnCall =
    (method: (zrn: ZrnInput, options?: CallOptions) => Effect.Effect<void, ClientError>) =>
    (zrn: ZrnInput, options?: PromiseCallOptions) => {
      const { effectOptions, signal } = split(options)
      return runPromise(method(zrn, effectOptions), signal)
    }
  const memberCall =
    (method: (zrn: ZrnInput, code: string, options?: CallOptions) => Effect.Effect<void, ClientError>) =>
    (zrn: ZrnInput, code: string, options?: PromiseCallOptions) => {
      const { effectOptions, signal } = split(options)
      return runPromise(method(zrn, code, effectOptions), signal)
    }

  const client: Client = {
    createAccount: (body, options) => {
      const { effectOptions, signal } = split(options)
      return runPromise(service.createAccount(body, effectOptions), signal)
    },
    updateAccount: (zrn, body, options) => {
      const { effectOptions, signal } = split(options)
      return runPromise(service.updateAccount(zrn, body, effectOptions), signal)
    },
    getAccount: (zrn, options) => {
      const { effectOptions, signal } = split(options)
      return runPromise(service.getAccount(zrn, effectOptions), signal)
    },
    getStatusReason: (zrn, options) => {
      const { effectOptions, signal } = split(options)
      return runPromise(service.getStatusReason(zrn, effectOptions), signal)
    },
    lock: zrnCall(service.lock),
    unlock: zrnCall(service.unlock),
    withdrawLock: zrnCall(service.withdrawLock),
    withdrawUnlock: zrnCall(service.withdrawUnlock),
    addTenant: memberCall(service.addTenant),
    removeTenant: memberCall(service.removeTenant),
    addAdvisor: memberCall(service.addAdvisor),
    removeAdvisor: memberCall(service.removeAdvisor),
    divest: zrnCall(service.divest),
    close: zrnCall(service.close),
    getLedgerPage: (query, options) => {
      const { effectOptions, signal } = split(options)
      return runPromise(service.getLedgerPage(query, effectOptions), signal)
    },
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
