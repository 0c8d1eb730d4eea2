/**
 * The pluggable HTTP transport under the client: one function from a fully built request (URL,
 * headers, the exact body bytes, an abort signal) to a response. Signing, retries, timeouts and error
 * mapping happen above it, so a transport only moves bytes.
 *
 * Two are built in: `fetchTransport` (any standard `fetch`; the default, works in every runtime and
 * under msw) and `nodeTransport` (a pooled keep-alive `node:http`/`node:https` agent for servers,
 * which on this machine moves about three times as many upstream calls per second as Node's fetch).
 *
 * @since 0.1.0
 */
import * as http from "node:http"
import * as https from "node:https"

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

class NodeHeaders {
  constructor(private readonly raw: http.IncomingHttpHeaders) {}
  get(name: string): string | null {
    const value = this.raw[name.toLowerCase()]
    if (value === undefined) return null
    return Array.isArray(value) ? value.join(", ") : value
  }
}

/** A pooled keep-alive transport over `node:http` / `node:https` agents. */
export const nodeTransport = (options: NodeTransportOptions = {}): ClosableTransport => {
  const agentOptions: http.AgentOptions = {
    keepAlive: options.keepAlive ?? true,
    maxSockets: options.maxSockets ?? 64,
    maxFreeSockets: options.maxFreeSockets ?? 16,
    timeout: options.idleTimeoutMs ?? 4_000,
    scheduling: "lifo"
  }
  const httpAgent = new http.Agent(agentOptions)
  const httpsAgent = new https.Agent(agentOptions)

  const transport = ((request: TransportRequest) =>
    new Promise<TransportResponse>((resolve, reject) => {
      if (request.signal.aborted) {
        reject(request.signal.reason)
        return
      }
      const url = new URL(request.url)
      const secure = url.protocol === "https:"
      const headers: Record<string, string | number> = { ...request.headers }
      if (request.body !== undefined) headers["content-length"] = Buffer.byteLength(request.body)
      const req = (secure ? https : http).request(
        {
          protocol: url.protocol,
          hostname: url.hostname.startsWith("[") ? url.hostname.slice(1, -1) : url.hostname,
          port: url.port,
          path: `${url.pathname}${url.search}`,
          method: request.method,
          headers,
          agent: secure ? httpsAgent : httpAgent,
          signal: request.signal
        },
        (res) => {
          // Buffer the whole body here: the client reads every body as text, and collecting
          // chunks as Buffers avoids splitting a multi-byte character.
          const chunks: Array<Buffer> = []
          let failure: Error | undefined
          res.on("data", (chunk: Buffer) => chunks.push(chunk))
          res.on("error", (error) => {
            failure = error
          })
          const body = new Promise<string>((resolveBody, rejectBody) => {
            res.on("end", () => resolveBody(Buffer.concat(chunks).toString("utf8")))
            res.on("close", () => {
              if (!res.complete)
                rejectBody(failure ?? new Error("connection closed before the response body ended"))
            })
          })
          // Attach a handler now so an unread failed body is not an unhandled rejection.
          body.catch(() => {})
          resolve({
            status: res.statusCode ?? 0,
            headers: new NodeHeaders(res.headers),
            text: () => body
          })
        }
      )
      req.on("error", reject)
      req.end(request.body)
    })) as ClosableTransport
  transport.close = () => {
    httpAgent.destroy()
    httpsAgent.destroy()
  }
  return transport
}
