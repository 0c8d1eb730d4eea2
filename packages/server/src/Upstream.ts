/**
 * The proxy's upstream caller: the 15 endpoints, signed with `@mta/client`'s signer and sent over a
 * `@mta/client` transport (a pooled keep-alive `node:http` agent against a real upstream, the
 * simulator's `fetch` in the embedded default), answering the client's own typed errors.
 *
 * Why not the client's Promise API: the proxy has already decoded and checked each request with the
 * domain's Schemas, and the client's Effect machinery per call (fiber, span, retry schedule, input
 * re-validation) cost about 230 µs per call on this machine, more than the proxy's whole request path;
 * the proxy never retries (callers do). This module keeps the client's wire behaviour (signature,
 * headers, error classes and the status → error mapping of `upstream-api.md`), with none of that.
 * It has the same method names and shapes as the client, so the client can stand in (tests).
 *
 * @since 0.1.0
 */
import * as http from "node:http"
import * as https from "node:https"
import {
  type ClosableTransport,
  DecodeError,
  ErrorMapping,
  makeSigner,
  NetworkError,
  OutcomeUnknown,
  Signing,
  Timeout,
  type Transport,
  type TransportRequest,
  type TransportResponse
} from "@mta/client"
import { Api, Endpoint, Zrn } from "@mta/domain"
import { Either, Schema } from "effect"
import type { RawReads, UpstreamClient } from "./internal/context.js"

/** Options of `make`. */
export interface UpstreamOptions {
  readonly baseUrl: string
  readonly credentials: { readonly apiKey: string; readonly apiSecret: string; readonly passphrase: string }
  readonly transport: Transport
  /** Deadline of one upstream call. Default 10 000 ms. */
  readonly timeoutMs?: number | undefined
  /** Sent as `User-Agent`. */
  readonly userAgent?: string | undefined
}

/** Per-call options: the request id to send, and the caller's abort signal. */
export interface CallOptions {
  readonly requestId?: string | undefined
  readonly signal?: AbortSignal | undefined
}

type Decoder = (u: unknown) => Either.Either<unknown, unknown>
const decoders = new Map<Schema.Schema.AnyNoContext, Decoder>()
const decoderOf = (schema: Schema.Schema.AnyNoContext): Decoder => {
  let d = decoders.get(schema)
  if (d === undefined) {
    d = Schema.decodeUnknownEither(schema) as Decoder
    decoders.set(schema, d)
  }
  return d
}

const { isMutation } = ErrorMapping

/** What a call rejects with when its deadline passed. */
class DeadlineExceeded extends Error {
  constructor(timeoutMs: number) {
    super(`no answer in ${timeoutMs} ms`)
  }
}

/** The client's typed error for a call that got no (complete) answer. */
const lost = (
  operation: string,
  method: string,
  requestId: string,
  timeoutMs: number,
  error: unknown
): Error => {
  const fields = { messages: [], requestId, operation }
  if (error instanceof DeadlineExceeded) {
    return isMutation(method)
      ? new OutcomeUnknown({
          ...fields,
          reason: "Timeout",
          message: `${operation}: no answer in ${timeoutMs} ms`
        })
      : new Timeout({ ...fields, timeoutMs, message: `${operation}: no answer in ${timeoutMs} ms` })
  }
  const detail = error instanceof Error ? error.message : String(error)
  return isMutation(method)
    ? new OutcomeUnknown({
        ...fields,
        reason: "ConnectionLost",
        message: `${operation}: connection lost (${detail})`
      })
    : new NetworkError({ ...fields, detail, message: `${operation}: ${detail}` })
}

/** A whole upstream answer. */
interface Received {
  readonly status: number
  readonly headers: { get(name: string): string | null }
  readonly text: string
}

/**
 * One call with its deadline (`timeoutMs`, none when 0) and an optional abort signal, resolving once
 * the whole body is read; rejects with `DeadlineExceeded` when the deadline passes first.
 */
type Send = (
  method: string,
  url: string,
  headers: Readonly<Record<string, string>>,
  body: string | undefined,
  timeoutMs: number,
  signal: AbortSignal | undefined
) => Promise<Received>

