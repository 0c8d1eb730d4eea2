/**
 * Wire Schemas of every request, response and error body of the Customer Accounts API
 * (`upstream-api.md`). Requests are strict: unknown keys and the shapes of older guide examples are
 * refused with messages that say what to send instead, so a fake or the proxy never hides a
 * client's mistake. Responses are tolerant: `urn` is read as `zrn`, records are read wrapped or flat,
 * unknown extra keys are ignored, `null` optional fields read as absent, and an unknown `status` or
 * `type` is kept rather than fatal.
 *
 * `formatErrors` turns a decoding failure into the `{"errors": [...]}` lines of a 400.
 *
 * @since 0.1.0
 */
import { type ParseResult, Schema } from "effect"
import {
  AccountStatus,
  AccountType,
  AuthorType,
  ComplianceReason,
  LedgerAccountType,
  StatusReason,
  Tier
} from "./Enums.js"
import {
  expected,
  formatIssue,
  PageFromString,
  required,
  strictObject,
  tolerantObject,
  wrappedOrFlat
} from "./internal/wire.js"
import * as Limits from "./Limits.js"
import * as Zrn from "./Zrn.js"

// ---------------------------------------------------------------------------------------------
// Field schemas
// ---------------------------------------------------------------------------------------------

/** A participant code in a body: 1 to 6 characters of `[A-Za-z0-9_-]` (the one source of the rule). */
export const PARTICIPANT_CODE = /^[A-Za-z0-9_-]{1,6}$/
/** A participant code in a path segment: exactly 6 characters of `[A-Za-z0-9_-]`. */
export const PATH_PARTICIPANT_CODE = /^[A-Za-z0-9_-]{6}$/
const CODE = PARTICIPANT_CODE
const PATH_CODE = PATH_PARTICIPANT_CODE

/** A participant code in a body: 1 to 6 characters of `[A-Za-z0-9_-]`. */
export const ParticipantCode = Schema.String.pipe(Schema.pattern(CODE)).annotations({
  identifier: "ParticipantCode",
  description: "a participant code: 1 to 6 characters of A-Z, a-z, 0-9, _ or -",
  message: expected("a participant code (1 to 6 characters of A-Z, a-z, 0-9, _ or -)")
})
/** A participant code in a body. */
export type ParticipantCode = typeof ParticipantCode.Type

/** A participant code in a tenant or advisor path segment: exactly 6 characters of `[A-Za-z0-9_-]`. */
export const PathParticipantCode = Schema.String.pipe(Schema.pattern(PATH_CODE)).annotations({
  identifier: "PathParticipantCode",
  description: "a participant code of exactly 6 characters of A-Z, a-z, 0-9, _ or -",
  message: expected("a participant code of exactly 6 characters (A-Z, a-z, 0-9, _ or -)")
})
/** A participant code in a tenant or advisor path segment. */
export type PathParticipantCode = typeof PathParticipantCode.Type

const ParticipantCodes = Schema.Array(ParticipantCode)
  .annotations({ message: expected("an array of participant codes", true) })
  .pipe(
    Schema.maxItems(Limits.defaults.arrayMaxItems, {
      // Also asked when the array itself failed: then the array's own message stands (no override).
      message: (issue) => ({
        message: `expected at most ${Limits.defaults.arrayMaxItems} participant codes, got ${Array.isArray(issue.actual) ? issue.actual.length : "more"}`,
        override: Array.isArray(issue.actual) && issue.actual.length > Limits.defaults.arrayMaxItems
      })
    })
  )

/** A non-empty string of at most `max` characters; a long one is refused naming its length. */
const boundedText = (max: number) =>
  Schema.String.pipe(Schema.filter((s) => s.length > 0 && Limits.characters(s) <= max)).annotations({
    message: (issue) =>
      typeof issue.actual === "string" && issue.actual.length > 0
        ? {
            message: `expected a string of at most ${max} characters, got ${Limits.characters(issue.actual)} characters`,
            override: true
          }
        : expected("a non-empty string")(issue)
  })

/** `account_label`: 1 to 255 characters (`Limits`; a **Decision**, the vendor gives no bound). */
const Label = boundedText(Limits.defaults.labelMaxLength)

/** Any other free-text field: 1 to 1 024 characters (`Limits`). */
const Text = boundedText(Limits.defaults.stringMaxLength)

const Bool = Schema.Boolean.annotations({ message: expected("true or false") })

