/**
 * Account status lifecycle: what each command (lock, unlock, ..., close) and each system event
 * (provisioned, liquidated) does from each status, as one table (domain-rules.md §7, a
 * reconstruction of a diagram the vendor published only as an image).
 *
 * `transition` is total: any status and any command string give either the new status or a
 * `TransitionRejected` value; it never throws. It is a table lookup (the table is compiled once
 * into maps of ready-made results), because the simulator and the proxy call it per request.
 * `make` builds it over a platform's own table.
 *
 * @since 0.1.0
 */
import { Either, Schema } from "effect"
import { AccountStatus, Command, SystemEvent } from "./Enums.js"

/** A row key of the tables keyed by status: `provisioning` stands for the `null` status. */
export const StatusKey = Schema.Literal("provisioning", ...AccountStatus.literals).annotations({
  identifier: "StatusKey"
})
/** A row key of the tables keyed by status. */
export type StatusKey = typeof StatusKey.Type

/** The row key of a status: `null` (and `undefined`), an account still provisioning, is `provisioning`. */
export const statusKey = (status: AccountStatus | null | undefined): StatusKey => status ?? "provisioning"

/** What a transition is asked for: a platform's command or a system event. */
export const Event = Schema.Literal(...Command.literals, ...SystemEvent.literals).annotations({
  identifier: "Event"
})
/** What a transition is asked for: a platform's command or a system event. */
export type Event = typeof Event.Type

/** Why a transition is rejected. */
export const RejectionReason = Schema.Literal(
  "Provisioning",
  "AlreadyLocked",
  "WrongUnlock",
  "Divesting",
  "Closed",
  "AlreadyProvisioned",
  "NotDivesting",
  "HasBalance",
  "UnknownCommand",
  "UnknownStatus"
).annotations({ identifier: "RejectionReason" })
/** Why a transition is rejected. */
export type RejectionReason = typeof RejectionReason.Type

/**
 * One cell of the transition table: `"same"` (accepted, nothing changes, no event), `{ to }` (moves
 * to a status; with `requiresZeroBalance` it is refused while the account holds a balance), or
 * `{ reject }` (refused; `use` names the command to send instead, where there is one).
 */
export const Entry = Schema.Union(
  Schema.Literal("same"),
  Schema.Struct({ to: AccountStatus, requiresZeroBalance: Schema.optional(Schema.Boolean) }),
  Schema.Struct({ reject: RejectionReason, use: Schema.optional(Command) })
).annotations({ identifier: "Entry" })
/** One cell of the transition table. */
export type Entry = typeof Entry.Type

/** The transition table: from each status (row) under each command or event (column). */
export const TransitionTable = Schema.Record({
  key: StatusKey,
  value: Schema.Record({ key: Event, value: Entry })
}).annotations({ identifier: "TransitionTable" })
/** The transition table. */
export type TransitionTable = typeof TransitionTable.Type