/** How `nodeTransport` exposes its `Send` to `make`. */
const SEND: unique symbol = Symbol("mta.upstream.send")

/** Any other transport: a deadline of its own (a controller and a timer) over the abort signal. */
const sendVia =
  (transport: Transport): Send =>
  async (method, url, headers, body, timeoutMs, signal) => {
    const deadline = new AbortController()
    const timer = setTimeout(() => deadline.abort(new DeadlineExceeded(timeoutMs)), timeoutMs)
    try {
      const response = await transport({
        method,
        url,
        headers,
        body,
        signal: signal === undefined ? deadline.signal : AbortSignal.any([signal, deadline.signal])
      })
      return { status: response.status, headers: response.headers, text: await response.text() }
    } catch (error) {
      throw deadline.signal.aborted ? new DeadlineExceeded(timeoutMs) : error
    } finally {
      clearTimeout(timer)
    }
  }

/**
 * The texts of recent successful answers of one read endpoint that decoded with its response Schema.
 * Decoding is a function of the text alone, so an answer with exactly the same text is valid too and
 * is not decoded again: that is what repeated reads of an unchanged account get, and the decode was
 * the largest single cost of a read (about 13 µs of ~100 under load, `bench/RESULTS.md`). A new
 * text is decoded as before (a malformed answer is still a 502 `upstream_bad_response`).
 *
 * Bounded: the last `limit` texts of at most `maxLength` characters each (first in, first out).
 */
export class CheckedTexts {
  private readonly texts = new Set<string>()

  constructor(
    private readonly limit = 1024,
    private readonly maxLength = 4096
  ) {}

  has(text: string): boolean {
    return this.texts.has(text)
  }

  add(text: string): void {
    if (text.length > this.maxLength || this.texts.has(text)) return
    if (this.texts.size >= this.limit) this.texts.delete(this.texts.values().next().value as string)
    this.texts.add(text)
  }
}

/**
 * A successful upstream answer: its status, its exact text (what a read answers the caller) and the
 * value its response Schema decoded from it (the check that it has the documented shape); no value
 * when the text was checked before (`CheckedTexts`).
 */
export class Answer {
  constructor(
    readonly status: number,
    readonly text: string,
    readonly value: unknown
  ) {}
}

/** The client's typed error for an upstream answer that is not a success: the client's own mapping. */
export const errorFor = (
  operation: string,
  method: string,
  path: string,
  status: number,
  text: string,
  headers: { get(name: string): string | null },
  requestId: string
): Error =>
  ErrorMapping.fromResponse(
    { operation, method, path, requestId, idempotencyKey: undefined },
    status,
    headers,
    text,
    Date.now()
  )

/** Options of `nodeTransport`: those of `@mta/client`'s. */
export interface NodeTransportOptions {
  /** Keep connections open between requests. Default `true`. */
  readonly keepAlive?: boolean
  /** Most sockets per origin. Default 256. */
  readonly maxSockets?: number
  /** Idle sockets kept per origin. Default 256. */
  readonly maxFreeSockets?: number
  /** Idle time after which a pooled socket is closed. Default 4 000 ms (below Node servers' 5 s). */
  readonly idleTimeoutMs?: number
}

/** A response's headers, read only when asked for (Node builds `res.headers` on first access). */
class IncomingHeaders {
  constructor(private readonly response: http.IncomingMessage) {}
  get(name: string): string | null {
    const value = this.response.headers[name.toLowerCase()]
    if (value === undefined) return null
    return Array.isArray(value) ? value.join(", ") : value
  }
}

interface Origin {
  readonly prefix: string
  readonly secure: boolean
  readonly hostname: string
  readonly port: string
}

/**
 * The proxy's transport: `@mta/client`'s `nodeTransport` contract (a pooled keep-alive
 * `node:http(s)` agent, LIFO, the whole body buffered), cut to what one upstream call of the proxy
 * needs. Measured under load against the client's (`bench/RESULTS.md`), per call it
 *
 * - parses the origin once, not a `URL` per call (the proxy talks to one upstream);
 * - keeps the deadline with a plain timer that destroys the request, and `make` uses it directly,
 *   with no `AbortController` (an `AbortSignal.timeout` alone cost about 9 µs on Node 20);
 * - follows a caller's abort signal, when there is one, with one listener, instead of handing it to
 *   `http.request` (whose `addAbortSignal` ties end-of-stream watchers to every request);
 * - resolves once with the whole body, and decodes a one-chunk body without `Buffer.concat`.
 *
 * As a plain `Transport` (other callers, the readiness check) it behaves like the client's.
 */
