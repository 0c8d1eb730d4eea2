/**
 * The pluggable HTTP transport under the client: one function from a fully built request (URL,
 * headers, the exact body bytes, an abort signal) to a response. Signing, retries, timeouts and error
 * mapping happen above it, so a transport only moves bytes.
 *
 * Two are built in: `fetchTransport` (any standard `fetch`; the default, works in every runtime and
 * under msw) and `nodeTransport` (a pooled keep-alive `node:http`/`node:https` agent for servers,
 * which on this machine moves about three times as many upstream calls per second as Node's fetch).
 *
 * `exchange` sends one request over any transport and reads the whole body, with an optional deadline
 * and an optional signal: what a caller that does its own error mapping wants (the proxy). A
 * `nodeTransport` does it natively (one timer, one abort listener, one promise per call).
 *
 * @since 0.1.0
 */
import * as http from "node:http"
import * as https from "node:https"
import { Targets } from "./internal/target.js"

/** One request as the transport must send it. The body is already serialised and signed. */
export interface TransportRequest {
  readonly method: string
  readonly url: string
  readonly headers: Readonly<Record<string, string>>
  /** The exact bytes to send (`undefined` for GET and DELETE). */
  readonly body: string | undefined
  /** Aborted when the call times out or is interrupted; the transport must stop and reject. */
  readonly signal: AbortSignal
}

/** The parts of a response the client reads. A fetch `Response` satisfies it as it is. */
export interface TransportResponse {
  readonly status: number
  readonly headers: { get(name: string): string | null }
  text(): Promise<string>
}

/** Sends one request. Rejects when no response arrives (refused, dropped, aborted). */
export type Transport = (request: TransportRequest) => Promise<TransportResponse>

/** The shape of a standard `fetch`, narrowed to what the transport uses. */
export type FetchLike = (input: string, init: RequestInit) => Promise<TransportResponse>

/** A transport over a standard `fetch` (the global one unless given). */
export const fetchTransport = (fetchImpl?: FetchLike): Transport => {
  return (request) => {
    // Read the global lazily: test tools (msw) patch `globalThis.fetch` after the client is built.
    const f: FetchLike = fetchImpl ?? (globalThis.fetch as FetchLike)
    const init: RequestInit = {
      method: request.method,
      headers: request.headers,
      signal: request.signal,
      redirect: "manual"
    }
    if (request.body !== undefined) init.body = request.body
    return f(request.url, init)
  }
}

/** A request for `exchange`: a `TransportRequest` with an optional signal and an optional deadline. */
export interface ExchangeRequest {
  readonly method: string
  readonly url: string
  readonly headers: Readonly<Record<string, string>>
  /** The exact bytes to send (`undefined` for GET and DELETE). */
  readonly body: string | undefined
  /** Stops the exchange when aborted; the exchange rejects as the transport does. */
  readonly signal?: AbortSignal | undefined
  /**
   * Deadline of the whole exchange (the response and its whole body), in milliseconds; none when
   * absent or 0. When it passes, the request is stopped and the exchange rejects with a
   * `TransportTimeout`.
   */
  readonly timeoutMs?: number | undefined
}

/** A response read to its end. */
export interface ExchangeResponse {
  readonly status: number
  readonly headers: { get(name: string): string | null }
  /** The whole body, decoded as UTF-8. */
  readonly text: string
}

/**
 * What `exchange` rejects with when its `timeoutMs` passed. `ErrorMapping.fromExchangeFailure` maps
 * it to the client's `Timeout` (`OutcomeUnknown` for a mutation).
 */
export class TransportTimeout extends Error {
  override readonly name = "TransportTimeout"
  constructor(readonly timeoutMs: number) {
    super(`no response within ${timeoutMs} ms`)
  }
}

/** Options of the pooled Node.js transport. */
export interface NodeTransportOptions {
  /** Keep connections open between requests. Default `true`. */
  readonly keepAlive?: boolean
  /** Most sockets per origin. Default 64. */
  readonly maxSockets?: number
  /** Idle sockets kept per origin. Default 16. */
  readonly maxFreeSockets?: number
  /**
   * Idle time after which a pooled socket is closed, in milliseconds. Default 4 000: below the 5 s
   * keep-alive time-out of Node.js servers, so the pool drops a socket before the server does; a
   * reused socket the server had already closed would fail a mutation with an unknown outcome.
   */
  readonly idleTimeoutMs?: number
}

