/**
 * Schemas of the proxy's own routes (status projection, events, webhook acknowledgement, health),
 * used by the handlers to decode queries and encode bodies, and by `OpenApi` to document them. The
 * 19 mirrored endpoints use the domain's Schemas (`@mta/domain` `Api` and `Participants`, through
 * `Endpoint`).
 *
 * @since 0.1.0
 */
import { Api } from "@mta/domain"
import { Schema } from "effect"
import { CallerName } from "./Callers.js"

/** Query of `GET /accounts/{zrn}/status`. */
export const StatusQuery = Schema.Struct({
  wait_for: Schema.optional(
    Schema.String.pipe(Schema.pattern(/^[a-z_]{1,40}$/)).annotations({
      description: "answer once the account has this status (long poll); any status string is accepted",
      message: () => "wait_for must be a status such as open, locked, withdraw_locked, divesting or closed"
    })
  ),
  timeout_ms: Schema.optional(
    Schema.NumberFromString.pipe(Schema.int(), Schema.between(0, 3_600_000)).annotations({
      description: "how long to wait for `wait_for`, in ms (default 30 000, at most MTA_LONG_POLL_MAX_MS)",
      message: () => "timeout_ms must be a whole number of milliseconds"
    })
  )
}).annotations({ identifier: "StatusQuery" })
/** Query of `GET /accounts/{zrn}/status`. */
export type StatusQuery = typeof StatusQuery.Type

/** Body of `GET /accounts/{zrn}/status`. */
export const StatusResponse = Schema.Struct({
  zrn: Schema.String.annotations({ description: "canonical customer-account ZRN" }),
  status: Schema.NullOr(Schema.String).annotations({
    description: "the last known status; null while the account is provisioning (unknown values are kept)"
  }),
  updated_at: Schema.NullOr(Schema.String).annotations({
    description:
      "ISO 8601 time the status was true (the webhook's timestamp, or when the proxy's create or read learnt it)"
  }),
  confirmed_at: Schema.NullOr(Schema.String).annotations({
    description:
      "ISO 8601 time zerohash last confirmed this status (a webhook naming it, or a read); the proxy re-reads a record older than MTA_PROJECTION_TRUST_MS before refusing a command on it"
  }),
  timed_out: Schema.Boolean.annotations({
    description: "true when `wait_for` was given and the status did not reach it within timeout_ms"
  })
}).annotations({ identifier: "StatusResponse" })
/** Body of `GET /accounts/{zrn}/status`. */
export type StatusResponse = typeof StatusResponse.Type

/** Query of `GET /events`. */
export const EventsQuery = Schema.Struct({
  zrn: Schema.optional(
    Schema.String.annotations({
      description:
        "only events of this account (any accepted ZRN form); with `participant`, the events of either"
    })
  ),
  participant: Schema.optional(
    Schema.String.annotations({
      description:
        "only participant_status_changed events of this participant (6 characters A-Z, 0-9); with `zrn`, the events of either"
    })
  ),
  last_event_id: Schema.optional(
    Schema.NumberFromString.pipe(Schema.int(), Schema.nonNegative()).annotations({
      description: "resume after this event id (the `Last-Event-ID` header takes precedence)",
      message: () => "last_event_id must be a whole number"
    })
  )
}).annotations({ identifier: "EventsQuery" })
/** Query of `GET /events`. */
export type EventsQuery = typeof EventsQuery.Type

