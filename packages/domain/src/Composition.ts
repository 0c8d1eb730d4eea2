/**
 * Account composition: who holds an account of each type (one primary, a number of secondaries, any
 * number of financial advisors), the authorization each member gets, and the checks for adding and
 * removing tenants and advisors.
 *
 * The composition table and the authorization table are data (domain-rules.md §3, a reconstruction
 * of a matrix the vendor published only as an image). `make` builds every function of this module
 * over a platform's own tables, so a platform can override them without code changes.
 *
 * @since 0.1.0
 */
import { Either, Option, Schema } from "effect"
import { AccountType, type Action, Authorization, TenantType } from "./Enums.js"
import {
  type AccountTypeRule,
  type AuthorizationTable,
  advisorAuthorization,
  authorizationTable,
  type CompositionTable,
  compositionTable
} from "./internal/compositionTables.js"

// The tables (data, a Decision) live in their own module; they are part of this namespace.
export {
  AccountTypeRule,
  ActionSet,
  AuthorizationTable,
  advisorAuthorization,
  authorizationTable,
  CompositionTable,
  compositionTable
} from "./internal/compositionTables.js"

// ---------------------------------------------------------------------------------------------
// Values
// ---------------------------------------------------------------------------------------------

/** Per-participant authorizations that replace a holder's default, keyed by participant code. */
export const Overrides = Schema.Record({ key: Schema.String, value: Authorization }).annotations({
  identifier: "Overrides"
})
/** Per-participant authorizations that replace a holder's default. */
export type Overrides = typeof Overrides.Type

/** Who is on an account, as the account record says it; the input of every function here. */
export const Membership = Schema.Struct({
  type: AccountType,
  /** The primary holder. */
  participant_code: Schema.String,
  /** The secondary holders. */
  tenants: Schema.Array(Schema.String),
  financial_advisors: Schema.Array(Schema.String),
  overrides: Schema.optional(Overrides)
}).annotations({ identifier: "Membership" })
/** Who is on an account, as the account record says it. */
export type Membership = typeof Membership.Type

/** A member's place on an account: a holder (primary or secondary) or a financial advisor. */
export const MemberDesignation = Schema.Literal("primary", "secondary", "advisor").annotations({
  identifier: "MemberDesignation"
})
/** A member's place on an account. */
export type MemberDesignation = typeof MemberDesignation.Type

/** One member of a valid composition, with the authorization in effect. */
export const Member = Schema.Struct({
  code: Schema.String,
  designation: MemberDesignation,
  /** The holder's tenant type; `null` for an advisor, who is not a tenant. */
  tenantType: Schema.NullOr(TenantType),
  authorization: Authorization,
  /** Whether `authorization` comes from an override rather than the type's default. */
  overridden: Schema.Boolean
}).annotations({ identifier: "Member" })
/** One member of a valid composition. */
export type Member = typeof Member.Type

/**
 * A validated composition: the membership it came from (with `overrides` always present) and every
 * member in order primary, tenants, advisors. It is itself a `Membership`.
 */
export const Composition = Schema.Struct({
  ...Membership.fields,
  overrides: Overrides,
  members: Schema.Array(Member)
}).annotations({ identifier: "Composition" })
/** A validated composition. */
export type Composition = typeof Composition.Type

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

/** Which composition rule a problem breaks. */
export const ProblemRule = Schema.Literal(
  "UnknownType",
  "TooFewTenants",
  "TooManyTenants",
  "PrimaryIsTenant",
  "PrimaryIsAdvisor",
  "DuplicateTenant",
  "DuplicateAdvisor",
  "TenantIsAdvisor",
  "UnknownAuthorization",
  "OverrideOnAdvisor",
  "OverrideOnNonMember"
).annotations({ identifier: "ProblemRule" })
/** Which composition rule a problem breaks. */
export type ProblemRule = typeof ProblemRule.Type

