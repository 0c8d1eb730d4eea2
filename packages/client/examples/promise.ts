import { Conflict, createClient } from "@mta/client"
import { startSimulatorServer } from "@mta/testkit"

// The testkit's simulator stands in for zerohash here. Against the real service, use
// baseUrl "https://api.cert.zerohash.com" and the key, secret and passphrase zerohash issued.
const upstream = await startSimulatorServer({ seedDemo: true })
const client = createClient({ baseUrl: upstream.url, credentials: upstream.simulator.credentials })

const joint = {
  participant_code: "CUST01",
  account_label: "joint-brokerage",
  type: "jtic",
  tier: "pro",
  prefunded: false,
  tenants: ["CUST02"]
} as const
const account = await client.createAccount(joint)
console.log("created", String(account.zrn), account.status ?? "(provisioning)")

// 202 means "accepted": the account opens in the background.
await client.waitForStatus(account.zrn, "open", { timeoutMs: 10_000 })
await client.lock(account.zrn)
const { status } = await client.waitForStatus(account.zrn, "locked", { timeoutMs: 10_000 })
console.log("status", status)

// Errors are classes: `instanceof` tells them apart.
try {
  await client.createAccount(joint)
} catch (error) {
  if (!(error instanceof Conflict)) throw error
  console.log("conflict", error.status, error.messages[0]?.slice(0, 40))
}

// Every page of ledger accounts, fetched as the loop asks for them.
upstream.simulator.setBalance({ zrn: String(account.zrn), asset: "BTC", balance: "0.5" })
for await (const ledger of client.listLedgerAccounts({ zrn: account.zrn })) {
  console.log("balance", ledger.asset, ledger.balance)
}

await upstream.close()