/** A transport with a `close()` that destroys its pooled sockets. */
export interface ClosableTransport extends Transport {
  /** Destroys every pooled socket; in-flight requests fail. */
  close(): void
}

/** The pooled Node.js transport: a `ClosableTransport` that also reads whole responses itself. */
export interface NodeTransport extends ClosableTransport {
  /**
   * One request read to its end, with an optional deadline and signal (see `exchange`): resolves
   * once, with the whole body, and needs no `AbortController` for the deadline.
   */
  exchange(request: ExchangeRequest): Promise<ExchangeResponse>
}

/**
 * Sends one request over `transport` and reads its whole body. A transport with an `exchange` method
 * of its own (`nodeTransport`) is asked directly; any other is called with a signal that also aborts
 * at the deadline, and its body read with `text()`. Rejects as the transport does, or with a
 * `TransportTimeout` when `timeoutMs` passes first.
 */
export const exchange = (transport: Transport, request: ExchangeRequest): Promise<ExchangeResponse> => {
  const own = (transport as Partial<NodeTransport>).exchange
  if (typeof own === "function") return own.call(transport, request)
  return exchangeVia(transport, request)
}

const exchangeVia = (transport: Transport, request: ExchangeRequest): Promise<ExchangeResponse> =>
  new Promise<ExchangeResponse>((resolve, reject) => {
    const timeoutMs = request.timeoutMs ?? 0
    const deadline = new AbortController()
    let timer: NodeJS.Timeout | undefined
    if (timeoutMs > 0) {
      // Rejects at the deadline even if the transport is slow to notice the abort.
      timer = setTimeout(() => {
        const timeout = new TransportTimeout(timeoutMs)
        deadline.abort(timeout)
        reject(timeout)
      }, timeoutMs)
    }
    const signal =
      request.signal === undefined ? deadline.signal : AbortSignal.any([request.signal, deadline.signal])
    let sent: Promise<TransportResponse>
    try {
      sent = transport({
        method: request.method,
        url: request.url,
        headers: request.headers,
        body: request.body,
        signal
      })
    } catch (error) {
      clearTimeout(timer)
      throw error
    }
    sent
      .then((response) =>
        response.text().then((text) => ({ status: response.status, headers: response.headers, text }))
      )
      .then(resolve, reject)
      .finally(() => clearTimeout(timer))
  })

/** A response's headers, read only when asked for (Node builds `res.headers` on first access). */
class NodeHeaders {
  constructor(private readonly response: http.IncomingMessage) {}
  get(name: string): string | null {
    const value = this.response.headers[name.toLowerCase()]
    if (value === undefined) return null
    return Array.isArray(value) ? value.join(", ") : value
  }
}

/**
 * A `TransportResponse` whose body is still arriving. The body promise is made only when `text()` is
 * first called (so an unread failed body is no unhandled rejection), and then settles with the body.
 */
class NodeResponse implements TransportResponse {
  private outcome: string | Error | undefined
  private body: Promise<string> | undefined
  private settle: { resolve(text: string): void; reject(error: Error): void } | undefined

  constructor(
    readonly status: number,
    readonly headers: NodeHeaders
  ) {}

  text(): Promise<string> {
    if (this.body === undefined) {
      const outcome = this.outcome
      this.body =
        outcome === undefined
          ? new Promise<string>((resolve, reject) => {
              this.settle = { resolve, reject }
            })
          : typeof outcome === "string"
            ? Promise.resolve(outcome)
            : Promise.reject(outcome)
    }
    return this.body
  }

  /** The body arrived (`string`) or failed (`Error`). */
  ended(outcome: string | Error): void {
    this.outcome = outcome
    if (typeof outcome === "string") this.settle?.resolve(outcome)
    else this.settle?.reject(outcome)
    this.settle = undefined
  }
}

/** How `nodeTransport`'s one `send` resolves either of its two promises. */
type Settle = (response: NodeResponse | ExchangeResponse) => void

/** The error a request stopped by its signal rejects with: Node's own `AbortError` shape. */
const abortError = (reason: unknown): Error =>
  Object.assign(new Error("The operation was aborted", { cause: reason }), {
    name: "AbortError",
    code: "ABORT_ERR"
  })

