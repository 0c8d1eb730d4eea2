import { type Enums, Lifecycle } from "@mta/domain"
import { Either, Schema } from "effect"
import * as fc from "fast-check"
import { describe, expect, it } from "vitest"

type AccountStatus = Enums.AccountStatus

const rejection = <A, E>(result: Either.Either<A, E>): E | undefined =>
  Either.isLeft(result) ? result.left : undefined

// domain-rules.md §7, written out cell by cell. "→ s" moves to s, "same" is an accepted no-op,
// "✗" is rejected, "✗ use c" is rejected with a message naming c.
const commands = ["lock", "unlock", "withdraw_lock", "withdraw_unlock", "divest", "close"] as const
const spec: ReadonlyArray<
  readonly [AccountStatus | null, readonly [string, string, string, string, string, string]]
> = [
  [null, ["✗", "✗", "✗", "✗", "✗", "✗"]],
  ["open", ["→ locked", "same", "→ withdraw_locked", "same", "→ divesting", "→ closed"]],
  ["locked", ["same", "→ open", "✗", "✗ use unlock", "→ divesting", "→ closed"]],
  ["withdraw_locked", ["→ locked", "✗ use withdraw_unlock", "same", "→ open", "→ divesting", "→ closed"]],
  ["divesting", ["✗", "✗", "✗", "✗", "same", "→ closed"]],
  ["closed", ["✗", "✗", "✗", "✗", "✗", "same"]]
]

// The system events, one row per status.
const systemEvents: ReadonlyArray<readonly [AccountStatus | null, string, string]> = [
  [null, "provisioned", "→ open"],
  ["open", "provisioned", "✗"],
  ["locked", "provisioned", "✗"],
  ["withdraw_locked", "provisioned", "✗"],
  ["divesting", "provisioned", "✗"],
  ["closed", "provisioned", "✗"],
  [null, "liquidated", "✗"],
  ["open", "liquidated", "✗"],
  ["locked", "liquidated", "✗"],
  ["withdraw_locked", "liquidated", "✗"],
  ["divesting", "liquidated", "→ closed"],
  ["closed", "liquidated", "✗"]
]

const cases = [
  ...spec.flatMap(([from, cells]) => commands.map((command, i) => [from, command, cells[i]!] as const)),
  ...systemEvents
]

const expectCell = (from: AccountStatus | null, command: string, cell: string) => {
  const result = Lifecycle.transition(from, command)
  if (cell.startsWith("→ ")) {
    const to = cell.slice(2)
    expect(result).toStrictEqual(Either.right({ status: to, changed: to !== from }))
  } else if (cell === "same") {
    expect(result).toStrictEqual(Either.right({ status: from, changed: false }))
  } else {
    const error = rejection(result)!
    expect(error).toBeInstanceOf(Lifecycle.TransitionRejected)
    expect(error._tag).toBe("TransitionRejected")
    expect(error.from).toBe(from)
    expect(error.command).toBe(command)
    // The message says where the account is ...
    expect(error.message).toContain(from ?? "provisioning")
    // ... and, where the table names one, which command to use instead.
    const use = /^✗ use (\w+)$/.exec(cell)?.[1]
    expect(error.use).toBe(use)
    if (use !== undefined) expect(error.message).toBe(`account is ${from}; use ${use}`)
  }
}

describe("Lifecycle.transition follows the §7 table", () => {
  it.each(cases)("from %s, %s: %s", (from, command, cell) => expectCell(from, command, cell))

  it("covers every cell: 6 statuses × (6 commands + 2 system events)", () => {
    expect(cases).toHaveLength(6 * 8)
  })
})