/** The `data` of one server-sent event on `/events` (event name `customer_account_status_changed`). */
export const StatusChangedEvent = Schema.Struct({
  id: Schema.Number.annotations({
    description: "event id; only grows; send it back as Last-Event-ID to resume"
  }),
  type: Schema.Literal("customer_account_status_changed"),
  source: Schema.Literal("webhook", "reconcile").annotations({
    description:
      "webhook: a notification from zerohash; reconcile: the proxy re-read the account and found its status changed (a webhook it never got)"
  }),
  zrn: Schema.String,
  status: Schema.String,
  occurred_at: Schema.String.annotations({
    description: "ISO 8601 webhook timestamp, or when the repairing read was sent"
  }),
  received_at: Schema.String.annotations({
    description: "ISO 8601 time the proxy received the webhook, or the read's answer"
  }),
  notification_id: Schema.NullOr(Schema.String).annotations({
    description: "the webhook's notification id; null for a repair"
  }),
  account: Schema.Unknown.annotations({
    description: "the account record: the webhook payload, or what the read answered"
  })
}).annotations({ identifier: "StatusChangedEvent" })
/** The `data` of one server-sent event. */
export type StatusChangedEvent = typeof StatusChangedEvent.Type

/** The `data` of one server-sent event named `participant_status_changed`. */
export const ParticipantStatusChangedEvent = Schema.Struct({
  id: Schema.Number.annotations({
    description: "event id, from the same sequence as the account events; send it back as Last-Event-ID"
  }),
  type: Schema.Literal("participant_status_changed"),
  source: Schema.Literal("webhook", "reconcile").annotations({
    description:
      "webhook: a notification from zerohash; reconcile: the proxy re-read the participant and found its status changed"
  }),
  participant_code: Schema.String,
  status: Schema.String.annotations({ description: "the participant status (unknown values kept as sent)" }),
  reason_code: Schema.NullOr(Schema.String),
  occurred_at: Schema.String.annotations({
    description: "ISO 8601 webhook timestamp, or when the repairing read was sent"
  }),
  received_at: Schema.String,
  notification_id: Schema.NullOr(Schema.String).annotations({
    description: "the webhook's notification id; null for a repair"
  }),
  payload: Schema.Unknown.annotations({
    description: "the webhook payload as sent (unknown fields kept), or the list entry the read answered"
  })
}).annotations({ identifier: "ParticipantStatusChangedEvent" })
/** The `data` of one participant event. */
export type ParticipantStatusChangedEvent = typeof ParticipantStatusChangedEvent.Type

/** A participant code as the proxy's own participant routes take it: exactly 6 of A-Z, 0-9. */
export const PARTICIPANT_CODE = /^[A-Z0-9]{6}$/
/** The rule, for messages. */
export const PARTICIPANT_CODE_RULE = "exactly 6 characters A-Z or 0-9 (e.g. CUST01)"

/** Query of `GET /participants/{participant_code}/status`. */
export const ParticipantStatusQuery = Schema.Struct({
  wait_for: Schema.optional(
    Schema.String.pipe(Schema.pattern(/^[a-z_]{1,40}$/)).annotations({
      description: "answer once the participant has this status (long poll); any status string is accepted",
      message: () =>
        "wait_for must be a participant status such as submitted, pending_approval, approved, rejected or locked"
    })
  ),
  timeout_ms: StatusQuery.fields.timeout_ms
}).annotations({ identifier: "ParticipantStatusQuery" })
/** Query of `GET /participants/{participant_code}/status`. */
export type ParticipantStatusQuery = typeof ParticipantStatusQuery.Type

/** Body of `GET /participants/{participant_code}/status`. */
export const ParticipantStatusResponse = Schema.Struct({
  participant_code: Schema.String,
  status: Schema.String.annotations({ description: "the last known status (unknown values are kept)" }),
  reason_code: Schema.NullOr(Schema.String),
  updated_at: Schema.String.annotations({
    description:
      "ISO 8601 time the status was true (the webhook's timestamp, or when the proxy's read was sent)"
  }),
  confirmed_at: Schema.String.annotations({
    description: "ISO 8601 time zerohash last confirmed this status (a webhook naming it, or a read)"
  }),
  timed_out: Schema.Boolean.annotations({
    description: "true when `wait_for` was given and the status did not reach it within timeout_ms"
  })
}).annotations({ identifier: "ParticipantStatusResponse" })
/** Body of `GET /participants/{participant_code}/status`. */
export type ParticipantStatusResponse = typeof ParticipantStatusResponse.Type

