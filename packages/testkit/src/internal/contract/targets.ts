/**
 * Contract targets: what the suite runs against, and the kinds the testkit provides — any signed HTTP
 * endpoint (`httpTarget`), the simulator in process (`simulatorTarget`), a simulator server on a port
 * (`serverTarget`, with `httpControl`), a target started in the suite's `beforeAll` (`deferred`: the
 * proxy), and the vendor's certification environment (`certTarget`). Re-exported by `Contract.ts`.
 */

import { Endpoint } from "@mta/domain"
import type { FaultSpec } from "../../Fault.js"
import type { SimulatorServer } from "../../Server.js"
import { type Credentials, signedHeaders } from "../../Signing.js"
import type { Simulator } from "../../Simulator.js"
import type { KycOutcome } from "../participants.js"
import type { EndpointName } from "../router.js"

/** Path parameters, body and query of one call. */
export interface CallParams {
  /** The customer account ZRN (canonical form is what a correct client sends). */
  readonly zrn?: string
  /** The tenant or advisor path segment of the remove calls; the participant code of `lockParticipant`. */
  readonly participant?: string
  /** The JSON body; the status commands send `{}` when it is absent. */
  readonly body?: unknown
  /** Query parameters of `listLedgerAccounts` and `listParticipants`. */
  readonly query?: Readonly<Record<string, string>>
  /** Extra request headers (lower-case names), e.g. `x-request-id` of a participant submission. */
  readonly headers?: Readonly<Record<string, string>>
}

/** A webhook as its receiver got it: the headers (lower-case names) and the body's exact text. */
export interface ReceivedWebhook {
  readonly headers: Readonly<Record<string, string>>
  readonly rawBody: string
}

/**
 * Checks one received webhook as a receiver must (signature, timestamp, payload type, payload Schema)
 * and answers its payload type and decoded payload, or throws. The client's `verifyWebhook` is one;
 * the testkit does not import the client, so the test that runs the suite passes it in.
 */
export type WebhookVerifier = (
  hook: ReceivedWebhook
) =>
  | { readonly type: string; readonly payload: unknown }
  | Promise<{ readonly type: string; readonly payload: unknown }>

/** What a call answered: the status and the decoded JSON body (`undefined` when empty). */
export interface CallResult {
  readonly status: number
  readonly body: unknown
  /** Response headers (lower-case names), where the target exposes them. */
  readonly headers?: Readonly<Record<string, string>>
}

/** Control a target may offer; scenarios that need a missing part are skipped with the reason. */
export interface ContractControl {
  addParticipant(input: {
    readonly participant_code: string
    readonly status?: string
    readonly reason_code?: string
  }): Promise<void>
  setBalance(input: { readonly zrn: string; readonly asset: string; readonly balance: string }): Promise<void>
  enableFeature(name: "status_reason", enabled: boolean): Promise<void>
  setStatusReason?(zrn: string, fields: Readonly<Record<string, unknown>>): Promise<void>
  injectFault?(spec: FaultSpec): Promise<void>
  clearFaults?(): Promise<void>
  /** What KYC decides for the next submission, or for the submission with `email` (`Simulator.setKycOutcome`). */
  setKycOutcome?(outcome: KycOutcome, options?: { readonly email?: string }): Promise<void>
  /** Decides a participant waiting in `pending_approval` (`Simulator.decideParticipant`). */
  decideParticipant?(
    code: string,
    outcome:
      | { readonly status: "approved" }
      | { readonly status: "rejected"; readonly reject_reasons?: ReadonlyArray<string> }
  ): Promise<void>
  /**
   * Every webhook the target's simulator delivered so far, as received (oldest first); `undefined`
   * when this target cannot see them.
   */
  webhooks?(): Promise<ReadonlyArray<ReceivedWebhook> | undefined>
  /** Runs the target's pending background work now. */
  settle(): Promise<void>
}

