import { createClient, NotFound } from "@mta/client"
import { Fault, startSimulatorServer } from "@mta/testkit"

// The simulator stands in for zerohash (signed mode). Through the proxy (a bearer token) the same
// calls also carry an Idempotency-Key, and an unknown outcome is retried safely.
const upstream = await startSimulatorServer({ seedDemo: true })
const client = createClient({
  baseUrl: upstream.url,
  credentials: upstream.simulator.credentials,
  retry: { baseDelayMs: 50 },
  // Hooks see every attempt: given here, or added with client.on(...).
  hooks: { request: (event) => console.log("request", event.operation, "attempt", event.attempt) }
})
client
  .on("response", (event) => console.log("response", event.status, "attempt", event.attempt))
  .on("retry", (event) => console.log("retry after", event.error._tag))

// One 503 with zh-allow-retry: true, then the real answer.
upstream.simulator.injectFault(Fault.failNext(1, { status: 503, endpoint: "createAccount" }))
// `withResponse` answers the result and the last response's metadata; options apply to this call.
const { data: account, response } = await client.withResponse.createAccount(
  {
    participant_code: "CUST05",
    account_label: "observed",
    type: "individual",
    tier: "lite",
    prefunded: false
  },
  { requestId: "order-7", timeoutMs: 5_000, maxRetries: 1 }
)
console.log("created", account.participant_code, response.status, response.requestId, response.attempt)

// An error carries the response it came from (a non-enumerable property).
try {
  await client.getAccount("customer:00000000-0000-4000-8000-000000000000", { maxRetries: 0 })
} catch (error) {
  if (!(error instanceof NotFound)) throw error
  console.log("not found", error.response?.status, error.response?.requestId === error.requestId)
}

await upstream.close()
