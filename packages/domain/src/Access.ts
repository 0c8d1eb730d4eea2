/**
 * The access decision: may participant P do action A on account X? It combines membership and
 * authorization (`Composition`), what the account's status allows (§4) and what the participant's
 * status allows (§5) — domain-rules.md §6 — and, when it says no, lists every failing rule so a
 * support tool can explain it.
 *
 * The two status tables are data; `make` builds `decide` over a platform's own tables. `decide` sits
 * on every request of the proxy and the simulator, so the tables are compiled once into maps and the
 * allowed path allocates nothing (it returns one shared frozen value); messages are only built for
 * a denial.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"
import * as Composition from "./Composition.js"
import { AccountStatus, Action, Authorization, ParticipantReasonCode, ParticipantStatus } from "./Enums.js"
import { StatusKey } from "./Lifecycle.js"

// ---------------------------------------------------------------------------------------------
// Tables
// ---------------------------------------------------------------------------------------------

/** What each account status allows; the `provisioning` row is an account with no status yet. */
export const AccountStatusTable = Schema.Record({ key: StatusKey, value: Composition.ActionSet }).annotations(
  {
    identifier: "AccountStatusTable"
  }
)
/** What each account status allows. */
export type AccountStatusTable = typeof AccountStatusTable.Type

/** Default actions per account status (domain-rules.md §4, a Decision where the vendor is silent). */
export const accountStatusTable: AccountStatusTable = {
  provisioning: { view: true, buy: false, sell: false, deposit: false, withdraw: false },
  open: { view: true, buy: true, sell: true, deposit: true, withdraw: true },
  locked: { view: true, buy: false, sell: false, deposit: true, withdraw: false },
  withdraw_locked: { view: true, buy: true, sell: true, deposit: true, withdraw: false },
  divesting: { view: true, buy: false, sell: true, deposit: false, withdraw: true },
  closed: { view: true, buy: false, sell: false, deposit: false, withdraw: false }
}

/**
 * One row of the participant status table: for these statuses with these reason codes (`null` is no
 * reason code; `"any"` is every reason code and none), these actions are allowed.
 */
export const ParticipantStatusRow = Schema.Struct({
  statuses: Schema.NonEmptyArray(ParticipantStatus),
  reasons: Schema.Union(Schema.Literal("any"), Schema.NonEmptyArray(Schema.NullOr(ParticipantReasonCode))),
  allowed: Schema.Array(Action)
}).annotations({ identifier: "ParticipantStatusRow" })
/** One row of the participant status table. */
export type ParticipantStatusRow = typeof ParticipantStatusRow.Type

/** What each participant status and reason code allows: the first matching row, else `otherwise`. */
export const ParticipantStatusTable = Schema.Struct({
  rows: Schema.Array(ParticipantStatusRow),
  otherwise: Schema.Array(Action)
}).annotations({ identifier: "ParticipantStatusTable" })
/** What each participant status and reason code allows. */
export type ParticipantStatusTable = typeof ParticipantStatusTable.Type

/** Default actions per participant status and reason code (domain-rules.md §5). */
export const participantStatusTable: ParticipantStatusTable = {
  rows: [
    {
      statuses: ["approved"],
      reasons: [null, "risk_cleared"],
      allowed: ["view", "buy", "sell", "deposit", "withdraw"]
    },
    { statuses: ["submitted", "pending_approval", "rejected"], reasons: "any", allowed: ["view"] },
    {
      statuses: ["locked", "pending_unlock", "pending_disable"],
      reasons: ["user_request"],
      allowed: ["view", "sell", "withdraw"]
    },
    {
      statuses: ["locked", "pending_unlock", "pending_disable"],
      reasons: ["compliance_issue"],
      allowed: ["view"]
    },
    { statuses: ["pending_unlock"], reasons: ["risk_cleared"], allowed: ["view"] },
    { statuses: ["disabled", "divested", "closed"], reasons: "any", allowed: ["view"] }
  ],
  // Any other combination (e.g. locked with no reason code): the most restrictive reading.
  otherwise: ["view"]
}

