/**
 * `GET /events`: server-sent events of applied status changes, resumable with `Last-Event-ID`.
 *
 * The stream subscribes to live events first and replays the log second, buffering what arrives
 * meanwhile, so no event falls between the replay and the live feed and none is sent twice.
 */
import { Api, Limits } from "@mta/domain"
import { Either, Schema } from "effect"
import { Hono } from "hono"
import { InvalidRequest } from "../../Errors.js"
import * as Schemas from "../../Schemas.js"
import type { AccountEvent } from "../../Store.js"
import { checkQuery } from "../body.js"
import type { HonoEnv, Shared } from "../context.js"
import { authorize } from "../middleware.js"
import { parseCustomerZrn } from "./accounts.js"

const encoder = new TextEncoder()
const REPLAY_PAGE = 500

/** The SSE `data` of one event. */
export const eventData = (event: AccountEvent): Schemas.StatusChangedEvent => ({
  id: event.id,
  type: event.type,
  zrn: event.zrn,
  status: event.status,
  occurred_at: new Date(event.occurredAt).toISOString(),
  received_at: new Date(event.receivedAt).toISOString(),
  notification_id: event.notificationId,
  account: event.payload
})

const frame = (event: AccountEvent): Uint8Array =>
  encoder.encode(`id: ${event.id}\nevent: ${event.type}\ndata: ${JSON.stringify(eventData(event))}\n\n`)

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
    const header = c.req.header("last-event-id")?.trim()
    if (header !== undefined && header !== "" && !LAST_EVENT_ID.test(header)) {
      throw new InvalidRequest({
        messages: [
          `Last-Event-ID must be an event id (a whole number), got ${JSON.stringify(Limits.truncate(header))}`
        ]
      })
    }
    const resumeFrom = header !== undefined && header !== "" ? Number(header) : query.right.last_event_id
    const signal = c.req.raw.signal

    let cleanup = () => {}
    const body = new ReadableStream<Uint8Array>({
      start: async (controller) => {
        let closed = false
        let heartbeat: NodeJS.Timeout | undefined
        let subscription: { readonly close: () => void } | undefined
        let sent = resumeFrom ?? 0
        let live = false
        const pending: Array<AccountEvent> = []
        const write = (chunk: Uint8Array) => {
          if (closed) return
          try {
            controller.enqueue(chunk)
          } catch {
            finish()
          }
        }
        const send = (event: AccountEvent) => {
          if (event.id <= sent || (zrn !== undefined && event.zrn !== zrn)) return
          sent = event.id
          write(frame(event))
        }
        const finish = () => {
          if (closed) return
          closed = true
          clearInterval(heartbeat)
          subscription?.close()
          signal.removeEventListener("abort", finish)
          shared.metrics.eventStreams.dec()
          try {
            controller.close()
          } catch {
            // already closed by the reader
          }
        }
        cleanup = finish
        shared.metrics.eventStreams.inc()
        subscription = shared.hub.stream((event) => (live ? send(event) : pending.push(event)), finish)
        heartbeat = setInterval(() => write(encoder.encode(": keep-alive\n\n")), shared.sseHeartbeatMs)
        heartbeat.unref()
        signal.addEventListener("abort", finish, { once: true })
        // Reconnect quickly; a comment first so the client sees the stream open at once.
        write(encoder.encode(`retry: 1000\n: connected\n\n`))
        if (resumeFrom === undefined) {
          // A fresh subscriber starts from now: the latest id, so only newer events are sent.
          sent = await shared.store.lastEventId()
        } else {
          for (;;) {
            const page = await shared.store.events({ after: sent, zrn, limit: REPLAY_PAGE })
            for (const event of page) send(event)
            if (page.length < REPLAY_PAGE || closed) break
          }
        }
        for (const event of pending) send(event)
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