/** One broken rule: `rule` for code, `message` for people (what is wrong and what was expected). */
export const Problem = Schema.Struct({ rule: ProblemRule, message: Schema.String }).annotations({
  identifier: "Problem"
})
/** One broken rule. */
export type Problem = typeof Problem.Type

/**
 * An invalid composition. `problems` lists every broken rule at once; `reason` is the first one's
 * rule (for code that maps an error to one status); `message` summarises them all.
 */
export class CompositionError extends Schema.TaggedError<CompositionError>()("CompositionError", {
  reason: ProblemRule,
  problems: Schema.NonEmptyArray(Problem),
  message: Schema.String
}) {}

/** Why a tenant or advisor change is refused. */
export const MemberChangeReason = Schema.Literal(
  "UnknownType",
  "IsPrimary",
  "AlreadyTenant",
  "AlreadyAdvisor",
  "TooManyTenants",
  "TooFewTenants",
  "NotATenant",
  "NotAnAdvisor",
  "NotAHolder",
  "AdvisorFixed"
).annotations({ identifier: "MemberChangeReason" })
/** Why a tenant or advisor change is refused. */
export type MemberChangeReason = typeof MemberChangeReason.Type

/**
 * A refused tenant, advisor or authorization change. Where upstream-api.md fixes the vendor's
 * message (`participant already exists as tenant`, `duplicated financial advisors are not allowed`),
 * `message` is exactly that text.
 */
export class MemberChangeError extends Schema.TaggedError<MemberChangeError>()("MemberChangeError", {
  reason: MemberChangeReason,
  participant_code: Schema.String,
  message: Schema.String
}) {}

// ---------------------------------------------------------------------------------------------
// Functions
// ---------------------------------------------------------------------------------------------

/** The functions of this module, built over one pair of tables. */
export interface Rules {
  readonly compositionTable: CompositionTable
  readonly authorizationTable: AuthorizationTable
  /** Checks a membership against the table; lists every problem at once. */
  readonly validate: (input: Membership) => Either.Either<Composition, CompositionError>
  /** Adds a secondary holder; refuses the primary, a member, or one more than the type's maximum. */
  readonly addTenant: (input: Membership, code: string) => Either.Either<Membership, MemberChangeError>
  /** Removes a secondary holder (and its override); refuses going below the type's minimum. */
  readonly removeTenant: (input: Membership, code: string) => Either.Either<Membership, MemberChangeError>
  /** Adds a financial advisor; refuses the primary, a tenant or a duplicate. */
  readonly addAdvisor: (input: Membership, code: string) => Either.Either<Membership, MemberChangeError>
  /** Removes a financial advisor. */
  readonly removeAdvisor: (input: Membership, code: string) => Either.Either<Membership, MemberChangeError>
  /** Sets (or with `null` clears) a holder's override; advisors and non-members are refused. */
  readonly setAuthorization: (
    input: Membership,
    code: string,
    authorization: Authorization | null
  ) => Either.Either<Membership, MemberChangeError>
  /**
   * The authorization in effect for a participant, `None` for a non-member. On an invalid membership
   * that lists a code twice, the first role in the order primary, tenant, advisor wins.
   */
  readonly authorizationOf: (input: Membership, code: string) => Option.Option<Authorization>
  /** Whether an authorization allows an action. */
  readonly allows: (authorization: Authorization, action: Action) => boolean
}

/** Options of `make`: the tables to use instead of the defaults. */
export interface MakeOptions {
  readonly compositionTable?: CompositionTable | undefined
  readonly authorizationTable?: AuthorizationTable | undefined
}

const AUTHORIZATIONS: ReadonlySet<string> = new Set(Authorization.literals)
const TYPES_LIST = AccountType.literals.join(", ")

// "a utma account": the acronym is read letter by letter, so only a leading a, e, i, o takes "an".
const article = (word: string): string => (/^[aeio]/.test(word) ? "an" : "a")
const list = (codes: ReadonlyArray<string>): string => codes.join(", ")
const plural = (n: number, one: string, many: string): string => `${n} ${n === 1 ? one : many}`

