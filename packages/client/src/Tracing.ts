/**
 * OpenTelemetry for the client, through `@opentelemetry/api` only (the application brings the SDK):
 * one `CLIENT` span per HTTP attempt, named and attributed by the semantic conventions for HTTP
 * clients (`http.request.method`, `server.address`, `server.port`, `url.full`, `url.template`,
 * `http.response.status_code`, `error.type`, `http.request.resend_count`), the child of the caller's
 * active span; and the W3C `traceparent` / `tracestate` of that span sent upstream, in both modes.
 *
 * Without an SDK the API is a no-op: no span is recorded, and the caller's own span context (if any)
 * is still propagated. Headers are written by the globally registered propagator; when it wrote no
 * `traceparent` (none registered, or one of another format) and the span context is valid, a W3C
 * `traceparent` (and `tracestate`) is written from it, so the upstream always sees the trace.
 * `extractContext` is the receiving side (the proxy's), with the same fallback: W3C headers are read
 * when the registered propagator found nothing.
 *
 * @since 0.2.0
 */
import {
  type Attributes,
  type Context,
  context,
  createTraceState,
  isSpanContextValid,
  propagation,
  ROOT_CONTEXT,
  type Span,
  type SpanContext,
  SpanKind,
  SpanStatusCode,
  type TextMapGetter,
  type TextMapSetter,
  trace
} from "@opentelemetry/api"

/** The instrumentation scope's name (the tracer the client's spans come from). */
export const TRACER_NAME = "@mta/client"

// A proxy: it finds the SDK's tracer once one is registered, whenever that is.
const tracer = trace.getTracer(TRACER_NAME)

/** The OpenTelemetry context active now (the caller's span, if any). */
export const activeContext = (): Context => context.active()

const hex2 = (n: number): string => (n & 0xff).toString(16).padStart(2, "0")

/** The W3C `traceparent` of a span context: `00-<trace id>-<span id>-<flags>`. */
export const traceparentOf = (spanContext: SpanContext): string =>
  `00-${spanContext.traceId}-${spanContext.spanId}-${hex2(spanContext.traceFlags)}`

// W3C Trace Context, level 1 and 2: version, trace id, parent id, flags; a later version may append
// fields after a dash, version 00 may not; version ff is invalid.
const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/

/**
 * The remote span context of a W3C `traceparent` (and `tracestate`) header, or `undefined` when the
 * header is absent or malformed (W3C: then the trace is restarted) or names an all-zero trace or span.
 */
export const parseTraceparent = (
  traceparent: string | undefined,
  tracestate?: string | undefined
): SpanContext | undefined => {
  if (traceparent === undefined) return undefined
  const match = TRACEPARENT.exec(traceparent.trim())
  if (match === null) return undefined
  const [, version, traceId, spanId, flags, rest] = match
  if (version === "ff" || (version === "00" && rest !== undefined)) return undefined
  const spanContext: SpanContext = {
    traceId: traceId!,
    spanId: spanId!,
    // Only the sampled bit is defined; other bits are not carried on (W3C §3.2.2.5).
    traceFlags: Number.parseInt(flags!, 16) & 0x01,
    isRemote: true
  }
  if (!isSpanContextValid(spanContext)) return undefined
  if (tracestate !== undefined && tracestate !== "") {
    return { ...spanContext, traceState: createTraceState(tracestate) }
  }
  return spanContext
}

/** Request headers as Node (`IncomingHttpHeaders`, lower-case names) or fetch (`Headers`) has them. */
export type IncomingHeaders = Headers | Readonly<Record<string, string | ReadonlyArray<string> | undefined>>

const headerIn = (headers: IncomingHeaders, name: string): string | undefined => {
  if (headers instanceof Headers) return headers.get(name) ?? undefined
  const value = headers[name]
  return value === undefined ? undefined : typeof value === "string" ? value : value.join(",")
}

const incomingGetter: TextMapGetter<IncomingHeaders> = {
  keys: (carrier) => (carrier instanceof Headers ? [...carrier.keys()] : Object.keys(carrier)),
  get: (carrier, key) => headerIn(carrier, key.toLowerCase())
}

/**
 * The counterpart of `traceHeaders` for code that receives requests (the proxy): the context the
 * globally registered propagator extracts from `headers`, on top of `ctx` (default: the root
 * context); when it found no span context (none registered, or one of another format), the W3C
 * `traceparent` / `tracestate` are read (`parseTraceparent`), so the caller's trace goes on without
 * an SDK too: a span started in it without one is the caller's span context, not recorded.
 */