describe("close and balances", () => {
  it.each(["open", "locked", "withdraw_locked"] as const)(
    "from %s, close with a balance says to divest first",
    (from) => {
      const result = Lifecycle.transition(from, "close", { hasBalance: true })
      const error = rejection(result)
      expect(error?.reason).toBe("HasBalance")
      expect(error?.message).toMatch(/non-zero balance; divest first/)
    }
  )

  it("from divesting, close with a balance waits for the divestment", () => {
    const result = Lifecycle.transition("divesting", "close", { hasBalance: true })
    const error = rejection(result)
    expect(error?.reason).toBe("HasBalance")
    expect(error?.message).toMatch(/divestment has moved every balance out/)
  })

  it.each(["open", "locked", "withdraw_locked", "divesting"] as const)(
    "from %s, close without a balance closes",
    (from) => {
      expect(Lifecycle.transition(from, "close", { hasBalance: false })).toStrictEqual(
        Either.right({ status: "closed", changed: true })
      )
    }
  )

  it("closing a closed account is a no-op even when asked with a balance", () => {
    expect(Lifecycle.transition("closed", "close", { hasBalance: true })).toStrictEqual(
      Either.right({ status: "closed", changed: false })
    )
  })

  it("a balance does not stop liquidation (it is what moves the balance out)", () => {
    expect(Lifecycle.transition("divesting", "liquidated", { hasBalance: true })).toStrictEqual(
      Either.right({ status: "closed", changed: true })
    )
  })
})

describe("rejections carry a reason", () => {
  const reasonOf = (from: AccountStatus | null, command: string) =>
    Either.match(Lifecycle.transition(from, command), { onLeft: (e) => e.reason, onRight: () => "accepted" })

  it.each([
    [null, "lock", "Provisioning"],
    ["locked", "withdraw_lock", "AlreadyLocked"],
    ["locked", "withdraw_unlock", "WrongUnlock"],
    ["withdraw_locked", "unlock", "WrongUnlock"],
    ["divesting", "lock", "Divesting"],
    ["closed", "divest", "Closed"],
    ["open", "provisioned", "AlreadyProvisioned"],
    ["open", "liquidated", "NotDivesting"],
    ["open", "frobnicate", "UnknownCommand"],
    ["open", "", "UnknownCommand"],
    ["open", "__proto__", "UnknownCommand"],
    ["provisioning" as AccountStatus, "provisioned", "UnknownStatus"],
    ["frozen" as AccountStatus, "lock", "UnknownStatus"]
  ] as const)("from %s, %s is rejected as %s", (from, command, reason) => {
    expect(reasonOf(from, command)).toBe(reason)
  })

  it("an unknown command names the commands that exist", () => {
    const result = Lifecycle.transition("open", "freeze")
    expect(rejection(result)?.message).toBe(
      'unknown command "freeze" (expected one of lock, unlock, withdraw_lock, withdraw_unlock, divest, close, or a system event: provisioned, liquidated)'
    )
  })
})

describe("a platform's own table", () => {
  it("make builds transition over it (here: unlock from withdraw_locked also reopens)", () => {
    const custom = Lifecycle.make({
      ...Lifecycle.transitionTable,
      withdraw_locked: { ...Lifecycle.transitionTable.withdraw_locked, unlock: { to: "open" } }
    })
    expect(custom.transition("withdraw_locked", "unlock")).toStrictEqual(
      Either.right({ status: "open", changed: true })
    )
    expect(Either.isLeft(Lifecycle.transition("withdraw_locked", "unlock"))).toBe(true)
  })

  it("the default table decodes with its own Schema, so a platform's JSON can be checked the same way", () => {
    const decode = Schema.decodeUnknownEither(Lifecycle.TransitionTable)
    expect(Either.isRight(decode(JSON.parse(JSON.stringify(Lifecycle.transitionTable))))).toBe(true)
    expect(Either.isLeft(decode({ ...Lifecycle.transitionTable, open: { lock: { to: "frozen" } } }))).toBe(
      true
    )
  })
})

