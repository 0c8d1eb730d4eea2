import { createClient, OutcomeUnknown, Timeout } from "@mta/client"
import { describe, expect, it } from "vitest"
import { endpointScenarios, rejection } from "./scenarios.js"
import { scripted } from "./support.js"

endpointScenarios("Promise API against the testkit", createClient)

const ZRN = "customer:c761fc96-5c44-40d4-8eb2-3fcd5d06754e"

describe("Promise API on the real clock", () => {
  it("bounds each attempt by timeoutMs and aborts the request that ran out of time", async () => {
    const fake = scripted([{ hang: true }])
    const client = createClient({
      baseUrl: "https://api.cert.zerohash.com",
      credentials: { bearerToken: "t" },
      timeoutMs: 20,
      maxRetries: 0,
      transport: fake.transport
    })
    const read = (await rejection(client.getAccount(ZRN))) as Timeout
    expect(read).toBeInstanceOf(Timeout)
    expect(read.timeoutMs).toBe(20)
    const write = (await rejection(client.lock(ZRN))) as OutcomeUnknown
    expect(write).toBeInstanceOf(OutcomeUnknown)
    expect(write.reason).toBe("Timeout")
    expect(fake.calls.map((c) => c.signal.aborted)).toEqual([true, true])
  })

  it("an AbortSignal cancels the call: the request is aborted and the Promise rejects with the reason", async () => {
    const fake = scripted([{ hang: true }])
    const client = createClient({
      baseUrl: "https://api.cert.zerohash.com",
      credentials: { bearerToken: "t" },
      transport: fake.transport
    })
    const controller = new AbortController()
    const pending = client.getAccount(ZRN, { signal: controller.signal })
    while (fake.calls.length === 0) await new Promise((r) => setImmediate(r))
    const reason = new Error("caller gave up")
    controller.abort(reason)
    expect(await rejection(pending)).toBe(reason)
    expect(fake.calls[0]!.signal.aborted).toBe(true)
  })

  it("lists ledger accounts lazily: breaking out of the loop fetches no further page", async () => {
    const entry = (asset: string) => ({
      account_id: "c761fc96-5c44-40d4-8eb2-3fcd5d06754e",
      asset,
      balance: "1"
    })
    const fake = scripted([
      { status: 200, body: { message: [entry("BTC"), entry("ETH")], page: 1, total_pages: 3 } },
      { status: 200, body: { message: [entry("SOL")], page: 2, total_pages: 3 } }
    ])
    const client = createClient({
      baseUrl: "https://api.cert.zerohash.com",
      credentials: { bearerToken: "t" },
      transport: fake.transport
    })
    const seen: Array<string> = []
    for await (const account of client.listLedgerAccounts({ account_owner: "CUST01" })) {
      seen.push(account.asset)
      if (seen.length === 2) break
    }
    expect(seen).toEqual(["BTC", "ETH"])
    expect(fake.calls.map((c) => c.url)).toEqual([
      "https://api.cert.zerohash.com/accounts?page=1&account_owner=CUST01"
    ])
  })
})