/** Participants the scenarios use, by role; every one must be approved on the target. */
export interface ContractParticipants {
  /** At least four individuals. */
  readonly individuals: ReadonlyArray<string>
  readonly minor: string
  readonly custodian: string
  readonly trust: string
  readonly trustee: string
  readonly business: string
  /** At least two financial advisors. */
  readonly advisors: ReadonlyArray<string>
}

/** Something the suite can run against. */
export interface ContractTarget {
  readonly name: string
  /** Calls one endpoint (signing, or whatever the target's authentication is). */
  call(endpoint: EndpointName, params?: CallParams): Promise<CallResult>
  readonly participants: ContractParticipants
  readonly control?: ContractControl
  /** How long to wait for background work when there is no `settle` (cert: tens of seconds). */
  readonly asyncTimeoutMs?: number
  setup?(): Promise<void>
  teardown?(): Promise<void>
}

/** The demo participants of architecture.md, by role. */
export const demoParticipants: ContractParticipants = {
  individuals: ["CUST01", "CUST02", "CUST03", "CUST04", "CUST05"],
  minor: "MINOR1",
  custodian: "CUSTD1",
  trust: "TRUST1",
  trustee: "TRSTE1",
  business: "BUSNS1",
  advisors: ["ADVSR1", "ADVSR2"]
}

/** The path of a call, with the ZRN's colons unencoded (upstream-api.md's Decision). */
export const pathOf = (endpoint: EndpointName, params: CallParams = {}): string => {
  const template = Endpoint.table[endpoint].path
  const path = template
    .replace("{zrn}", params.zrn ?? "")
    .replace("{tenant}", params.participant ?? "")
    .replace("{financial_advisor}", params.participant ?? "")
    .replace("{participant_code}", params.participant ?? "")
  const query = params.query === undefined ? "" : new URLSearchParams(params.query).toString()
  return query === "" ? path : `${path}?${query}`
}

const bodyOf = (endpoint: EndpointName, params: CallParams): string | undefined => {
  const method = Endpoint.table[endpoint].method
  if (params.body !== undefined) return JSON.stringify(params.body)
  return method === "POST" ? "{}" : undefined
}

const readJson = async (response: Response): Promise<unknown> => {
  const text = await response.text()
  if (text === "") return undefined
  try {
    return JSON.parse(text)
  } catch {
    return text
  }
}

/** Options of `httpTarget`. */
export interface HttpTargetOptions {
  readonly name: string
  readonly baseUrl: string
  readonly credentials: Credentials
  /** Default `globalThis.fetch`. */
  readonly fetch?: (request: Request) => Promise<Response>
  readonly participants?: ContractParticipants
  readonly control?: ContractControl
  readonly asyncTimeoutMs?: number
  /** Clock for `X-SCX-TIMESTAMP` (ms); default `Date.now`. */
  readonly now?: () => number
}

/** A target that signs each request itself (the testkit's own signing code) and sends it with fetch. */
export const httpTarget = (options: HttpTargetOptions): ContractTarget => {
  const base = options.baseUrl.replace(/\/+$/, "")
  const send = options.fetch ?? ((request: Request) => globalThis.fetch(request))
  const now = options.now ?? Date.now
  return {
    name: options.name,
    participants: options.participants ?? demoParticipants,
    ...(options.control === undefined ? {} : { control: options.control }),
    ...(options.asyncTimeoutMs === undefined ? {} : { asyncTimeoutMs: options.asyncTimeoutMs }),
    call: async (endpoint, params = {}) => {
      const method = Endpoint.table[endpoint].method
      const path = pathOf(endpoint, params)
      const body = bodyOf(endpoint, params)
      const headers = signedHeaders(options.credentials, {
        method,
        path,
        body,
        timestamp: Math.floor(now() / 1000)
      })
      const response = await send(
        new Request(`${base}${path}`, {
          method,
          headers: {
            ...headers,
            ...(body === undefined ? {} : { "content-type": "application/json" }),
            ...params.headers
          },
          ...(body === undefined ? {} : { body })
        })
      )
      return {
        status: response.status,
        headers: Object.fromEntries(response.headers),
        body: await readJson(response)
      }
    }
  }
}

