/**
 * Examples for the OpenAPI document: one valid value per Schema (the wire form, as the proxy sends or
 * reads it), hand-picked so that "try it" in `/docs` works against the embedded simulator as written
 * (the create names the demo participants CUST01 and CUST02), and checked against their Schemas by
 * `test/Docs.test.ts` (every example in the document decodes with the Schema of its place).
 *
 * `addExamples` puts them into a built document: for each operation (found by `operationId`), the
 * request body's and each JSON response's `example`. Nothing here lists a path: a route whose Schemas
 * have an example gets it.
 *
 * @since 0.1.0
 */
import { Api, Endpoint, Participants } from "@mta/domain"
import type { Schema } from "effect"
import * as Schemas from "../Schemas.js"

const ZRN = "zrn:zh:us:accounts:customer:3f1c2a8e-5b7d-4e21-9c4a-0d6e8b2f7a10"
const LEDGER_ZRN = "zrn:zh:us:accounts:ledger:7b0e4d52-1c9a-4f3e-8a26-5d1f0c9e3b47"
const REQUEST_ID = "0f6b8c1e-2d4a-4b7c-9e3f-5a1d8c6b2e90"
const AT = "2026-11-02T14:03:27.512Z"
const MILLIS = 1_793_800_000_000
/**
 * The timestamps of the participant requests: an hour before the module loaded (whole hours), since
 * zerohash refuses one older than a year, so that "try it" keeps working as written.
 */
const RECENT = Math.floor(Date.now() / 3_600_000) * 3_600_000 - 3_600_000

/** Examples by Schema (object identity), in the wire form. */
const bySchema = new Map<Schema.Schema.AnyNoContext, unknown>([
  [
    Api.CreateAccountRequest,
    {
      participant_code: "CUST01",
      account_label: "joint-savings",
      type: "jtic",
      tier: "pro",
      prefunded: false,
      tenants: ["CUST02"]
    }
  ],
  [Api.UpdateAccountRequest, { tier: "gold", prefunded: true }],
  [Api.ParticipantCodeRequest, { participant_code: "CUST03" }],
  [Api.EmptyRequest, {}],
  [Api.Accepted, {}],
  [
    Api.AccountResponse,
    {
      message: {
        zrn: ZRN,
        participant_code: "CUST01",
        platform_code: "PLAT01",
        prefunded: false,
        account_label: "joint-savings",
        account_group: "PLAT01",
        type: "jtic",
        tier: "pro",
        status: "open",
        tenants: ["CUST02"],
        financial_advisors: []
      }
    }
  ],
  [
    Api.StatusReasonResponse,
    {
      message: {
        zrn: ZRN,
        participant_code: "CUST01",
        platform_code: "PLAT01",
        account_label: "joint-savings",
        type: "jtic",
        tier: "pro",
        status: "locked",
        author_type: "platform",
        reason: "user_request",
        notes: "locked at the customer's request",
        tenants: ["CUST02"],
        financial_advisors: []
      }
    }
  ],
  [
    Api.LedgerPage,
    {
      message: [
        {
          zrn: LEDGER_ZRN,
          account_id: "7b0e4d52-1c9a-4f3e-8a26-5d1f0c9e3b47",
          asset: "USD",
          balance: "1250.00",
          account_owner: "CUST01",
          account_type: "available",
          account_group: "PLAT01",
          account_label: "joint-savings",
          last_update: MILLIS
        }
      ],
      page: 1,
      total_pages: 1
    }
  ],
  [
    Participants.CreateCustomerRequest,
    {
      first_name: "Ada",
      last_name: "Lovelace",
      email: "ada@example.com",
      address_one: "1 Main St.",
      city: "Chicago",
      jurisdiction_code: "US-IL",
      zip: "60601",
      date_of_birth: "1990-04-21",
      citizenship_code: "US",
      sanction_screening: "pass",
      sanction_screening_timestamp: RECENT,
      kyc: "pass",
      kyc_timestamp: RECENT,
      signed_timestamp: RECENT
    }
  ],
  [
    Participants.CreateMinorRequest,
    {
      first_name: "Max",
      last_name: "Lovelace",
      email: "max@example.com",
      address_one: "1 Main St.",
      city: "Chicago",
      jurisdiction_code: "US-IL",
      date_of_birth: "2015-09-01",
      custodian_participant_code: "CUST01",
      custodian_relationship: "parent",
      utma_signed_timestamp: RECENT
    }
  ],
  [
    Participants.ParticipantResponse,
    {
      message: {
        participant_code: "ADA001",
        platform_code: "PLAT01",
        status: "submitted",
        email: "ada@example.com",
        first_name: "Ada",
        last_name: "Lovelace"
      }
    }
  ],
  [
    Participants.ParticipantPage,
    {
      message: [
        {
          participant_code: "CUST01",
          participant_name: "Ada Lovelace",
          email: "ada@example.com",
          status: "approved",
          jurisdiction_code: "US-IL",
          updated_at: MILLIS
        }
      ],
      count: 1,
      page: 0,
      page_size: Participants.PAGE_SIZE,
      total_pages: 1
    }
  ],
  [
    Participants.LockParticipantRequest,
    { reason_code: "user_request", notes: "the customer closed the relationship" }
  ],
  [Schemas.StatusResponse, { zrn: ZRN, status: "open", updated_at: AT, confirmed_at: AT, timed_out: false }],
  [
    Schemas.AuditPage,
    {
      entries: [
        {
          id: 41,
          at: AT,
          caller: "dev",
          action: "lock",
          target: ZRN,
          request: {
            method: "POST",
            path: `/accounts/${ZRN}/lock`,
            body: {},
            idempotency_key: "lock-2026-11-02"
          },
          outcome: "accepted",
          status: 202,
          request_id: REQUEST_ID
        }
      ],
      next_cursor: "41"
    }
  ],
  [
    Schemas.WebhookPayload,
    {
      urn: ZRN,
      status: "open",
      participant_code: "CUST01",
      prefunded: false,
      account_label: "joint-savings",
      account_group: "PLAT01",
      tier: "pro",
      type: "jtic",
      tenants: ["CUST02"],
      financial_advisors: []
    }
  ],
  [Schemas.WebhookAck, { received: true, outcome: "applied" }],
  [Schemas.Health, { status: "ok", checks: { store: "ok", upstream: "ok" } }]
])

