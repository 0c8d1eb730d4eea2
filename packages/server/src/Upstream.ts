/**
 * The proxy's upstream caller: `@mta/client`'s `Protocol` (the request of each endpoint, its signed
 * headers, what the response means, as the client's own typed errors) over a `@mta/client` transport
 * (its pooled keep-alive `nodeTransport` against a real upstream, the simulator's `fetch` in the
 * embedded default) with the client's `exchange` (the whole body, a deadline without an
 * `AbortController`). It has the client's method names and shapes, so the client can stand in (tests).
 *
 * Why not the client's Promise API: the proxy has already decoded and checked each request with the
 * domain's Schemas and never retries (callers do), and the client's Effect machinery per call (fiber,
 * span, retry schedule, input re-validation) cost about 230 µs per call on this machine, more than
 * the proxy's whole request path. So this is protocol + transport and nothing else.
 *
 * Each call is a `CLIENT` span, the client's own (`Tracing.startAttempt` / `endAttempt`: named
 * `<METHOD> <url template>`, the HTTP client conventions' attributes), the child of the call's
 * `context` (the request's span) or of the active context; its `traceparent` goes upstream
 * (`Tracing.traceHeaders`, which writes the caller's trace even without an SDK).
 *
 * @since 0.1.0
 */
import {
  nodeTransport as clientNodeTransport,
  ErrorMapping,
  exchange,
  makeSigner,
  type NodeTransport,
  type NodeTransportOptions,
  Protocol,
  Tracing,
  type Transport
} from "@mta/client"
import { Endpoint } from "@mta/domain"
import { type Context as OtelContext, context as otelContext } from "@opentelemetry/api"
import { Either, Redacted } from "effect"
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

/** Per-call options: the request id to send, the caller's abort signal, the span's parent. */
export interface CallOptions {
  readonly requestId?: string | undefined
  readonly signal?: AbortSignal | undefined
  /** The OpenTelemetry context the call's `CLIENT` span is a child of (default: the active one). */
  readonly context?: OtelContext | undefined
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

export type { NodeTransportOptions }

/**
 * `@mta/client`'s `nodeTransport` (a pooled keep-alive `node:http(s)` agent; the origin parsed once,
 * one abort listener per call, `exchange`'s deadline a plain timer, a one-chunk body decoded without
 * `Buffer.concat`) with the proxy's pool sizes: 256 sockets per origin, 256 kept idle, unless given.
 */
export const nodeTransport = (options: NodeTransportOptions = {}): NodeTransport =>
  clientNodeTransport({
    ...options,
    maxSockets: options.maxSockets ?? 256,
    maxFreeSockets: options.maxFreeSockets ?? 256
  })

/** The upstream caller. Arguments must be valid already (the proxy checks them first; ZRNs canonical). */
export const make = (options: UpstreamOptions): UpstreamClient => {
  const base = options.baseUrl.replace(/\/+$/, "")
  // The base URL's path, in front of each template (`/v1/accounts/{zrn}/lock`), as the client names it.
  const basePath = new URL(base).pathname.replace(/\/+$/, "")
  const { apiKey, apiSecret, passphrase } = options.credentials
  const auth: Protocol.Auth = {
    kind: "signed",
    apiKey,
    passphrase: Redacted.make(passphrase),
    sign: makeSigner(apiSecret)
  }
  const timeoutMs = options.timeoutMs ?? 10_000
  const userAgent = options.userAgent ?? "mta-server/0.1.0"
  const transport = options.transport

  /**
   * One upstream exchange of an endpoint: the protocol's request, signed and sent; a success is
   * checked with the endpoint's response Schema (a malformed answer is a `DecodeError`, 502 at the
   * proxy) unless its exact text was checked before (`checked`), anything else is the client's error.
   */
  const send = async (
    row: Protocol.Row,
    args: ReadonlyArray<unknown>,
    call: CallOptions | undefined,
    checked?: CheckedTexts
  ): Promise<Answer> => {
    const request = Protocol.request(row, args as Protocol.Args<Protocol.Row>, {
      requestId: call?.requestId ?? crypto.randomUUID()
    })
    const url = `${base}${request.path}`
    const { span, context } = Tracing.startAttempt(call?.context ?? otelContext.active(), {
      method: request.method,
      url,
      template: `${basePath}${row.path}`,
      attempt: 1,
      operation: request.operation,
      requestId: request.requestId
    })
    const headers = Protocol.headers(auth, request, userAgent, Date.now())
    const trace = Tracing.traceHeaders(context)
    for (const key in trace) if (headers[key] === undefined) headers[key] = trace[key]!
    let received: Protocol.Received
    try {
      received = await exchange(transport, {
        method: request.method,
        url,
        headers,
        body: request.body,
        signal: call?.signal,
        timeoutMs
      })
    } catch (error) {
      // No answer (deadline, lost connection, abort).
      const failure = ErrorMapping.fromExchangeFailure(request, error)
      Tracing.endAttempt(span, { errorType: Tracing.errorTypeOf(failure) })
      throw failure
    }
    const { status, text } = received
    if (checked?.has(text) === true && Protocol.isSuccess(status)) {
      Tracing.endAttempt(span, { status })
      return new Answer(status, text, undefined)
    }
    const result = Protocol.response(row, request, received, Date.now())
    if (Either.isLeft(result)) {
      // A success that does not decode is the upstream's fault too (502 at the proxy).
      Tracing.endAttempt(span, { status, errorType: Tracing.errorTypeOf(result.left) })
      throw result.left
    }
    Tracing.endAttempt(span, { status })
    checked?.add(text)
    return new Answer(status, text, result.right)
  }

  const endpoints = Protocol.methods<CallOptions, Protocol.Promised>(async (row, args, call) => {
    return (await send(row, args, call)).value
  })
  const read = (name: "getAccount" | "getStatusReason" | "listLedgerAccounts") => {
    const checked = new CheckedTexts()
    return (arg: unknown, call?: CallOptions) => send(Endpoint.table[name], [arg], call, checked)
  }
  const raw: RawReads = {
    getAccount: read("getAccount"),
    getStatusReason: read("getStatusReason"),
    getLedgerPage: read("listLedgerAccounts")
  }
  return { ...endpoints, raw }
}
