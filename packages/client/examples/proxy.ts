import { createClient } from "@mta/client"

// Against the proxy: `pnpm start` at the repository's root serves one on 127.0.0.1:8080 with the
// caller token `dev-token` (and the testkit's simulator as its upstream).
const client = createClient({
  baseUrl: process.env.MTA_PROXY_URL ?? "http://127.0.0.1:8080",
  credentials: { bearerToken: process.env.MTA_TOKEN ?? "dev-token" },
  deadlineMs: 60_000
})

// Every mutation carries an Idempotency-Key: generated here, the same on each retry. An unknown
// outcome, and the proxy's 409 while the first attempt is still running, are retried with it.
const body = {
  participant_code: "CUST01",
  account_label: `proxied-${Date.now()}`,
  type: "individual",
  tier: "lite",
  prefunded: false
} as const
const first = await client.withResponse.createAccount(body)
console.log("created", first.data.participant_code, "replayed", first.response.replayed)

// Name the key to repeat a call safely later (after a crash, say): the proxy answers the stored outcome.
const key = first.response.idempotencyKey
const again = await client.withResponse.createAccount(body, { idempotencyKey: key })
console.log("again", String(again.data.zrn) === String(first.data.zrn), "replayed", again.response.replayed)