/** Error bodies by status: the proxy's answers (each with `code` and `request_id`). */
const byErrorStatus: Readonly<Record<keyof typeof Schemas.errorBodies, unknown>> = {
  400: {
    errors: [
      "account_label: is required",
      'tier: expected one of lite, pro, bronze, silver, gold, got "platinum"'
    ],
    code: "invalid_request",
    request_id: REQUEST_ID
  },
  401: { error: true, message: "unknown bearer token", code: "unauthorized", request_id: REQUEST_ID },
  403: {
    error: true,
    message: "caller reader lacks scope accounts:write",
    code: "forbidden",
    request_id: REQUEST_ID
  },
  404: {
    error: "Not Found",
    message: "customer account not found",
    code: "upstream_not_found",
    request_id: REQUEST_ID
  },
  409: {
    errors: ["an account with this label already exists"],
    code: "upstream_conflict",
    request_id: REQUEST_ID
  },
  422: {
    errors: ["Idempotency-Key lock-2026-11-02 was used for a different request"],
    code: "idempotency_mismatch",
    request_id: REQUEST_ID
  },
  429: { error: "Too Many Requests", code: "rate_limited", request_id: REQUEST_ID },
  500: { error: "Internal Server Error", code: "upstream_error", request_id: REQUEST_ID },
  502: { error: "Bad Gateway", code: "upstream_unreachable", request_id: REQUEST_ID },
  503: { error: "Service Unavailable", code: "upstream_unavailable", request_id: REQUEST_ID },
  504: { error: "Gateway Timeout", code: "upstream_timeout", request_id: REQUEST_ID }
}

/** Examples of an answer of `/readyz` that is not ready (the same Schema as ready). */
const NOT_READY = { status: "unavailable", checks: { store: "ok", upstream: "fetch failed" } }

