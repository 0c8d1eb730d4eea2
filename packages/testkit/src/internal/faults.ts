/**
 * Injected faults: which requests a fault takes (endpoint, count, time window), what it answers
 * instead (a status with the vendor's body or a given one, a dropped connection, latency, a failure
 * after applying), and the words the journal keeps for it.
 */
import type { Clock } from "../Clock.js"
import { errorFor, json, type Outcome, type RawResponse } from "./http.js"
import type { EndpointName } from "./router.js"

/** An injected fault; see `Simulator.FaultSpec` for the documented shape. */
export interface Fault {
  readonly id: number
  readonly endpoint: EndpointName | "*" | ReadonlyArray<EndpointName>
  readonly status?: number | undefined
  readonly body?: unknown
  readonly latencyMs?: number | undefined
  readonly drop?: boolean | undefined
  readonly afterApply?: boolean | undefined
  remaining: number | undefined
  readonly until: number | undefined
}

/** A fault to add: its effect, and for how many requests (`times`) or how long (`forMs`). */
export type FaultInput = Omit<Fault, "id" | "remaining" | "until"> & {
  readonly times?: number
  readonly forMs?: number
}

/** The faults in force, oldest first; ids keep counting across `clear`. */
export class Faults {
  private faults: Array<Fault> = []
  private seq = 0

  constructor(private readonly clock: Clock) {}

  add(spec: FaultInput): Fault {
    const fault: Fault = {
      id: ++this.seq,
      endpoint: spec.endpoint,
      status: spec.status,
      body: spec.body,
      latencyMs: spec.latencyMs,
      drop: spec.drop,
      afterApply: spec.afterApply,
      remaining: spec.times,
      until: spec.forMs === undefined ? undefined : this.clock.now() + spec.forMs
    }
    this.faults.push(fault)
    return fault
  }

  remove(id: number): void {
    this.faults = this.faults.filter((f) => f.id !== id)
  }

  clear(): void {
    this.faults = []
  }

  list(): ReadonlyArray<Fault> {
    return this.faults
  }

  /** The first fault that applies to this request, counted as used; expired ones are dropped on the way. */
  take(endpoint: EndpointName | undefined, now: number): Fault | undefined {
    if (this.faults.length === 0) return undefined
    for (let i = 0; i < this.faults.length; i++) {
      const f = this.faults[i]!
      if (f.until !== undefined && now >= f.until) {
        this.faults.splice(i--, 1)
        continue
      }
      const applies =
        f.endpoint === "*" ||
        (endpoint !== undefined &&
          (typeof f.endpoint === "string" ? f.endpoint === endpoint : f.endpoint.includes(endpoint)))
      if (!applies) continue
      if (f.remaining !== undefined) {
        f.remaining--
        if (f.remaining <= 0) this.faults.splice(i, 1)
      }
      return f
    }
    return undefined
  }
}

/**
 * What a faulted request answers. `respond` handles the request for real: first when the fault comes
 * after applying, and for the answer when the fault only adds latency.
 */
export const faultedOutcome = (fault: Fault, respond: () => RawResponse): Outcome => {
  // The request takes effect, and the answer is lost: the case a client must read back. It is
  // handled once: a fault that only adds latency answers this same response (handling it again
  // would apply a mutation twice).
  const applied = fault.afterApply === true ? respond() : undefined
  return fault.drop === true
    ? { dropped: true }
    : fault.status !== undefined
      ? fault.body === undefined
        ? errorFor(fault.status)
        : json(fault.status, fault.body, fault.status === 503 ? { "zh-allow-retry": "true" } : undefined)
      : (applied ?? respond())
}

/** Runs `answer` after the fault's latency on the simulator's clock, or at once when it has none. */
export const afterLatency = (
  fault: Fault,
  clock: Clock,
  answer: () => Outcome
): Outcome | Promise<Outcome> => {
  if (fault.latencyMs !== undefined && fault.latencyMs > 0) {
    const latencyMs = fault.latencyMs
    return new Promise((resolve) => {
      clock.setTimeout(() => resolve(answer()), latencyMs)
    })
  }
  return answer()
}

/** How the journal describes what a fault did. */
export const describeFault = (f: Fault): string =>
  [
    f.drop === true ? "dropped connection" : undefined,
    f.status !== undefined ? `status ${f.status}` : undefined,
    f.latencyMs !== undefined ? `latency ${f.latencyMs} ms` : undefined,
    f.afterApply === true ? "after applying" : undefined
  ]
    .filter((s) => s !== undefined)
    .join(", ") || "fault"
