/**
 * `GET /audit`: the audit log of mutating calls, oldest first, filtered by account, caller and time
 * range, paginated by cursor (the last entry's id). Scope `audit:read`.
 */
import { Api } from "@mta/domain"
import { Either, Schema } from "effect"
import { Hono } from "hono"
import { InvalidRequest } from "../../Errors.js"
import * as Schemas from "../../Schemas.js"
import type { AuditEntry } from "../../Store.js"
import { checkQuery } from "../body.js"
import type { HonoEnv, Shared } from "../context.js"
import { authorize } from "../middleware.js"
import { parseCustomerZrn } from "./accounts.js"

const DEFAULT_LIMIT = 100

const instant = (raw: string | undefined): number | undefined =>
  raw === undefined ? undefined : /^[0-9]{1,15}$/.test(raw) ? Number(raw) : Date.parse(raw)

/** The wire form of one entry. */
export const entryBody = (e: AuditEntry): Schemas.AuditEntry => ({
  id: e.id,
  at: new Date(e.at).toISOString(),
  caller: e.caller,
  action: e.action,
  target: e.target,
  request: e.summary,
  outcome: e.outcome,
  status: e.status,
  request_id: e.requestId
})

export const routes = (shared: Shared): Hono<HonoEnv> => {
  const app = new Hono<HonoEnv>()
  const decodeQuery = Schema.decodeUnknownEither(Schemas.AuditQuery, { errors: "all" })
  app.get("/", authorize(shared, "/audit", "audit:read"), async (c) => {
    const rawQuery = c.req.query()
    const query = decodeQuery(rawQuery)
    if (Either.isLeft(query)) throw new InvalidRequest({ messages: Api.formatErrors(query.left) })
    checkQuery(rawQuery)
    const q = query.right
    const limit = q.limit ?? DEFAULT_LIMIT
    const entries = await shared.store.audit({
      after: q.cursor === undefined ? undefined : Number(q.cursor),
      zrn: q.zrn === undefined ? undefined : parseCustomerZrn(q.zrn, shared.geo),
      caller: q.caller,
      from: instant(q.from),
      to: instant(q.to),
      limit
    })
    const last = entries[entries.length - 1]
    const body: Schemas.AuditPage = {
      entries: entries.map(entryBody),
      next_cursor: entries.length === limit && last !== undefined ? String(last.id) : null
    }
    return c.json(body, 200)
  })
  return app
}
