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
import {
  AuthenticationError,
  Conflict,
  DecodeError,
  IdempotencyMismatch,
  makeSigner,
  NetworkError,
  NotFound,
  OutcomeUnknown,
  PermissionDenied,
  RateLimited,
  ServerError,
  Signing,
  Timeout,
  type Transport,
  Unavailable,
  ValidationError
} from "@mta/client"
import { Api, Endpoint, Zrn } from "@mta/domain"
import { Either, Schema } from "effect"
import type { UpstreamClient } from "./internal/context.js"

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
const decodeErrorBody = Schema.decodeUnknownEither(Api.UpstreamErrorBody)

const isMutation = (method: string) => method !== "GET"

const messagesOf = (text: string): ReadonlyArray<string> => {
  try {
    const body = decodeErrorBody(JSON.parse(text))
    return Either.isRight(body) ? Api.errorMessages(body.right) : []
  } catch {
    return []
  }
}

const retryAfterMs = (header: string | null, now: number): number => {
  if (header === null || header.trim() === "") return 10_000
  const seconds = Number(header)
  if (Number.isFinite(seconds) && seconds >= 0) return Math.ceil(seconds * 1000)
  const date = Date.parse(header)
  return Number.isFinite(date) ? Math.max(0, date - now) : 10_000
}

/** The client's typed error for an upstream answer that is not a success (upstream-api.md). */
export const errorFor = (
  operation: string,
  method: string,
  status: number,
  text: string,
  headers: { get(name: string): string | null },
  requestId: string
): Error => {
  const messages = messagesOf(text)
  const fields = {
    status,
    messages,
    requestId,
    operation,
    message: `${operation}: upstream answered ${status}${messages.length > 0 ? `: ${messages.join("; ")}` : ""}`
  }
  switch (status) {
    case 400:
      return new ValidationError(fields)
    case 401:
      return new AuthenticationError(fields)
    case 403:
      return new PermissionDenied(fields)
    case 404:
      return new NotFound(fields)
    case 409:
      return new Conflict(fields)
    case 422:
      return new IdempotencyMismatch(fields)
    case 429:
      return new RateLimited({
        ...fields,
        retryAfterMs: retryAfterMs(headers.get("retry-after"), Date.now())
      })
    case 503:
      return new Unavailable({
        ...fields,
        retryAllowed: headers.get("zh-allow-retry")?.trim().toLowerCase() === "true"
      })
  }
  if (status === 500 || status === 502 || status === 504) {
    return isMutation(method)
      ? new OutcomeUnknown({ ...fields, reason: "ServerError" })
      : new ServerError(fields)
  }
  if (status >= 500 && status <= 599) return new ServerError(fields)
  return new DecodeError({ ...fields, reason: "UnexpectedStatus", detail: `unexpected status ${status}` })
}

const zrnText = (zrn: string | Zrn.Zrn): string => (typeof zrn === "string" ? zrn : Zrn.format(zrn))

/** The upstream caller. ZRNs must be canonical already (the proxy parses them first). */
export const make = (options: UpstreamOptions): UpstreamClient => {
  const base = options.baseUrl.replace(/\/+$/, "")
  const sign = makeSigner(options.credentials.apiSecret)
  const timeoutMs = options.timeoutMs ?? 10_000
  const userAgent = options.userAgent ?? "mta-server/0.1.0"
  const { apiKey, passphrase } = options.credentials

  const call = async (
    operation: Endpoint.Name,
    path: string,
    body: string | undefined,
    call: CallOptions | undefined
  ): Promise<unknown> => {
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
    const deadline = AbortSignal.timeout(timeoutMs)
    // `AbortSignal.any` is slow on Node 20; combine only when the caller gave a signal.
    const signal = call?.signal === undefined ? deadline : AbortSignal.any([call.signal, deadline])
    const fields = { messages: [], requestId, operation }
    const lost = (error: unknown): Error => {
      const detail = error instanceof Error ? error.message : String(error)
      if (deadline.aborted) {
        return isMutation(method)
          ? new OutcomeUnknown({
              ...fields,
              reason: "Timeout",
              message: `${operation}: no answer in ${timeoutMs} ms`
            })
          : new Timeout({ ...fields, timeoutMs, message: `${operation}: no answer in ${timeoutMs} ms` })
      }
      return isMutation(method)
        ? new OutcomeUnknown({
            ...fields,
            reason: "ConnectionLost",
            message: `${operation}: connection lost (${detail})`
          })
        : new NetworkError({ ...fields, detail, message: `${operation}: ${detail}` })
    }
    let status: number
    let text: string
    let responseHeaders: { get(name: string): string | null }
    try {
      const response = await options.transport({ method, url: `${base}${path}`, headers, body, signal })
      status = response.status
      responseHeaders = response.headers
      text = await response.text()
    } catch (error) {
      throw lost(error)
    }
    if (status !== endpoint.successStatus && !(status >= 200 && status < 300)) {
      throw errorFor(operation, method, status, text, responseHeaders, requestId)
    }
    let json: unknown
    try {
      json = text === "" ? {} : JSON.parse(text)
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
    return decoded.right
  }

  const encodeUpdate = Schema.encodeSync(Api.UpdateAccountRequest)
  const encodeQuery = Schema.encodeSync(Api.LedgerQuery)
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
    getLedgerPage: (query: Record<string, unknown> = {}, options?: CallOptions) => {
      const encoded = encodeQuery(query as typeof Api.LedgerQuery.Type) as Record<
        string,
        string | number | undefined
      >
      const params = new URLSearchParams()
      for (const [k, v] of Object.entries(encoded)) if (v !== undefined) params.set(k, String(v))
      const qs = params.toString()
      return call("listLedgerAccounts", qs === "" ? "/accounts" : `/accounts?${qs}`, undefined, options)
    }
  }
  return upstream as unknown as UpstreamClient
}