export const nodeTransport = (options: NodeTransportOptions = {}): ClosableTransport => {
  const agentOptions: http.AgentOptions = {
    keepAlive: options.keepAlive ?? true,
    maxSockets: options.maxSockets ?? 256,
    maxFreeSockets: options.maxFreeSockets ?? 256,
    timeout: options.idleTimeoutMs ?? 4_000,
    scheduling: "lifo"
  }
  const httpAgent = new http.Agent(agentOptions)
  const httpsAgent = new https.Agent(agentOptions)
  let origin: Origin | undefined

  const originOf = (url: string): Origin => {
    if (origin !== undefined && url.startsWith(origin.prefix)) {
      const next = url.charCodeAt(origin.prefix.length)
      if (next === 47 /* / */ || next === 63 /* ? */ || Number.isNaN(next)) return origin
    }
    const parsed = new URL(url)
    origin = {
      prefix: parsed.origin,
      secure: parsed.protocol === "https:",
      hostname: parsed.hostname.startsWith("[") ? parsed.hostname.slice(1, -1) : parsed.hostname,
      port: parsed.port
    }
    return origin
  }

  const send: Send = (method, url, headers, body, timeoutMs, signal) =>
    new Promise<Received>((resolve, reject) => {
      if (signal?.aborted) {
        reject(signal.reason)
        return
      }
      const target = originOf(url)
      let path = url.slice(target.prefix.length)
      if (path === "" || path.charCodeAt(0) === 63 /* ? */) path = `/${path}`
      const sent: Readonly<Record<string, string | number>> =
        body === undefined ? headers : { ...headers, "content-length": Buffer.byteLength(body) }
      let timer: NodeJS.Timeout | undefined
      let expired = false
      const fail = (error: Error) => {
        if (timer !== undefined) clearTimeout(timer)
        signal?.removeEventListener("abort", onAbort)
        reject(expired ? new DeadlineExceeded(timeoutMs) : error)
      }
      const req = (target.secure ? https : http).request(
        {
          hostname: target.hostname,
          port: target.port,
          path,
          method,
          headers: sent,
          agent: target.secure ? httpsAgent : httpAgent
        },
        (res) => {
          const chunks: Array<Buffer> = []
          res.on("data", (chunk: Buffer) => chunks.push(chunk))
          res.on("end", () => {
            if (timer !== undefined) clearTimeout(timer)
            signal?.removeEventListener("abort", onAbort)
            resolve({
              status: res.statusCode ?? 0,
              headers: new IncomingHeaders(res),
              text: chunks.length === 1 ? chunks[0]!.toString("utf8") : Buffer.concat(chunks).toString("utf8")
            })
          })
          res.on("error", fail)
          res.on("close", () => {
            if (!res.complete) fail(new Error("connection closed before the response body ended"))
          })
        }
      )
      const onAbort = () => {
        req.destroy(signal?.reason instanceof Error ? signal.reason : new Error("aborted"))
      }
      req.on("error", fail)
      if (timeoutMs > 0) {
        timer = setTimeout(() => {
          expired = true
          req.destroy(new DeadlineExceeded(timeoutMs))
        }, timeoutMs)
      }
      signal?.addEventListener("abort", onAbort, { once: true })
      req.end(body)
    })

  const transport = ((request: TransportRequest) =>
    send(request.method, request.url, request.headers, request.body, 0, request.signal).then(
      (received): TransportResponse => ({
        status: received.status,
        headers: received.headers,
        text: () => Promise.resolve(received.text)
      })
    )) as ClosableTransport & { [SEND]: Send }
  transport[SEND] = send
  transport.close = () => {
    httpAgent.destroy()
    httpsAgent.destroy()
  }
  return transport
}