const oneOf = <L extends readonly [string, ...Array<string>]>(schema: Schema.Literal<L>): Schema.Literal<L> =>
  schema.annotations({ message: expected(`one of ${schema.literals.join(", ")}`) })

const TierField = oneOf(Tier)
const AccountTypeField = oneOf(AccountType)

/** A customer-account ZRN field: any accepted form decodes, the canonical form is encoded. */
export const CustomerZrn = Zrn.CustomerZrn

/** A ledger-account ZRN field: any accepted form decodes, the canonical form is encoded. */
export const LedgerZrn = Zrn.LedgerZrn

/** A decimal amount as a string (`"0.00000001"`, `"-12.5"`): never a floating-point number. */
export const DecimalString = Schema.String.pipe(Schema.pattern(/^-?[0-9]+(\.[0-9]+)?$/)).annotations({
  identifier: "DecimalString",
  description: "a decimal number written as a string",
  message: (issue) =>
    expected(
      typeof issue.actual === "number"
        ? 'a decimal string such as "12.50" (a JSON number would lose precision)'
        : 'a decimal string such as "12.50"'
    )(issue)
})
/** A decimal amount as a string. */
export type DecimalString = typeof DecimalString.Type

// ---------------------------------------------------------------------------------------------
// Open enumerations: values the vendor may add are kept, not fatal
// ---------------------------------------------------------------------------------------------

/**
 * An open enumeration: the values this version knows, a branded string for any other value (kept as
 * sent so a newer vendor does not break readers), their union as read from the vendor (its refusal
 * names the known values), and the narrowing guard.
 */
const openEnum = <L extends readonly [string, ...Array<string>], B extends string>(
  known: Schema.Literal<L>,
  brand: B,
  identifier: string,
  what: string
) => {
  const values: ReadonlySet<string> = new Set(known.literals)
  const unknown = Schema.String.pipe(
    Schema.filter((s) => !values.has(s)),
    Schema.brand(brand)
  ).annotations({ identifier: brand })
  return {
    unknown,
    union: Schema.Union(known, unknown).annotations({
      identifier,
      message: expected(`${what} (${known.literals.join(", ")} or another string)`)
    }),
    isKnown: (value: string): value is L[number] => values.has(value)
  }
}

const statuses = openEnum(AccountStatus, "UnknownStatus", "StatusOrUnknown", "an account status")
const types = openEnum(AccountType, "UnknownAccountType", "AccountTypeOrUnknown", "an account type")
/** The vendor says tiers depend on the platform's configuration, so a platform may see others. */
const tiers = openEnum(Tier, "UnknownTier", "TierOrUnknown", "an account tier")

/** A status value this version does not know; kept as sent so a newer vendor does not break readers. */
export const UnknownStatus = statuses.unknown
/** A status value this version does not know. */
export type UnknownStatus = typeof UnknownStatus.Type

/** A status as read from the vendor: a known `AccountStatus`, or an `UnknownStatus` kept as sent. */
export const StatusOrUnknown = statuses.union
/** A status as read from the vendor. */
export type StatusOrUnknown = typeof StatusOrUnknown.Type

/** Narrows a status read from the vendor to one this version knows. */
export const isKnownStatus: (status: string) => status is AccountStatus = statuses.isKnown

/** An account type this version does not know; kept as sent. */
export const UnknownAccountType = types.unknown
/** An account type this version does not know. */
export type UnknownAccountType = typeof UnknownAccountType.Type

/** An account type as read from the vendor: a known `AccountType`, or an `UnknownAccountType`. */
export const AccountTypeOrUnknown = types.union
/** An account type as read from the vendor. */
export type AccountTypeOrUnknown = typeof AccountTypeOrUnknown.Type

/** Narrows an account type read from the vendor to one this version knows. */
export const isKnownAccountType: (type: string) => type is AccountType = types.isKnown

/** A tier this version does not know; kept as sent. */
export const UnknownTier = tiers.unknown
/** A tier this version does not know. */
export type UnknownTier = typeof UnknownTier.Type

/** A tier as read from the vendor: a known `Tier`, or an `UnknownTier` kept as sent. */
export const TierOrUnknown = tiers.union
/** A tier as read from the vendor. */
export type TierOrUnknown = typeof TierOrUnknown.Type

/** Narrows a tier read from the vendor to one this version knows. */
export const isKnownTier: (tier: string) => tier is Tier = tiers.isKnown

// ---------------------------------------------------------------------------------------------
// Requests (strict)
// ---------------------------------------------------------------------------------------------

