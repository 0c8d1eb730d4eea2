/**
 * The proxy's OpenAPI 3.1 document, generated from the domain's endpoint table (`Endpoint.all`: paths,
 * methods, success statuses, request and response Schemas, scopes) and the proxy's own route Schemas
 * (`Schemas`). Nothing here lists an endpoint by hand, so the document cannot drift from the routes.
 *
 * @since 0.1.0
 */
import { Api, Endpoint } from "@mta/domain"
import type { Schema } from "effect"
import { emitter, type JsonSchema } from "./internal/jsonSchema.js"
import { addExamples } from "./internal/openApiExamples.js"
import * as Schemas from "./Schemas.js"

/** The package version, shown in `info.version`. */
export const VERSION = "0.1.0"

// Records the vendor sends wrapped (`{"message": {...}}`): the domain reads them wrapped or flat and
// encodes them wrapped; the walker sees the flat record, so the wrapping is added here.
const WRAPPED: ReadonlySet<string> = new Set(["AccountResponse", "StatusReasonResponse"])

const summaries: Readonly<Record<Endpoint.Name, string>> = {
  createAccount: "Create a customer account (provisioning completes asynchronously)",
  updateAccount: "Update an account's tier and prefunded flag",
  getAccount: "Read an account",
  getStatusReason: "Why an account is in its status (feature-flagged upstream)",
  lock: "Lock an account",
  unlock: "Unlock an account",
  withdrawLock: "Block withdrawals",
  withdrawUnlock: "Allow withdrawals again",
  addTenant: "Add a secondary holder",
  removeTenant: "Remove a secondary holder",
  addAdvisor: "Add a financial advisor",
  removeAdvisor: "Remove a financial advisor",
  divest: "Start divesting (liquidating) an account",
  close: "Close an account",
  listLedgerAccounts: "List ledger (balance) accounts",
  createParticipant: "Submit an adult customer (KYC completes asynchronously)",
  createMinor: "Submit a minor linked to a custodian (KYC completes asynchronously)",
  listParticipants: "List participants (filters, 15 per page)",
  lockParticipant: "Lock a participant: the platform ended the relationship"
}

const PARAMS: Readonly<Record<string, { description: string; schema: JsonSchema }>> = {
  zrn: {
    description:
      "customer-account ZRN in any accepted form (canonical, urn:, without scheme, customer:<uuid>, bare UUID); forwarded canonical",
    schema: { type: "string" }
  },
  tenant: {
    description: "participant code (exactly 6 characters)",
    schema: { type: "string", pattern: Api.PATH_PARTICIPANT_CODE.source }
  },
  financial_advisor: {
    description: "participant code (exactly 6 characters)",
    schema: { type: "string", pattern: Api.PATH_PARTICIPANT_CODE.source }
  },
  participant_code: {
    description: "participant code (exactly 6 characters)",
    schema: { type: "string", pattern: Api.PATH_PARTICIPANT_CODE.source }
  }
}

const STATUS_TEXT: Readonly<Record<number, string>> = {
  200: "OK",
  201: "Created: submitted; KYC completes in the background, announced by participant_status_changed",
  202: "Accepted: applied in the background; announced by the webhook",
  400: "Validation failure (refused before anything goes upstream, or by the upstream)",
  401: "No or unknown bearer token",
  403: "The caller lacks the scope (or the upstream refused)",
  404: "Not found",
  409: "Conflict (duplicate label, tenant or advisor), or the Idempotency-Key is in flight",
  422: "The Idempotency-Key was used for a different request",
  429: "Over a rate limit; see Retry-After",
  500: "Upstream error",
  502: "Upstream unreachable or its answer unusable",
  503: "Upstream unavailable",
  504: "Upstream timed out"
}

const requestIdHeader = {
  "X-Request-Id": { description: "the request id (yours, or generated)", schema: { type: "string" } }
}

