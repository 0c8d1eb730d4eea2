/**
 * Participants: the wire Schemas of endpoints 16–19 (`participants.md`), the rules that need a clock
 * (ages, timestamp windows), and the participant lifecycle the fake and the proxy share.
 *
 * Request bodies of 16 and 17 are checked field by field where the contract names a rule, and
 * **tolerate** the fields it does not name (**Decision**: the vendor documents about sixty optional
 * fields; a fake that refused them would break real integrations): such fields are kept and echoed.
 * The lock body (19) and the list query (18) are strict: unknown keys are refused, naming the accepted
 * ones. Responses are tolerant: unknown fields are kept, an unknown status is kept as sent.
 *
 * @since 0.2.0
 */
import { Either, ParseResult, Schema } from "effect"
import { ParticipantStatus } from "./Enums.js"
import {
  expected,
  isObject,
  PageFromString,
  required,
  show,
  strictObject,
  tolerantObject
} from "./internal/wire.js"
import * as Limits from "./Limits.js"

// ---------------------------------------------------------------------------------------------
// Fields
// ---------------------------------------------------------------------------------------------

/** A participant code as the participant endpoints use it: exactly 6 characters of `[A-Za-z0-9_-]`. */
export const PARTICIPANT_CODE = /^[A-Za-z0-9_-]{6}$/

/** A participant code (path segment, filter, webhook). */
export const ParticipantCode = Schema.String.pipe(Schema.pattern(PARTICIPANT_CODE)).annotations({
  identifier: "ParticipantCode",
  message: expected("a participant code of exactly 6 characters (A-Z, a-z, 0-9, _ or -)")
})

/** A participant status this version does not know: kept as sent. */
const UnknownParticipantStatus = Schema.String.pipe(
  Schema.filter((s) => !(ParticipantStatus.literals as ReadonlyArray<string>).includes(s))
)
/** A participant status, or an unknown one kept as sent. */
export const ParticipantStatusOrUnknown = Schema.Union(
  ParticipantStatus,
  UnknownParticipantStatus
).annotations({
  identifier: "ParticipantStatusOrUnknown",
  message: expected("a participant status (a string)")
})
/** A participant status, or an unknown one. */
export type ParticipantStatusOrUnknown = typeof ParticipantStatusOrUnknown.Type

const knownStatuses: ReadonlySet<string> = new Set(ParticipantStatus.literals)
/** Whether a status is one of the ten this version knows. */
export const isKnownStatus = (status: string): status is ParticipantStatus => knownStatuses.has(status)

/** A non-empty string within the string limit (`Limits.defaults.stringMaxLength`). */
const Text = Schema.String.pipe(
  Schema.filter((s) => s.trim().length > 0 && Limits.characters(s) <= Limits.defaults.stringMaxLength)
).annotations({
  message: expected(`a non-empty string of at most ${Limits.defaults.stringMaxLength} characters`)
})

/** An email address: one `@`, something on each side, no spaces (the vendor's rule is not published). */
const Email = Schema.String.pipe(
  Schema.pattern(/^[^\s@]+@[^\s@]+\.[^\s@]+$/),
  Schema.maxLength(254)
).annotations({ message: expected("an email address (name@example.com)") })

/** ISO 3166-2 subdivision, `US-IL`. */
const JurisdictionCode = Schema.String.pipe(Schema.pattern(/^[A-Z]{2}-[A-Z0-9]{1,3}$/)).annotations({
  message: expected("an ISO 3166-2 code such as US-IL")
})

/** ISO 3166-1 alpha-2, `US`. */
const CountryCode = Schema.String.pipe(Schema.pattern(/^[A-Z]{2}$/)).annotations({
  message: expected("an ISO 3166-1 alpha-2 country code such as US")
})

/** A calendar date `YYYY-MM-DD` that exists. */
const DateOfBirth = Schema.String.pipe(Schema.filter((s) => parseDate(s) !== undefined)).annotations({
  message: expected("a date YYYY-MM-DD that exists (e.g. 1990-04-21)")
})

/** Milliseconds since the epoch (an integer). */
const Millis = Schema.Number.pipe(Schema.int(), Schema.nonNegative()).annotations({
  message: expected("a time in milliseconds since 1970 (an integer)")
})

