/**
 * The simulator on a real port, for other languages, the proxy's embedded default and manual
 * exploration, with its control plane under `/__simulator/` (JSON bodies; unauthenticated, so bind
 * it to loopback, which is the default).
 *
 * Built on `node:http` directly: requests go to the simulator's transport-neutral core without a web
 * `Request`/`Response` in between, which is what keeps it several times faster than a mock server
 * that builds both.
 *
 * @since 0.1.0
 */

import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"
import { Enums, Participants } from "@mta/domain"
import { Either, Schema } from "effect"
import type { FaultSpec } from "./Fault.js"
import { isDropped, json, type RawResponse } from "./internal/http.js"
import type { KycOutcome } from "./internal/participants.js"
import {
  createSimulator,
  engineOf,
  type Simulator,
  SimulatorControlError,
  type SimulatorOptions
} from "./Simulator.js"

/** Options of `startSimulatorServer`: the simulator's, plus where to listen. */
export interface ServerOptions extends SimulatorOptions {
  /** Default 0 (any free port). */
  readonly port?: number
  /** Default `127.0.0.1`. */
  readonly host?: string
  /** Serve this simulator instead of creating one. */
  readonly simulator?: Simulator
}

/** A running simulator server. */
export interface SimulatorServer {
  /** Base URL, e.g. `http://127.0.0.1:4010`. */
  readonly url: string
  readonly port: number
  readonly host: string
  readonly simulator: Simulator
  readonly server: Server
  /** Stops listening, closes open connections, and cancels the pending work of a simulator it created. */
  close(): Promise<void>
}

const CONTROL = "/__simulator/"

const opt = <S extends Schema.Schema.AnyNoContext>(schema: S) => Schema.optionalWith(schema, { exact: true })

const ParticipantBody = Schema.Struct({
  participant_code: Schema.String,
  status: opt(Enums.ParticipantStatus),
  reason_code: opt(Enums.ParticipantReasonCode)
})

const Reasons = Schema.Array(Schema.String)

const KycOutcomeBody = Schema.Struct({
  status: Schema.Literal("approved", "pending_approval", "rejected"),
  reject_reasons: opt(Reasons),
  /** The submission this outcome is for; the next one when absent. */
  email: opt(Schema.String)
})

const ParticipantDecisionBody = Schema.Struct({
  participant_code: Schema.String,
  status: Schema.Literal("approved", "rejected"),
  reject_reasons: opt(Reasons)
})

const ParticipantMoveBody = Schema.Struct({
  participant_code: Schema.String,
  move: Schema.Literal(
    ...(Object.keys(Participants.moves) as [Participants.Move, ...Array<Participants.Move>])
  ),
  reason_code: opt(Enums.ParticipantReasonCode)
})

const BalanceBody = Schema.Struct({
  zrn: Schema.String,
  asset: Schema.String,
  balance: Schema.String,
  account_type: opt(Enums.LedgerAccountType)
})

const FeaturesBody = Schema.Struct({ status_reason: opt(Schema.Boolean) })

const Endpoints = Schema.Union(Schema.String, Schema.Array(Schema.String))

const FaultBody = Schema.Struct({
  endpoint: opt(Endpoints),
  status: opt(Schema.Int),
  body: opt(Schema.Unknown),
  latencyMs: opt(Schema.NonNegative),
  drop: opt(Schema.Boolean),
  times: opt(Schema.Int.pipe(Schema.positive())),
  forMs: opt(Schema.NonNegative),
  afterApply: opt(Schema.Boolean)
})

const StatusReasonBody = Schema.Struct({
  zrn: Schema.String,
  author_type: opt(Enums.AuthorType),
  reason: opt(Enums.StatusReason),
  compliance_reasons: opt(Schema.Array(Enums.ComplianceReason)),
  notes: opt(Schema.String),
  case_number: opt(Schema.String)
})

