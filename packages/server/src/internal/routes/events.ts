/**
 * `GET /events`: server-sent events of status changes (an applied webhook, or a repair the proxy made
 * after re-reading the account or participant: `source`), resumable with `Last-Event-ID`. Account
 * (`customer_account_status_changed`) and participant (`participant_status_changed`) events share one
 * log and one sequence of ids. `?zrn=` keeps an account's events, `?participant=` a participant's;
 * both together keep the events of either (a union: an account screen that follows one member).
 *
 * The stream subscribes to live events first and replays the log second, buffering what arrives
 * meanwhile, so no event falls between the replay and the live feed and none is sent twice.
 *
 * An event is framed once (`id:`, `event:`, `data:`) for every stream that sends it, and what a
 * stream has to send at once goes out as one chunk (one socket write), whatever the number of streams.
 * Kept by hand rather than Hono's `streamSSE`, measured (`bench/MICRO-RESULTS.md`): a write through
 * its stream (a `TransformStream` behind a second `ReadableStream`) costs about 26 µs a stream against
 * 3 µs through this `ReadableStream`, 26 ms of event loop per batch at 1,000 streams, and its
 * `writeSSE` frames the event again for each stream.
 */
import { Api, Limits } from "@mta/domain"
import { Either, Schema } from "effect"
import { Hono } from "hono"
import { InvalidRequest } from "../../Errors.js"
import * as Schemas from "../../Schemas.js"
import { matches, type StoreEvent } from "../../Store.js"
import { checkQuery } from "../body.js"
import type { HonoEnv, Shared } from "../context.js"
import { authorize, headerOf, onClientGone } from "../middleware.js"
import { parseCustomerZrn, participantCodeOf } from "./accounts.js"

const encoder = new TextEncoder()
const REPLAY_PAGE = 500

/** The SSE `data` of one event. */
export const eventData = (
  event: StoreEvent
): Schemas.StatusChangedEvent | Schemas.ParticipantStatusChangedEvent =>
  event.type === "participant_status_changed"
    ? {
        id: event.id,
        type: event.type,
        source: event.source,
        participant_code: event.participantCode,
        status: event.status,
        reason_code: event.reasonCode,
        occurred_at: new Date(event.occurredAt).toISOString(),
        received_at: new Date(event.receivedAt).toISOString(),
        notification_id: event.notificationId,
        payload: event.payload
      }
    : {
        id: event.id,
        type: event.type,
        source: event.source,
        zrn: event.zrn,
        status: event.status,
        occurred_at: new Date(event.occurredAt).toISOString(),
        received_at: new Date(event.receivedAt).toISOString(),
        notification_id: event.notificationId,
        account: event.payload
      }

/** The SSE frame of one event, formatted once however many streams send it. */
const frames = new WeakMap<StoreEvent, string>()
const frameOf = (event: StoreEvent): string => {
  let frame = frames.get(event)
  if (frame === undefined) {
    frame = `id: ${event.id}\nevent: ${event.type}\ndata: ${JSON.stringify(eventData(event))}\n\n`
    frames.set(event, frame)
  }
  return frame
}

/** What a stream writes for some events: one chunk (none when nothing is new), and its new last id. */
interface Chunk {
  readonly bytes: Uint8Array | undefined
  readonly last: number
}

/** What a stream keeps: the events of an account and/or of a participant (either), or every one. */
interface Filter {
  readonly zrn: string | undefined
  readonly participant: string | undefined
  /** The key of the filter in a batch's chunks. */
  readonly key: string
}

/** The frames of `events` newer than `after` (and matching the filter), as one chunk. */
const chunkOf = (events: ReadonlyArray<StoreEvent>, filter: Filter, after: number): Chunk => {
  let text = ""
  let last = after
  for (const event of events) {
    if (event.id <= last || !matches(event, filter.zrn, filter.participant)) continue
    last = event.id
    text += frameOf(event)
  }
  return { bytes: text === "" ? undefined : encoder.encode(text), last }
}

/**
 * The hub hands the same array to every stream at the same place: its chunk is built once per filter
 * for all the streams that sent nothing as recent as any of these events (the live case), so an event
 * is serialised once however many streams send it.
 */
const chunks = new WeakMap<
  ReadonlyArray<StoreEvent>,
  { readonly oldest: number; byFilter: Map<string, Chunk> }