/**
 * The control plane of a simulator in this process: every control call, and the webhooks it delivers
 * from now on (received by an in-process listener, beside any URL it delivers to).
 */
export const simulatorControl = (simulator: Simulator): ContractControl => {
  const received: Array<ReceivedWebhook> = []
  simulator.onWebhook((event) => {
    received.push({ headers: event.headers, rawBody: event.rawBody })
  })
  return {
    addParticipant: async (p) => {
      simulator.addParticipant(p as Parameters<Simulator["addParticipant"]>[0])
    },
    setBalance: async (b) => {
      simulator.setBalance(b)
    },
    enableFeature: async (name, enabled) => simulator.enableFeature(name, enabled),
    setStatusReason: async (zrn, fields) => simulator.setStatusReason(zrn, fields),
    injectFault: async (spec) => {
      simulator.injectFault(spec)
    },
    clearFaults: async () => simulator.clearFaults(),
    setKycOutcome: async (outcome, options) => simulator.setKycOutcome(outcome, options),
    decideParticipant: async (code, outcome) => {
      simulator.decideParticipant(code, outcome)
    },
    webhooks: async () => [...received],
    settle: () => simulator.settle()
  }
}

/** The simulator as a target, in process, with its control plane. */
export const simulatorTarget = (simulator: Simulator): ContractTarget =>
  httpTarget({
    name: "simulator",
    baseUrl: "http://simulator.invalid",
    credentials: simulator.credentials,
    fetch: simulator.fetch,
    now: () => simulator.clock.now(),
    control: simulatorControl(simulator)
  })

