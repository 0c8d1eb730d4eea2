/**
 * `POST /webhooks/zerohash`: the vendor's `customer_account_status_changed` and
 * `participant_status_changed` notifications (the `x-zh-hook-payload-type` header picks the kind).
 *
 * A participant notification goes through the same verification, the same notification-id, content
 * (participant, status, reason, event time) and legacy-body dedupe, and is ordered by its payload's
 * `timestamp`; `Store.ingestParticipant` records it in one step into the participant projection and
 * the one event log. Unknown statuses and fields are kept.
 *
 * Verified over the raw bytes before parsing (the current signature, or the legacy one only with
 * `ZH_WEBHOOK_ACCEPT_LEGACY=true`; any of the configured secrets; 5-minute replay window, payload
 * type, payload Schema) with the client's `Webhook.verifyEither`; then recorded by the store in one
 * step: a notification id seen before, the same content (account, status, event time) under another
 * id, or a legacy-signed body seen before is acknowledged without effect; an event older than the
 * known status is kept but not applied; one naming the status already known only confirms the record
 * (no event: the stream carries changes); anything else updates the projection and the event log.
 * Unknown statuses are stored as sent. A refused notification is logged (never its body or signature).
 *
 * A payload the store could not keep is refused like one that does not decode (400, logged at warn,
 * not stored): U+0000 in a string of what would be stored (PostgreSQL and PGlite cannot store it; see
 * `../nul.ts`). Fields the proxy does not keep are not checked: they are never stored.
 */
import { createHash } from "node:crypto"
import { Webhook } from "@mta/client"
import { Webhook as DomainWebhook, Limits, Participants, Zrn } from "@mta/domain"
import { Either, Schema } from "effect"
import { Hono } from "hono"
import { WebhookRejected } from "../../Errors.js"
import type * as Schemas from "../../Schemas.js"
import type { IngestOutcome, ParticipantIngestOutcome } from "../../Store.js"
import type { HonoEnv, Shared } from "../context.js"
import { named } from "../middleware.js"

const encodePayload = Schema.encodeSync(DomainWebhook.StatusChangedPayload)
const encodeParticipantPayload = Schema.encodeSync(Participants.StatusChangedPayload)

