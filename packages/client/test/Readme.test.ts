// The README's examples are the files in `examples/`, verbatim; each is run here and its output checked.
import { readFileSync } from "node:fs"
import { context, propagation, trace } from "@opentelemetry/api"
import { afterAll, afterEach, describe, expect, it, vi } from "vitest"
import { startProxyStub } from "./proxyStub.js"

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
// The tracing example registers the SDK globally.
afterAll(() => {
  trace.disable()
  context.disable()
  propagation.disable()
})

describe("README", () => {
  it.each(["promise", "effect", "webhook", "observe", "proxy", "tracing", "onboarding"])(
    "shows examples/%s.ts verbatim",
    (name) => {
      expect(readme).toContain(`\`\`\`ts\n${example(name)}\`\`\``)
    }
  )

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

  it("observe example: hooks in order around a retry, withResponse, an error's response", async () => {
    expect(await run("observe")).toEqual([
      "request createAccount attempt 1",
      "response 503 attempt 1",
      "retry after Unavailable",
      "request createAccount attempt 2",
      "response 202 attempt 2",
      "created CUST05 202 order-7 2",
      "request getAccount attempt 1",
      "response 404 attempt 1",
      "not found 404 true"
    ])
  })

  it("proxy example: a generated key, then the same key again answers the stored outcome", async () => {
    const stub = await startProxyStub({ holdFirst: false })
    vi.stubEnv("MTA_PROXY_URL", stub.url)
    try {
      expect(await run("proxy")).toEqual(["created CUST01 replayed false", "again true replayed true"])
      expect(stub.applied()).toBe(1)
      expect(stub.seen.map((s) => s.key)).toEqual([stub.seen[0]!.key, stub.seen[0]!.key])
    } finally {
      vi.unstubAllEnvs()
      await stub.close()
    }
  })

  it("tracing example: the client's span is in the caller's trace", async () => {
    expect(await run("tracing")).toEqual(["POST /accounts 202 true", "open-account - true"])
  })
})
