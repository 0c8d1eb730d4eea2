/**
 * Test helpers: an in-process proxy in front of an in-process simulator (for the fast tests), the
 * proxy started as a process exactly as `pnpm start` starts it (for the end-to-end tests), free
 * ports, and a bearer contract target.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { createHmac } from "node:crypto"
import { mkdtempSync, rmSync } from "node:fs"
import { createServer } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Writable } from "node:stream"
import { fileURLToPath } from "node:url"
import { fetchTransport } from "@mta/client"
import { Endpoint } from "@mta/domain"
import { App, Callers, Logger, Metrics, Store, Upstream } from "@mta/server"
import { Contract, createSimulator, type Server as SimServer, type Simulator } from "@mta/testkit"

export const packageDir = fileURLToPath(new URL("..", import.meta.url))
export const repoDir = fileURLToPath(new URL("../../..", import.meta.url))

export const TOKENS = {
  admin: "test-admin-token",
  reader: "test-reader-token",
  limited: "test-limited-token"
} as const

/** Callers of the tests: `admin` (every scope), `reader` (accounts:read only), `limited` (2 per minute). */
export const callerEntries: ReadonlyArray<Callers.CallerEntry> = [
  { name: "admin", token_sha256: Callers.hashToken(TOKENS.admin), scopes: Callers.allScopes },
  { name: "reader", token_sha256: Callers.hashToken(TOKENS.reader), scopes: ["accounts:read"] },
  {
    name: "limited",
    token_sha256: Callers.hashToken(TOKENS.limited),
    scopes: Callers.allScopes,
    rate_limit: { requests: 2, window_ms: 60_000 }
  }
]

/** Log lines captured in memory. */
export const captureLogs = () => {
  const lines: Array<string> = []
  const destination = new Writable({
    write(chunk, _encoding, callback) {
      lines.push(
        ...String(chunk)
          .split("\n")
          .filter((l) => l !== "")
      )
      callback()
    }
  })
  return { lines, destination: destination as unknown as Logger.LoggerOptions["destination"] & Writable }
}

/** A valid create (a joint JTIC account of CUST01 with tenant CUST02) under `label`; written once for both packages' tests. */
export { createBody } from "../../testkit/test/support/bodies.js"

export const WEBHOOK_SECRET = "whsec_server_test_secret"

export interface Harness {
  readonly app: App.App
  readonly simulator: Simulator.Simulator
  readonly store: Store.Store
  readonly metrics: Metrics.Metrics
  readonly logs: ReadonlyArray<string>
  /** A request to the app with the given caller token (none when `null`). */
  readonly request: (
    path: string,
    init?: RequestInit & { readonly token?: string | null; readonly json?: unknown }
  ) => Promise<Response>
  /** Upstream requests the simulator received so far. */
  readonly upstreamCount: () => number
  /** `X-Request-Id` of every upstream request, in order. */
  readonly upstreamRequestIds: ReadonlyArray<string>
}

/** The app in process, in front of an in-process simulator whose webhooks go to the app's fetch. */
export const harness = (
  options: Partial<App.Deps> & { readonly simDelayMs?: number; readonly webhooks?: boolean } = {}
): Harness => {
  let app: App.App | undefined
  const upstreamRequestIds: Array<string> = []
  const { simDelayMs, webhooks, ...deps } = options
  const simulator = createSimulator({
    seedDemo: true,
    asyncDelayMs: simDelayMs ?? 0,
    webhook:
      webhooks === false
        ? {}
        : {
            url: "http://proxy.test/webhooks/zerohash",
            secret: WEBHOOK_SECRET,
            fetch: ((input: string | URL | Request, init?: RequestInit) =>
              Promise.resolve(app!.fetch(new Request(input, init)))) as typeof fetch
          }
  })
  const upstream = Upstream.make({
    baseUrl: "http://simulator.test",
    credentials: simulator.credentials,
    transport: fetchTransport((url, init) => {
      const request = new Request(url, init)
      upstreamRequestIds.push(request.headers.get("x-request-id") ?? "")
      return simulator.fetch(request)
    })
  })
  const logs = captureLogs()
  const store = options.store ?? Store.memory()
  const metrics = Metrics.make({ processMetrics: false })
  app = App.make({
    authenticator: Callers.makeAuthenticator(callerEntries),
    store,
    upstream,
    webhookSecret: WEBHOOK_SECRET,
    logger: Logger.make({ level: "info", destination: logs.destination }),
    metrics,
    ...deps
  })
  const built = app
  return {
    app: built,
    simulator,
    store,
    metrics,
    logs: logs.lines,
    request: async (path, init = {}) => {
      const { token = TOKENS.admin, json, ...rest } = init
      const headers = new Headers(rest.headers)
      if (token !== null) headers.set("authorization", `Bearer ${token}`)
      if (json !== undefined) headers.set("content-type", "application/json")
      return built.fetch(
        new Request(`http://proxy.test${path}`, {
          ...rest,
          headers,
          ...(json !== undefined ? { body: JSON.stringify(json) } : {})
        })
      )
    },
    upstreamCount: () => simulator.journal().length,
    upstreamRequestIds
  }
}

