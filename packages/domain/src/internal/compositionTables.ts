/**
 * The composition and authorization tables as data (domain-rules.md §3, a reconstruction of a matrix
 * the vendor published only as an image; a **Decision**): their Schemas, so a platform can decode its
 * own, and the defaults. Re-exported by `Composition`, whose functions read them.
 */
import { Schema } from "effect"
import { AccountType, Authorization, TenantType } from "../Enums.js"

/** One row of the composition table: how an account of one type is composed and authorized. */
export const AccountTypeRule = Schema.Struct({
  /** Tenant type of the primary holder (`participant_code`). */
  primaryTenantType: TenantType,
  /** Tenant type of every secondary holder (`tenants`); `null` when the type takes none. */
  secondaryTenantType: Schema.NullOr(TenantType),
  /** Fewest secondaries an account of this type may have. */
  minSecondaries: Schema.Int.pipe(Schema.nonNegative()),
  /** Most secondaries an account of this type may have; `null` for no upper bound. */
  maxSecondaries: Schema.NullOr(Schema.Int.pipe(Schema.nonNegative())),
  /** Authorization of the primary unless overridden. */
  primaryDefault: Authorization,
  /** Authorization of each secondary unless overridden; `null` when the type takes none. */
  secondaryDefault: Schema.NullOr(Authorization)
}).pipe(
  Schema.filter((row) =>
    row.maxSecondaries !== null && row.maxSecondaries < row.minSecondaries
      ? "maxSecondaries must not be below minSecondaries"
      : (row.maxSecondaries === 0) !== (row.secondaryTenantType === null) ||
          (row.secondaryTenantType === null) !== (row.secondaryDefault === null)
        ? "a type takes no secondaries exactly when secondaryTenantType and secondaryDefault are null"
        : undefined
  ),
  Schema.annotations({ identifier: "AccountTypeRule" })
)
/** One row of the composition table. */
export type AccountTypeRule = typeof AccountTypeRule.Type

/** The composition table: one row per account type. Decode a platform's own with this Schema. */
export const CompositionTable = Schema.Record({ key: AccountType, value: AccountTypeRule }).annotations({
  identifier: "CompositionTable"
})
/** The composition table: one row per account type. */
export type CompositionTable = typeof CompositionTable.Type

/** Default composition and authorization per account type (domain-rules.md §3, a Decision). */
export const compositionTable: CompositionTable = {
  individual: {
    primaryTenantType: "individual",
    secondaryTenantType: null,
    minSecondaries: 0,
    maxSecondaries: 0,
    primaryDefault: "full_trading",
    secondaryDefault: null
  },
  jtic: {
    primaryTenantType: "individual",
    secondaryTenantType: "individual",
    minSecondaries: 1,
    maxSecondaries: null,
    primaryDefault: "full_trading",
    secondaryDefault: "full_trading"
  },
  jtwros: {
    primaryTenantType: "individual",
    secondaryTenantType: "individual",
    minSecondaries: 1,
    maxSecondaries: null,
    primaryDefault: "full_trading",
    secondaryDefault: "full_trading"
  },
  community_property: {
    primaryTenantType: "individual",
    secondaryTenantType: "individual",
    minSecondaries: 1,
    maxSecondaries: 1,
    primaryDefault: "full_trading",
    secondaryDefault: "full_trading"
  },
  utma: {
    primaryTenantType: "utma_beneficiary",
    secondaryTenantType: "utma_custodian",
    minSecondaries: 1,
    maxSecondaries: 1,
    primaryDefault: "view_only",
    secondaryDefault: "full_trading"
  },
  trust: {
    primaryTenantType: "trust_beneficiary",
    secondaryTenantType: "trustee",
    minSecondaries: 1,
    maxSecondaries: null,
    primaryDefault: "view_only",
    secondaryDefault: "full_trading"
  },
  business: {
    primaryTenantType: "business",
    secondaryTenantType: "individual",
    minSecondaries: 1,
    maxSecondaries: null,
    primaryDefault: "full_trading",
    secondaryDefault: "full_trading"
  }
}

/** Which actions one authorization (or one status) allows: one flag per action. */
export const ActionSet = Schema.Struct({
  view: Schema.Boolean,
  buy: Schema.Boolean,
  sell: Schema.Boolean,
  deposit: Schema.Boolean,
  withdraw: Schema.Boolean
}).annotations({ identifier: "ActionSet" })
/** Which actions one authorization (or one status) allows. */
export type ActionSet = typeof ActionSet.Type

/** The authorization table: the actions each authorization allows. */
export const AuthorizationTable = Schema.Record({ key: Authorization, value: ActionSet }).annotations({
  identifier: "AuthorizationTable"
})
/** The authorization table: the actions each authorization allows. */
export type AuthorizationTable = typeof AuthorizationTable.Type

/** Default actions per authorization (domain-rules.md §3). */
export const authorizationTable: AuthorizationTable = {
  full_trading: { view: true, buy: true, sell: true, deposit: true, withdraw: true },
  limited_trading: { view: true, buy: true, sell: true, deposit: false, withdraw: false },
  view_only: { view: true, buy: false, sell: false, deposit: false, withdraw: false }
}

/** The authorization of every financial advisor, on every account type; no override changes it. */
export const advisorAuthorization: Authorization = "limited_trading"