const NOT_WRAPPED = "the request body must not be wrapped in message; send the fields at the top level"

const tenantsProblem = (type: unknown, hasTenants: boolean): string | undefined =>
  typeof type === "string" && type !== "individual" && types.isKnown(type) && !hasTenants
    ? `is required for a ${type} account (an array of participant codes)`
    : undefined

const CreateAccountFields = Schema.Struct({
  participant_code: Schema.propertySignature(ParticipantCode).annotations({
    missingMessage: required("the primary holder's participant code")
  }),
  account_label: Schema.propertySignature(Label).annotations({ missingMessage: required() }),
  type: Schema.propertySignature(AccountTypeField).annotations({ missingMessage: required() }),
  tier: Schema.propertySignature(TierField).annotations({ missingMessage: required() }),
  prefunded: Schema.propertySignature(Bool).annotations({ missingMessage: required() }),
  tenants: Schema.optionalWith(ParticipantCodes, { exact: true }),
  financial_advisors: Schema.optionalWith(ParticipantCodes, { exact: true })
})

/**
 * Body of `POST /accounts`. `tenants` is required for every type but `individual`. The shapes of older
 * guide examples are refused with what to send instead: `tenant` (singular), `tenants` as a bare
 * string, a body wrapped in `{"message": {...}}`.
 */
export const CreateAccountRequest = strictObject(
  CreateAccountFields,
  {
    what: "a JSON object with the account's fields",
    refused: {
      tenant: "unknown field, use `tenants` (an array of participant codes)",
      message: NOT_WRAPPED
    },
    check: (input) => {
      if (Object.hasOwn(input, "tenant")) return []
      const problem = tenantsProblem(input.type, Object.hasOwn(input, "tenants"))
      return problem === undefined ? [] : [["tenants", problem]]
    }
  },
  CreateAccountFields.pipe(
    Schema.filter((body) => {
      const problem = tenantsProblem(body.type, body.tenants !== undefined)
      return problem === undefined ? undefined : { path: ["tenants"], message: problem }
    })
  )
).annotations({ identifier: "CreateAccountRequest" })
/** Body of `POST /accounts`. */
export type CreateAccountRequest = typeof CreateAccountRequest.Type

/** Body of `PATCH /accounts/{zrn}`: both fields required. */
export const UpdateAccountRequest = strictObject(
  Schema.Struct({
    prefunded: Schema.propertySignature(Bool).annotations({ missingMessage: required() }),
    tier: Schema.propertySignature(TierField).annotations({ missingMessage: required() })
  }),
  { refused: { message: NOT_WRAPPED } }
).annotations({ identifier: "UpdateAccountRequest" })
/** Body of `PATCH /accounts/{zrn}`. */
export type UpdateAccountRequest = typeof UpdateAccountRequest.Type

/** Body of `POST /accounts/{zrn}/tenants` and `POST /accounts/{zrn}/advisors`. */
export const ParticipantCodeRequest = strictObject(
  Schema.Struct({
    participant_code: Schema.propertySignature(ParticipantCode).annotations({ missingMessage: required() })
  }),
  { refused: { message: NOT_WRAPPED } }
).annotations({ identifier: "ParticipantCodeRequest" })
/** Body of the add-tenant and add-advisor calls. */
export type ParticipantCodeRequest = typeof ParticipantCodeRequest.Type

/** Body `{}` of the status commands (lock, unlock, withdraw lock/unlock, divest, close); any key is refused. */
export const EmptyRequest = strictObject(Schema.Struct({}), {
  refused: { message: NOT_WRAPPED }
}).annotations({ identifier: "EmptyRequest" })
/** Body `{}` of the status commands. */
export type EmptyRequest = typeof EmptyRequest.Type

// ---------------------------------------------------------------------------------------------
// Responses (tolerant)
// ---------------------------------------------------------------------------------------------

/** Optional in a response (a `null` was already dropped by `tolerantObject`). */
const opt = <S extends Schema.Schema.AnyNoContext>(schema: S) => Schema.optionalWith(schema, { exact: true })

const Codes = Schema.Array(Schema.String)

const AccountRecordFields = Schema.Struct({
  zrn: Schema.propertySignature(CustomerZrn).annotations({ missingMessage: required("as zrn or urn") }),
  participant_code: opt(Schema.String),
  platform_code: opt(Schema.String),
  prefunded: opt(Schema.Boolean),
  account_label: opt(Schema.String),
  account_group: opt(Schema.String),
  type: opt(AccountTypeOrUnknown),
  tier: opt(TierOrUnknown),
  status: opt(StatusOrUnknown),
  tenants: opt(Codes),
  financial_advisors: opt(Codes)
})

