/**
 * Helpers shared by the testkit's tests: signed requests, and the check that every response any
 * simulator produced in a test fits the vendor's OpenAPI (run after each test).
 */
import { afterEach } from "vitest"
import { createSimulator, Signing, type Simulator } from "../src/index.js"
import { checkJournal } from "./openapi.js"

/** Each tracked simulator, with the journal sequence number checked up to. */
const tracked = new Map<Simulator.Simulator, number>()

/** Registers a simulator whose journal is checked against the vendor's OpenAPI after each test. */
export const track = <S extends Simulator.Simulator>(simulator: S): S => {
  if (!tracked.has(simulator)) tracked.set(simulator, 0)
  return simulator
}

/** A tracked simulator with the demo participants and the rate limit off unless told otherwise. */
export const simulator = (options: Simulator.SimulatorOptions = {}): Simulator.Simulator =>
  track(createSimulator({ seedDemo: true, ...options }))

afterEach(() => {
  const problems: Array<string> = []
  for (const [sim, checked] of tracked) {
    const fresh = sim.journal().filter((e) => e.seq > checked)
    problems.push(...checkJournal(fresh))
    tracked.set(sim, fresh.at(-1)?.seq ?? checked)
  }
  if (problems.length > 0) {
    throw new Error(`responses that do not fit the vendor's OpenAPI:\n${problems.join("\n")}`)
  }
})

/** Options of `request`. */
export interface RequestOptions {
  readonly body?: unknown
  /** Raw body text, sent and signed byte for byte. */
  readonly raw?: string
  readonly credentials?: Signing.Credentials
  /** Seconds; default the simulator's clock. */
  readonly timestamp?: number | string
  readonly headers?: Record<string, string>
  readonly baseUrl?: string
}

/** A signed request, the way a correct client sends it. */
export const signed = (
  sim: Simulator.Simulator,
  method: string,
  path: string,
  options: RequestOptions = {}
): Request => {
  const body = options.raw ?? (options.body === undefined ? undefined : JSON.stringify(options.body))
  const headers = Signing.signedHeaders(options.credentials ?? sim.credentials, {
    method,
    path,
    body,
    timestamp: options.timestamp ?? Math.floor(sim.clock.now() / 1000)
  })
  return new Request(`${options.baseUrl ?? "http://zerohash.test"}${path}`, {
    method,
    headers: {
      ...headers,
      ...(body === undefined ? {} : { "content-type": "application/json" }),
      ...options.headers
    },
    ...(body === undefined ? {} : { body })
  })
}

/** Sends a signed request and reads the JSON answer. */
export const call = async (
  sim: Simulator.Simulator,
  method: string,
  path: string,
  options: RequestOptions = {}
  // biome-ignore lint/suspicious/noExplicitAny: answers are JSON of many shapes; the tests assert on them
): Promise<{ status: number; body: any; headers: Headers }> => {
  const response = await sim.fetch(signed(sim, method, path, options))
  const text = await response.text()
  return {
    status: response.status,
    // JSON, or the text of a `text/plain` answer (the participant lock's `OK`).
    body:
      text === ""
        ? undefined
        : response.headers.get("content-type")?.startsWith("text/plain")
          ? text
          : JSON.parse(text),
    headers: response.headers
  }
}

/** Creates an account and settles provisioning; returns its ZRN. */
export const openAccount = async (
  sim: Simulator.Simulator,
  fields: Record<string, unknown> = {},
  settle = true
): Promise<string> => {
  const res = await call(sim, "POST", "/accounts", {
    body: {
      participant_code: "CUST01",
      account_label: `label-${Math.random().toString(36).slice(2, 10)}`,
      type: "individual",
      tier: "pro",
      prefunded: false,
      ...fields
    }
  })
  if (res.status !== 202) throw new Error(`create failed: ${res.status} ${JSON.stringify(res.body)}`)
  if (settle) await sim.settle()
  return res.body.message.zrn as string
}