/** The `data` of an event on `/events`, as the tests read it. */
export interface EventData extends Record<string, unknown> {
  readonly zrn: string
  readonly status: string
}

/** Reads server-sent events from a stream until `count` events arrived (or the stream ends). */
export const readEvents = async (
  response: Response,
  count: number
): Promise<Array<{ id: number; data: EventData }>> => {
  const reader = response.body!.getReader()
  const decoder = new TextDecoder()
  const events: Array<{ id: number; data: EventData }> = []
  let buffer = ""
  while (events.length < count) {
    const { value, done } = await reader.read()
    if (done) break
    buffer += decoder.decode(value, { stream: true })
    let end = buffer.indexOf("\n\n")
    while (end >= 0) {
      const block = buffer.slice(0, end)
      buffer = buffer.slice(end + 2)
      const id = /^id: (\d+)$/m.exec(block)?.[1]
      const data = /^data: (.*)$/m.exec(block)?.[1]
      if (id !== undefined && data !== undefined) events.push({ id: Number(id), data: JSON.parse(data) })
      end = buffer.indexOf("\n\n")
    }
  }
  await reader.cancel()
  return events
}

/** The value of one sample (`name{labels}`) in Prometheus exposition text; 0 when absent. */
export const sampleOf = (text: string, sample: string): number => {
  const line = text.split("\n").find((l) => l.startsWith(`${sample} `))
  return line === undefined ? 0 : Number(line.slice(sample.length + 1))
}

/** Signs a webhook body the way zerohash does. */
export const signWebhook = (
  body: string,
  options: {
    readonly timestamp?: number
    readonly id?: string
    readonly secret?: string
    readonly legacyOnly?: boolean
    /** Default `customer_account_status_changed`. */
    readonly payloadType?: string
  } = {}
): Record<string, string> => {
  const timestamp = String(options.timestamp ?? Date.now())
  const secret = options.secret ?? WEBHOOK_SECRET
  const headers: Record<string, string> = {
    "content-type": "application/json",
    "x-zh-hook-payload-type": options.payloadType ?? "customer_account_status_changed",
    "x-zh-hook-notification-id": options.id ?? crypto.randomUUID(),
    "x-zh-hook-timestamp": timestamp,
    "x-zh-hook-signature-256": createHmac("sha256", secret).update(body).digest("hex")
  }
  if (options.legacyOnly !== true) {
    headers["x-zh-hook-signature"] = createHmac("sha256", secret)
      .update(body + timestamp)
      .digest("hex")
  }
  return headers
}

/** A free TCP port on 127.0.0.1 (closed again before it is returned). */
export const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      const port = typeof address === "object" && address !== null ? address.port : 0
      server.close(() => resolve(port))
    })
  })

/** A child process of `src/main.ts`, its output captured. */
export interface MainProcess {
  readonly child: ChildProcess
  readonly stdout: () => string
  readonly stderr: () => string
}

/**
 * `src/main.ts` run as `pnpm start` runs it, with `env` (and `PATH`, `HOME`) as its whole environment:
 * Node itself with tsx's loader and `--conditions=@mta/source` (what the `tsx` command runs in a child
 * process), so the child is the proxy and a signal (SIGKILL above all, which `tsx` cannot relay)
 * reaches the proxy itself.
 */
export const spawnMain = (env: Record<string, string>): MainProcess => {
  const child = spawn(process.execPath, ["--conditions=@mta/source", "--import", "tsx", "src/main.ts"], {
    cwd: packageDir,
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", ...env },
    stdio: ["ignore", "pipe", "pipe"]
  })
  let out = ""
  let err = ""
  child.stdout!.on("data", (d: Buffer) => {
    out += d.toString()
  })
  child.stderr!.on("data", (d: Buffer) => {
    err += d.toString()
  })
  return { child, stdout: () => out, stderr: () => err }
}

