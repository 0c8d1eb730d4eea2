import { createClient } from "@mta/client"

// Onboarding through the proxy (`pnpm start` at the repository's root: 127.0.0.1:8080, `dev-token`).
const client = createClient({
  baseUrl: process.env.MTA_PROXY_URL ?? "http://127.0.0.1:8080",
  credentials: { bearerToken: process.env.MTA_TOKEN ?? "dev-token" }
})
const run = Date.now()
const address = { address_one: "1 Main St", city: "Chicago", jurisdiction_code: "US-IL" }

// 1. The custodian (an adult): 201 "submitted"; KYC completes in the background. With a bearer token,
//    waitForParticipantStatus is the proxy's long poll on its participant projection.
const custodian = await client.createParticipant({
  ...address,
  first_name: "Ada",
  last_name: "Lovelace",
  email: `ada-${run}@example.com`,
  date_of_birth: "1985-04-21",
  sanction_screening: "pass",
  sanction_screening_timestamp: Date.now()
})
const custodianCode = custodian.message.participant_code
await client.waitForParticipantStatus(custodianCode, "approved", { timeoutMs: 15_000 })

// 2. The minor, linked to the approved custodian.
const minor = await client.createMinor({
  ...address,
  first_name: "Tim",
  last_name: "Lovelace",
  email: `tim-${run}@example.com`,
  date_of_birth: `${new Date().getUTCFullYear() - 10}-01-15`,
  custodian_participant_code: custodianCode,
  custodian_relationship: "parent"
})
const minorCode = minor.message.participant_code
await client.waitForParticipantStatus(minorCode, "approved", { timeoutMs: 15_000 })
console.log("approved", custodianCode === minorCode ? "same" : "both")

// 3. The UTMA account: the minor is the primary (beneficiary), the custodian its one tenant.
const account = await client.createAccount({
  participant_code: minorCode,
  account_label: `utma-${run}`,
  type: "utma",
  tier: "pro",
  prefunded: false,
  tenants: [custodianCode]
})
await client.waitForStatus(account.zrn, "open", { timeoutMs: 15_000 })

// 4. Which buttons to show: every (member, action), with every rule that says no.
const { decisions } = await client.access(account.zrn, { action: "buy" })
for (const d of decisions) {
  const who = d.participant === minorCode ? "minor" : "custodian"
  console.log(
    who,
    d.role,
    d.authorization,
    d.allowed ? "may buy" : `may not buy (${d.reasons.map((r) => r.rule)})`
  )
}