// A reference model of §7 written independently of the table: REJECT or the next status.
const REJECT = "rejected" as const
const model = (
  s: AccountStatus | null,
  e: string,
  hasBalance: boolean
): AccountStatus | null | typeof REJECT => {
  if (s === null) return e === "provisioned" ? "open" : REJECT
  if (e === "provisioned") return REJECT
  if (e === "liquidated") return s === "divesting" ? "closed" : REJECT
  if (e === "close") return s === "closed" ? "closed" : hasBalance ? REJECT : "closed"
  switch (s) {
    case "open":
      if (e === "lock") return "locked"
      if (e === "withdraw_lock") return "withdraw_locked"
      if (e === "divest") return "divesting"
      if (e === "unlock" || e === "withdraw_unlock") return "open"
      return REJECT
    case "locked":
      if (e === "lock") return "locked"
      if (e === "unlock") return "open"
      if (e === "divest") return "divesting"
      return REJECT
    case "withdraw_locked":
      if (e === "lock") return "locked"
      if (e === "withdraw_lock") return "withdraw_locked"
      if (e === "withdraw_unlock") return "open"
      if (e === "divest") return "divesting"
      return REJECT
    case "divesting":
      return e === "divest" ? "divesting" : REJECT
    case "closed":
      return REJECT
  }
}

const statuses = ["open", "locked", "withdraw_locked", "divesting", "closed"] as const
const events = [...commands, "provisioned", "liquidated"] as const
const anyStatus = fc.oneof(fc.constant(null), fc.constantFrom(...statuses))
const anyEvent = fc.oneof(
  { arbitrary: fc.constantFrom(...events), weight: 4 },
  { arbitrary: fc.string(), weight: 1 }
)

describe("Lifecycle.transition, properties", () => {
  it("is total: any status and any command string give an Either, never a throw", () => {
    fc.assert(
      fc.property(
        fc.oneof(anyStatus, fc.string()),
        fc.oneof(anyEvent, fc.string()),
        fc.option(fc.record({ hasBalance: fc.boolean() }), { nil: undefined }),
        (status, command, context) => {
          const result = Lifecycle.transition(status as AccountStatus | null, command, context)
          expect(Either.isEither(result)).toBe(true)
          if (Either.isRight(result)) {
            expect(statuses).toContain(result.right.status)
          } else {
            expect(result.left).toBeInstanceOf(Lifecycle.TransitionRejected)
            expect(result.left.from).toBe(status)
            expect(result.left.command).toBe(command)
            expect(result.left.message.length).toBeGreaterThan(0)
          }
        }
      ),
      { numRuns: 2000 }
    )
  })

  it("agrees with the reference model over random sequences from provisioning", () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ event: anyEvent, hasBalance: fc.boolean() }), { maxLength: 40 }),
        (steps) => {
          let status: AccountStatus | null = null
          for (const { event, hasBalance } of [{ event: "provisioned", hasBalance: false }, ...steps]) {
            const expected = model(status, event, hasBalance)
            const result = Lifecycle.transition(status, event, { hasBalance })
            if (expected === REJECT) {
              expect(Either.isLeft(result)).toBe(true)
            } else {
              expect(result).toStrictEqual(Either.right({ status: expected, changed: expected !== status }))
              status = expected
            }
          }
        }
      ),
      { numRuns: 1000 }
    )
  })

  it("changed is false exactly when the status stays the same", () => {
    fc.assert(
      fc.property(anyStatus, fc.constantFrom(...events), fc.boolean(), (from, event, hasBalance) => {
        const result = Lifecycle.transition(from, event, { hasBalance })
        if (Either.isRight(result)) expect(result.right.changed).toBe(result.right.status !== from)
      })
    )
  })

  it("every accepted change out of a status ends in a status, and closed is final", () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...events), { maxLength: 20 }), (sequence) => {
        let status: AccountStatus | null = "closed"
        for (const event of sequence) {
          const result = Lifecycle.transition(status, event)
          if (Either.isRight(result)) status = result.right.status
        }
        expect(status).toBe("closed")
      })
    )
  })
})
