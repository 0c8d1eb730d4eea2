/**
 * The mta proxy's own routes (not zerohash endpoints), as the client calls them with a bearer token:
 * the participant status long poll `GET /participants/{participant_code}/status` and the access
 * decision `GET /accounts/{zrn}/access` (`participants.md`). Their answers are decoded tolerantly
 * (unknown statuses kept, unknown fields ignored) and typed with the domain's names.
 *
 * @since 0.1.0
 */
import { Access, Api, type Endpoint, Enums, Participants } from "@mta/domain"
import { Schema } from "effect"

/** What the participant status route answers: the projection's record of one participant. */
export const ParticipantStatusAnswer = Schema.Struct({
  participant_code: Schema.String,
  status: Participants.ParticipantStatusOrUnknown,
  reason_code: Schema.optional(Schema.NullOr(Schema.String)),
  /** ISO 8601: when the status was true. */
  updated_at: Schema.optional(Schema.NullOr(Schema.String)),
  /** ISO 8601: when zerohash last confirmed it. */
  confirmed_at: Schema.optional(Schema.NullOr(Schema.String)),
  timed_out: Schema.optional(Schema.Boolean)
}).annotations({ identifier: "ParticipantStatusAnswer" })
/** What the participant status route answers. */
export type ParticipantStatusAnswer = typeof ParticipantStatusAnswer.Type

/** One (participant, action) of the access decision; `reasons` empty when allowed. */
export const AccessDecision = Schema.Struct({
  participant: Schema.String,
  role: Schema.NullOr(Schema.Literal("primary", "secondary", "advisor")),
  authorization: Schema.NullOr(Schema.Union(Enums.Authorization, Schema.String)),
  participant_status: Schema.NullOr(Participants.ParticipantStatusOrUnknown),
  reason_code: Schema.NullOr(Schema.String),
  action: Enums.Action,
  allowed: Schema.Boolean,
  reasons: Schema.Array(
    Schema.Struct({ rule: Schema.Union(Access.Rule, Schema.String), message: Schema.String })
  )
}).annotations({ identifier: "AccessDecision" })
/** One (participant, action) of the access decision. */
export type AccessDecision = typeof AccessDecision.Type

/** The access decision: one entry per (participant, action) asked, and how fresh its inputs are. */
export const AccessAnswer = Schema.Struct({
  zrn: Schema.String,
  as_of: Schema.Struct({
    account_status: Schema.NullOr(Api.StatusOrUnknown),
    updated_at: Schema.NullOr(Schema.String)
  }),
  decisions: Schema.Array(AccessDecision)
}).annotations({ identifier: "AccessAnswer" })
/** The access decision. */
export type AccessAnswer = typeof AccessAnswer.Type

/** The question of `access`: one member (default every member) and one action (default every action). */
export interface AccessQuery {
  readonly participant?: string | undefined
  readonly action?: Enums.Action | undefined
}

/** `GET /participants/{participant_code}/status?wait_for=&timeout_ms=`, as a protocol row. */
export const participantStatusRow = {
  name: "waitForParticipantStatus",
  method: "GET",
  path: "/participants/{participant_code}/status",
  params: ["participant_code"],
  successStatus: 200,
  request: undefined,
  query: Schema.Struct({
    wait_for: Schema.optional(Schema.String),
    timeout_ms: Schema.optional(Schema.NumberFromString)
  }),
  response: ParticipantStatusAnswer,
  scope: "participants:read"
} as const satisfies Endpoint.Endpoint

/** `GET /accounts/{zrn}/access?participant=&action=`, as a protocol row. */
export const accessRow = {
  name: "access",
  method: "GET",
  path: "/accounts/{zrn}/access",
  params: ["zrn"],
  successStatus: 200,
  request: undefined,
  query: Schema.Struct({
    participant: Schema.optional(Participants.ParticipantCode),
    action: Schema.optional(Enums.Action)
  }),
  response: AccessAnswer,
  scope: "accounts:read"
} as const satisfies Endpoint.Endpoint
