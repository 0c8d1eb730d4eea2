import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { call, openAccount, simulator } from "./support.js"

type Status = "open" | "locked" | "withdraw_locked" | "divesting" | "closed"
type Command = "lock" | "unlock" | "withdraw_lock" | "withdraw_unlock" | "divest" | "close"

// domain-rules.md §7 as a model: the status after a command, or null when it is refused.
const model: Record<Status, Record<Command, Status | null>> = {
  open: {
    lock: "locked",
    unlock: "open",
    withdraw_lock: "withdraw_locked",
    withdraw_unlock: "open",
    divest: "divesting",
    close: "closed"
  },
  locked: {
    lock: "locked",
    unlock: "open",
    withdraw_lock: null,
    withdraw_unlock: null,
    divest: "divesting",
    close: "closed"
  },
  withdraw_locked: {
    lock: "locked",
    unlock: null,
    withdraw_lock: "withdraw_locked",
    withdraw_unlock: "open",
    divest: "divesting",
    close: "closed"
  },
  divesting: {
    lock: null,
    unlock: null,
    withdraw_lock: null,
    withdraw_unlock: null,
    divest: "divesting",
    close: "closed"
  },
  closed: {
    lock: null,
    unlock: null,
    withdraw_lock: null,
    withdraw_unlock: null,
    divest: null,
    close: "closed"
  }
}

const commands: ReadonlyArray<Command> = [
  "lock",
  "unlock",
  "withdraw_lock",
  "withdraw_unlock",
  "divest",
  "close"
]

describe("the simulator against the transition model", () => {
  it("any command sequence, settled at any points, ends where the model says, with one webhook per change", async () => {
    const sim = simulator({ autoLiquidate: false })
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ command: fc.constantFrom(...commands), settle: fc.boolean() }), {
          maxLength: 12
        }),
        async (steps) => {
          sim.reset()
          const zrn = await openAccount(sim)
          let status: Status = "open"
          let changes = 0
          for (const { command, settle } of steps) {
            const res = await call(sim, "POST", `/accounts/${zrn}/${command}`, { body: {} })
            const next: Status | null = model[status][command]
            expect(res.status).toBe(next === null ? 400 : 202)
            if (next !== null && next !== status) changes++
            if (next !== null) status = next
            if (settle) await sim.settle()
          }
          await sim.settle()
          expect(sim.account(zrn)!.status).toBe(status)
          // The first webhook is provisioning's "open".
          expect(sim.webhooks()).toHaveLength(1 + changes)
          expect(sim.webhooks().at(-1)!.status).toBe(status)
        }
      ),
      { numRuns: 60 }
    )
  })
})
