/**
 * The proxy's OpenTelemetry spans, through `@opentelemetry/api` only (the deployer registers the SDK):
 * a `SERVER` span per request, an `INTERNAL` span per store step inside a traced request or loop, and
 * a root `INTERNAL` span per background pass that has work. The upstream's `CLIENT` spans are
 * `@mta/client`'s (`Tracing.startAttempt`, in `Upstream.ts`); the headers are read and written by the
 * client's `Tracing.extractContext` / `Tracing.traceHeaders`, so the W3C fallback exists once.
 *
 * Without an SDK nothing is recorded and nothing is allocated beyond the API's no-op span; a caller's
 * valid `traceparent` still goes on: the request's span is then the caller's span context, sent
 * upstream unchanged and written in the access log line (README, "Observability / Tracing").
 */
import type { IncomingMessage } from "node:http"
import { Tracing } from "@mta/client"
import {
  type Attributes,
  type Context,
  context,
  INVALID_SPAN_CONTEXT,
  type Link,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  trace
} from "@opentelemetry/api"
import type { Context as HonoContext } from "hono"
import type { Store } from "../Store.js"
import type { HonoEnv } from "./context.js"

/** The instrumentation scope of the proxy's spans. */
export const TRACER_NAME = "@mta/server"

// A proxy tracer: it finds the SDK's tracer once one is registered, whenever that is.
const tracer = trace.getTracer(TRACER_NAME)

/** Where the webhook receivers are (`/webhooks/zerohash`). */
const WEBHOOKS = "/webhooks/"

/** The HTTP methods the semantic conventions know; any other is `_OTHER`. */
const KNOWN_METHODS = new Set([
  "GET",
  "HEAD",
  "POST",
  "PUT",
  "DELETE",
  "CONNECT",
  "OPTIONS",
  "TRACE",
  "PATCH"
])

const templates = new Map<string, string>()
/** A Hono route (`/accounts/:zrn/lock`) as an OpenAPI template (`/accounts/{zrn}/lock`), `http.route`. */
export const routeTemplate = (route: string): string => {
  let t = templates.get(route)
  if (t === undefined) {
    t = route.replace(/:([A-Za-z0-9_]+)/g, "{$1}")
    if (templates.size < 1024) templates.set(route, t)
  }
  return t
}

/** `server.address` and `server.port` from a `Host` header (`[::1]:8080`, `proxy.example:443`). */
const hostOf = (host: string | undefined, scheme: string): Attributes => {
  if (host === undefined || host === "") return {}
  const m = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(host)
  if (m === null) return {}
  const port = m[2] === undefined ? (scheme === "https" ? 443 : 80) : Number(m[2])
  return { "server.address": m[1]!.replace(/^\[|\]$/g, ""), "server.port": port }
}

/** The span of one request and the context its work runs in (its span's). */
export interface RequestSpan {
  readonly span: Span
  readonly context: Context
}

/** The operations routes: probes and scrapes, traced only when the request carries a trace. */
const PROBES = new Set(["/healthz", "/readyz", "/metrics"])

/** No span: a probe without a trace. */
const NO_SPAN: RequestSpan = { span: trace.wrapSpanContext(INVALID_SPAN_CONTEXT), context: ROOT_CONTEXT }

/**
 * Starts the `SERVER` span of a request: the child of the caller's `traceparent` (extracted by the
 * registered propagator, or read as W3C), except for the webhook receiver, whose span is a root linked
 * to the sender's span (a notification is not part of the sender's trace). A probe or a scrape
 * (`/healthz`, `/readyz`, `/metrics`) has a span only inside a caller's trace: a trace per probe would
 * bury the requests. The method and the path are given at the start, for samplers.
 */
export const startRequest = (c: HonoContext<HonoEnv>, path: string): RequestSpan => {
  const incoming = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming
  const remote = Tracing.extractContext(incoming?.headers ?? c.req.raw.headers)
  const method = c.req.method
  const known = KNOWN_METHODS.has(method)
  const start: Attributes = { "http.request.method": known ? method : "_OTHER", "url.path": path }
  let span: Span
  if (path.startsWith(WEBHOOKS)) {
    const sender = trace.getSpanContext(remote)
    const links: Array<Link> = sender === undefined ? [] : [{ context: sender }]
    span = tracer.startSpan(
      known ? method : "HTTP",
      { kind: SpanKind.SERVER, root: true, links, attributes: start },
      ROOT_CONTEXT
    )
  } else if (PROBES.has(path) && trace.getSpanContext(remote) === undefined) {
    return NO_SPAN
  } else {
    span = tracer.startSpan(known ? method : "HTTP", { kind: SpanKind.SERVER, attributes: start }, remote)
  }
  if (span.isRecording()) {
    const url = new URL(c.req.url)
    const scheme = url.protocol.replace(/:$/, "")
    const header = (name: string) => {
      const v = incoming?.headers[name] ?? c.req.header(name)
      return Array.isArray(v) ? v.join(", ") : v
    }
    const attributes: Attributes = { "url.scheme": scheme, ...hostOf(header("host") ?? url.host, scheme) }
    if (!known) attributes["http.request.method_original"] = method
    if (url.search !== "") attributes["url.query"] = url.search.slice(1)
    const agent = header("user-agent")
    if (agent !== undefined) attributes["user_agent.original"] = agent
    const peer = incoming?.socket.remoteAddress
    if (peer !== undefined) attributes["network.peer.address"] = peer
    if (incoming !== undefined) attributes["network.protocol.version"] = incoming.httpVersion
    span.setAttributes(attributes)
  } else if (!trace.isSpanContextValid(span.spanContext())) {
    // No SDK and no caller's trace: nothing to carry.
    return { span, context: ROOT_CONTEXT }
  }
  return { span, context: trace.setSpan(ROOT_CONTEXT, span) }
}