const PassFail = Schema.Literal("pass", "fail").annotations({ message: expected('"pass" or "fail"') })

const SignedAgreement = strictObject(
  Schema.Struct({
    type: Schema.propertySignature(Text).annotations({ missingMessage: required() }),
    region: Schema.propertySignature(Text).annotations({ missingMessage: required() }),
    signed_timestamp: Schema.propertySignature(Millis).annotations({ missingMessage: required() })
  }),
  { what: "a signed agreement {type, region, signed_timestamp}" }
)

/** `metadata`: an object, or a string holding one (as some SDKs send it). */
const Metadata = Schema.Union(
  Schema.Record({ key: Schema.String, value: Schema.Unknown }),
  Schema.String.pipe(
    Schema.filter((s) => {
      try {
        return isObject(JSON.parse(s))
      } catch {
        return false
      }
    })
  )
).annotations({ message: expected("an object, or a string holding a JSON object") })

const opt = <S extends Schema.Schema.AnyNoContext>(schema: S) => Schema.optionalWith(schema, { exact: true })
const req = <S extends Schema.Schema.AnyNoContext>(schema: S) =>
  Schema.propertySignature(schema).annotations({ missingMessage: required() })

/** Any other field: kept and echoed (**Decision**, see the module's comment). */
const Extra = Schema.Record({ key: Schema.String, value: Schema.Unknown })

const NOT_WRAPPED =
  'the body is not wrapped: send the fields themselves, not {"message": {...}} (as in older guide examples)'

/**
 * A tolerant request object: the named fields are checked (every problem reported), every other field
 * is kept as sent. A body wrapped in `{"message": {...}}` is refused with what to send instead.
 */
const openRequest = <F extends Schema.Struct.Fields>(fields: F, what: string) => {
  const struct = Schema.Struct(fields, Extra)
  return Schema.transformOrFail(Schema.Unknown, Schema.typeSchema(struct), {
    strict: true,
    decode: (u, options, ast) => {
      if (!isObject(u)) {
        return ParseResult.fail(new ParseResult.Type(ast, u, `expected ${what}, got ${show(u)}`))
      }
      if (isObject(u.message) && Object.keys(u).length === 1) {
        return ParseResult.fail(
          new ParseResult.Pointer("message", u, new ParseResult.Type(ast, u.message, NOT_WRAPPED))
        )
      }
      return ParseResult.decodeUnknown(struct)(u, { ...options, errors: "all" })
    },
    encode: (a, options) => ParseResult.encode(struct)(a, options)
  }) as unknown as Schema.Schema<Schema.Struct.Type<F> & { readonly [k: string]: unknown }>
}

// ---------------------------------------------------------------------------------------------
// 16 — create customer, 17 — create minor
// ---------------------------------------------------------------------------------------------

const CommonFields = {
  first_name: req(Text),
  last_name: req(Text),
  email: req(Email),
  address_one: req(Text),
  city: req(Text),
  jurisdiction_code: req(JurisdictionCode),
  date_of_birth: req(DateOfBirth),
  address_two: opt(Text),
  zip: opt(Text),
  phone_number: opt(Text),
  metadata: opt(Metadata)
}

/** Body of `POST /participants/customers/new` (an adult). Other fields are kept and echoed. */
export const CreateCustomerRequest = openRequest(
  {
    ...CommonFields,
    sanction_screening: req(PassFail),
    sanction_screening_timestamp: req(Millis),
    citizenship_code: opt(CountryCode),
    kyc: opt(PassFail),
    kyc_timestamp: opt(Millis),
    signed_timestamp: opt(Millis),
    signed_agreements: opt(Schema.Array(SignedAgreement).pipe(Schema.maxItems(Limits.defaults.arrayMaxItems)))
  },
  "a JSON object with the customer's fields"
).annotations({ identifier: "CreateCustomerRequest" })
/** Body of `POST /participants/customers/new`. */
export type CreateCustomerRequest = typeof CreateCustomerRequest.Type

/**
 * Body of `POST /participants/customers/minor` (**Decision**, `participants.md`: the seed's example and
 * the vendor's unpublished schema disagree). Other fields are kept and echoed.
 */