/**
 * A customer account as the vendor returns it. Only `zrn` is required (it is what identifies the
 * account); `status` is absent while the account is provisioning.
 */
export const AccountRecord = tolerantObject(AccountRecordFields, {
  what: "an account record",
  alias: ["urn", "zrn"]
}).annotations({
  identifier: "AccountRecord"
})
/** A customer account as the vendor returns it. */
export type AccountRecord = typeof AccountRecord.Type

/** Success body of create, update and details: the record wrapped in `message` (flat is read too). */
export const AccountResponse = wrappedOrFlat(AccountRecord, "an account response").annotations({
  identifier: "AccountResponse"
})
/** Success body of create, update and details. */
export type AccountResponse = typeof AccountResponse.Type

/**
 * Success body of the 202 commands: `{}`. `{"message": {}}` and other extra keys are read as `{}`;
 * encodes `{}`.
 */
export const Accepted = Schema.transform(
  Schema.Record({ key: Schema.String, value: Schema.Unknown }).annotations({
    message: expected("a JSON object such as {}", true)
  }),
  Schema.Struct({}),
  { strict: true, decode: () => ({}), encode: () => ({}) }
).annotations({ identifier: "Accepted" })
/** Success body of the 202 commands. */
export type Accepted = typeof Accepted.Type

const StatusReasonFields = Schema.Struct({
  zrn: Schema.propertySignature(CustomerZrn).annotations({ missingMessage: required("as zrn or urn") }),
  participant_code: opt(Schema.String),
  platform_code: opt(Schema.String),
  account_label: opt(Schema.String),
  type: opt(AccountTypeOrUnknown),
  tier: opt(TierOrUnknown),
  status: opt(StatusOrUnknown),
  author_type: opt(oneOf(AuthorType)),
  reason: opt(oneOf(StatusReason)),
  compliance_reasons: opt(Schema.Array(oneOf(ComplianceReason))),
  notes: opt(Schema.String),
  case_number: opt(Schema.String),
  tenants: opt(Codes),
  financial_advisors: opt(Codes)
})

/** Why an account is in its status (`GET /account/{zrn}/status_reason`). */
export const StatusReasonRecord = tolerantObject(StatusReasonFields, {
  what: "a status reason record",
  alias: ["urn", "zrn"]
}).annotations({ identifier: "StatusReasonRecord" })
/** Why an account is in its status. */
export type StatusReasonRecord = typeof StatusReasonRecord.Type

/** Success body of the status reason call: the record wrapped in `message` (flat is read too). */
export const StatusReasonResponse = wrappedOrFlat(StatusReasonRecord, "a status reason response").annotations(
  {
    identifier: "StatusReasonResponse"
  }
)
/** Success body of the status reason call. */
export type StatusReasonResponse = typeof StatusReasonResponse.Type

const LedgerAccountFields = Schema.Struct({
  zrn: opt(LedgerZrn),
  account_id: Schema.propertySignature(Schema.UUID.annotations({ message: expected("a UUID") })).annotations({
    missingMessage: required()
  }),
  asset: Schema.propertySignature(
    Schema.String.annotations({ message: expected("an asset code") })
  ).annotations({
    missingMessage: required()
  }),
  balance: Schema.propertySignature(DecimalString).annotations({ missingMessage: required() }),
  account_owner: opt(Schema.String),
  account_type: opt(oneOf(LedgerAccountType)),
  account_group: opt(Schema.String),
  account_label: opt(Schema.String),
  last_update: opt(Schema.NonNegativeInt.annotations({ message: expected("epoch milliseconds") }))
})

/**
 * A ledger (balance) account entry of `GET /accounts`. `account_id`, `asset` and `balance` are
 * required; `zrn` (a ledger ZRN, also read from `urn`) comes from the guide and is absent from the
 * vendor's OpenAPI, so it is optional.
 */
export const LedgerAccount = tolerantObject(LedgerAccountFields, {
  what: "a ledger account",
  alias: ["urn", "zrn"]
}).annotations({
  identifier: "LedgerAccount"
})
/** A ledger (balance) account entry. */
export type LedgerAccount = typeof LedgerAccount.Type

const PageNumber = Schema.NonNegativeInt.annotations({ message: expected("a whole number") })