// ---------------------------------------------------------------------------------------------
// Values
// ---------------------------------------------------------------------------------------------

/**
 * The account asked about: its membership and its status. `null` (or an absent `status`, as the
 * account record reads while provisioning) is an account still provisioning.
 */
export const Account = Schema.Struct({
  ...Composition.Membership.fields,
  status: Schema.optional(Schema.NullOr(AccountStatus))
}).annotations({ identifier: "Account" })
/** The account asked about. */
export type Account = typeof Account.Type

/**
 * The participant asking. Without a `status` the participant-status rule is not checked: the
 * question is then only about the account (membership, authorization, account status).
 */
export const Participant = Schema.Struct({
  code: Schema.String,
  status: Schema.optional(ParticipantStatus),
  reason_code: Schema.optional(Schema.NullOr(ParticipantReasonCode))
}).annotations({ identifier: "Participant" })
/** The participant asking. */
export type Participant = typeof Participant.Type

/** The question: may `participant` do `action` on `account`? */
export const Request = Schema.Struct({
  account: Account,
  participant: Participant,
  action: Action
}).annotations({
  identifier: "Request"
})
/** The question: may `participant` do `action` on `account`? */
export type Request = typeof Request.Type

/** Which rule denies an action. */
export const Rule = Schema.Literal(
  "UnknownAction",
  "Membership",
  "Authorization",
  "AccountStatus",
  "ParticipantStatus"
).annotations({ identifier: "Rule" })
/** Which rule denies an action. */
export type Rule = typeof Rule.Type

/** One failing rule: `rule` for code, `message` for people. */
export const Reason = Schema.Struct({ rule: Rule, message: Schema.String }).annotations({
  identifier: "Reason"
})
/** One failing rule. */
export type Reason = typeof Reason.Type

/** The action is allowed. */
export const Allowed = Schema.Struct({ allowed: Schema.Literal(true) }).annotations({ identifier: "Allowed" })
/** The action is allowed. */
export type Allowed = typeof Allowed.Type

/** The action is denied, with every failing rule. */
export const Denied = Schema.Struct({
  allowed: Schema.Literal(false),
  reasons: Schema.NonEmptyArray(Reason)
}).annotations({ identifier: "Denied" })
/** The action is denied, with every failing rule. */
export type Denied = typeof Denied.Type

/** The answer of `decide`. */
export const Decision = Schema.Union(Allowed, Denied).annotations({ identifier: "Decision" })
/** The answer of `decide`. */
export type Decision = typeof Decision.Type

// ---------------------------------------------------------------------------------------------
// Functions
// ---------------------------------------------------------------------------------------------

/** Options of `make`: the tables to use instead of the defaults. */
export interface MakeOptions extends Composition.MakeOptions {
  readonly accountStatusTable?: AccountStatusTable | undefined
  readonly participantStatusTable?: ParticipantStatusTable | undefined
}

/** The functions of this module, built over one set of tables. */
export interface Rules {
  /** May the participant do the action on the account? Denials list every failing rule. */
  readonly decide: (request: Request) => Decision
  /** Whether an account status (`null`: provisioning) allows an action. */
  readonly accountStatusAllows: (status: AccountStatus | null, action: Action) => boolean
  /** Whether a participant status and reason code (`null` or absent: none) allow an action. */
  readonly participantStatusAllows: (
    status: ParticipantStatus,
    reason: ParticipantReasonCode | null | undefined,
    action: Action
  ) => boolean
}

const ALLOWED: Allowed = Object.freeze({ allowed: true })
const ACTIONS: ReadonlySet<string> = new Set(Action.literals)

const actionSet = (actions: ReadonlyArray<Action>): Composition.ActionSet =>
  Object.freeze({
    view: actions.includes("view"),
    buy: actions.includes("buy"),
    sell: actions.includes("sell"),
    deposit: actions.includes("deposit"),
    withdraw: actions.includes("withdraw")
  })

