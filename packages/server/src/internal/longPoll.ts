/**
 * The long poll both projections answer (`GET /accounts/{zrn}/status` and
 * `GET /participants/{participant_code}/status`): `wait_for` and `timeout_ms` decoded (`timeout_ms`
 * defaults to `MTA_LONG_POLL_DEFAULT_MS`, at most `MTA_LONG_POLL_MAX_MS`), the wait registered in the
 * hub before the record is read (so a change between the read and the wait is not missed), the record
 * read (or fetched upstream when the projection does not know it), then held until the status, the
 * timeout, the caller leaving or the drain.
 */
import { Api } from "@mta/domain"
import { Either, type ParseResult } from "effect"
import type { Context } from "hono"
import { InvalidRequest } from "../Errors.js"
import { checkQuery } from "./body.js"
import type { HonoEnv, Shared } from "./context.js"
import type { Waiter } from "./hub.js"
import { onClientGone } from "./middleware.js"

/** What one projection's long poll is made of. */
export interface LongPoll<R extends { readonly status: string | null }> {
  /** The route's query Schema, decoded with every error. */
  readonly decode: (
    raw: unknown
  ) => Either.Either<
    { readonly wait_for?: string | undefined; readonly timeout_ms?: number | undefined },
    ParseResult.ParseError
  >
  /** Registers the wait in the hub. */
  readonly wait: (accept: (record: R) => boolean, timeoutMs: number) => Waiter<R>
  /** The record now: the projection's, or read upstream and recorded (throws the route's 404). */
  readonly read: () => Promise<R>
  /** The answer with a record that is the one asked for or is not waited on. */
  readonly answer: (record: R) => Response
  /** The answer with the record a change brought. */
  readonly reached: (record: R) => Response
  /** The answer when the wait ended without the status (`last` is the record read first). */
  readonly timedOut: (last: R) => Promise<Response>
}

/** Answers a long poll. */
export const answer = async <R extends { readonly status: string | null }>(
  c: Context<HonoEnv>,
  shared: Shared,
  rawQuery: Readonly<Record<string, string>>,
  poll: LongPoll<R>
): Promise<Response> => {
  const query = poll.decode(rawQuery)
  if (Either.isLeft(query)) throw new InvalidRequest({ messages: Api.formatErrors(query.left) })
  checkQuery(rawQuery)
  const waitFor = query.right.wait_for
  const timeoutMs = Math.min(query.right.timeout_ms ?? shared.longPollDefaultMs, shared.longPollMaxMs)
  // Registered before reading, so a change between the read and the wait is not missed.
  const waiter =
    waitFor === undefined || shared.isDraining()
      ? undefined
      : poll.wait((r) => r.status === waitFor, timeoutMs)
  try {
    const record = await poll.read()
    if (waiter === undefined || record.status === waitFor) return poll.answer(record)
    shared.metrics.longPolls.inc()
    const forget = onClientGone(c, () => waiter.cancel())
    try {
      const reached = await waiter.promise
      if (reached !== undefined) return poll.reached(reached)
      return await poll.timedOut(record)
    } finally {
      shared.metrics.longPolls.dec()
      forget()
    }
  } finally {
    waiter?.cancel()
  }
}