/** The default transitions (domain-rules.md §7, a Decision), with the system events as two more columns. */
export const transitionTable: TransitionTable = {
  provisioning: {
    lock: { reject: "Provisioning" },
    unlock: { reject: "Provisioning" },
    withdraw_lock: { reject: "Provisioning" },
    withdraw_unlock: { reject: "Provisioning" },
    divest: { reject: "Provisioning" },
    close: { reject: "Provisioning" },
    provisioned: { to: "open" },
    liquidated: { reject: "NotDivesting" }
  },
  open: {
    lock: { to: "locked" },
    unlock: "same",
    withdraw_lock: { to: "withdraw_locked" },
    withdraw_unlock: "same",
    divest: { to: "divesting" },
    close: { to: "closed", requiresZeroBalance: true },
    provisioned: { reject: "AlreadyProvisioned" },
    liquidated: { reject: "NotDivesting" }
  },
  locked: {
    lock: "same",
    unlock: { to: "open" },
    withdraw_lock: { reject: "AlreadyLocked" },
    withdraw_unlock: { reject: "WrongUnlock", use: "unlock" },
    divest: { to: "divesting" },
    close: { to: "closed", requiresZeroBalance: true },
    provisioned: { reject: "AlreadyProvisioned" },
    liquidated: { reject: "NotDivesting" }
  },
  withdraw_locked: {
    lock: { to: "locked" },
    unlock: { reject: "WrongUnlock", use: "withdraw_unlock" },
    withdraw_lock: "same",
    withdraw_unlock: { to: "open" },
    divest: { to: "divesting" },
    close: { to: "closed", requiresZeroBalance: true },
    provisioned: { reject: "AlreadyProvisioned" },
    liquidated: { reject: "NotDivesting" }
  },
  divesting: {
    lock: { reject: "Divesting" },
    unlock: { reject: "Divesting" },
    withdraw_lock: { reject: "Divesting" },
    withdraw_unlock: { reject: "Divesting" },
    divest: "same",
    close: { to: "closed", requiresZeroBalance: true },
    provisioned: { reject: "AlreadyProvisioned" },
    liquidated: { to: "closed" }
  },
  closed: {
    lock: { reject: "Closed" },
    unlock: { reject: "Closed" },
    withdraw_lock: { reject: "Closed" },
    withdraw_unlock: { reject: "Closed" },
    divest: { reject: "Closed" },
    close: "same",
    provisioned: { reject: "AlreadyProvisioned" },
    liquidated: { reject: "NotDivesting" }
  }
}

/** An accepted transition: the status after it, and whether it differs from the one before. */
export const Transition = Schema.Struct({ status: AccountStatus, changed: Schema.Boolean }).annotations({
  identifier: "Transition"
})
/** An accepted transition. Every `changed: true` is one `customer_account_status_changed` event. */
export type Transition = typeof Transition.Type

/**
 * A refused transition. `from` is the status as given (`null` while provisioning), `command` the
 * command or event as given; `use` names the command to send instead where there is one, and
 * `message` says why (and what to do).
 */
export class TransitionRejected extends Schema.TaggedError<TransitionRejected>()("TransitionRejected", {
  reason: RejectionReason,
  from: Schema.NullOr(Schema.String),
  command: Schema.String,
  use: Schema.optional(Command),
  message: Schema.String
}) {}

/** Facts about the account a transition may depend on. */
export interface Context {
  /** Whether the account still holds a non-zero balance; `close` is refused while it does. Default `false`. */
  readonly hasBalance?: boolean | undefined
}

/** The functions of this module, built over one table. */
export interface Rules {
  readonly transitionTable: TransitionTable
  /** The status after a command or system event, or why it is refused; never throws. */
  readonly transition: (
    status: AccountStatus | null,
    command: Event | (string & {}),
    context?: Context
  ) => Either.Either<Transition, TransitionRejected>
}

const STATUSES = AccountStatus.literals.join(", ")
const COMMANDS = Command.literals.join(", ")
const EVENTS = SystemEvent.literals.join(", ")

const describe = (from: string | null): string =>
  from === null ? "still provisioning (no status yet)" : from

const messageOf = (
  reason: RejectionReason,
  from: string | null,
  command: string,
  use: Command | undefined
): string => {
  const hint = use === undefined ? "" : `; use ${use}`
  switch (reason) {
    case "Provisioning":
      return `account is still provisioning (no status yet); ${command} is possible once it is open${hint}`
    case "AlreadyLocked":
      return `account is locked, which already blocks withdrawals and more; to block only withdrawals, unlock and then withdraw_lock${hint}`
    case "WrongUnlock":
      return `account is ${describe(from)}${use === undefined ? `; ${command} does not apply` : hint}`
    case "Divesting":
      return `account is divesting and can only be closed; ${command} is not possible${hint}`
    case "Closed":
      return `account is closed; ${command} is not possible${hint}`
    case "AlreadyProvisioned":
      return `account is already provisioned (status ${from}); provisioned only applies to an account with no status${hint}`
    case "NotDivesting":
      return `account is ${describe(from)}, not divesting; liquidated only applies to a divesting account${hint}`
    case "HasBalance":
      return from === "divesting"
        ? `account still holds a non-zero balance; close once the divestment has moved every balance out${hint}`
        : `account still holds a non-zero balance; divest first, then close once every balance is out${hint}`
    case "UnknownCommand":
      return `unknown command ${JSON.stringify(command)} (expected one of ${COMMANDS}, or a system event: ${EVENTS})`
    case "UnknownStatus":
      return `unknown account status ${JSON.stringify(from)} (expected one of ${STATUSES}, or null while provisioning)`
  }
}