/** A control plane over HTTP (`/__simulator/`), for a standalone simulator server. */
export const httpControl = (
  baseUrl: string,
  fetchImpl: typeof globalThis.fetch = globalThis.fetch
): ContractControl => {
  const post = async (name: string, body: unknown = {}) => {
    const response = await fetchImpl(`${baseUrl}/__simulator/${name}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body)
    })
    if (!response.ok) throw new Error(`control ${name} answered ${response.status}: ${await response.text()}`)
    await response.arrayBuffer()
  }
  return {
    addParticipant: (p) => post("participants", p),
    setBalance: (b) => post("balances", b),
    enableFeature: (name, enabled) => post("features", { [name]: enabled }),
    setStatusReason: (zrn, fields) => post("status_reason", { zrn, ...fields }),
    injectFault: (spec) => post("faults", spec),
    clearFaults: async () => {
      await fetchImpl(`${baseUrl}/__simulator/faults`, { method: "DELETE" }).then((r) => r.arrayBuffer())
    },
    setKycOutcome: (outcome, options) => post("kyc_outcome", { ...outcome, ...options }),
    decideParticipant: (participant_code, outcome) =>
      post("participant_decision", { participant_code, ...outcome }),
    settle: () => post("settle")
  }
}

/**
 * A standalone simulator server as a target: real HTTP, control plane over HTTP; its webhooks are
 * seen by an in-process listener (the control plane's record of them carries no signature headers).
 */
export const serverTarget = (server: SimulatorServer): ContractTarget => {
  const { webhooks } = simulatorControl(server.simulator)
  return httpTarget({
    name: `simulator server ${server.url}`,
    baseUrl: server.url,
    credentials: server.simulator.credentials,
    control: { ...httpControl(server.url), ...(webhooks === undefined ? {} : { webhooks }) }
  })
}

/**
 * A target started in the suite's `beforeAll` (a server on a port, the proxy app) and stopped in its
 * `afterAll`. `control: true` promises the started target has a control plane, so the scenarios that
 * need one are registered (they must be known before anything starts).
 */
export const deferred = (
  name: string,
  start: () => Promise<{ readonly target: ContractTarget; readonly stop?: () => Promise<void> }>,
  options: { readonly participants?: ContractParticipants; readonly control?: boolean } = {}
): ContractTarget => {
  let started: { readonly target: ContractTarget; readonly stop?: () => Promise<void> } | undefined
  const current = (): ContractTarget => {
    if (started === undefined) throw new Error(`contract target ${name} used before setup`)
    return started.target
  }
  const ctl = (): ContractControl => {
    const control = current().control
    if (control === undefined) throw new Error(`contract target ${name} has no control plane`)
    return control
  }
  // A started target promised a control plane: one without a call its scenarios need fails loudly.
  const need = (what: keyof ContractControl): ContractControl => {
    const control = ctl()
    if (control[what] === undefined) throw new Error(`contract target ${name}'s control plane has no ${what}`)
    return control
  }
  return {
    name,
    participants: options.participants ?? demoParticipants,
    setup: async () => {
      started = await start()
      await started.target.setup?.()
    },
    teardown: async () => {
      await started?.target.teardown?.()
      await started?.stop?.()
    },
    call: (endpoint, params) => current().call(endpoint, params),
    ...(options.control === true
      ? {
          control: {
            addParticipant: (p) => ctl().addParticipant(p),
            setBalance: (b) => ctl().setBalance(b),
            enableFeature: (n, e) => ctl().enableFeature(n, e),
            setStatusReason: async (z, f) => ctl().setStatusReason?.(z, f),
            injectFault: async (f) => ctl().injectFault?.(f),
            clearFaults: async () => ctl().clearFaults?.(),
            setKycOutcome: (o, e) => need("setKycOutcome").setKycOutcome!(o, e),
            decideParticipant: (c, o) => need("decideParticipant").decideParticipant!(c, o),
            webhooks: async () => ctl().webhooks?.(),
            settle: () => ctl().settle()
          }
        }
      : {})
  }
}

/** The environment variables of the certification target. */
export const certEnv = {
  baseUrl: "ZH_CERT_BASE_URL",
  apiKey: "ZH_CERT_API_KEY",
  apiSecret: "ZH_CERT_API_SECRET",
  passphrase: "ZH_CERT_PASSPHRASE",
  participants: "ZH_CERT_PARTICIPANTS"
} as const

/**
 * The vendor's certification environment, from `ZH_CERT_API_KEY`, `ZH_CERT_API_SECRET`,
 * `ZH_CERT_PASSPHRASE`, `ZH_CERT_PARTICIPANTS` (JSON of `ContractParticipants`, approved there) and
 * optionally `ZH_CERT_BASE_URL` (default `https://api.cert.zerohash.com`). Without them: the reason.
 */
export const certTarget = (
  env: Readonly<Record<string, string | undefined>> = process.env
): ContractTarget | { readonly skip: string } => {
  const missing = [certEnv.apiKey, certEnv.apiSecret, certEnv.passphrase, certEnv.participants].filter(
    (name) => (env[name] ?? "") === ""
  )
  if (missing.length > 0) {
    return { skip: `certification credentials absent (set ${missing.join(", ")} to run against the vendor)` }
  }
  let participants: ContractParticipants
  try {
    participants = JSON.parse(env[certEnv.participants]!) as ContractParticipants
  } catch {
    return {
      skip: `${certEnv.participants} is not JSON of {individuals, minor, custodian, trust, trustee, business, advisors}`
    }
  }
  return httpTarget({
    name: "zerohash certification",
    baseUrl: env[certEnv.baseUrl] ?? "https://api.cert.zerohash.com",
    credentials: {
      apiKey: env[certEnv.apiKey]!,
      apiSecret: env[certEnv.apiSecret]!,
      passphrase: env[certEnv.passphrase]!
    },
    participants,
    asyncTimeoutMs: 60_000
  })
}