export const CreateMinorRequest = openRequest(
  {
    ...CommonFields,
    custodian_participant_code: opt(ParticipantCode),
    custodian_relationship: opt(
      Schema.Literal("parent", "legal_guardian").annotations({
        message: expected('"parent" or "legal_guardian"')
      })
    ),
    utma_signed_timestamp: opt(Millis),
    id_number_type: opt(Text),
    id_number: opt(Text),
    sanction_screening: opt(PassFail),
    sanction_screening_timestamp: opt(Millis),
    partial: opt(Schema.Boolean.annotations({ message: expected("true or false") }))
  },
  "a JSON object with the minor's fields"
).annotations({ identifier: "CreateMinorRequest" })
/** Body of `POST /participants/customers/minor`. */
export type CreateMinorRequest = typeof CreateMinorRequest.Type

/** The timestamp fields of 16 and 17, each checked against the clock by `clockProblems`. */
export const TIMESTAMP_FIELDS = [
  "sanction_screening_timestamp",
  "kyc_timestamp",
  "signed_timestamp",
  "utma_signed_timestamp"
] as const

const YEAR_MS = 365 * 86_400_000
const DAY_MS = 86_400_000

/** `YYYY-MM-DD` as a UTC date, when it exists. */
export const parseDate = (
  s: string
): { readonly y: number; readonly m: number; readonly d: number } | undefined => {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(s)
  if (m === null) return undefined
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])]
  const date = new Date(Date.UTC(y, mo - 1, d))
  return date.getUTCFullYear() === y && date.getUTCMonth() === mo - 1 && date.getUTCDate() === d
    ? { y, m: mo, d }
    : undefined
}

/** Age in whole years on the UTC date of `now` (ms) of someone born on `dateOfBirth`. */
export const ageAt = (dateOfBirth: string, now: number): number | undefined => {
  const born = parseDate(dateOfBirth)
  if (born === undefined) return undefined
  const today = new Date(now)
  const [y, m, d] = [today.getUTCFullYear(), today.getUTCMonth() + 1, today.getUTCDate()]
  return y - born.y - (m < born.m || (m === born.m && d < born.d) ? 1 : 0)
}

/** The age of majority the contract uses (`participants.md`: an adult for 16, under 18 for 17). */
export const AGE_OF_MAJORITY = 18

/**
 * The rules of 16 and 17 that need a clock, as `path: message` lines (empty when none fails): every ms
 * timestamp at most one year in the past and one day in the future; an adult for `customer`, a minor
 * (born, and under 18) for `minor`; `kyc` and `sanction_screening` not `fail` (the vendor "will not
 * accept failed KYC / sanctions").
 */
export const clockProblems = (
  kind: "customer" | "minor",
  body: Readonly<Record<string, unknown>>,
  now: number
): ReadonlyArray<string> => {
  const problems: Array<string> = []
  for (const field of TIMESTAMP_FIELDS) {
    const value = body[field]
    if (typeof value !== "number") continue
    if (value < now - YEAR_MS)
      problems.push(`${field}: must be at most one year in the past, got ${new Date(value).toISOString()}`)
    else if (value > now + DAY_MS)
      problems.push(`${field}: must be at most one day in the future, got ${new Date(value).toISOString()}`)
  }
  const dob = body.date_of_birth
  if (typeof dob === "string") {
    const age = ageAt(dob, now)
    if (age !== undefined && age < 0) problems.push(`date_of_birth: ${dob} is in the future`)
    else if (kind === "customer" && age !== undefined && age < AGE_OF_MAJORITY)
      problems.push(
        `date_of_birth: a customer must be an adult (${AGE_OF_MAJORITY} or older), got age ${age}; submit a minor with POST /participants/customers/minor`
      )
    else if (kind === "minor" && age !== undefined && age >= AGE_OF_MAJORITY)
      problems.push(
        `date_of_birth: a minor must be under ${AGE_OF_MAJORITY}, got age ${age}; submit an adult with POST /participants/customers/new`
      )
  }
  for (const field of ["kyc", "sanction_screening"] as const) {
    if (body[field] === "fail")
      problems.push(`${field}: zerohash does not accept a participant whose ${field} is "fail"`)
  }
  return problems
}

// ---------------------------------------------------------------------------------------------
// Responses
// ---------------------------------------------------------------------------------------------