>()
const chunkFor = (events: ReadonlyArray<StoreEvent>, filter: Filter, after: number): Chunk => {
  let batch = chunks.get(events)
  if (batch === undefined) {
    let oldest = Number.POSITIVE_INFINITY
    for (const event of events) oldest = Math.min(oldest, event.id)
    batch = { oldest, byFilter: new Map() }
    chunks.set(events, batch)
  }
  if (after >= batch.oldest) return chunkOf(events, filter, after)
  let chunk = batch.byFilter.get(filter.key)
  if (chunk === undefined) {
    chunk = chunkOf(events, filter, -1)
    batch.byFilter.set(filter.key, chunk)
  }
  return chunk.bytes === undefined ? { bytes: undefined, last: after } : chunk
}

const CONNECTED = encoder.encode("retry: 1000\n: connected\n\n")
const KEEP_ALIVE = encoder.encode(": keep-alive\n\n")

const LAST_EVENT_ID = /^[0-9]{1,15}$/

export const routes = (shared: Shared): Hono<HonoEnv> => {
  const app = new Hono<HonoEnv>()
  const decodeQuery = Schema.decodeUnknownEither(Schemas.EventsQuery, { errors: "all" })
  app.get("/", authorize(shared, "/events", "events:read"), async (c) => {
    const rawQuery = c.req.query()
    const query = decodeQuery(rawQuery)
    if (Either.isLeft(query)) throw new InvalidRequest({ messages: Api.formatErrors(query.left) })
    checkQuery(rawQuery)
    const zrn = query.right.zrn === undefined ? undefined : parseCustomerZrn(query.right.zrn, shared.geo)
    const participant =
      query.right.participant === undefined
        ? undefined
        : participantCodeOf(query.right.participant, "participant")
    const filter: Filter = { zrn, participant, key: `${zrn ?? ""}\u0000${participant ?? ""}` }
    const header = headerOf(c, "last-event-id")?.trim()
    if (header !== undefined && header !== "" && !LAST_EVENT_ID.test(header)) {
      throw new InvalidRequest({
        messages: [
          `Last-Event-ID must be an event id (a whole number), got ${JSON.stringify(Limits.truncate(header))}`
        ]
      })
    }
    const resumeFrom = header !== undefined && header !== "" ? Number(header) : query.right.last_event_id

    let cleanup = () => {}
    const body = new ReadableStream<Uint8Array>({
      start: async (controller) => {
        let closed = false
        let heartbeat: NodeJS.Timeout | undefined
        let subscription: { readonly close: () => void } | undefined
        let forget = () => {}
        let sent = resumeFrom ?? 0
        let live = false
        const pending: Array<StoreEvent> = []
        const write = (chunk: Uint8Array) => {
          if (closed) return
          try {
            controller.enqueue(chunk)
          } catch {
            finish()
          }
        }
        const send = (events: ReadonlyArray<StoreEvent>) => {
          const chunk = chunkFor(events, filter, sent)
          sent = chunk.last
          if (chunk.bytes !== undefined) write(chunk.bytes)
        }
        const finish = () => {
          if (closed) return
          closed = true
          clearInterval(heartbeat)
          subscription?.close()
          forget()
          shared.metrics.eventStreams.dec()
          try {
            controller.close()
          } catch {
            // already closed by the reader
          }
        }
        cleanup = finish
        shared.metrics.eventStreams.inc()
        subscription = shared.hub.stream((events) => {
          if (live) send(events)
          else for (const event of events) pending.push(event)
        }, finish)
        heartbeat = setInterval(() => write(KEEP_ALIVE), shared.sseHeartbeatMs)
        heartbeat.unref()
        forget = onClientGone(c, finish)
        // Reconnect quickly; a comment first so the client sees the stream open at once.
        write(CONNECTED)
        if (resumeFrom === undefined) {
          // A fresh subscriber starts from now: the latest id, so only newer events are sent.
          sent = await shared.store.lastEventId()
        } else {
          for (;;) {
            const page = await shared.store.log({ after: sent, zrn, participant, limit: REPLAY_PAGE })
            send(page)
            if (page.length < REPLAY_PAGE || closed) break
          }
        }
        send(pending)
        pending.length = 0
        live = true
      },
      cancel: () => cleanup()
    })
    return new Response(body, {
      status: 200,
      headers: {
        "content-type": "text/event-stream; charset=utf-8",
        "cache-control": "no-cache, no-transform",
        connection: "keep-alive",
        "x-accel-buffering": "no"
      }
    })
  })
  return app
}
