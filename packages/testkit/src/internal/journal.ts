/**
 * The request journal: every request and its answer, oldest first, bounded to the configured number
 * of entries, with the passphrase redacted.
 */
import type { Clock } from "../Clock.js"
import { isDropped, type Outcome, type RawRequest } from "./http.js"
import type { EndpointName } from "./router.js"

/** One request and its answer, as the journal keeps it. */
export interface JournalEntry {
  readonly seq: number
  readonly at: number
  readonly method: string
  /** Path and query as received. */
  readonly path: string
  readonly endpoint: EndpointName | undefined
  /**
   * Request headers (the `X-SCX-*` ones with the passphrase redacted, `content-type`, `x-request-id`,
   * `idempotency-key`, and the W3C `traceparent` / `tracestate` as received).
   */
  readonly headers: Readonly<Record<string, string>>
  readonly requestBody: string
  /** `0` for a dropped connection. */
  readonly status: number
  readonly responseBody: string
  readonly responseHeaders: Readonly<Record<string, string>>
  /** What an injected fault did to this request, if anything. */
  readonly fault?: string
  readonly source: string
}

/** The request headers the journal keeps, besides the redacted passphrase. */
const KEPT_HEADERS = [
  "x-scx-api-key",
  "x-scx-timestamp",
  "x-scx-signed",
  "content-type",
  "x-request-id",
  "idempotency-key",
  // W3C Trace Context: a test sees one trace from the caller to the upstream request.
  "traceparent",
  "tracestate"
] as const

const journalHeaders = (request: RawRequest): Record<string, string> => {
  const out: Record<string, string> = {}
  for (const name of KEPT_HEADERS) {
    const v = request.header(name)
    if (v !== undefined) out[name] = v
  }
  if (request.header("x-scx-passphrase") !== undefined) out["x-scx-passphrase"] = "[redacted]"
  return out
}

/** The journal; sequence numbers keep counting across `clear`. */
export class Journal {
  private entries: Array<JournalEntry> = []
  private seq = 0

  constructor(
    private readonly clock: Clock,
    private readonly limit: number
  ) {}

  /** Records a request and what it was answered; returns the outcome, so a handler can end with it. */
  record(
    request: RawRequest,
    endpoint: EndpointName | undefined,
    outcome: Outcome,
    fault: string | undefined
  ): Outcome {
    const dropped = isDropped(outcome)
    const entry: JournalEntry = {
      seq: ++this.seq,
      at: this.clock.now(),
      method: request.method,
      path: request.target,
      endpoint,
      headers: journalHeaders(request),
      requestBody: request.body,
      status: dropped ? 0 : outcome.status,
      responseBody: dropped ? "" : outcome.body,
      responseHeaders: dropped ? {} : outcome.headers,
      source: request.source,
      ...(fault === undefined ? {} : { fault })
    }
    this.entries.push(entry)
    // Trimmed in batches: dropping one entry per request would move the whole array every time.
    if (this.entries.length > this.limit + Math.max(16, this.limit >> 3)) {
      this.entries.splice(0, this.entries.length - this.limit)
    }
    return outcome
  }

  /** The newest `limit` entries, oldest first. */
  list(): ReadonlyArray<JournalEntry> {
    const excess = this.entries.length - this.limit
    return excess > 0 ? this.entries.slice(excess) : this.entries
  }

  clear(): void {
    this.entries = []
  }
}