type Compiled =
  | { readonly kind: "accept"; readonly result: Either.Either<Transition, never> }
  | {
      readonly kind: "guarded"
      readonly result: Either.Either<Transition, never>
    }
  | { readonly kind: "reject"; readonly reason: RejectionReason; readonly use: Command | undefined }

const compile = (table: TransitionTable): ReadonlyMap<string, ReadonlyMap<string, Compiled>> => {
  const rows = new Map<string, ReadonlyMap<string, Compiled>>()
  for (const key of StatusKey.literals) {
    if (!Object.hasOwn(table, key)) continue
    const from: AccountStatus | null = key === "provisioning" ? null : key
    const cells = new Map<string, Compiled>()
    for (const event of Event.literals) {
      const entry = table[key][event]
      if (entry === undefined) continue
      if (entry === "same") {
        // `same` on the provisioning row would leave no status to report: refuse it instead.
        cells.set(
          event,
          from === null
            ? { kind: "reject", reason: "Provisioning", use: undefined }
            : { kind: "accept", result: Either.right(Object.freeze({ status: from, changed: false })) }
        )
      } else if ("to" in entry) {
        const result = Either.right(Object.freeze({ status: entry.to, changed: entry.to !== from }))
        cells.set(
          event,
          entry.requiresZeroBalance === true ? { kind: "guarded", result } : { kind: "accept", result }
        )
      } else {
        cells.set(event, { kind: "reject", reason: entry.reject, use: entry.use })
      }
    }
    rows.set(key, cells)
  }
  return rows
}

const reject = (
  reason: RejectionReason,
  from: string | null,
  command: string,
  use: Command | undefined
): Either.Either<never, TransitionRejected> =>
  Either.left(
    new TransitionRejected(
      use === undefined
        ? { reason, from, command, message: messageOf(reason, from, command, use) }
        : { reason, from, command, use, message: messageOf(reason, from, command, use) },
      true
    )
  )

/** Builds `transition` over the given table (the default where omitted). */
export const make = (table: TransitionTable = transitionTable): Rules => {
  const rows = compile(table)
  const transition = (
    status: AccountStatus | null,
    command: Event | (string & {}),
    context?: Context
  ): Either.Either<Transition, TransitionRejected> => {
    const from: string | null = status ?? null
    // "provisioning" is only a row key; as a status string it is as unknown as any other.
    const row = from === "provisioning" ? undefined : rows.get(from ?? "provisioning")
    if (row === undefined) return reject("UnknownStatus", String(from), String(command), undefined)
    const cell = row.get(command)
    if (cell === undefined) return reject("UnknownCommand", from, String(command), undefined)
    switch (cell.kind) {
      case "accept":
        return cell.result
      case "guarded":
        return context?.hasBalance === true ? reject("HasBalance", from, command, undefined) : cell.result
      case "reject":
        return reject(cell.reason, from, command, cell.use)
    }
  }
  return { transitionTable: table, transition }
}

const defaults = make()

/**
 * The status after a command or system event under the default table, or why it is refused; never
 * throws. `null` is an account still provisioning. `close` is refused while `context.hasBalance`.
 */
export const transition: Rules["transition"] = defaults.transition