const own = (overrides: Overrides | undefined, code: string): Authorization | undefined =>
  overrides !== undefined && Object.hasOwn(overrides, code) ? overrides[code] : undefined

/** Codes occurring more than once, each reported once, in order of first repetition. */
const duplicates = (codes: ReadonlyArray<string>): ReadonlyArray<string> => {
  const seen = new Set<string>()
  const twice = new Set<string>()
  for (const code of codes) {
    if (seen.has(code)) twice.add(code)
    else seen.add(code)
  }
  return [...twice]
}

const countOf = (codes: ReadonlyArray<string>, code: string): number => {
  let n = 0
  for (const c of codes) if (c === code) n++
  return n
}

const expectedSecondaries = (type: string, row: AccountTypeRule): string => {
  const who = row.secondaryTenantType === null ? "" : ` (${row.secondaryTenantType})`
  if (row.maxSecondaries === 0) return `${article(type)} ${type} account takes no tenants`
  if (row.maxSecondaries === row.minSecondaries) {
    return `${article(type)} ${type} account takes exactly ${plural(row.minSecondaries, "tenant", "tenants")}${who}`
  }
  if (row.maxSecondaries === null) {
    return `${article(type)} ${type} account needs at least ${plural(row.minSecondaries, "tenant", "tenants")}${who}`
  }
  return `${article(type)} ${type} account takes ${row.minSecondaries} to ${row.maxSecondaries} tenants${who}`
}

const summarise = (type: string, problems: ReadonlyArray<Problem>): string =>
  `invalid ${type} account composition (${plural(problems.length, "problem", "problems")}): ${problems
    .map((p) => p.message)
    .join("; ")}`

const refuse = (
  reason: MemberChangeReason,
  code: string,
  message: string
): Either.Either<never, MemberChangeError> =>
  Either.left(new MemberChangeError({ reason, participant_code: code, message }))