/** What the request came to, for its span. */
export interface RequestEnd {
  readonly method: string
  /** The Hono route, or `unmatched`. */
  readonly route: string
  readonly status: number
  readonly caller: string | undefined
  readonly requestId: string
}

/**
 * Ends the request's span: named `<method> <route template>`, `http.route`, the status (an error from
 * 500 up: a 4xx is the caller's, not the server's), the caller and the request id.
 */
export const endRequest = (span: Span, end: RequestEnd): void => {
  if (span.isRecording()) {
    const known = KNOWN_METHODS.has(end.method)
    const attributes: Attributes = {
      "http.response.status_code": end.status,
      "mta.request_id": end.requestId
    }
    if (end.route !== "unmatched") {
      const template = routeTemplate(end.route)
      attributes["http.route"] = template
      span.updateName(`${known ? end.method : "HTTP"} ${template}`)
    }
    if (end.caller !== undefined) attributes["mta.caller"] = end.caller
    if (end.status >= 500) {
      attributes["error.type"] = String(end.status)
      span.setStatus({ code: SpanStatusCode.ERROR })
    }
    span.setAttributes(attributes)
  }
  span.end()
}

/** The trace and span id of a span, for the access log line; `undefined` when it has none. */
export const idsOf = (span: Span): { readonly traceId: string; readonly spanId: string } | undefined => {
  const sc = span.spanContext()
  return trace.isSpanContextValid(sc) ? sc : undefined
}

const failed = (span: Span, error: unknown): void => {
  const e = error as { code?: unknown; name?: unknown; _tag?: unknown } | null
  const type = typeof e?.code === "string" ? e.code : typeof e?._tag === "string" ? e._tag : undefined
  span.setAttribute("error.type", type ?? (typeof e?.name === "string" ? e.name : "Error"))
  // No message: a database's error text can quote the values it refused, and spans leave the process.
  span.setStatus({ code: SpanStatusCode.ERROR })
}

/**
 * Runs `work` in an `INTERNAL` span (ended when its promise settles; an error when it rejects) that is
 * the active context meanwhile, so upstream calls and store steps inside are its children.
 */
export const inSpan = <A>(span: Span, parent: Context, work: () => Promise<A>): Promise<A> =>
  context.with(trace.setSpan(parent, span), work).then(
    (value) => {
      span.end()
      return value
    },
    (error: unknown) => {
      failed(span, error)
      span.end()
      throw error
    }
  )

/**
 * Runs a background pass that has work in a root `INTERNAL` span named `name` (the reconciliation's
 * sweep, the resolver of pending creates): its own trace, not any request's.
 */
export const background = <A>(name: string, attributes: Attributes, work: () => Promise<A>): Promise<A> => {
  const span = tracer.startSpan(name, { kind: SpanKind.INTERNAL, root: true, attributes }, ROOT_CONTEXT)
  if (!span.isRecording()) return work()
  return inSpan(span, ROOT_CONTEXT, work)
}

/** The store's operations that are one step (a batch or a transaction) each. */
const STORE_STEPS = [
  "ingest",
  "observe",
  "reconcile",
  "claimDue",
  "deferDue",
  "alive",
  "status",
  "events",
  "lastEventId",
  "claimIdempotencyKey",
  "pendingCreates",
  "finishCall",
  "audit",
  "archiveAudit",
  "prune",
  "ping"
] as const satisfies ReadonlyArray<keyof Store>

/**
 * The store with an `INTERNAL` span `store <operation>` around each step, when it runs inside a
 * recording span (a request's or a background pass's): a step outside any trace (the heartbeat, an
 * idle loop's poll) would only make root spans of its own. `db.system.name` is `postgresql` for
 * PGlite and PostgreSQL; the memory store has none. With the group commit, steps of concurrent
 * requests share one transaction; each request's span still covers its own wait and commit.
 */
export const traced = (store: Store): Store => {
  const base: Attributes =
    store.kind === "memory"
      ? { "mta.store.kind": store.kind }
      : { "db.system.name": "postgresql", "mta.store.kind": store.kind }
  const wrapped: Record<string, unknown> = { ...store }
  for (const operation of STORE_STEPS) {
    const step = store[operation] as (...args: Array<unknown>) => Promise<unknown>
    const name = `store ${operation}`
    const attributes: Attributes = { ...base, "db.operation.name": operation }
    wrapped[operation] = (...args: Array<unknown>) => {
      const parent = context.active()
      if (trace.getSpan(parent)?.isRecording() !== true) return step(...args)
      const span = tracer.startSpan(name, { kind: SpanKind.INTERNAL, attributes }, parent)
      return inSpan(span, parent, () => step(...args))
    }
  }
  return wrapped as unknown as Store
}