/** Query of `GET /accounts/{zrn}/access`. */
export const AccessQuery = Schema.Struct({
  participant: Schema.optional(
    Schema.String.annotations({
      description: "the member asking (6 characters A-Z, 0-9); omitted: every member of the account"
    })
  ),
  action: Schema.optional(
    Schema.String.annotations({ description: "view, buy, sell, deposit or withdraw; omitted: every action" })
  )
}).annotations({ identifier: "AccessQuery" })

/** One (participant, action) of `GET /accounts/{zrn}/access`. */
export const AccessDecision = Schema.Struct({
  participant: Schema.String,
  role: Schema.NullOr(Schema.Literal("primary", "secondary", "advisor")).annotations({
    description: "the participant's place on the account; null when not a member"
  }),
  authorization: Schema.NullOr(Schema.String).annotations({
    description: "full_trading, limited_trading or view_only by the account type's defaults; null when none"
  }),
  participant_status: Schema.NullOr(Schema.String).annotations({
    description:
      "from the participant projection; null when not a member or when zerohash lists no such participant"
  }),
  reason_code: Schema.NullOr(Schema.String),
  action: Schema.String,
  allowed: Schema.Boolean,
  reasons: Schema.Array(Schema.Struct({ rule: Schema.String, message: Schema.String })).annotations({
    description:
      "every failing rule (Membership, Authorization, AccountStatus, ParticipantStatus) as Access.decide gives it; empty when allowed"
  })
}).annotations({ identifier: "AccessDecision" })
/** One decision. */
export type AccessDecision = typeof AccessDecision.Type

/** Body of `GET /accounts/{zrn}/access`. */
export const AccessResponse = Schema.Struct({
  zrn: Schema.String,
  as_of: Schema.Struct({
    account_status: Schema.NullOr(Schema.String).annotations({ description: "null while provisioning" }),
    updated_at: Schema.NullOr(Schema.String).annotations({
      description: "ISO 8601 time the account status was true, as the projection holds it"
    })
  }),
  decisions: Schema.Array(AccessDecision)
}).annotations({ identifier: "AccessResponse" })
/** Body of `GET /accounts/{zrn}/access`. */
export type AccessResponse = typeof AccessResponse.Type

const Instant = Schema.String.pipe(
  Schema.filter((s) => (/^[0-9]{1,15}$/.test(s) || !Number.isNaN(Date.parse(s)) ? undefined : "not a time")),
  Schema.annotations({
    description: "ISO 8601 date-time or epoch milliseconds",
    message: () => "expected an ISO 8601 date-time (2026-01-31T12:00:00Z) or epoch milliseconds"
  })
)

/** Query of `GET /audit`; every filter optional, combined with AND. */
export const AuditQuery = Schema.Struct({
  zrn: Schema.optional(
    Schema.String.annotations({ description: "calls about this account (any accepted ZRN form)" })
  ),
  caller: Schema.optional(
    CallerName.annotations({
      description: "calls of this caller (its name)",
      message: () => "caller must be a caller's name: 1-64 characters of letters, digits, _ . @ -"
    })
  ),
  from: Schema.optional(Instant.annotations({ description: "calls at or after this time" })),
  to: Schema.optional(Instant.annotations({ description: "calls before this time" })),
  limit: Schema.optional(
    Schema.NumberFromString.pipe(Schema.int(), Schema.between(1, 1_000)).annotations({
      description: "entries per page, 1 to 1000 (default 100)",
      message: () => "limit must be a whole number from 1 to 1000"
    })
  ),
  cursor: Schema.optional(
    Schema.String.pipe(Schema.pattern(/^[0-9]{1,15}$/)).annotations({
      description: "`next_cursor` of the previous page",
      message: () => "cursor must be the next_cursor of a previous page"
    })
  )
}).annotations({ identifier: "AuditQuery" })
/** Query of `GET /audit`. */
export type AuditQuery = typeof AuditQuery.Type