/** Builds every function of this module over the given tables (the defaults where omitted). */
export const make = (options?: MakeOptions): Rules => {
  const table = options?.compositionTable ?? compositionTable
  const authorizations = options?.authorizationTable ?? authorizationTable
  const rowOf = (type: string): AccountTypeRule | undefined =>
    Object.hasOwn(table, type) ? table[type as AccountType] : undefined
  const unknownType = (type: string): string =>
    `unknown account type ${JSON.stringify(type)} (expected one of ${TYPES_LIST})`

  const validate = (input: Membership): Either.Either<Composition, CompositionError> => {
    const { type, participant_code: primary, tenants, financial_advisors: advisors } = input
    const overrides = input.overrides ?? {}
    const problems: Array<Problem> = []
    const row = rowOf(type)
    if (row === undefined) problems.push({ rule: "UnknownType", message: unknownType(type) })

    // Counted over distinct secondaries other than the primary, so each mistake is reported once
    // (a duplicate or the primary listed as a tenant does not also count as a wrong number).
    const secondaries = [...new Set(tenants)].filter((code) => code !== primary)
    if (row !== undefined) {
      const n = secondaries.length
      const got = n === 0 ? "got none" : `got ${n} (${list(secondaries)})`
      if (n < row.minSecondaries) {
        problems.push({ rule: "TooFewTenants", message: `${expectedSecondaries(type, row)}, ${got}` })
      } else if (row.maxSecondaries !== null && n > row.maxSecondaries) {
        problems.push({ rule: "TooManyTenants", message: `${expectedSecondaries(type, row)}, ${got}` })
      }
    }
    if (tenants.includes(primary)) {
      problems.push({
        rule: "PrimaryIsTenant",
        message: `${primary} is the primary holder (participant_code) and cannot also be a tenant`
      })
    }
    if (advisors.includes(primary)) {
      problems.push({
        rule: "PrimaryIsAdvisor",
        message: `${primary} is the primary holder (participant_code) and cannot also be a financial advisor`
      })
    }
    for (const code of duplicates(tenants)) {
      problems.push({
        rule: "DuplicateTenant",
        message: `tenant ${code} is listed ${countOf(tenants, code)} times; each tenant must be listed once`
      })
    }
    for (const code of duplicates(advisors)) {
      problems.push({
        rule: "DuplicateAdvisor",
        message: `financial advisor ${code} is listed ${countOf(advisors, code)} times; duplicated financial advisors are not allowed`
      })
    }
    for (const code of new Set(tenants)) {
      if (code !== primary && advisors.includes(code)) {
        problems.push({
          rule: "TenantIsAdvisor",
          message: `${code} is both a tenant and a financial advisor; a participant is one or the other, not both`
        })
      }
    }
    for (const code of Object.keys(overrides)) {
      const value = overrides[code] as string
      if (!AUTHORIZATIONS.has(value)) {
        problems.push({
          rule: "UnknownAuthorization",
          message: `override for ${code} is ${JSON.stringify(value)}; expected one of ${Authorization.literals.join(", ")}`
        })
      }
      if (code !== primary && !tenants.includes(code)) {
        problems.push(
          advisors.includes(code)
            ? {
                rule: "OverrideOnAdvisor",
                message: `${code} is a financial advisor, whose authorization is always ${advisorAuthorization} and cannot be overridden`
              }
            : {
                rule: "OverrideOnNonMember",
                message: `override names ${code}, who is not a holder (the primary or a tenant) of the account`
              }
        )
      }
    }

    const [first, ...rest] = problems
    if (first !== undefined) {
      return Either.left(
        new CompositionError({
          reason: first.rule,
          problems: [first, ...rest],
          message: summarise(type, problems)
        })
      )
    }
    const holder = (code: string, designation: "primary" | "secondary"): Member => {
      const r = row!
      const override = own(overrides, code)
      return {
        code,
        designation,
        tenantType: designation === "primary" ? r.primaryTenantType : r.secondaryTenantType,
        authorization: override ?? (designation === "primary" ? r.primaryDefault : r.secondaryDefault!),
        overridden: override !== undefined
      }
    }
    const members: Array<Member> = [holder(primary, "primary")]
    for (const code of tenants) members.push(holder(code, "secondary"))
    for (const code of advisors) {
      members.push({
        code,
        designation: "advisor",
        tenantType: null,
        authorization: advisorAuthorization,
        overridden: false
      })
    }
    return Either.right({ ...input, overrides, members })
  }

  const addTenant = (input: Membership, code: string): Either.Either<Membership, MemberChangeError> => {
    const row = rowOf(input.type)
    if (row === undefined) return refuse("UnknownType", code, unknownType(input.type))
    if (input.participant_code === code) {
      return refuse("IsPrimary", code, "participant is the primary holder of the account")
    }
    if (input.tenants.includes(code)) {
      return refuse("AlreadyTenant", code, "participant already exists as tenant")
    }
    if (input.financial_advisors.includes(code)) {
      return refuse("AlreadyAdvisor", code, "participant already exists as financial advisor")
    }
    if (row.maxSecondaries !== null && input.tenants.length >= row.maxSecondaries) {
      return refuse(
        "TooManyTenants",
        code,
        `${expectedSecondaries(input.type, row)}; it already has ${plural(input.tenants.length, "tenant", "tenants")}`
      )
    }
    return Either.right({ ...input, tenants: [...input.tenants, code] })
  }

  const removeTenant = (input: Membership, code: string): Either.Either<Membership, MemberChangeError> => {
    const row = rowOf(input.type)
    if (row === undefined) return refuse("UnknownType", code, unknownType(input.type))
    if (!input.tenants.includes(code)) {
      return refuse("NotATenant", code, "participant is not a tenant of the account")
    }
    const tenants = input.tenants.filter((c) => c !== code)
    if (tenants.length < row.minSecondaries) {
      return refuse(
        "TooFewTenants",
        code,
        `${expectedSecondaries(input.type, row)}; removing ${code} would leave ${plural(tenants.length, "tenant", "tenants")}`
      )
    }
    const next: Membership = { ...input, tenants }
    return Either.right(own(input.overrides, code) === undefined ? next : withoutOverride(next, code))
  }

  const addAdvisor = (input: Membership, code: string): Either.Either<Membership, MemberChangeError> => {
    if (input.participant_code === code) {
      return refuse("IsPrimary", code, "participant is the primary holder of the account")
    }
    if (input.tenants.includes(code)) {
      return refuse("AlreadyTenant", code, "participant already exists as tenant")
    }
    if (input.financial_advisors.includes(code)) {
      return refuse("AlreadyAdvisor", code, "duplicated financial advisors are not allowed")
    }
    return Either.right({ ...input, financial_advisors: [...input.financial_advisors, code] })
  }

  const removeAdvisor = (input: Membership, code: string): Either.Either<Membership, MemberChangeError> =>
    input.financial_advisors.includes(code)
      ? Either.right({ ...input, financial_advisors: input.financial_advisors.filter((c) => c !== code) })
      : refuse("NotAnAdvisor", code, "participant is not a financial advisor of the account")

  const setAuthorization = (
    input: Membership,
    code: string,
    authorization: Authorization | null
  ): Either.Either<Membership, MemberChangeError> => {
    if (input.participant_code !== code && !input.tenants.includes(code)) {
      return input.financial_advisors.includes(code)
        ? refuse(
            "AdvisorFixed",
            code,
            `a financial advisor always has ${advisorAuthorization}, which cannot be changed`
          )
        : refuse("NotAHolder", code, "participant is not a holder (the primary or a tenant) of the account")
    }
    if (authorization === null) return Either.right(withoutOverride(input, code))
    return Either.right({ ...input, overrides: { ...input.overrides, [code]: authorization } })
  }

  const authorizationOf = (input: Membership, code: string): Option.Option<Authorization> => {
    const row = rowOf(input.type)
    if (input.participant_code === code) {
      return Option.fromNullable(own(input.overrides, code) ?? row?.primaryDefault)
    }
    if (input.tenants.includes(code)) {
      return Option.fromNullable(own(input.overrides, code) ?? row?.secondaryDefault)
    }
    return input.financial_advisors.includes(code) ? Option.some(advisorAuthorization) : Option.none()
  }

  const allows = (authorization: Authorization, action: Action): boolean =>
    Object.hasOwn(authorizations, authorization) && authorizations[authorization][action] === true

  return {
    compositionTable: table,
    authorizationTable: authorizations,
    validate,
    addTenant,
    removeTenant,
    addAdvisor,
    removeAdvisor,
    setAuthorization,
    authorizationOf,
    allows
  }
}

