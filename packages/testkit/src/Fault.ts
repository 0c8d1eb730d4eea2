/**
 * Faults a test injects into the simulator: an error status for a route, latency, a dropped
 * connection, "fail the next N then succeed", a 429 storm, and a failure after the change was
 * applied (the case where a client must read the account back before repeating a mutation).
 *
 * @since 0.1.0
 */
import type { EndpointName } from "./internal/router.js"

export type { EndpointName } from "./internal/router.js"

/**
 * What a fault does and to which requests. The same shape is the JSON body of
 * `POST /__simulator/faults` on the standalone server.
 */
export interface FaultSpec {
  /** The endpoints it applies to (names as in `Endpoints.names`); default every request (`"*"`). */
  readonly endpoint?: EndpointName | "*" | ReadonlyArray<EndpointName>
  /** Answer this status with the vendor's body for it (503 carries `zh-allow-retry: true`). */
  readonly status?: number
  /** A body to answer instead of the vendor's (with `status`). */
  readonly body?: unknown
  /** Wait this long (on the simulator's clock) before answering. */
  readonly latencyMs?: number
  /** Close the connection without an answer (`fetch` rejects, as it does on a reset socket). */
  readonly drop?: boolean
  /** Apply to the next N matching requests, then disappear. Default: until removed. */
  readonly times?: number
  /** Apply for this long (simulator clock), then disappear. */
  readonly forMs?: number
  /**
   * Process the request normally first, then answer the fault: the mutation happened but the caller
   * cannot know it. Default `false` (the request is refused before anything changes).
   */
  readonly afterApply?: boolean
}

/** The next `n` requests (to `endpoint`, default all) fail with `status` (default 503), then all succeed. */
export const failNext = (
  n: number,
  options?: { readonly status?: number; readonly endpoint?: FaultSpec["endpoint"] }
): FaultSpec => ({ endpoint: options?.endpoint ?? "*", status: options?.status ?? 503, times: n })

/** Every request is answered 429 for `ms` (default the vendor's 10 s lock-out). */
export const rateLimitStorm = (ms = 10_000): FaultSpec => ({ endpoint: "*", status: 429, forMs: ms })

/** Requests to `endpoint` (default all) wait `ms` before being answered. */
export const latency = (ms: number, endpoint: FaultSpec["endpoint"] = "*"): FaultSpec => ({
  endpoint,
  latencyMs: ms
})

/** The connection of the next `n` requests (default 1) to `endpoint` is dropped without an answer. */
export const dropConnection = (endpoint: FaultSpec["endpoint"] = "*", n = 1): FaultSpec => ({
  endpoint,
  drop: true,
  times: n
})

/** The next request to `endpoint` is applied, then answered with `status` (default 500): outcome unknown to the caller. */
export const failAfterApply = (endpoint: NonNullable<FaultSpec["endpoint"]>, status = 500): FaultSpec => ({
  endpoint,
  status,
  times: 1,
  afterApply: true
})
