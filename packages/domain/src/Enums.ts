/**
 * Every enumeration of the Customer Accounts domain, each declared once as a `Schema` whose
 * literals are the wire values. The TypeScript type of each is derived from its Schema.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"

/** Geographic entity a ZRN belongs to. */
export const Geo = Schema.Literal("us", "eu", "uk", "ww", "bz", "au").annotations({
  identifier: "Geo",
  description: "zerohash geographic entity"
})
/** Geographic entity a ZRN belongs to. */
export type Geo = typeof Geo.Type

/** What a ZRN identifies: a customer account or a ledger (balance) account. */
export const Subdomain = Schema.Literal("customer", "ledger").annotations({ identifier: "Subdomain" })
/** What a ZRN identifies: a customer account or a ledger (balance) account. */
export type Subdomain = typeof Subdomain.Type

/**
 * Customer account type. `community_property` comes from the account-types guide and is absent
 * from the vendor's OpenAPI 1.7.0; it is kept so platforms that are offered it can model it.
 */
export const AccountType = Schema.Literal(
  "individual",
  "business",
  "jtic",
  "jtwros",
  "trust",
  "utma",
  "community_property"
).annotations({ identifier: "AccountType", description: "customer account type" })
/** Customer account type. */
export type AccountType = typeof AccountType.Type

/** Commission tier of a customer account. */
export const Tier = Schema.Literal("lite", "pro", "bronze", "silver", "gold").annotations({
  identifier: "Tier",
  description: "account tier"
})
/** Commission tier of a customer account. */
export type Tier = typeof Tier.Type

/** Status of a provisioned customer account (a provisioning account has none). */
export const AccountStatus = Schema.Literal(
  "open",
  "locked",
  "withdraw_locked",
  "divesting",
  "closed"
).annotations({
  identifier: "AccountStatus",
  description: "customer account status"
})
/** Status of a provisioned customer account (a provisioning account has none). */
export type AccountStatus = typeof AccountStatus.Type

/**
 * Platform-side role of a holder. No wire field carries it; `business` is our Decision for the
 * primary of a `business` account.
 */
export const TenantType = Schema.Literal(
  "individual",
  "utma_beneficiary",
  "utma_custodian",
  "trustee",
  "trust_beneficiary",
  "business"
).annotations({ identifier: "TenantType" })
/** Platform-side role of a holder. */
export type TenantType = typeof TenantType.Type

/** `primary` is the account's `participant_code`; `secondary` is each entry of `tenants`. */
export const Designation = Schema.Literal("primary", "secondary").annotations({ identifier: "Designation" })
/** `primary` is the account's `participant_code`; `secondary` is each entry of `tenants`. */
export type Designation = typeof Designation.Type

/** Level of access a holder or advisor has on an account. */
export const Authorization = Schema.Literal("full_trading", "limited_trading", "view_only").annotations({
  identifier: "Authorization"
})
/** Level of access a holder or advisor has on an account. */
export type Authorization = typeof Authorization.Type

/** Actions an authorization governs. `view` covers statements and receipts. */
export const Action = Schema.Literal("view", "buy", "sell", "deposit", "withdraw").annotations({
  identifier: "Action"
})
/** Actions an authorization governs. */
export type Action = typeof Action.Type

/** Onboarding and compliance status of a participant. */
export const ParticipantStatus = Schema.Literal(
  "submitted",
  "pending_approval",
  "approved",
  "rejected",
  "locked",
  "pending_unlock",
  "pending_disable",
  "disabled",
  "divested",
  "closed"
).annotations({ identifier: "ParticipantStatus" })
/** Onboarding and compliance status of a participant. */
export type ParticipantStatus = typeof ParticipantStatus.Type

/** Why a participant is in its status. */
export const ParticipantReasonCode = Schema.Literal(
  "compliance_issue",
  "user_request",
  "risk_cleared"
).annotations({
  identifier: "ParticipantReasonCode"
})
/** Why a participant is in its status. */
export type ParticipantReasonCode = typeof ParticipantReasonCode.Type

/** Who performed the last status change (status reason endpoint). */
export const AuthorType = Schema.Literal("customer", "system", "admin", "platform").annotations({
  identifier: "AuthorType"
})
/** Who performed the last status change. */
export type AuthorType = typeof AuthorType.Type

/** Reason code for an account status change (status reason endpoint). */
export const StatusReason = Schema.Literal(
  "unknown",
  "user_request",
  "compliance_issue",
  "ach",
  "deprecated_policy",
  "minor_attained_age_of_majority",
  "policy_rule_matched"
).annotations({ identifier: "StatusReason" })
/** Reason code for an account status change. */
export type StatusReason = typeof StatusReason.Type

/** The 48 compliance reason codes of the vendor's OpenAPI 1.7.0. */
export const ComplianceReason = Schema.Literal(
  "restricted_jurisdiction",
  "abandoned_escheat",
  "child_abuse_material",
  "darknet_market",
  "gambling",
  "illicit",
  "merchant",
  "mixer",
  "nft_marketplace",
  "scam",
  "terrorist_organization",
  "thief",
  "shielded",
  "victim_of_fraud_or_illicit_activity",
  "fraud",
  "cash_spike_incoming",
  "cash_spike_outgoing",
  "structured_transactions",
  "cannabis_name_match",
  "potential_elder_financial_exploitation",
  "other_aml_cft_illicit_activity",
  "sanctions_possible_match",
  "sanctions_confirmed_match",
  "politically_exposed_person_foreign",
  "politically_exposed_person_domestic",
  "other_cdd_issue",
  "other_financial_crimes",
  "referral_from_platform",
  "impossible_travel_rule",
  "multiple_incorrect_dob_rule",
  "blocklisted_pii",
  "referral_from_platform_imposter_scam",
  "referral_from_le",
  "other",
  "fincen_primary_ml_concern",
  "sanctions_direct",
  "sanctions_indirect",
  "other_high_risk_entity_exposure",
  "market_abuse_manipulation",
  "ach_return_unauthorized_transaction",
  "ach_return_insufficient_funds",
  "ach_return_other",
  "gsc_pep",
  "gsc_adverse_media",
  "deceased",
  "discontinued_customer",
  "edd_required",
  "kyc_refresh"
).annotations({ identifier: "ComplianceReason" })
/** A compliance reason code. */
export type ComplianceReason = typeof ComplianceReason.Type

/** Balance bucket of a ledger account. */
export const LedgerAccountType = Schema.Literal(
  "available",
  "collateral",
  "payable",
  "receivable",
  "collateral_deficiency",
  "staked"
).annotations({ identifier: "LedgerAccountType" })
/** Balance bucket of a ledger account. */
export type LedgerAccountType = typeof LedgerAccountType.Type

/** Commands a platform sends to change an account's status. */
export const Command = Schema.Literal(
  "lock",
  "unlock",
  "withdraw_lock",
  "withdraw_unlock",
  "divest",
  "close"
).annotations({ identifier: "Command" })
/** Commands a platform sends to change an account's status. */
export type Command = typeof Command.Type

/** Events the system itself raises: provisioning completes, a divestment has moved every balance out. */
export const SystemEvent = Schema.Literal("provisioned", "liquidated").annotations({
  identifier: "SystemEvent"
})
/** Events the system itself raises. */
export type SystemEvent = typeof SystemEvent.Type