export const routes = (shared: Shared): Hono<HonoEnv> => {
  const app = new Hono<HonoEnv>()
  app.post("/zerohash", named("/webhooks/zerohash"), async (c) => {
    const now = shared.now()
    const reject = (
      reason: string,
      message: string,
      notificationId: string | undefined,
      /** More to log: never a value of the body, a signature or a secret. */
      detail: Record<string, string> = {}
    ): never => {
      shared.metrics.webhook("rejected", reason)
      shared.logger.warn(
        {
          request_id: c.var.requestId,
          reason,
          // Unauthenticated until verified: never logged longer than 128 characters.
          notification_id: notificationId === undefined ? undefined : Limits.truncate(notificationId),
          ...detail
        },
        "webhook rejected"
      )
      throw new WebhookRejected({ reason, message })
    }
    // The notification id is logged and stored: its form is checked before anything else is read.
    const headerId = c.req.header(DomainWebhook.headers.notificationId)
    if (headerId !== undefined && !Limits.NOTIFICATION_ID.test(headerId)) {
      return reject(
        "InvalidNotificationId",
        `webhook rejected (InvalidNotificationId): ${DomainWebhook.headers.notificationId} must be ${Limits.NOTIFICATION_ID_RULE}`,
        headerId
      )
    }
    // Read after the body limit (256 KiB, `../body.ts`), before the signature is checked.
    const rawBody = new Uint8Array(await c.req.arrayBuffer())
    const verified = Webhook.verifyEither({
      secret: shared.webhookSecret,
      headers: c.req.raw.headers,
      rawBody,
      now,
      allowLegacy: shared.webhookAcceptLegacy
    })
    if (Either.isLeft(verified)) {
      const e = verified.left
      return reject(
        e.reason,
        e.reason === "LegacyNotAllowed"
          ? `${e.message}: the legacy signature (body only) proves nothing about when it was sent, so it is refused unless ZH_WEBHOOK_ACCEPT_LEGACY=true; send ${DomainWebhook.headers.signature}`
          : e.message,
        e.notificationId
      )
    }
    const event = verified.right
    if (event.notificationId === undefined || event.notificationId.trim() === "") {
      return reject(
        "MissingNotificationId",
        `webhook rejected (MissingNotificationId): no ${DomainWebhook.headers.notificationId} header`,
        undefined
      )
    }
    const notificationId = event.notificationId
    /**
     * The tail both kinds share: the payload must be storable (no U+0000, no lone surrogate: the SQL
     * stores refuse both; the vendor's strings are not held to the request limits, as an account opened
     * elsewhere may have any label: the body limit bounds them), else InvalidPayload; then ingested,
     * counted, logged when not applied, and acknowledged.
     */
    const ingest = async (
      kind: "account" | "participant",
      /** Who the notification is about, as logged (`zrn` or `participant_code`). */
      subject: Readonly<Record<string, string>>,
      payload: object,
      store: (common: {
        readonly notificationId: string
        readonly receivedAt: number
        readonly payload: object
        readonly bodySha256: string
        readonly legacy: boolean
      }) => Promise<IngestOutcome | ParticipantIngestOutcome>
    ) => {
      const problem = Limits.checkJson(payload, { stringMaxLength: Limits.defaults.webhookBodyBytes })
      if (problem !== undefined) {
        return reject(
          "InvalidPayload",
          `webhook rejected (InvalidPayload): the payload cannot be stored: ${problem}`,
          notificationId,
          // The problem names a path and the rule, not a value.
          { problem }
        )
      }
      const outcome = await store({
        notificationId,
        receivedAt: now,
        payload,
        // The dedupe key of a legacy-signed notification (and kept for every one).
        bodySha256: createHash("sha256").update(rawBody).digest("hex"),
        legacy: event.scheme === "legacy"
      })
      shared.metrics.webhook(outcome._tag, undefined, kind)
      if (outcome._tag !== "applied") {
        shared.logger.info(
          {
            request_id: c.var.requestId,
            notification_id: notificationId,
            ...subject,
            outcome: outcome._tag,
            ...(outcome._tag === "duplicate" && outcome.by !== undefined ? { duplicate_of: outcome.by } : {})
          },
          "webhook not applied"
        )
      }
      const ack: Schemas.WebhookAck = { received: true, outcome: outcome._tag }
      return c.json(ack, 200)
    }
    if (event.type === Participants.payloadType) {
      const p = event.payload
      if (!Participants.PARTICIPANT_CODE.test(p.participant_code)) {
        return reject(
          "InvalidPayload",
          `webhook rejected (InvalidPayload): participant_code must be 6 characters (A-Z, a-z, 0-9, _ or -), got ${JSON.stringify(Limits.truncate(p.participant_code))}`,
          notificationId
        )
      }
      return ingest(
        "participant",
        { participant_code: p.participant_code },
        encodeParticipantPayload(p),
        (common) =>
          shared.store.ingestParticipant({
            ...common,
            participantCode: p.participant_code,
            status: p.participant_status,
            reasonCode: p.reason_code ?? null,
            // The payload's timestamp orders participant events (participants.md), not the header's.
            occurredAt: p.timestamp
          })
      )
    }
    const zrn = Zrn.format(event.payload.zrn)
    const { urn: _urn, ...rest } = encodePayload(event.payload) as { urn?: string } & Record<string, unknown>
    return ingest("account", { zrn }, { zrn, ...rest }, (common) =>
      shared.store.ingest({ ...common, zrn, status: event.payload.status, occurredAt: event.timestamp })
    )
  })
  return app
}
