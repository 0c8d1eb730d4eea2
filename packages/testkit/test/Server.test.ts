import { type ChildProcess, spawn } from "node:child_process"
import { fileURLToPath } from "node:url"
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest"
import { Fault, Signing, type Simulator, startSimulatorServer } from "../src/index.js"
import { checkJournal } from "./openapi.js"
import { track } from "./support.js"

// biome-ignore lint/suspicious/noExplicitAny: control answers are JSON of many shapes; the tests assert on them
type Json = any

let server: Awaited<ReturnType<typeof startSimulatorServer>>

beforeAll(async () => {
  // Background work waits for settle(), so each step of a test is visible over the port.
  server = await startSimulatorServer({ seedDemo: true, port: 0, host: "127.0.0.1", asyncDelayMs: 60_000 })
  track(server.simulator)
})
afterAll(() => server.close())
beforeEach(() => server.simulator.reset())

/** A signed request over the real port; `path` is sent and signed exactly as given. */
const send = async (
  method: string,
  path: string,
  body?: unknown,
  credentials = server.simulator.credentials
) => {
  const text = body === undefined ? undefined : JSON.stringify(body)
  const headers = Signing.signedHeaders(credentials, { method, path, body: text })
  const response = await fetch(`${server.url}${path}`, {
    method,
    headers: text === undefined ? headers : { ...headers, "content-type": "application/json" },
    ...(text === undefined ? {} : { body: text })
  })
  const raw = await response.text()
  return {
    status: response.status,
    headers: response.headers,
    body: raw === "" ? undefined : JSON.parse(raw)
  }
}

const control = async (
  method: string,
  name: string,
  body?: unknown
): Promise<{ status: number; body: Json }> => {
  const response = await fetch(`${server.url}/__simulator/${name}`, {
    method,
    headers: { "content-type": "application/json" },
    ...(body === undefined ? {} : { body: JSON.stringify(body) })
  })
  return { status: response.status, body: await response.json() }
}

const create = (fields: Record<string, unknown> = {}) =>
  send("POST", "/accounts", {
    participant_code: "CUST01",
    account_label: `srv-${Math.random().toString(36).slice(2)}`,
    type: "individual",
    tier: "pro",
    prefunded: false,
    ...fields
  })

describe("standalone server on a real port", () => {
  it("listens on loopback and serves the API, ZRN colons unencoded in the path", async () => {
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
    const created = await create()
    expect(created.status).toBe(202)
    const zrn = created.body.message.zrn as string
    expect((await control("POST", "settle")).status).toBe(200)
    const details = await send("GET", `/accounts/${zrn}/details`)
    expect(details.body.message).toMatchObject({ zrn, status: "open" })
    const journal = server.simulator.journal()
    expect(journal.at(-1)!.path).toBe(`/accounts/${zrn}/details`)
  })

  it("verifies the signature over the raw request target, percent-encoding included", async () => {
    const created = await create()
    const zrn = created.body.message.zrn as string
    const encoded = `/accounts/${zrn.replaceAll(":", "%3A")}/details`
    expect((await send("GET", encoded)).status).toBe(200)
    const wrongKey = { ...server.simulator.credentials, apiKey: "nobody" }
    const refused = await send("GET", "/accounts", undefined, wrongKey)
    expect(refused).toMatchObject({
      status: 403,
      body: { error: true, message: expect.stringContaining("unknown API key") }
    })
  })

  it("refuses a body over 1 MiB with 413", async () => {
    const response = await fetch(`${server.url}/accounts`, { method: "POST", body: "x".repeat(2 << 20) })
    expect(response.status).toBe(413)
    expect(((await response.json()) as { errors: Array<string> }).errors[0]).toContain("request body over")
  })

  it("drops the connection for a drop fault", async () => {
    server.simulator.injectFault(Fault.dropConnection("listLedgerAccounts"))
    await expect(send("GET", "/accounts")).rejects.toThrow("fetch failed")
    expect((await send("GET", "/accounts")).status).toBe(200)
  })
})