/** A proxy process, started as `pnpm start` starts it (`src/main.ts` with tsx's loader and `--conditions=@mta/source`). */
export interface ProxyProcess {
  readonly url: string
  readonly child: ChildProcess
  readonly stdout: () => string
  readonly stderr: () => string
  /** Sends a signal and resolves with the exit code. */
  readonly stop: (signal?: NodeJS.Signals) => Promise<number | null>
  readonly exited: Promise<number | null>
}

/**
 * Starts the proxy process. Unless `env` names a store (`MTA_DATA_DIR`, `DATABASE_URL`, `MTA_STORE`),
 * it gets the embedded default in a fresh temporary data directory, removed when it exits (never the
 * package's own `.mta-data`, which parallel tests would contend for).
 */
/** The text of a stream until `marker` has appeared `count` times. */
export const readUntil = async (body: ReadableStream<Uint8Array>, marker: string, count: number) => {
  const reader = body.getReader()
  const decoder = new TextDecoder()
  let text = ""
  while (text.split(marker).length - 1 < count) {
    const { value, done } = await reader.read()
    if (done) break
    text += decoder.decode(value, { stream: true })
  }
  await reader.cancel()
  return text
}

/** The settings that point a proxy process at a standalone simulator, with the simulator's credentials. */
export const upstreamEnv = (sim: SimServer.SimulatorServer): Record<string, string> => ({
  ZH_BASE_URL: sim.url,
  ZH_API_KEY: sim.simulator.credentials.apiKey,
  ZH_API_SECRET: sim.simulator.credentials.apiSecret,
  ZH_API_PASSPHRASE: sim.simulator.credentials.passphrase
})

export const startProxyProcess = async (env: Record<string, string>, port: number): Promise<ProxyProcess> => {
  const ownDataDir =
    env.MTA_DATA_DIR === undefined && env.DATABASE_URL === undefined && env.MTA_STORE === undefined
      ? mkdtempSync(join(tmpdir(), "mta-proxy-data-"))
      : undefined
  const { child, stdout, stderr } = spawnMain({
    ...env,
    ...(ownDataDir === undefined ? {} : { MTA_DATA_DIR: ownDataDir }),
    PORT: String(port),
    HOST: "127.0.0.1"
  })
  const exited = new Promise<number | null>((resolve) =>
    child.once("exit", (code) => {
      if (ownDataDir !== undefined) rmSync(ownDataDir, { recursive: true, force: true })
      resolve(code)
    })
  )
  const url = `http://127.0.0.1:${port}`
  const deadline = Date.now() + 30_000
  for (;;) {
    if (child.exitCode !== null) throw new Error(`proxy exited with ${child.exitCode}: ${stderr()}`)
    try {
      const r = await fetch(`${url}/healthz`)
      await r.arrayBuffer()
      if (r.ok) break
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill("SIGKILL")
      throw new Error(`proxy did not start in 30 s: ${stderr()}`)
    }
    await new Promise((r) => setTimeout(r, 100))
  }
  return {
    url,
    child,
    stdout,
    stderr,
    exited,
    stop: async (signal = "SIGTERM") => {
      if (child.exitCode === null) child.kill(signal)
      return exited
    }
  }
}

/** The proxy as a contract target: bearer token, real HTTP, the simulator's control plane. */
export const proxyTarget = (
  name: string,
  baseUrl: string,
  token: string,
  control: Contract.ContractControl | undefined
): Contract.ContractTarget => ({
  name,
  participants: Contract.demoParticipants,
  ...(control === undefined ? {} : { control }),
  call: async (endpoint, params = {}) => {
    const method = Endpoint.table[endpoint].method
    const path = Contract.pathOf(endpoint, params)
    const body =
      params.body !== undefined ? JSON.stringify(params.body) : method === "POST" ? "{}" : undefined
    const response = await fetch(`${baseUrl}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { "content-type": "application/json" }),
        ...params.headers
      },
      ...(body === undefined ? {} : { body })
    })
    const text = await response.text()
    let parsed: unknown
    try {
      parsed = text === "" ? undefined : JSON.parse(text)
    } catch {
      parsed = text
    }
    return { status: response.status, headers: Object.fromEntries(response.headers), body: parsed }
  }
})
