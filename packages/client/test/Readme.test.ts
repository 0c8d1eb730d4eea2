// The README's examples are the files in `examples/`, verbatim; each is run here and its output checked.
import { readFileSync } from "node:fs"
import { afterEach, describe, expect, it, vi } from "vitest"

const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8")
const example = (name: string) => readFileSync(new URL(`../examples/${name}.ts`, import.meta.url), "utf8")

/** Runs an example module and returns what it printed, one line per `console.log`. */
const run = async (name: string): Promise<Array<string>> => {
  const lines: Array<string> = []
  vi.spyOn(console, "log").mockImplementation((...args: Array<unknown>) => {
    lines.push(args.map(String).join(" "))
  })
  await import(`../examples/${name}.ts`)
  return lines
}

afterEach(() => {
  vi.restoreAllMocks()
})

describe("README", () => {
  it.each(["promise", "effect", "webhook"])("shows examples/%s.ts verbatim", (name) => {
    expect(readme).toContain(`\`\`\`ts\n${example(name)}\`\`\``)
  })

  it("Promise example: creates, opens, locks, meets a Conflict, lists the balance", async () => {
    const lines = await run("promise")
    expect(lines[0]).toMatch(/^created zrn:zh:us:accounts:customer:[0-9a-f-]{36} \(provisioning\)$/)
    expect(lines.slice(1)).toEqual([
      "status locked",
      'conflict 409 an account with account_label "joint-bro',
      "balance BTC 0.5"
    ])
  })

  it("Effect example: opens an account, catches NotFound by tag, streams the ledger", async () => {
    const lines = await run("effect")
    expect(lines[0]).toMatch(/^opened zrn:zh:us:accounts:customer:[0-9a-f-]{36}$/)
    expect(lines.slice(1)).toEqual(["not found (404)", "assets none"])
  })

  it("webhook example: accepts the simulator's signed webhook, refuses a forged one", async () => {
    expect(await run("webhook")).toEqual(["webhook open current", "rejected SignatureMismatch"])
  })
})