/** Success body of `GET /accounts`: one page of ledger accounts. A `null` or absent `message` reads as `[]`. */
export const LedgerPage = tolerantObject(
  Schema.Struct({
    message: Schema.optionalWith(Schema.Array(LedgerAccount), { default: () => [], exact: true }),
    page: Schema.propertySignature(PageNumber).annotations({ missingMessage: required() }),
    total_pages: Schema.propertySignature(PageNumber).annotations({ missingMessage: required() })
  }),
  { what: "a page of ledger accounts" }
).annotations({ identifier: "LedgerPage" })
/** Success body of `GET /accounts`. */
export type LedgerPage = typeof LedgerPage.Type

/**
 * Query of `GET /accounts`, as query-string values. `page` is a numeric string decoded to a number;
 * `zrn` (also read from `urn`, as the guide writes it) is a customer-account ZRN. Unknown parameters
 * are refused.
 */
export const LedgerQuery = strictObject(
  Schema.Struct({
    page: Schema.optionalWith(PageFromString, { exact: true }),
    account_group: Schema.optionalWith(Text, { exact: true }),
    account_label: Schema.optionalWith(Label, { exact: true }),
    account_owner: Schema.optionalWith(ParticipantCode, { exact: true }),
    asset: Schema.optionalWith(Text, { exact: true }),
    account_type: Schema.optionalWith(oneOf(LedgerAccountType), { exact: true }),
    zrn: Schema.optionalWith(CustomerZrn, { exact: true })
  }),
  {
    noun: "query parameter",
    what: "query parameters",
    // **Decision**: the guide filters by `participant_code`; it is `account_owner` (the OpenAPI name).
    aliases: { urn: "zrn", participant_code: "account_owner" }
  }
).annotations({ identifier: "LedgerQuery" })
/** Query of `GET /accounts`. */
export type LedgerQuery = typeof LedgerQuery.Type

// ---------------------------------------------------------------------------------------------
// Error bodies (tolerant; the proxy adds `code` and `request_id`)
// ---------------------------------------------------------------------------------------------

const proxyFields = {
  code: Schema.optionalWith(Schema.String, { exact: true }),
  request_id: Schema.optionalWith(Schema.String, { exact: true })
}

/** Body of a 400 or a 409: one entry per validation failure or business-rule violation. */
export const ValidationErrorBody = Schema.Struct({
  errors: Schema.Array(Schema.String),
  ...proxyFields
}).annotations({ identifier: "ValidationErrorBody" })
/** Body of a 400 or a 409. */
export type ValidationErrorBody = typeof ValidationErrorBody.Type

/** Body of a 403: an authentication or permission failure. */
export const ForbiddenBody = Schema.Struct({
  error: Schema.Literal(true),
  message: Schema.String,
  ...proxyFields
}).annotations({ identifier: "ForbiddenBody" })
/** Body of a 403. */
export type ForbiddenBody = typeof ForbiddenBody.Type

/** Body of a 404, 429, 500 or 503, e.g. `{"error": "Not Found"}`. */
export const ErrorBody = Schema.Struct({
  error: Schema.String,
  ...proxyFields
}).annotations({ identifier: "ErrorBody" })
/** Body of a 404, 429, 500 or 503. */
export type ErrorBody = typeof ErrorBody.Type

/** Any error body the upstream (or the proxy) answers. */
export const UpstreamErrorBody = Schema.Union(ValidationErrorBody, ForbiddenBody, ErrorBody).annotations({
  identifier: "UpstreamErrorBody",
  message: expected('an error body ({"errors": [...]}, {"error": true, "message": ...} or {"error": "..."})')
})
/** Any error body the upstream (or the proxy) answers. */
export type UpstreamErrorBody = typeof UpstreamErrorBody.Type

/** The upstream's messages of an error body, whatever its shape. */
export const errorMessages = (body: UpstreamErrorBody): ReadonlyArray<string> =>
  "errors" in body ? body.errors : typeof body.error === "string" ? [body.error] : [body.message]

// ---------------------------------------------------------------------------------------------
// Messages
// ---------------------------------------------------------------------------------------------

/**
 * One human line per problem of a decoding failure, `path: message`, e.g.
 * `tenants: expected an array of participant codes, got "CUST02"`: the entries of a 400 `errors` body.
 */
export const formatErrors = (error: ParseResult.ParseError | ParseResult.ParseIssue): Array<string> =>
  formatIssue(error._tag === "ParseError" ? error.issue : error)