/**
 * The path of an endpoint whose one parameter is the ZRN, by concatenation (`Endpoint.pathFor` runs a
 * regular expression with a callback on every call).
 */
const zrnPath = (name: Endpoint.Name): ((zrn: string) => string) => {
  const [prefix, suffix, ...rest] = Endpoint.table[name].path.split("{zrn}")
  if (prefix === undefined || suffix === undefined || rest.length > 0 || /[{}]/.test(prefix + suffix)) {
    throw new Error(`${name}: expected one {zrn} parameter in ${Endpoint.table[name].path}`)
  }
  return (zrn) => `${prefix}${zrn}${suffix}`
}
const accountPath = zrnPath("getAccount")
const statusReasonPath = zrnPath("getStatusReason")

const zrnText = (zrn: string | Zrn.Zrn): string => (typeof zrn === "string" ? zrn : Zrn.format(zrn))

/** The upstream caller. ZRNs must be canonical already (the proxy parses them first). */
export const make = (options: UpstreamOptions): UpstreamClient => {
  const base = options.baseUrl.replace(/\/+$/, "")
  const sign = makeSigner(options.credentials.apiSecret)
  const timeoutMs = options.timeoutMs ?? 10_000
  const userAgent = options.userAgent ?? "mta-server/0.1.0"
  const { apiKey, passphrase } = options.credentials
  const send =
    (options.transport as Transport & { readonly [SEND]?: Send })[SEND] ?? sendVia(options.transport)

  /**
   * One upstream exchange: signs, sends, and on success checks the answer with the endpoint's
   * response Schema (a malformed answer is a `DecodeError`, 502 at the proxy). Resolves with the
   * decoded value and the upstream's exact text, so a read can answer the upstream's bytes.
   */
  const exchange = async (
    operation: Endpoint.Name,
    path: string,
    body: string | undefined,
    call: CallOptions | undefined,
    checked?: CheckedTexts
  ): Promise<Answer> => {
    const endpoint = Endpoint.table[operation]
    const method = endpoint.method
    const requestId = call?.requestId ?? crypto.randomUUID()
    const timestamp = Signing.timestampSeconds(Date.now())
    const headers: Record<string, string> = {
      accept: "application/json",
      "user-agent": userAgent,
      "x-request-id": requestId,
      "x-scx-api-key": apiKey,
      "x-scx-passphrase": passphrase,
      "x-scx-timestamp": timestamp,
      "x-scx-signed": sign(timestamp, method, path, body)
    }
    if (body !== undefined) headers["content-type"] = "application/json"
    let received: Received
    try {
      received = await send(method, `${base}${path}`, headers, body, timeoutMs, call?.signal)
    } catch (error) {
      throw lost(operation, method, requestId, timeoutMs, error)
    }
    const { status, text } = received
    const fields = { messages: [], requestId, operation }
    if (status !== endpoint.successStatus && !(status >= 200 && status < 300)) {
      throw errorFor(operation, method, path, status, text, received.headers, requestId)
    }
    // An empty success body reads (and is answered) as `{}`.
    const answered = text === "" ? "{}" : text
    // A raw read whose exact text decoded before needs no second decode (see `CheckedTexts`).
    if (checked?.has(answered) === true) return new Answer(status, answered, undefined)
    let json: unknown
    try {
      json = JSON.parse(answered)
    } catch {
      throw new DecodeError({
        ...fields,
        status,
        reason: "InvalidJson",
        detail: "not JSON",
        message: `${operation}: the answer is not JSON`
      })
    }
    const decoded = decoderOf(endpoint.response as Schema.Schema.AnyNoContext)(json)
    if (Either.isLeft(decoded)) {
      throw new DecodeError({
        ...fields,
        status,
        reason: "SchemaMismatch",
        detail: Api.formatErrors(decoded.left as never).join("; "),
        message: `${operation}: the answer does not match the documented shape`
      })
    }
    checked?.add(answered)
    return new Answer(status, answered, decoded.right)
  }
  const call = async (
    operation: Endpoint.Name,
    path: string,
    body: string | undefined,
    options: CallOptions | undefined
  ): Promise<unknown> => (await exchange(operation, path, body, options)).value

  const encodeUpdate = Schema.encodeSync(Api.UpdateAccountRequest)
  const encodeQuery = Schema.encodeSync(Api.LedgerQuery)
  const ledgerPath = (query: Record<string, unknown> = {}): string => {
    const encoded = encodeQuery(query as typeof Api.LedgerQuery.Type) as Record<
      string,
      string | number | undefined
    >
    const params = new URLSearchParams()
    for (const [k, v] of Object.entries(encoded)) if (v !== undefined) params.set(k, String(v))
    const qs = params.toString()
    return qs === "" ? "/accounts" : `/accounts?${qs}`
  }
  const command =
    (name: "lock" | "unlock" | "withdrawLock" | "withdrawUnlock" | "divest" | "close") =>
    async (zrn: string | Zrn.Zrn, options?: CallOptions): Promise<void> => {
      await call(name, Endpoint.pathFor(name, { zrn: zrnText(zrn) }), Signing.EMPTY_BODY, options)
    }
  const upstream = {
    createAccount: (body: typeof Api.CreateAccountRequest.Encoded, options?: CallOptions) =>
      call("createAccount", "/accounts", JSON.stringify(body), options),
    updateAccount: (
      zrn: string | Zrn.Zrn,
      body: typeof Api.UpdateAccountRequest.Type,
      options?: CallOptions
    ) =>
      call(
        "updateAccount",
        Endpoint.pathFor("updateAccount", { zrn: zrnText(zrn) }),
        JSON.stringify(encodeUpdate(body)),
        options
      ),
    getAccount: (zrn: string | Zrn.Zrn, options?: CallOptions) =>
      call("getAccount", Endpoint.pathFor("getAccount", { zrn: zrnText(zrn) }), undefined, options),
    getStatusReason: (zrn: string | Zrn.Zrn, options?: CallOptions) =>
      call("getStatusReason", Endpoint.pathFor("getStatusReason", { zrn: zrnText(zrn) }), undefined, options),
    lock: command("lock"),
    unlock: command("unlock"),
    withdrawLock: command("withdrawLock"),
    withdrawUnlock: command("withdrawUnlock"),
    divest: command("divest"),
    close: command("close"),
    addTenant: async (zrn: string | Zrn.Zrn, code: string, options?: CallOptions) => {
      await call(
        "addTenant",
        Endpoint.pathFor("addTenant", { zrn: zrnText(zrn) }),
        JSON.stringify({ participant_code: code }),
        options
      )
    },
    removeTenant: async (zrn: string | Zrn.Zrn, code: string, options?: CallOptions) => {
      await call(
        "removeTenant",
        Endpoint.pathFor("removeTenant", { zrn: zrnText(zrn), tenant: code }),
        undefined,
        options
      )
    },
    addAdvisor: async (zrn: string | Zrn.Zrn, code: string, options?: CallOptions) => {
      await call(
        "addAdvisor",
        Endpoint.pathFor("addAdvisor", { zrn: zrnText(zrn) }),
        JSON.stringify({ participant_code: code }),
        options
      )
    },
    removeAdvisor: async (zrn: string | Zrn.Zrn, code: string, options?: CallOptions) => {
      await call(
        "removeAdvisor",
        Endpoint.pathFor("removeAdvisor", { zrn: zrnText(zrn), financial_advisor: code }),
        undefined,
        options
      )
    },
    getLedgerPage: (query: Record<string, unknown> = {}, options?: CallOptions) =>
      call("listLedgerAccounts", ledgerPath(query), undefined, options)
  }
  const checkedAccounts = new CheckedTexts()
  const checkedReasons = new CheckedTexts()
  const checkedPages = new CheckedTexts()
  const raw: RawReads = {
    getAccount: (zrn, options) =>
      exchange("getAccount", accountPath(zrn), undefined, options, checkedAccounts),
    getStatusReason: (zrn, options) =>
      exchange("getStatusReason", statusReasonPath(zrn), undefined, options, checkedReasons),
    getLedgerPage: (query, options) =>
      exchange("listLedgerAccounts", ledgerPath(query), undefined, options, checkedPages)
  }
  return { ...upstream, raw } as unknown as UpstreamClient
}