const allowedText = (set: Composition.ActionSet): string => {
  const actions = Action.literals.filter((a) => set[a] === true)
  return actions.length === 0 ? "allows nothing" : `allows only ${actions.join(", ")}`
}

const overrideOf = (overrides: Composition.Overrides | undefined, code: string): string | undefined =>
  overrides !== undefined && Object.hasOwn(overrides, code) ? overrides[code] : undefined

/** Builds `decide` and the two status lookups over the given tables (the defaults where omitted). */
export const make = (options?: MakeOptions): Rules => {
  const composition = options?.compositionTable ?? Composition.compositionTable
  const authorizations = options?.authorizationTable ?? Composition.authorizationTable
  const statuses = options?.accountStatusTable ?? accountStatusTable
  const participants = options?.participantStatusTable ?? participantStatusTable

  // Compiled once: maps keyed by the wire values, so a lookup is one hash probe and never reaches
  // an object prototype whatever string an untyped caller passes.
  const byType = new Map<string, Composition.AccountTypeRule>()
  for (const type of Object.keys(composition)) byType.set(type, composition[type as keyof typeof composition])
  const byAuthorization = new Map<string, Composition.ActionSet>()
  for (const a of Authorization.literals) {
    if (Object.hasOwn(authorizations, a)) byAuthorization.set(a, Object.freeze({ ...authorizations[a] }))
  }
  const byStatus = new Map<AccountStatus | null, Composition.ActionSet>()
  for (const key of StatusKey.literals) {
    if (Object.hasOwn(statuses, key)) {
      byStatus.set(key === "provisioning" ? null : key, Object.freeze({ ...statuses[key] }))
    }
  }
  const otherwise = actionSet(participants.otherwise)
  const byParticipant = new Map<string, Map<string | null, Composition.ActionSet>>()
  const reasonKeys = [null, ...ParticipantReasonCode.literals] as const
  for (const status of ParticipantStatus.literals) {
    const byReason = new Map<string | null, Composition.ActionSet>()
    for (const reason of reasonKeys) {
      const row = participants.rows.find(
        (r) => r.statuses.includes(status) && (r.reasons === "any" || r.reasons.includes(reason))
      )
      byReason.set(reason, row === undefined ? otherwise : actionSet(row.allowed))
    }
    byParticipant.set(status, byReason)
  }

  const participantSet = (status: string, reason: string | null | undefined): Composition.ActionSet =>
    byParticipant.get(status)?.get(reason ?? null) ?? otherwise

  const decide = (request: Request): Decision => {
    const account = request.account
    const participant = request.participant
    const action = request.action
    const code = participant.code
    let authorization: string | null | undefined
    if (account.participant_code === code) {
      authorization = overrideOf(account.overrides, code) ?? byType.get(account.type)?.primaryDefault
    } else if (account.tenants.includes(code)) {
      authorization = overrideOf(account.overrides, code) ?? byType.get(account.type)?.secondaryDefault
    } else if (account.financial_advisors.includes(code)) {
      authorization = Composition.advisorAuthorization
    }
    if (
      authorization != null &&
      byAuthorization.get(authorization)?.[action] === true &&
      byStatus.get(account.status ?? null)?.[action] === true &&
      (participant.status === undefined ||
        participantSet(participant.status, participant.reason_code)[action] === true)
    ) {
      return ALLOWED
    }
    return explain(request)
  }

  const explain = (request: Request): Decision => {
    const { account, participant, action } = request
    const code = participant.code
    if (!ACTIONS.has(action)) {
      return {
        allowed: false,
        reasons: [
          {
            rule: "UnknownAction",
            message: `unknown action ${JSON.stringify(action)} (expected one of ${Action.literals.join(", ")})`
          }
        ]
      }
    }
    const reasons: Array<Reason> = []

    const row = byType.get(account.type)
    const role =
      account.participant_code === code
        ? "primary"
        : account.tenants.includes(code)
          ? "secondary"
          : account.financial_advisors.includes(code)
            ? "advisor"
            : null
    if (role === null) {
      reasons.push({
        rule: "Membership",
        message: `participant ${code} is not the primary holder, a tenant or a financial advisor of the account`
      })
    } else {
      const override = role === "advisor" ? undefined : overrideOf(account.overrides, code)
      const authorization =
        role === "advisor"
          ? Composition.advisorAuthorization
          : (override ?? (role === "primary" ? row?.primaryDefault : row?.secondaryDefault))
      const source =
        override !== undefined
          ? "overridden for this account"
          : role === "advisor"
            ? "as a financial advisor"
            : role === "primary"
              ? `the primary holder's default on a ${account.type} account`
              : `the tenants' default on a ${account.type} account`
      const set = authorization == null ? undefined : byAuthorization.get(authorization)
      if (row === undefined && override === undefined && role !== "advisor") {
        reasons.push({
          rule: "Authorization",
          message: `account type ${JSON.stringify(account.type)} is unknown, so participant ${code} has no authorization`
        })
      } else if (authorization == null) {
        reasons.push({
          rule: "Authorization",
          message: `participant ${code} is a tenant of a ${account.type} account, which takes no tenants, so has no authorization`
        })
      } else if (set === undefined) {
        reasons.push({
          rule: "Authorization",
          message: `participant ${code} has the unknown authorization ${JSON.stringify(authorization)} (${source}), which allows nothing`
        })
      } else if (set[action] !== true) {
        reasons.push({
          rule: "Authorization",
          message: `participant ${code} has ${authorization} (${source}), which does not allow ${action}; it ${allowedText(set)}`
        })
      }
    }

    const status = account.status ?? null
    const statusSet = byStatus.get(status)
    const statusText =
      status === null ? "the account is still provisioning (no status yet)" : `account status ${status}`
    if (statusSet === undefined) {
      reasons.push({
        rule: "AccountStatus",
        message: `unknown account status ${JSON.stringify(status)}, which allows nothing`
      })
    } else if (statusSet[action] !== true) {
      reasons.push({
        rule: "AccountStatus",
        message: `${statusText} does not allow ${action}; it ${allowedText(statusSet)}`
      })
    }

    if (participant.status !== undefined) {
      const set = participantSet(participant.status, participant.reason_code)
      if (set[action] !== true) {
        const reason =
          participant.reason_code == null ? "no reason code" : `reason code ${participant.reason_code}`
        reasons.push({
          rule: "ParticipantStatus",
          message: `participant ${code} is ${participant.status} with ${reason}, which does not allow ${action}; it ${allowedText(set)}`
        })
      }
    }

    const [first, ...rest] = reasons
    return first === undefined ? ALLOWED : { allowed: false, reasons: [first, ...rest] }
  }

  const accountStatusAllows = (status: AccountStatus | null, action: Action): boolean =>
    byStatus.get(status ?? null)?.[action] === true

  const participantStatusAllows = (
    status: ParticipantStatus,
    reason: ParticipantReasonCode | null | undefined,
    action: Action
  ): boolean => participantSet(status, reason)[action] === true

  return { decide, accountStatusAllows, participantStatusAllows }
}

const defaults = make()

/**
 * May the participant do the action on the account, under the default tables? Returns one shared
 * `{ allowed: true }`, or `{ allowed: false, reasons }` listing every failing rule (membership,
 * authorization, account status, participant status).
 */
export const decide: Rules["decide"] = defaults.decide
/** Whether an account status (`null`: provisioning) allows an action under the default table. */
export const accountStatusAllows: Rules["accountStatusAllows"] = defaults.accountStatusAllows
/** Whether a participant status and reason code allow an action under the default table. */
export const participantStatusAllows: Rules["participantStatusAllows"] = defaults.participantStatusAllows