/** One audited mutating call. */
export const AuditEntry = Schema.Struct({
  id: Schema.Number.annotations({ description: "only grows; the pagination cursor" }),
  at: Schema.String.annotations({ description: "ISO 8601 time the call arrived" }),
  caller: Schema.String,
  action: Schema.String.annotations({ description: "the endpoint (createAccount, lock, …)" }),
  target: Schema.NullOr(Schema.String).annotations({ description: "the account's canonical ZRN" }),
  request: Schema.Unknown.annotations({
    description: "method, canonical path, body and Idempotency-Key; secret-looking fields removed"
  }),
  outcome: Schema.String.annotations({
    description: "accepted, replayed, reconciled, or the error code answered"
  }),
  status: Schema.Number.annotations({ description: "the HTTP status answered" }),
  request_id: Schema.String
}).annotations({ identifier: "AuditEntry" })
/** One audited mutating call. */
export type AuditEntry = typeof AuditEntry.Type

/** Body of `GET /audit`: oldest first. */
export const AuditPage = Schema.Struct({
  entries: Schema.Array(AuditEntry),
  next_cursor: Schema.NullOr(Schema.String).annotations({
    description: "pass as `cursor` for the next page; null on the last page"
  })
}).annotations({ identifier: "AuditPage" })
/** Body of `GET /audit`. */
export type AuditPage = typeof AuditPage.Type

/** Answer to a webhook delivery. */
export const WebhookAck = Schema.Struct({
  received: Schema.Literal(true),
  outcome: Schema.Literal("applied", "confirmed", "stale", "duplicate").annotations({
    description:
      "applied: another status, newer than the known one; confirmed: the status already known (nothing changes, no event); stale: older (kept, not applied); duplicate: notification seen before"
  })
}).annotations({ identifier: "WebhookAck" })
/** Answer to a webhook delivery. */
export type WebhookAck = typeof WebhookAck.Type

/** Body of `/healthz` and `/readyz`. */
export const Health = Schema.Struct({
  status: Schema.Literal("ok", "unavailable"),
  checks: Schema.optional(Schema.Record({ key: Schema.String, value: Schema.String }))
}).annotations({ identifier: "Health" })
/** Body of `/healthz` and `/readyz`. */
export type Health = typeof Health.Type

/** The webhook payload, for the documentation of `POST /webhooks/zerohash`. */
export const WebhookPayload = Schema.Struct({
  urn: Schema.String.annotations({ description: "the account's ZRN (`zrn` is accepted too)" }),
  status: Schema.String,
  participant_code: Schema.optional(Schema.String),
  prefunded: Schema.optional(Schema.Boolean),
  account_label: Schema.optional(Schema.String),
  account_group: Schema.optional(Schema.String),
  tier: Schema.optional(Schema.String),
  type: Schema.optional(Schema.String),
  tenants: Schema.optional(Schema.Array(Schema.String)),
  financial_advisors: Schema.optional(Schema.Array(Schema.String))
}).annotations({ identifier: "StatusChangedPayload" })

/** The participant webhook payload, for the documentation of `POST /webhooks/zerohash`. */
export const ParticipantWebhookPayload = Schema.Struct({
  participant_code: Schema.String,
  participant_status: Schema.String,
  timestamp: Schema.Number.annotations({ description: "when the status changed, epoch ms (orders events)" }),
  reason_code: Schema.optional(Schema.String),
  reject_reasons: Schema.optional(Schema.Array(Schema.String)),
  kyc_attempts: Schema.optional(Schema.Number)
}).annotations({ identifier: "ParticipantStatusChangedPayload" })

/** Error bodies, as documented (the domain's, which carry `code` and `request_id`). */
export const errorBodies = {
  400: Api.ValidationErrorBody,
  401: Api.ForbiddenBody,
  403: Api.ForbiddenBody,
  404: Api.ErrorBody,
  409: Api.ValidationErrorBody,
  422: Api.ValidationErrorBody,
  429: Api.ErrorBody,
  500: Api.ErrorBody,
  502: Api.ErrorBody,
  503: Api.ErrorBody,
  504: Api.ErrorBody
} as const
