/**
 * The ledger resource: ledger (balance) accounts of the customer accounts and of the platform's
 * float, the ledger listing endpoint (`GET /accounts`), and the moves of a liquidation.
 */
import type { Enums } from "@mta/domain"
import { Either } from "effect"
import type { Clock } from "../Clock.js"
import * as Decimal from "./decimal.js"
import { errors, json, type RawResponse } from "./http.js"
import type { Account, LedgerEntry } from "./model.js"
import * as Wire from "./wire.js"

export interface LedgerConfig {
  readonly clock: Clock
  readonly geo: Enums.Geo
  readonly platformCode: string
  readonly pageSize: number
  readonly newId: () => string
}

export class Ledger {
  /** Keyed `customerZrn|asset|account_type`, or `float:owner|asset|account_type` for the float. */
  private readonly entries = new Map<string, LedgerEntry>()

  constructor(private readonly config: LedgerConfig) {}

  /** Every ledger account, zero balances included. */
  all(): ReadonlyArray<LedgerEntry> {
    return [...this.entries.values()]
  }

  clear(): void {
    this.entries.clear()
  }

  /** Sets one balance of a customer account (creating its ledger account on first use). */
  setBalance(
    account: Account,
    asset: string,
    balance: string,
    accountType: Enums.LedgerAccountType
  ): LedgerEntry {
    const key = `${account.zrn}|${asset}|${accountType}`
    const existing = this.entries.get(key)
    const now = this.config.clock.now()
    const id = existing?.account_id ?? this.config.newId()
    const entry: LedgerEntry = {
      zrn: `zrn:zh:${this.config.geo}:accounts:ledger:${id}`,
      account_id: id,
      customerZrn: account.zrn,
      asset,
      account_owner: account.participant_code,
      account_type: accountType,
      account_group: account.account_group,
      account_label: account.account_label,
      balance,
      last_update: now
    }
    this.entries.set(key, entry)
    return entry
  }

  /** Whether any balance of a customer account is non-zero (`close` is refused then). */
  hasBalance(customerZrn: string): boolean {
    for (const entry of this.entries.values()) {
      if (entry.customerZrn === customerZrn && !Decimal.isZero(entry.balance)) return true
    }
    return false
  }

  /** Moves every non-zero balance of a customer account to the platform's float. */
  moveToFloat(customerZrn: string): void {
    const now = this.config.clock.now()
    for (const [key, entry] of this.entries) {
      if (entry.customerZrn !== customerZrn || Decimal.isZero(entry.balance)) continue
      this.entries.set(key, { ...entry, balance: "0", last_update: now })
      this.credit(
        undefined,
        this.config.platformCode,
        "general",
        entry.asset,
        entry.account_type,
        entry.balance
      )
    }
  }

  private credit(
    customerZrn: string | undefined,
    owner: string,
    label: string,
    asset: string,
    accountType: Enums.LedgerAccountType,
    amount: string
  ): void {
    const key = `${customerZrn ?? `float:${owner}`}|${asset}|${accountType}`
    const existing = this.entries.get(key)
    const id = existing?.account_id ?? this.config.newId()
    this.entries.set(key, {
      zrn: `zrn:zh:${this.config.geo}:accounts:ledger:${id}`,
      account_id: id,
      customerZrn,
      asset,
      account_owner: owner,
      account_type: accountType,
      account_group: this.config.platformCode,
      account_label: label,
      balance: existing === undefined ? amount : Decimal.add(existing.balance, amount),
      last_update: this.config.clock.now()
    })
  }

  /** `GET /accounts?<query>`: the non-zero balances that match the filters, one page of them. */
  list(query: string): RawResponse {
    const decoded = Wire.decodeLedgerQuery(new URLSearchParams(query), this.config.geo)
    if (Either.isLeft(decoded)) return errors.badRequest(decoded.left)
    const f = decoded.right
    const matches: Array<LedgerEntry> = []
    for (const entry of this.entries.values()) {
      if (Decimal.isZero(entry.balance)) continue
      if (f.zrn !== undefined && entry.customerZrn !== f.zrn) continue
      if (f.account_group !== undefined && entry.account_group !== f.account_group) continue
      if (f.account_label !== undefined && entry.account_label !== f.account_label) continue
      if (f.account_owner !== undefined && entry.account_owner !== f.account_owner) continue
      if (f.asset !== undefined && entry.asset !== f.asset) continue
      if (f.account_type !== undefined && entry.account_type !== f.account_type) continue
      matches.push(entry)
    }
    const size = this.config.pageSize
    const page = f.page ?? 1
    const totalPages = Math.max(1, Math.ceil(matches.length / size))
    return json(200, Wire.encodeLedgerPage(matches.slice((page - 1) * size, page * size), page, totalPages))
  }
}
