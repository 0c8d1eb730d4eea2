/**
 * The records the simulator keeps: participants, customer accounts and ledger accounts. Data only;
 * the resource modules (`accounts.ts`, `ledger.ts`) own the state and the rules, `wire.ts` their
 * encoding.
 */
import type { Enums } from "@mta/domain"

/** A participant as the simulator knows it. */
export interface Participant {
  readonly participant_code: string
  readonly status: Enums.ParticipantStatus
  readonly reason_code?: Enums.ParticipantReasonCode | undefined
  /** Set for participants submitted through 16 and 17 (seeded ones have none). */
  readonly email?: string | undefined
  readonly participant_name?: string | undefined
  readonly jurisdiction_code?: string | undefined
  /** Submitted through 17. */
  readonly minor?: boolean | undefined
  /** When the status last changed, ms. */
  readonly updated_at?: number | undefined
  /** Rejections so far (reset to 0 on approval). */
  readonly kyc_attempts?: number | undefined
  readonly reject_reasons?: ReadonlyArray<string> | undefined
  /** Who locked it last. */
  readonly locked_by?: "platform" | "zerohash" | undefined
  /** The last submission: what "the same payload" and an `X-Request-Id` replay compare with. */
  readonly submission?:
    | {
        readonly fingerprint: string
        readonly requestId: string | undefined
        readonly response: {
          readonly status: number
          readonly headers: Readonly<Record<string, string>>
          readonly body: string
        }
      }
    | undefined
}

/** Who changed the status last, and why (the status reason endpoint). */
export interface StatusReasonFields {
  readonly author_type?: Enums.AuthorType
  readonly reason?: Enums.StatusReason
  readonly compliance_reasons?: ReadonlyArray<Enums.ComplianceReason>
  readonly notes?: string
  readonly case_number?: string
}

/** A customer account as the simulator holds it. */
export interface Account {
  readonly zrn: string
  readonly participant_code: string
  readonly platform_code: string
  readonly prefunded: boolean
  readonly account_label: string
  readonly account_group: string
  readonly type: Enums.AccountType
  readonly tier: Enums.Tier
  /** Absent while provisioning. */
  readonly status?: Enums.AccountStatus | undefined
  readonly tenants: ReadonlyArray<string>
  readonly financial_advisors: ReadonlyArray<string>
  readonly statusReason: StatusReasonFields
}

/** One customer account: what reads see, and what commands are checked against. */
export interface AccountSlot {
  /** What reads return: the state after the background work that has run. */
  committed: Account
  /** The state after every accepted change; commands are checked against it. */
  projected: Account
}

/** One ledger (balance) account. */
export interface LedgerEntry {
  readonly zrn: string
  readonly account_id: string
  /** The customer account it belongs to; absent for the platform's float. */
  readonly customerZrn?: string | undefined
  readonly asset: string
  readonly account_owner: string
  readonly account_type: Enums.LedgerAccountType
  readonly account_group: string
  readonly account_label: string
  readonly balance: string
  readonly last_update: number
}

/** The background steps whose delay can be set. */
export type AsyncStep = "provisioning" | "statusChange" | "members" | "update" | "liquidation" | "kyc"