const withoutOverride = (input: Membership, code: string): Membership => {
  if (input.overrides === undefined || !Object.hasOwn(input.overrides, code)) return input
  const overrides: Record<string, Authorization> = { ...input.overrides }
  delete overrides[code]
  return { ...input, overrides }
}

const defaults = make()

/** Checks a membership against the default table; the error lists every problem at once. */
export const validate: Rules["validate"] = defaults.validate
/** Adds a secondary holder; refuses the primary, a member, or one more than the type's maximum. */
export const addTenant: Rules["addTenant"] = defaults.addTenant
/** Removes a secondary holder (and its override); refuses going below the type's minimum. */
export const removeTenant: Rules["removeTenant"] = defaults.removeTenant
/** Adds a financial advisor; refuses the primary, a tenant or a duplicate. */
export const addAdvisor: Rules["addAdvisor"] = defaults.addAdvisor
/** Removes a financial advisor. */
export const removeAdvisor: Rules["removeAdvisor"] = defaults.removeAdvisor
/** Sets (or with `null` clears) a holder's override; advisors and non-members are refused. */
export const setAuthorization: Rules["setAuthorization"] = defaults.setAuthorization
/** The authorization in effect for a participant under the default table; `None` for a non-member. */
export const authorizationOf: Rules["authorizationOf"] = defaults.authorizationOf
/** Whether an authorization allows an action under the default authorization table. */
export const allows: Rules["allows"] = defaults.allows