const ForceStatusBody = Schema.Struct({
  zrn: Schema.String,
  status: Enums.AccountStatus,
  author_type: opt(Enums.AuthorType),
  reason: opt(Enums.StatusReason),
  compliance_reasons: opt(Schema.Array(Enums.ComplianceReason)),
  notes: opt(Schema.String),
  case_number: opt(Schema.String)
})

const WebhookBody = Schema.Struct({
  url: opt(Schema.NullOr(Schema.String)),
  duplicates: opt(Schema.Boolean),
  outOfOrder: opt(Schema.Union(Schema.Boolean, Schema.Struct({ holdMs: Schema.NonNegative })))
})

const decode = <A, I>(schema: Schema.Schema<A, I>, text: string): Either.Either<A, string> => {
  let u: unknown
  try {
    u = text === "" ? {} : JSON.parse(text)
  } catch {
    return Either.left("body is not valid JSON")
  }
  return Either.mapLeft(
    Schema.decodeUnknownEither(schema, { onExcessProperty: "error" })(u),
    (e) => e.message
  )
}

const stripUndefined = <T extends object>(o: T): T =>
  Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T

/** The control plane: `POST /__simulator/{participants,kyc_outcome,participant_decision,participant_move,balances,features,faults,webhook,status_reason,force_status,settle,reset}`, `GET .../{webhooks,journal,accounts,pending}`. */
const control = async (
  simulator: Simulator,
  method: string,
  path: string,
  body: string
): Promise<RawResponse> => {
  const name = path.slice(CONTROL.length).split("?")[0]
  const bad = (message: string) => json(400, { errors: [message] })
  const run = <A, I>(schema: Schema.Schema<A, I>, f: (a: A) => unknown): RawResponse => {
    const decoded = decode(schema, body)
    if (Either.isLeft(decoded)) return bad(decoded.left)
    try {
      return json(200, f(decoded.right) ?? { ok: true })
    } catch (error) {
      if (error instanceof SimulatorControlError) return bad(error.message)
      throw error
    }
  }
  switch (`${method} ${name}`) {
    case "POST participants":
      return run(ParticipantBody, (p) => simulator.addParticipant(stripUndefined(p)))
    case "POST kyc_outcome":
      return run(KycOutcomeBody, ({ email, ...outcome }) =>
        simulator.setKycOutcome(stripUndefined(outcome) as KycOutcome, email === undefined ? {} : { email })
      )
    case "POST participant_decision":
      return run(ParticipantDecisionBody, ({ participant_code, ...outcome }) =>
        simulator.decideParticipant(participant_code, stripUndefined(outcome) as never)
      )
    case "POST participant_move":
      return run(ParticipantMoveBody, ({ participant_code, move, reason_code }) =>
        simulator.moveParticipant(participant_code, move, reason_code)
      )
    case "POST balances":
      return run(BalanceBody, (b) => simulator.setBalance(stripUndefined(b)))
    case "POST features":
      return run(FeaturesBody, (f) => {
        if (f.status_reason !== undefined) simulator.enableFeature("status_reason", f.status_reason)
        return { status_reason: engineOf(simulator).features.status_reason }
      })
    case "POST faults":
      return run(FaultBody, (f) => {
        const fault = simulator.injectFault(stripUndefined(f) as FaultSpec)
        return { id: fault.id }
      })
    case "DELETE faults":
      simulator.clearFaults()
      return json(200, { ok: true })
    case "POST status_reason":
      return run(StatusReasonBody, ({ zrn, ...fields }) =>
        simulator.setStatusReason(zrn, stripUndefined(fields))
      )
    case "POST force_status":
      return run(ForceStatusBody, ({ zrn, status, ...fields }) =>
        simulator.forceStatus(zrn, status, stripUndefined(fields))
      )
    case "POST webhook":
      return run(WebhookBody, (w) => {
        simulator.configureWebhooks(w)
        return engineOf(simulator).webhooks.settings()
      })
    case "POST settle":
      await simulator.settle()
      return json(200, { ok: true })
    case "POST reset":
      simulator.reset()
      return json(200, { ok: true })
    case "GET webhooks":
      return json(200, { webhooks: simulator.webhooks() })
    case "GET journal":
      return json(200, { journal: simulator.journal() })
    case "GET accounts":
      return json(200, { accounts: simulator.accounts() })
    case "GET pending":
      return json(200, { pending: simulator.pending() })
    default:
      return json(404, { error: "Not Found", message: `no control endpoint ${method} ${path}` })
  }
}