/**
 * A pooled keep-alive transport over `node:http` / `node:https` agents (LIFO, so the warmest socket is
 * reused). Per call it
 *
 * - parses the origin once per transport, not a `URL` per call (`internal/target.ts`; a path `new URL`
 *   would rewrite still goes through it);
 * - follows the signal with one listener, removed when the call ends, instead of handing it to
 *   `http.request` (whose `addAbortSignal` ties end-of-stream watchers to every request);
 * - keeps `exchange`'s deadline with a plain timer that destroys the request (no `AbortController`);
 * - reads response headers only when asked, and decodes a one-chunk body without `Buffer.concat`.
 *
 * As a `Transport` it resolves when the response head arrives; `text()` is the whole body. A body cut
 * short rejects `text()` (the transport call has resolved already). `exchange` resolves once, with
 * the whole body.
 */
export const nodeTransport = (options: NodeTransportOptions = {}): NodeTransport => {
  const agentOptions: http.AgentOptions = {
    keepAlive: options.keepAlive ?? true,
    maxSockets: options.maxSockets ?? 64,
    maxFreeSockets: options.maxFreeSockets ?? 16,
    timeout: options.idleTimeoutMs ?? 4_000,
    scheduling: "lifo"
  }
  const httpAgent = new http.Agent(agentOptions)
  const httpsAgent = new https.Agent(agentOptions)
  const targets = new Targets()

  /**
   * One request. `head` set: resolves a `NodeResponse` at the response head, the body settled into
   * it later; else resolves an `ExchangeResponse` once the body has ended.
   */
  const send = (
    request: ExchangeRequest,
    head: boolean,
    resolve: Settle,
    reject: (error: unknown) => void
  ): void => {
    const signal = request.signal
    if (signal?.aborted === true) {
      reject(signal.reason)
      return
    }
    const { target, path } = targets.resolve(request.url)
    const body = request.body
    const headers: Readonly<Record<string, string | number>> =
      body === undefined ? request.headers : { ...request.headers, "content-length": Buffer.byteLength(body) }
    const timeoutMs = request.timeoutMs ?? 0
    let timer: NodeJS.Timeout | undefined
    let done = false
    // Why this side stopped the request (deadline or signal): what the call rejects with.
    let stopped: Error | undefined
    let response: NodeResponse | undefined
    const end = () => {
      done = true
      if (timer !== undefined) clearTimeout(timer)
      signal?.removeEventListener("abort", onAbort)
    }
    const fail = (error: Error) => {
      if (done) return
      end()
      const reason = stopped ?? error
      if (response === undefined) reject(reason)
      else response.ended(reason)
    }
    const req = (target.secure ? https : http).request(
      {
        protocol: target.protocol,
        hostname: target.hostname,
        port: target.port,
        path,
        method: request.method,
        headers,
        agent: target.secure ? httpsAgent : httpAgent
      },
      (res) => {
        // Chunks are kept as Buffers (a multi-byte character may be split between two); one chunk,
        // the usual case, is decoded as it is.
        let first: Buffer | undefined
        let all: Array<Buffer> | undefined
        res.on("data", (chunk: Buffer) => {
          if (first === undefined) first = chunk
          else if (all === undefined) all = [first, chunk]
          else all.push(chunk)
        })
        res.on("end", () => {
          if (done) return
          end()
          const text =
            all !== undefined ? Buffer.concat(all).toString("utf8") : (first?.toString("utf8") ?? "")
          if (response !== undefined) response.ended(text)
          else resolve({ status: res.statusCode ?? 0, headers: new NodeHeaders(res), text })
        })
        res.on("error", fail)
        res.on("close", () => {
          if (!res.complete) fail(new Error("connection closed before the response body ended"))
        })
        if (head) {
          response = new NodeResponse(res.statusCode ?? 0, new NodeHeaders(res))
          resolve(response)
        }
      }
    )
    const onAbort = () => {
      if (done) return
      stopped = abortError(signal?.reason)
      req.destroy(stopped)
    }
    req.on("error", fail)
    if (timeoutMs > 0) {
      timer = setTimeout(() => {
        stopped = new TransportTimeout(timeoutMs)
        req.destroy(stopped)
      }, timeoutMs)
    }
    signal?.addEventListener("abort", onAbort, { once: true })
    req.end(body)
  }

  const transport = ((request: TransportRequest) =>
    new Promise<TransportResponse>((resolve, reject) =>
      send(request, true, resolve as Settle, reject)
    )) as NodeTransport
  transport.exchange = (request) =>
    new Promise<ExchangeResponse>((resolve, reject) => send(request, false, resolve as Settle, reject))
  transport.close = () => {
    httpAgent.destroy()
    httpsAgent.destroy()
  }
  return transport
}