describe("HTTP control plane under /__simulator/", () => {
  it("adds participants with status and reason code", async () => {
    const added = await control("POST", "participants", {
      participant_code: "LCKD01",
      status: "locked",
      reason_code: "user_request"
    })
    expect(added).toEqual({
      status: 200,
      body: { participant_code: "LCKD01", status: "locked", reason_code: "user_request" }
    })
    const refused = await create({ participant_code: "LCKD01" })
    expect(refused.status).toBe(400)
    expect(refused.body.errors[0]).toContain("not approved (status locked)")
    expect((await control("POST", "participants", { participant_code: "NEW001" })).body.status).toBe(
      "approved"
    )
    expect((await create({ participant_code: "NEW001" })).status).toBe(202)
  })

  it("sets balances (decimal strings) that GET /accounts lists", async () => {
    const zrn = (await create()).body.message.zrn
    await control("POST", "settle")
    expect((await control("POST", "balances", { zrn, asset: "BTC", balance: "0.12345678" })).status).toBe(200)
    const listed = await send("GET", `/accounts?zrn=${zrn}`)
    expect(listed.body.message.map((e: { balance: string }) => e.balance)).toEqual(["0.12345678"])
    const bad = await control("POST", "balances", { zrn, asset: "BTC", balance: 1.5 })
    expect(bad.status).toBe(400)
    const notDecimal = await control("POST", "balances", { zrn, asset: "BTC", balance: "1e5" })
    expect(notDecimal).toMatchObject({
      status: 400,
      body: { errors: [expect.stringContaining("decimal string")] }
    })
  })

  it("enables features", async () => {
    const zrn = (await create()).body.message.zrn
    expect((await send("GET", `/account/${zrn}/status_reason`)).status).toBe(403)
    expect(await control("POST", "features", { status_reason: true })).toEqual({
      status: 200,
      body: { status_reason: true }
    })
    expect((await send("GET", `/account/${zrn}/status_reason`)).status).toBe(200)
    expect((await control("POST", "status_reason", { zrn, reason: "ach", notes: "returned" })).status).toBe(
      200
    )
    expect((await send("GET", `/account/${zrn}/status_reason`)).body.message).toMatchObject({
      reason: "ach",
      notes: "returned"
    })
  })

  it("injects faults in the documented shape and clears them", async () => {
    const injected = await control("POST", "faults", {
      endpoint: "listLedgerAccounts",
      status: 503,
      times: 2
    })
    expect(injected).toEqual({ status: 200, body: { id: expect.any(Number) } })
    expect((await send("GET", "/accounts")).status).toBe(503)
    await control("POST", "faults", { status: 500 })
    expect((await send("GET", "/accounts")).status).toBe(503)
    await control("DELETE", "faults")
    expect((await send("GET", "/accounts")).status).toBe(200)
    const invalid = await control("POST", "faults", { endpoint: "lock", status: "soon" })
    expect(invalid.status).toBe(400)
  })

  it("settles, lists webhooks and the journal, forces a status, and resets", async () => {
    const zrn = (await create()).body.message.zrn
    expect((await control("GET", "pending")).body.pending).toEqual([`provision ${zrn}`])
    await control("POST", "settle")
    await control("POST", "force_status", { zrn, status: "locked", reason: "compliance_issue" })
    const webhooks = await control("GET", "webhooks")
    expect(webhooks.body.webhooks.map((w: { status: string }) => w.status)).toEqual(["open", "locked"])
    const journal = await control("GET", "journal")
    expect(journal.body.journal.map((e: { endpoint: string }) => e.endpoint)).toEqual(["createAccount"])
    expect(JSON.stringify(journal.body)).not.toContain(server.simulator.credentials.passphrase)
    const wiring = await control("POST", "webhook", { url: "http://127.0.0.1:9/hooks", duplicates: true })
    expect(wiring.body).toEqual({ url: "http://127.0.0.1:9/hooks", modes: { duplicates: true } })
    await control("POST", "webhook", { url: null, duplicates: false })
    expect((await control("POST", "reset")).status).toBe(200)
    expect((await control("GET", "accounts")).body.accounts).toEqual([])
    expect((await control("GET", "nothing-here")).status).toBe(404)
  })
})

