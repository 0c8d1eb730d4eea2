// The testkit's contract suite, run through the client: each contract call is a client method, and
// what the client returns (or fails with) is turned back into the status and body the suite checks.
// Calls the client refuses before sending (InvalidInput: a malformed ZRN, the older guides' body
// shapes) come back as a 400 with the client's messages, since that is what the caller observes.
import {
  type Client,
  type ClientConfig,
  type ClientError,
  createClient,
  isClientError,
  nodeTransport,
  verifyWebhook
} from "@mta/client"
import { Api, Participants } from "@mta/domain"
import { Contract, createSimulator, Simulator, startSimulatorServer } from "@mta/testkit"
import { Schema } from "effect"
import { afterAll, beforeAll, describe, it } from "vitest"
import { viaLayer } from "./support.js"

type Target = Contract.ContractTarget
type CallParams = Contract.CallParams
type CallResult = Contract.CallResult

const errorResult = (error: ClientError): CallResult => {
  const status = error.status ?? (error._tag === "InvalidInput" ? 400 : 599)
  const text = error.messages.join("; ")
  const body =
    status === 400 || status === 409
      ? { errors: error.messages }
      : status === 403
        ? { error: true, message: text }
        : { error: error.messages.at(-1) ?? error.message, message: text }
  const headers: Record<string, string> =
    error._tag === "Unavailable" ? { "zh-allow-retry": String(error.retryAllowed) } : {}
  return { status, body, headers }
}

const ok = (status: number, body: unknown): CallResult => ({ status, body })
const encodeAccount = Schema.encodeSync(Api.AccountResponse)
const encodeReason = Schema.encodeSync(Api.StatusReasonResponse)
const encodePage = Schema.encodeSync(Api.LedgerPage)
const encodeParticipant = Schema.encodeSync(Participants.ParticipantResponse)
const encodeParticipants = Schema.encodeSync(Participants.ParticipantPage)

/** The suite's webhook check: the client's `verifyWebhook`, as a platform's receiver runs it. */
const verifier =
  (secret: string): Contract.WebhookVerifier =>
  ({ headers, rawBody }) =>
    verifyWebhook({ secret, headers, rawBody })

/** A contract target that makes every call through a client. */
const clientTarget = (
  name: string,
  client: Client,
  control: Contract.ContractControl | undefined
): Target => {
  const dispatch = async (endpoint: string, p: CallParams): Promise<CallResult> => {
    const zrn = p.zrn ?? ""
    const body = p.body as never
    const code = (p.body as { participant_code?: string } | undefined)?.participant_code ?? ""
    const requestId = p.headers?.["x-request-id"]
    const options = requestId === undefined ? {} : { requestId }
    switch (endpoint) {
      case "createAccount":
        return ok(202, encodeAccount(await client.createAccount(body)))
      case "updateAccount":
        return ok(202, encodeAccount(await client.updateAccount(zrn, body)))
      case "getAccount":
        return ok(200, encodeAccount(await client.getAccount(zrn)))
      case "getStatusReason":
        return ok(200, encodeReason(await client.getStatusReason(zrn)))
      case "lock":
      case "unlock":
      case "withdrawLock":
      case "withdrawUnlock":
      case "divest":
      case "close":
        await client[endpoint](zrn)
        return ok(202, {})
      case "addTenant":
      case "addAdvisor":
        await client[endpoint](zrn, code)
        return ok(202, {})
      case "removeTenant":
      case "removeAdvisor":
        await client[endpoint](zrn, p.participant ?? "")
        return ok(202, {})
      case "listLedgerAccounts": {
        const { page, ...filters } = p.query ?? {}
        const query = page === undefined ? filters : { ...filters, page: Number(page) }
        return ok(200, encodePage(await client.getLedgerPage(query)))
      }
      case "createParticipant":
      case "createMinor":
        return ok(201, encodeParticipant(await client[endpoint](body, options)))
      case "listParticipants": {
        const { page, ...filters } = p.query ?? {}
        const query = page === undefined ? filters : { ...filters, page: Number(page) }
        return ok(200, encodeParticipants(await client.getParticipantPage(query as never)))
      }
      case "lockParticipant":
        return ok(200, await client.lockParticipant(p.participant ?? "", body))
      default:
        throw new Error(`no client method for ${endpoint}`)
    }
  }
  return {
    name,
    participants: Contract.demoParticipants,
    ...(control === undefined ? {} : { control }),
    call: (endpoint, params = {}) =>
      dispatch(endpoint, params).catch((error: unknown) => {
        if (isClientError(error)) return errorResult(error)
        throw error
      })
  }
}

const api = { describe, it, beforeAll, afterAll }
// No retries: the suite injects single faults and expects to see them.
const settings: Partial<ClientConfig> = { maxRetries: 0 }

// In process through the Effect API: the simulator's fetch as the client's fetch.
const simulator = createSimulator({ seedDemo: true })
Contract.contractSuite(
  clientTarget(
    "client (Effect API) → simulator in process",
    viaLayer({
      baseUrl: "http://simulator.test",
      credentials: simulator.credentials,
      fetch: (url, init) => simulator.fetch(new Request(url, init)),
      ...settings
    }),
    Contract.simulatorControl(simulator)
  ),
  api,
  { verifyWebhook: verifier(simulator.webhookSecret) }
)

// Over a real loopback port through the Promise API and the pooled node:http transport.
Contract.contractSuite(
  Contract.deferred(
    "client (Promise API, nodeTransport) → simulator server",
    async () => {
      const server = await startSimulatorServer({ seedDemo: true })
      const transport = nodeTransport()
      const client = createClient({
        baseUrl: server.url,
        credentials: server.simulator.credentials,
        transport,
        ...settings
      })
      return {
        target: clientTarget("client over TCP", client, {
          ...Contract.httpControl(server.url),
          webhooks: Contract.simulatorControl(server.simulator).webhooks!
        }),
        stop: async () => {
          transport.close()
          await server.close()
        }
      }
    },
    { control: true }
  ),
  api,
  { verifyWebhook: verifier(Simulator.defaultWebhookSecret) }
)
