import { strict as assert } from "node:assert"
import { Participants } from "@mta/domain"
import { Schema } from "effect"
import { afterAll, beforeAll, describe, it } from "vitest"
import { Contract, Signing, Simulator, startSimulatorServer } from "../src/index.js"
import { simulator, track } from "./support.js"

const api = { describe, it, beforeAll, afterAll }

/**
 * The suite's webhook check here: the testkit never imports `@mta/client`, so it is the testkit's own
 * signature code and the domain's payload Schema. The client's `verifyWebhook` checks the same
 * deliveries where the suite runs through the client (client/test/Contract.test.ts) and the proxy
 * (server/test/EndToEnd.test.ts).
 */
const verifier =
  (secret: string): Contract.WebhookVerifier =>
  ({ headers, rawBody }) => {
    const timestamp = headers["x-zh-hook-timestamp"]
    assert.ok(timestamp !== undefined, "x-zh-hook-timestamp is present")
    assert.ok(
      Signing.hexEquals(
        headers["x-zh-hook-signature"] ?? "",
        Signing.signWebhook(secret, rawBody, timestamp)
      ),
      "x-zh-hook-signature matches the body and timestamp"
    )
    const type = headers["x-zh-hook-payload-type"] ?? ""
    return { type, payload: Schema.decodeUnknownSync(Participants.StatusChangedPayload)(JSON.parse(rawBody)) }
  }

// In process: the simulator's fetch, signed by the suite's own target.
const inProcess = simulator()
Contract.contractSuite(Contract.simulatorTarget(inProcess), api, {
  verifyWebhook: verifier(inProcess.webhookSecret)
})

// Over a real port, with the control plane over HTTP.
Contract.contractSuite(
  Contract.deferred(
    "simulator server",
    async () => {
      const server = await startSimulatorServer({ seedDemo: true })
      track(server.simulator)
      return { target: Contract.serverTarget(server), stop: () => server.close() }
    },
    { control: true }
  ),
  api,
  { verifyWebhook: verifier(Simulator.defaultWebhookSecret) }
)

// The vendor's certification environment: only with real credentials in the environment.
Contract.contractSuite(Contract.certTarget(), api)