describe("rate limit per source address", () => {
  it("answers 429 past the limit over HTTP", async () => {
    const limited = await startSimulatorServer({ rateLimit: 3, seedDemo: true })
    try {
      const statuses = []
      for (let i = 0; i < 4; i++) statuses.push((await fetch(`${limited.url}/accounts`)).status)
      expect(statuses).toEqual([403, 403, 403, 429])
    } finally {
      await limited.close()
    }
  })
})

describe("the mta-simulator command", () => {
  const bin = fileURLToPath(new URL("../src/bin.ts", import.meta.url))
  const cwd = fileURLToPath(new URL("..", import.meta.url))
  const start = (args: ReadonlyArray<string>): ChildProcess =>
    spawn(process.execPath, ["--conditions=@mta/source", "--import", "tsx", bin, ...args], {
      cwd,
      stdio: ["ignore", "pipe", "pipe"]
    })
  const output = (child: ChildProcess, until: RegExp) =>
    new Promise<string>((resolve, reject) => {
      let text = ""
      const onData = (chunk: Buffer) => {
        text += chunk.toString()
        if (until.test(text)) resolve(text)
      }
      child.stdout!.on("data", onData)
      child.stderr!.on("data", onData)
      child.once("exit", () => resolve(text))
      child.once("error", reject)
    })
  const exited = (child: ChildProcess) =>
    new Promise<number | null>((resolve) => {
      if (child.exitCode !== null) resolve(child.exitCode)
      else child.once("exit", (code) => resolve(code))
    })

  it("prints its URL and credentials, serves signed requests, and stops on SIGTERM", async () => {
    const secret = Buffer.from("a secret for the command test").toString("base64")
    const child = start([
      "--port",
      "0",
      "--seed-demo",
      "--api-key",
      "cli-key",
      "--api-secret",
      secret,
      "--passphrase",
      "cli-pass",
      "--rate-limit",
      "0",
      "--async-delay-ms",
      "0"
    ])
    try {
      const text = await output(child, /control plane/)
      const url = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(text)?.[1]
      expect(url, text).toBeDefined()
      expect(text).toContain("cli-key")
      expect(text).toContain("cli-pass")
      const credentials = { apiKey: "cli-key", apiSecret: secret, passphrase: "cli-pass" }
      const body = JSON.stringify({
        participant_code: "TRUST1",
        account_label: "cli",
        type: "trust",
        tier: "gold",
        prefunded: true,
        tenants: ["TRSTE1"]
      })
      const created = await fetch(`${url}/accounts`, {
        method: "POST",
        headers: Signing.signedHeaders(credentials, { method: "POST", path: "/accounts", body }),
        body
      })
      expect(created.status).toBe(202)
      const journal = (await (await fetch(`${url}/__simulator/journal`)).json()) as {
        journal: Array<Simulator.JournalEntry>
      }
      expect(journal.journal.map((e) => e.status)).toEqual([202])
      expect(checkJournal(journal.journal)).toEqual([])
    } finally {
      child.kill("SIGTERM")
    }
    expect(await exited(child)).toBe(0)
  })

  it("prints its usage for --help and refuses a bad option with exit code 2", async () => {
    const help = start(["--help"])
    expect(await output(help, /--seed-demo/)).toContain("Usage: mta-simulator")
    expect(await exited(help)).toBe(0)
    const bad = start(["--port", "eighty"])
    expect(await output(bad, /Usage/)).toContain("--port must be a whole number")
    expect(await exited(bad)).toBe(2)
  })

  it("takes its options after a `--`, as `pnpm start -- --seed-demo` passes them (the README's form)", async () => {
    const child = start(["--", "--port", "0", "--seed-demo"])
    try {
      const text = await output(child, /control plane/)
      const url = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(text)?.[1]
      expect(url, text).toBeDefined()
      expect(text).not.toContain("Unexpected argument")
      // It serves (and by now has its signal handlers).
      expect((await fetch(`${url}/time`)).status).toBe(200)
    } finally {
      child.kill("SIGTERM")
    }
    expect(await exited(child)).toBe(0)
  })
})