export const extractContext = (headers: IncomingHeaders, ctx: Context = ROOT_CONTEXT): Context => {
  const extracted = propagation.extract(ctx, headers, incomingGetter)
  const found = trace.getSpanContext(extracted)
  if (found !== undefined && isSpanContextValid(found)) return extracted
  const traceparent = headerIn(headers, "traceparent")
  if (traceparent === undefined) return extracted
  const remote = parseTraceparent(traceparent, headerIn(headers, "tracestate"))
  return remote === undefined ? extracted : trace.setSpanContext(extracted, remote)
}

// Module-level, as the getter below: a getter or setter object made per call cost more than the
// whole extraction or injection with no SDK (server `bench/tracing.ts`).
const lowerCaseSetter: TextMapSetter<Record<string, string>> = {
  set: (carrier, key, value) => {
    carrier[key.toLowerCase()] = value
  }
}

/**
 * The trace headers of `ctx` (default: the active context): what the global propagator writes, plus a
 * W3C `traceparent` / `tracestate` from the context's span when the propagator wrote none. Keys are
 * lower case. Empty when there is no valid span context. For code that sends requests itself.
 */
export const traceHeaders = (ctx: Context = context.active()): Record<string, string> => {
  const carrier: Record<string, string> = {}
  propagation.inject(ctx, carrier, lowerCaseSetter)
  if (carrier.traceparent === undefined) {
    const spanContext = trace.getSpanContext(ctx)
    if (spanContext !== undefined && trace.isSpanContextValid(spanContext)) {
      carrier.traceparent = traceparentOf(spanContext)
      const state = spanContext.traceState?.serialize()
      if (state !== undefined && state !== "") carrier.tracestate = state
    }
  }
  return carrier
}

/** What the span of one attempt is about. */
export interface AttemptSpanInfo {
  readonly method: string
  readonly url: string
  /** The path template with the base URL's path in front, e.g. `/v1/accounts/{zrn}/lock`. */
  readonly template: string | undefined
  /** 1 for the first attempt. */
  readonly attempt: number
  readonly operation: string
  readonly requestId: string
}

const serverOf = (url: string): { address: string; port: number | undefined } | undefined => {
  try {
    const u = new URL(url)
    const port = u.port === "" ? (u.protocol === "https:" ? 443 : 80) : Number(u.port)
    return { address: u.hostname.replace(/^\[|\]$/g, ""), port }
  } catch {
    return undefined
  }
}

/**
 * Starts the `CLIENT` span of one attempt under `parent`, and returns it with the context to inject
 * (the span's own, so the upstream's spans are its children).
 */
export const startAttempt = (parent: Context, info: AttemptSpanInfo): { span: Span; context: Context } => {
  const name = info.template === undefined ? info.method : `${info.method} ${info.template}`
  const span = tracer.startSpan(name, { kind: SpanKind.CLIENT }, parent)
  if (span.isRecording()) {
    const attributes: Attributes = {
      "http.request.method": info.method,
      "url.full": info.url,
      "mta.operation": info.operation,
      "mta.request_id": info.requestId
    }
    if (info.template !== undefined) attributes["url.template"] = info.template
    const server = serverOf(info.url)
    if (server !== undefined) {
      attributes["server.address"] = server.address
      if (server.port !== undefined) attributes["server.port"] = server.port
    }
    if (info.attempt > 1) attributes["http.request.resend_count"] = info.attempt - 1
    span.setAttributes(attributes)
  }
  return { span, context: trace.setSpan(parent, span) }
}

/**
 * `error.type` of the semantic conventions for a failure without a response status: `timeout` for a
 * client `Timeout` (or an `OutcomeUnknown` caused by one), else the error's tag.
 */
export const errorTypeOf = (error: { readonly _tag: string; readonly reason?: unknown }): string =>
  error._tag === "Timeout" || (error._tag === "OutcomeUnknown" && error.reason === "Timeout")
    ? "timeout"
    : error._tag

/**
 * Ends an attempt's span: the response status (an error from 400 up, `error.type` the status), or
 * the failure without a response (`error.type` as given, e.g. `timeout`).
 */
export const endAttempt = (
  span: Span,
  outcome: { readonly status?: number | undefined; readonly errorType?: string | undefined }
): void => {
  if (span.isRecording()) {
    if (outcome.status !== undefined) span.setAttribute("http.response.status_code", outcome.status)
    const errorType =
      outcome.status !== undefined && outcome.status >= 400 ? String(outcome.status) : outcome.errorType
    if (errorType !== undefined) {
      span.setAttribute("error.type", errorType)
      span.setStatus({ code: SpanStatusCode.ERROR })
    }
  }
  span.end()
}
