import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import { createClient, verifyWebhook, WebhookVerificationError } from "@mta/client"
import { startSimulatorServer } from "@mta/testkit"

const secret = "whsec_example"
const seen = new Set<string>()

// A receiver: read the raw bytes, verify before parsing, dedupe by notification id.
const receiver = createServer((req, res) => {
  const chunks: Array<Buffer> = []
  req.on("data", (chunk: Buffer) => chunks.push(chunk))
  req.on("end", () => {
    try {
      const event = verifyWebhook({ secret, headers: req.headers, rawBody: Buffer.concat(chunks) })
      if (event.notificationId !== undefined && !seen.has(event.notificationId)) {
        seen.add(event.notificationId)
        console.log("webhook", event.payload.status, event.scheme)
      }
      res.writeHead(200).end()
    } catch (error) {
      if (!(error instanceof WebhookVerificationError)) throw error
      console.log("rejected", error.reason)
      res.writeHead(400).end()
    }
  })
})
await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve))
const receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/webhooks`

// The simulator signs and posts `customer_account_status_changed` to the receiver.
const upstream = await startSimulatorServer({ seedDemo: true, webhook: { url: receiverUrl, secret } })
const client = createClient({ baseUrl: upstream.url, credentials: upstream.simulator.credentials })
const account = await client.createAccount({
  participant_code: "CUST04",
  account_label: "hooks",
  type: "individual",
  tier: "lite",
  prefunded: false
})
await upstream.simulator.settle()

// A forged request is refused, naming the check that failed.
await fetch(receiverUrl, {
  method: "POST",
  headers: { "x-zh-hook-timestamp": String(Date.now()), "x-zh-hook-signature": "0".repeat(64) },
  body: JSON.stringify({ urn: String(account.zrn), status: "closed" })
})

await upstream.close()
receiver.close()