/**
 * A participant as 16 and 17 answer it: the submitted fields, `participant_code`, `platform_code` and
 * (16) `status`. Tolerant: unknown fields are kept, an unknown status is kept as sent.
 */
export const ParticipantRecord = tolerantObject(
  Schema.Struct(
    {
      participant_code: req(Schema.String),
      platform_code: opt(Schema.String),
      status: opt(ParticipantStatusOrUnknown),
      email: opt(Schema.String)
    },
    Extra
  ),
  { what: "a participant record" }
).annotations({ identifier: "ParticipantRecord" })
/** A participant as 16 and 17 answer it. */
export type ParticipantRecord = typeof ParticipantRecord.Type

/** Success body (201) of 16 and 17: `{"message": {...}}`. */
export const ParticipantResponse = Schema.Struct({ message: ParticipantRecord }).annotations({
  identifier: "ParticipantResponse"
})
/** Success body of 16 and 17. */
export type ParticipantResponse = typeof ParticipantResponse.Type

/** One entry of `GET /participants`. */
export const ParticipantEntry = tolerantObject(
  Schema.Struct({
    participant_code: req(Schema.String),
    participant_name: opt(Schema.String),
    email: opt(Schema.String),
    status: req(ParticipantStatusOrUnknown),
    // `null` (no reason) is dropped by `tolerantObject`: absent and null read the same.
    reason_code: opt(Schema.String),
    jurisdiction_code: opt(Schema.String),
    updated_at: opt(Schema.Number)
  }),
  { what: "a participant list entry" }
).annotations({ identifier: "ParticipantEntry" })
/** One entry of `GET /participants`. */
export type ParticipantEntry = typeof ParticipantEntry.Type

/** The page size of `GET /participants` (**Decision**: the vendor's example). */
export const PAGE_SIZE = 15

/** Success body of `GET /participants`. */
export const ParticipantPage = tolerantObject(
  Schema.Struct({
    message: req(Schema.Array(ParticipantEntry)),
    count: opt(Schema.Number),
    page: opt(Schema.Number),
    page_size: opt(Schema.Number),
    total_pages: opt(Schema.Number)
  }),
  { what: "a participant page" }
).annotations({ identifier: "ParticipantPage" })
/** Success body of `GET /participants`. */
export type ParticipantPage = typeof ParticipantPage.Type

/** Query of `GET /participants`: every filter optional; unknown parameters are refused. */
export const ParticipantQuery = strictObject(
  Schema.Struct({
    participant_code: opt(ParticipantCode),
    email: opt(Email),
    status: opt(
      ParticipantStatus.annotations({ message: expected(`one of ${ParticipantStatus.literals.join(", ")}`) })
    ),
    minors: opt(Schema.Literal("true", "false").annotations({ message: expected('"true" or "false"') })),
    page: opt(PageFromString)
  }),
  { noun: "query parameter", what: "query parameters" }
).annotations({ identifier: "ParticipantQuery" })
/** Query of `GET /participants`. */
export type ParticipantQuery = typeof ParticipantQuery.Type

/** Why the platform locks a participant (19). */
export const LockReason = Schema.Literal("user_request", "compliance_issue").annotations({
  identifier: "LockReason",
  message: expected('"user_request" or "compliance_issue"')
})
/** Why the platform locks a participant. */
export type LockReason = typeof LockReason.Type

/** Body of `POST /participants/customers/{participant_code}/lock`: both fields required, nothing else. */
export const LockParticipantRequest = strictObject(
  Schema.Struct({
    reason_code: req(LockReason),
    notes: req(Text)
  }),
  { refused: { message: NOT_WRAPPED } }
).annotations({ identifier: "LockParticipantRequest" })
/** Body of the participant lock. */
export type LockParticipantRequest = typeof LockParticipantRequest.Type

/** Success body of the participant lock: the text `OK` (`text/plain`). */
export const LockParticipantResponse = Schema.Literal("OK").annotations({
  identifier: "LockParticipantResponse",
  message: expected('the text "OK"')
})

// ---------------------------------------------------------------------------------------------
// Webhook: participant_status_changed
// ---------------------------------------------------------------------------------------------