/** The participant requests' examples, for the tests (their clock rules). */
export const participantRequests = {
  customer: bySchema.get(Participants.CreateCustomerRequest) as Readonly<Record<string, unknown>>,
  minor: bySchema.get(Participants.CreateMinorRequest) as Readonly<Record<string, unknown>>
}

/** The example of a Schema, if one was picked. */
export const exampleOf = (schema: Schema.Schema.AnyNoContext): unknown => bySchema.get(schema)

/** The example error body answered with `status`, if the status has one. */
export const errorExampleOf = (status: number): unknown =>
  (byErrorStatus as Readonly<Record<number, unknown>>)[status]

/** Every picked example with its Schema (for the tests). */
export const all = (): ReadonlyArray<readonly [Schema.Schema.AnyNoContext, unknown]> => [
  ...bySchema.entries(),
  ...Object.entries(byErrorStatus).map(
    ([status, example]) =>
      [Schemas.errorBodies[Number(status) as keyof typeof Schemas.errorBodies], example] as const
  ),
  [Schemas.Health, NOT_READY]
]

/** The Schemas of the proxy's own routes, by operationId: request body and success answers. */
const ownRoutes: Readonly<
  Record<
    string,
    {
      readonly request?: Schema.Schema.AnyNoContext
      readonly responses: Readonly<Record<number, Schema.Schema.AnyNoContext>>
    }
  >
> = {
  getStatus: { responses: { 200: Schemas.StatusResponse } },
  refreshStatus: { responses: { 200: Schemas.StatusResponse } },
  listAudit: { responses: { 200: Schemas.AuditPage } },
  receiveWebhook: { request: Schemas.WebhookPayload, responses: { 200: Schemas.WebhookAck } },
  healthz: { responses: { 200: Schemas.Health } },
  readyz: { responses: { 200: Schemas.Health, 503: Schemas.Health } }
}

const endpoints: ReadonlyMap<string, Endpoint.Endpoint> = new Map(Endpoint.all.map((e) => [e.name, e]))

/**
 * The Schema of each place in an operation that carries JSON: the request body (`"request"`) and the
 * success statuses. Error statuses are found by `errorExampleOf`.
 */
export const schemasOf = (
  operationId: string
): {
  request?: Schema.Schema.AnyNoContext
  responses: Readonly<Record<number, Schema.Schema.AnyNoContext>>
} => {
  const endpoint = endpoints.get(operationId)
  if (endpoint !== undefined) {
    return {
      ...(endpoint.request === undefined ? {} : { request: endpoint.request }),
      responses: { [endpoint.successStatus]: endpoint.response }
    }
  }
  return ownRoutes[operationId] ?? { responses: {} }
}

type Json = Record<string, unknown>
const isJson = (u: unknown): u is Json => typeof u === "object" && u !== null && !Array.isArray(u)

/** Sets `example` on a `content` object's `application/json` media type, when there is one. */
const setExample = (content: unknown, example: unknown): void => {
  if (example === undefined || !isJson(content)) return
  const media = content["application/json"]
  if (isJson(media)) media.example = example
}

/** Adds the examples to a built document (in place) and answers it. */
export const addExamples = <D extends Json>(document: D): D => {
  const paths = isJson(document.paths) ? document.paths : {}
  for (const item of Object.values(paths)) {
    if (!isJson(item)) continue
    for (const operation of Object.values(item)) {
      if (!isJson(operation) || typeof operation.operationId !== "string") continue
      const { request, responses } = schemasOf(operation.operationId)
      if (request !== undefined && isJson(operation.requestBody)) {
        setExample(operation.requestBody.content, exampleOf(request))
      }
      if (!isJson(operation.responses)) continue
      for (const [status, response] of Object.entries(operation.responses)) {
        if (!isJson(response)) continue
        const code = Number(status)
        const schema = responses[code]
        const example =
          operation.operationId === "readyz" && code === 503
            ? NOT_READY
            : schema !== undefined
              ? exampleOf(schema)
              : errorExampleOf(code)
        setExample(response.content, example)
      }
    }
  }
  return document
}
