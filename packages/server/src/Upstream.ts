/**
 * The proxy's upstream caller: the 15 endpoints, signed with `@mta/client`'s signer and sent over a
 * `@mta/client` transport (its pooled keep-alive `nodeTransport` against a real upstream, the
 * simulator's `fetch` in the embedded default) with the client's `exchange` (the whole body, a
 * deadline without an `AbortController`), answering the client's own typed errors (`ErrorMapping`).
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
import {
  nodeTransport as clientNodeTransport,
  DecodeError,
  ErrorMapping,
  type ExchangeResponse,
  exchange as exchangeOver,
  makeSigner,
  type NodeTransport,
  type NodeTransportOptions,
  Signing,
  type Transport
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
  const transport = options.transport

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
    let received: ExchangeResponse
    try {
      received = await exchangeOver(transport, {
        method,
        url: `${base}${path}`,
        headers,
        body,
        signal: call?.signal,
        timeoutMs
      })
    } catch (error) {
      // No answer (deadline, lost connection, abort): the client's own mapping.
      throw ErrorMapping.fromExchangeFailure(
        { operation, method, path, requestId, idempotencyKey: undefined },
        error
      )
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