/** The value of `x-zh-hook-payload-type` for a participant status change. */
export const payloadType = "participant_status_changed" as const

/**
 * Payload of `participant_status_changed`. Absent fields are omitted by the vendor (a `null` reads as
 * absent); unknown statuses and unknown fields are kept rather than fatal.
 */
export const StatusChangedPayload = tolerantObject(
  Schema.Struct(
    {
      participant_code: req(Schema.String),
      participant_status: req(ParticipantStatusOrUnknown),
      timestamp: req(Millis),
      reason_code: opt(Schema.String),
      reject_reasons: opt(Schema.Array(Schema.String)),
      kyc_attempts: opt(Schema.Number.pipe(Schema.int(), Schema.nonNegative()))
    },
    Extra
  ),
  { what: "a participant webhook payload object" }
).annotations({ identifier: "ParticipantStatusChangedPayload" })
/** Payload of `participant_status_changed`. */
export type StatusChangedPayload = typeof StatusChangedPayload.Type

// ---------------------------------------------------------------------------------------------
// Lifecycle
// ---------------------------------------------------------------------------------------------

/**
 * What moves a participant (`participants.md`, "Participant statuses in the fake"): the KYC outcome of
 * a submission, a resubmission after a rejection, the platform's lock (19), and zerohash compliance
 * (in the fake, the control plane).
 */
export type Move =
  | "kyc_pending"
  | "kyc_approved"
  | "kyc_rejected"
  | "resubmit"
  | "platform_lock"
  | "compliance_lock"
  | "request_unlock"
  | "unlock"
  | "request_disable"
  | "disable"
  | "divest"
  | "close"

/** Who may make a move: the platform (through the API) or zerohash (KYC, compliance). */
export const actorOf = (move: Move): "platform" | "zerohash" =>
  move === "platform_lock" || move === "resubmit" ? "platform" : "zerohash"

/** Each move: the statuses it starts from, the status it ends in. */
export const moves: {
  readonly [M in Move]: { readonly from: ReadonlyArray<ParticipantStatus>; readonly to: ParticipantStatus }
} = {
  kyc_pending: { from: ["submitted"], to: "pending_approval" },
  kyc_approved: { from: ["submitted", "pending_approval"], to: "approved" },
  kyc_rejected: { from: ["submitted", "pending_approval"], to: "rejected" },
  resubmit: { from: ["rejected"], to: "submitted" },
  // **Decision**: the platform may end the relationship at any point before zerohash has locked,
  // disabled or closed the participant; once locked, only zerohash changes the status.
  platform_lock: { from: ["submitted", "pending_approval", "approved", "rejected"], to: "locked" },
  compliance_lock: { from: ["submitted", "pending_approval", "approved", "rejected"], to: "locked" },
  request_unlock: { from: ["locked"], to: "pending_unlock" },
  unlock: { from: ["pending_unlock"], to: "approved" },
  request_disable: { from: ["locked"], to: "pending_disable" },
  disable: { from: ["pending_disable"], to: "disabled" },
  divest: { from: ["disabled"], to: "divested" },
  close: { from: ["disabled"], to: "closed" }
}

/** The statuses never sent by webhook: seen only in `GET /participants`. */
export const unannounced: ReadonlySet<ParticipantStatus> = new Set(["pending_unlock", "pending_disable"])

/** Rejections after which a participant may not be submitted again. */
export const MAX_REJECTIONS = 3

/** Why a move is refused from a status. */
export interface MoveRefused {
  readonly _tag: "MoveRefused"
  readonly move: Move
  readonly from: string
  readonly message: string
}

/** The status after `move` from `from`, or why it is refused (every message names what is allowed). */
export const transition = (from: string, move: Move): Either.Either<ParticipantStatus, MoveRefused> => {
  const rule = moves[move]
  if ((rule.from as ReadonlyArray<string>).includes(from)) return Either.right(rule.to)
  const message =
    move === "platform_lock" && ["locked", "pending_unlock", "pending_disable"].includes(from)
      ? `participant is already locked (status ${from}); only zerohash can change its status now`
      : `cannot ${move.replace(/_/g, " ")} a participant in status ${from}; allowed from ${rule.from.join(", ")}`
  return Either.left({ _tag: "MoveRefused", move, from, message })
}