/** Bodies past this are refused (413): the API's bodies are a few hundred bytes. */
const MAX_BODY = 1 << 20

class BodyTooLarge extends Error {}

const readBody = (req: IncomingMessage): Promise<string> =>
  new Promise((resolve, reject) => {
    const chunks: Array<Buffer> = []
    let size = 0
    req.on("data", (c: Buffer) => {
      size += c.length
      if (size > MAX_BODY) {
        // Stop keeping it, let the rest drain, and answer 413.
        req.removeAllListeners("data")
        req.resume()
        reject(new BodyTooLarge())
        return
      }
      chunks.push(c)
    })
    req.on("end", () =>
      resolve(chunks.length === 1 ? chunks[0]!.toString("utf8") : Buffer.concat(chunks).toString("utf8"))
    )
    req.on("error", reject)
  })

const write = (res: ServerResponse, r: RawResponse): void => {
  res.writeHead(r.status, { ...r.headers, "content-length": Buffer.byteLength(r.body) })
  res.end(r.body)
}

/** A request listener for `node:http` that serves the simulator and its control plane. */
export const listener = (simulator: Simulator) => {
  const engine = engineOf(simulator)
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    try {
      const method = req.method ?? "GET"
      const target = req.url ?? "/"
      const body = method === "GET" || method === "HEAD" ? "" : await readBody(req)
      if (target.startsWith(CONTROL)) {
        write(res, await control(simulator, method, target, body))
        return
      }
      const headers = req.headers
      const outcome = await engine.handle({
        method,
        target,
        header: (name) => {
          const v = headers[name]
          return Array.isArray(v) ? v.join(", ") : v
        },
        body,
        source: req.socket.remoteAddress ?? "unknown"
      })
      if (isDropped(outcome)) {
        req.socket.destroy()
        return
      }
      write(res, outcome)
    } catch (error) {
      if (error instanceof BodyTooLarge) {
        if (!res.headersSent) write(res, json(413, { errors: [`request body over ${MAX_BODY} bytes`] }))
        return
      }
      if (!res.headersSent) write(res, json(500, { error: "Internal Server Error" }))
      else res.destroy()
      // A simulator bug must be visible, not swallowed.
      console.error("mta-simulator: internal error", error)
    }
  }
}

/** Starts the simulator on a real port (default any free port on 127.0.0.1). */
export const startSimulatorServer = async (options: ServerOptions = {}): Promise<SimulatorServer> => {
  const { port = 0, host = "127.0.0.1", simulator: given, ...simulatorOptions } = options
  const simulator = given ?? createSimulator(simulatorOptions)
  const server = createServer({ keepAlive: true }, listener(simulator))
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject)
    server.listen(port, host, () => {
      server.off("error", reject)
      resolve()
    })
  })
  const address = server.address() as AddressInfo
  const urlHost = address.family === "IPv6" ? `[${address.address}]` : address.address
  return {
    url: `http://${urlHost}:${address.port}`,
    port: address.port,
    host: address.address,
    simulator,
    server,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error === undefined ? resolve() : reject(error)))
        server.closeAllConnections()
        // Pending timers of a simulator made here would otherwise keep the process alive.
        if (given === undefined) engineOf(simulator).scheduler.clear()
      })
  }
}