/** Builds the document. */
export const document = (): Record<string, unknown> => {
  const { components, toJsonSchema } = emitter(WRAPPED)
  const schemaOf = (schema: Schema.Schema.AnyNoContext): JsonSchema => toJsonSchema(schema.ast)
  const errorResponses = (codes: ReadonlyArray<keyof typeof Schemas.errorBodies>) =>
    Object.fromEntries(
      codes.map((code) => [
        String(code),
        {
          description: STATUS_TEXT[code],
          headers: requestIdHeader,
          content: { "application/json": { schema: schemaOf(Schemas.errorBodies[code]) } }
        }
      ])
    )
  // A query Schema's properties become query parameters (through its component when it is named).
  const queryParameters = (schema: Schema.Schema.AnyNoContext): Array<Record<string, unknown>> => {
    let s = schemaOf(schema)
    if (typeof s.$ref === "string") s = components[s.$ref.slice("#/components/schemas/".length)] ?? {}
    const properties = (s.properties ?? {}) as Record<string, JsonSchema>
    return Object.entries(properties).map(([name, p]) => ({
      name,
      in: "query",
      required: false,
      ...(typeof p.description === "string" ? { description: p.description } : {}),
      schema: p
    }))
  }
  const json = (schema: JsonSchema) => ({ "application/json": { schema } })
  const paths: Record<string, Record<string, unknown>> = {}
  const add = (path: string, method: string, operation: Record<string, unknown>) => {
    paths[path] = { ...paths[path], [method.toLowerCase()]: operation }
  }
  const requestIdParam = {
    name: "X-Request-Id",
    in: "header",
    required: false,
    description:
      "a request id to use (1-128 of A-Z a-z 0-9 . _ : -); generated when absent; sent upstream and echoed",
    schema: { type: "string" }
  }

  const idempotencyKeyParam = {
    name: "Idempotency-Key",
    in: "header",
    required: false,
    description:
      "1-255 visible ASCII characters, scoped to the caller: a repeat with the same request answers the stored response again (Idempotent-Replayed: true) without calling zerohash; the same key with another request is 422; while the first is in flight, 409. Remembered for MTA_IDEMPOTENCY_TTL_MS (24 h).",
    schema: { type: "string", minLength: 1, maxLength: 255 }
  }

  for (const endpoint of Endpoint.all) {
    let response = schemaOf(endpoint.response)
    if (endpoint.response === (Endpoint.table.lock.response as unknown)) {
      response = { type: "object", description: "{}", additionalProperties: false }
    }
    const parameters: Array<Record<string, unknown>> = endpoint.params.map((name) => ({
      name,
      in: "path",
      required: true,
      ...PARAMS[name]
    }))
    if ("query" in endpoint && endpoint.query !== undefined) {
      parameters.push(...queryParameters(endpoint.query))
    }
    parameters.push(requestIdParam)
    if (endpoint.method !== "GET") parameters.push(idempotencyKeyParam)
    const operation: Record<string, unknown> = {
      operationId: endpoint.name,
      summary: summaries[endpoint.name as Endpoint.Name],
      description: `Mirrors the upstream \`${endpoint.method} ${endpoint.path}\`. Requires scope \`${endpoint.scope}\`.${
        "command" in endpoint && endpoint.command !== undefined
          ? ` Refused with 400 (code transition_rejected) when the known status cannot take \`${endpoint.command}\`.`
          : ""
      }`,
      tags: [tagOf(endpoint.scope)],
      security: [{ bearer: [endpoint.scope] }],
      "x-scope": endpoint.scope,
      parameters,
      responses: {
        [String(endpoint.successStatus)]: {
          description: STATUS_TEXT[endpoint.successStatus],
          headers: requestIdHeader,
          content:
            "responseType" in endpoint && endpoint.responseType === "text"
              ? { "text/plain": { schema: { type: "string", enum: ["OK"] } } }
              : json(response)
        },
        ...errorResponses(
          endpoint.method === "GET"
            ? [400, 401, 403, 404, 409, 429, 500, 502, 503, 504]
            : [400, 401, 403, 404, 409, 422, 429, 500, 502, 503, 504]
        )
      }
    }
    if (endpoint.request !== undefined) {
      operation.requestBody = { required: true, content: json(schemaOf(endpoint.request)) }
    }
    add(endpoint.path, endpoint.method, operation)
  }

  add("/accounts/{zrn}/status", "GET", {
    operationId: "getStatus",
    summary: "The account's status as the proxy's projection knows it; long poll with wait_for",
    description:
      "Answers at once without `wait_for`. With `wait_for`, answers when the projection reaches that status or after `timeout_ms` (`timed_out: true`). `confirmed_at` is when zerohash last confirmed the status (a webhook or a read); the proxy re-reads accounts in the background so that it converges after lost webhooks. Requires scope `accounts:read`.",
    tags: ["status and events"],
    security: [{ bearer: ["accounts:read"] }],
    "x-scope": "accounts:read",
    parameters: [
      { name: "zrn", in: "path", required: true, ...PARAMS.zrn },
      ...queryParameters(Schemas.StatusQuery),
      requestIdParam
    ],
    responses: {
      200: { description: "OK", headers: requestIdHeader, content: json(schemaOf(Schemas.StatusResponse)) },
      ...errorResponses([400, 401, 403, 404, 429])
    }
  })
  add("/accounts/{zrn}/status/refresh", "POST", {
    operationId: "refreshStatus",
    summary: "Re-read the account's status upstream now and reconcile the projection with it",
    description:
      "Reads `GET /accounts/{zrn}/details` upstream as the caller's call (under its share of the vendor budget) and answers the record in force afterwards, as `GET /accounts/{zrn}/status` does. A status that differs from the projection's is applied like a webhook (an event with `source: reconcile`, long polls woken). Nothing changes upstream; the call is audited (`refreshStatus`). The body, if any, must be `{}`; `Idempotency-Key` is not used. Requires scope `accounts:access`.",
    tags: ["status and events"],
    security: [{ bearer: ["accounts:access"] }],
    "x-scope": "accounts:access",
    parameters: [{ name: "zrn", in: "path", required: true, ...PARAMS.zrn }, requestIdParam],
    responses: {
      200: { description: "OK", headers: requestIdHeader, content: json(schemaOf(Schemas.StatusResponse)) },
      ...errorResponses([400, 401, 403, 404, 429, 500, 502, 503, 504])
    }
  })
  add("/participants/{participant_code}/status", "GET", {
    operationId: "getParticipantStatus",
    summary:
      "The participant's status as the proxy's participant projection knows it; long poll with wait_for",
    description:
      "Answers at once without `wait_for`. With `wait_for`, answers when the projection reaches that status (a `participant_status_changed` webhook, or a re-read) or after `timeout_ms` (`timed_out: true`). A participant the projection does not know is read once upstream (`GET /participants?participant_code=`, under the caller's share of the vendor budget) and recorded; one zerohash does not list is a 404. The code must be exactly 6 characters A-Z or 0-9. Requires scope `participants:read`.",
    tags: ["status and events"],
    security: [{ bearer: ["participants:read"] }],
    "x-scope": "participants:read",
    parameters: [
      {
        name: "participant_code",
        in: "path",
        required: true,
        description: "exactly 6 characters A-Z or 0-9",
        schema: { type: "string", pattern: "^[A-Z0-9]{6}$" }
      },
      ...queryParameters(Schemas.ParticipantStatusQuery),
      requestIdParam
    ],
    responses: {
      200: {
        description: "OK",
        headers: requestIdHeader,
        content: json(schemaOf(Schemas.ParticipantStatusResponse))
      },
      ...errorResponses([400, 401, 403, 404, 429, 502, 503, 504])
    }
  })
  add("/accounts/{zrn}/access", "GET", {
    operationId: "getAccess",
    summary: "May each member do each action on the account now, and why not",
    description:
      "The access decision (participants.md): for every member of the account (or `participant`) and every action (or `action`), whether it is allowed, with every failing rule (`Membership`, `Authorization`, `AccountStatus`, `ParticipantStatus`) as the domain's `Access.decide` lists them. Computed from the proxy's knowledge: the membership from the last account record it saw (a webhook, a repair or a read; read upstream when it has none or it is older than MTA_PROJECTION_TRUST_MS), the account status from the status projection, each member's status from the participant projection (read upstream when unknown, once per participant). A participant who is not a member gets one decision (the action asked, or `view`), not allowed, rule `Membership`. It is advice, not a guarantee: `as_of` says how fresh the account status is. Requires scope `accounts:read`.",
    tags: ["status and events"],
    security: [{ bearer: ["accounts:read"] }],
    "x-scope": "accounts:read",
    parameters: [
      { name: "zrn", in: "path", required: true, ...PARAMS.zrn },
      ...queryParameters(Schemas.AccessQuery),
      requestIdParam
    ],
    responses: {
      200: { description: "OK", headers: requestIdHeader, content: json(schemaOf(Schemas.AccessResponse)) },
      ...errorResponses([400, 401, 403, 404, 429, 502, 503, 504])
    }
  })
  add("/events", "GET", {
    operationId: "streamEvents",
    summary: "Server-sent events of account and participant status changes; resumable with Last-Event-ID",
    description:
      "A `text/event-stream`: one `customer_account_status_changed` event per change of an account's status and one `participant_status_changed` event per change of a participant's status or reason code, from one log (`id` increasing across both): an applied webhook (`source: webhook`), or a repair after the proxy re-read the account or participant and found a change whose webhook it never got (`source: reconcile`, `notification_id: null`). A notification naming the status already known is no change and appends none. `?zrn=` keeps one account's events, `?participant=` one participant's; both together keep the events of either. Reconnect with `Last-Event-ID` (or `?last_event_id=`) to receive what was missed. Requires scope `events:read`.",
    tags: ["status and events"],
    security: [{ bearer: ["events:read"] }],
    "x-scope": "events:read",
    parameters: [
      ...queryParameters(Schemas.EventsQuery),
      { name: "Last-Event-ID", in: "header", required: false, schema: { type: "string" } }
    ],
    responses: {
      200: {
        description:
          "An event stream; each event's data is a StatusChangedEvent (event customer_account_status_changed) or a ParticipantStatusChangedEvent (event participant_status_changed)",
        content: {
          "text/event-stream": {
            schema: {
              oneOf: [schemaOf(Schemas.StatusChangedEvent), schemaOf(Schemas.ParticipantStatusChangedEvent)]
            }
          }
        }
      },
      ...errorResponses([400, 401, 403, 429])
    }
  })
  add("/audit", "GET", {
    operationId: "listAudit",
    summary: "The audit log of mutating calls, oldest first, filtered and paginated",
    description:
      "Every mutating call an authenticated, authorized caller made (including replays and refusals): caller, action, target ZRN, the request with secrets removed, outcome, status, request id and time. Append-only. Page with `cursor` = the previous page's `next_cursor`. Requires scope `audit:read`.",
    tags: ["audit"],
    security: [{ bearer: ["audit:read"] }],
    "x-scope": "audit:read",
    parameters: [...queryParameters(Schemas.AuditQuery), requestIdParam],
    responses: {
      200: { description: "OK", headers: requestIdHeader, content: json(schemaOf(Schemas.AuditPage)) },
      ...errorResponses([400, 401, 403, 429])
    }
  })
  add("/webhooks/zerohash", "POST", {
    operationId: "receiveWebhook",
    summary: "zerohash's customer_account_status_changed and participant_status_changed webhooks",
    description:
      "Verified over the raw body (x-zh-hook-signature, or the legacy x-zh-hook-signature-256) with a 5-minute replay window; deduplicated by x-zh-hook-notification-id and by content; applied by timestamp (a participant notification by its payload's `timestamp`). `x-zh-hook-payload-type` picks the kind: the status projection or the participant projection. No bearer token: the signature authenticates.",
    tags: ["webhooks"],
    security: [],
    requestBody: {
      required: true,
      content: json({
        oneOf: [schemaOf(Schemas.WebhookPayload), schemaOf(Schemas.ParticipantWebhookPayload)]
      })
    },
    responses: {
      200: { description: "Accepted", content: json(schemaOf(Schemas.WebhookAck)) },
      ...errorResponses([400, 401])
    }
  })
  for (const [path, summary] of [
    ["/healthz", "Liveness: the process answers"],
    ["/readyz", "Readiness: the store and the upstream answer, and no shutdown is under way"]
  ] as const) {
    add(path, "GET", {
      operationId: path.slice(1),
      summary,
      tags: ["operations"],
      security: [],
      responses: {
        200: { description: "OK", content: json(schemaOf(Schemas.Health)) },
        503: { description: "Not ready", content: json(schemaOf(Schemas.Health)) }
      }
    })
  }
  add("/metrics", "GET", {
    operationId: "metrics",
    summary: "Prometheus metrics (text exposition format)",
    tags: ["operations"],
    security: [],
    responses: { 200: { description: "OK", content: { "text/plain": { schema: { type: "string" } } } } }
  })

  // Examples from the Schemas (internal/openApiExamples.ts), checked against them by the Docs tests.
  return addExamples({
    openapi: "3.1.0",
    info: {
      title: "mta proxy for zerohash Customer Accounts",
      version: VERSION,
      description:
        "The 15 Customer Accounts endpoints at zerohash's own paths, behind caller authentication (Authorization: Bearer), per-route scopes, validation with the domain rules and request signing; plus the status projection, an event stream and operations routes. Every error body carries `code` and `request_id`."
    },
    servers: [{ url: "/" }],
    tags: [
      { name: "accounts", description: "Create, read and update customer accounts" },
      { name: "access", description: "Lock, unlock, withdraw lock and unlock" },
      { name: "members", description: "Tenants and financial advisors" },
      { name: "wind down", description: "Divest and close" },
      { name: "status and events", description: "The proxy's status projection and event stream" },
      { name: "audit", description: "The audit log of mutating calls" },
      { name: "webhooks", description: "Notifications from zerohash" },
      { name: "operations", description: "Health, readiness, metrics" }
    ],
    paths,
    components: {
      schemas: components,
      securitySchemes: {
        bearer: {
          type: "http",
          scheme: "bearer",
          description:
            "A caller token; callers and their scopes are configured with `MTA_CALLERS` (scopes: `accounts:read`, `accounts:write`, `accounts:access`, `accounts:members`, `accounts:wind_down`, `participants:read`, `participants:write`, `events:read`, `audit:read`). The embedded default (`pnpm start` without `ZH_BASE_URL`) has one caller with every scope, token `dev-token` (`MTA_DEV_TOKEN`)."
        }
      }
    }
  })
}

const tagOf = (scope: Endpoint.Scope): string => {
  switch (scope) {
    case "accounts:read":
    case "accounts:write":
      return "accounts"
    case "accounts:access":
      return "access"
    case "accounts:members":
      return "members"
    case "accounts:wind_down":
      return "wind down"
    case "participants:read":
    case "participants:write":
      return "participants"
  }
}
