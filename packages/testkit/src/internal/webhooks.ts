/**
 * `customer_account_status_changed` notifications: signing, delivery to a URL and to in-process
 * listeners with the vendor's retry schedule, and the record of every attempt.
 */
import type { Clock } from "../Clock.js"
import { signWebhook, signWebhookLegacy } from "../Signing.js"
import type { Scheduler } from "./scheduler.js"

/** One notification as a receiver gets it. */
export interface WebhookEvent {
  readonly notificationId: string
  /** Milliseconds, as sent in `x-zh-hook-timestamp`: when the notification was first sent, the same on every retry. */
  readonly timestamp: number
  readonly headers: Readonly<Record<string, string>>
  readonly rawBody: string
  readonly payload: unknown
}

/** An in-process receiver; a throw (or a rejected promise) is a failed attempt and is retried. */
export type WebhookListener = (event: WebhookEvent) => void | Promise<void>

/** One try at delivering a notification to one receiver. */
export interface WebhookAttempt {
  readonly at: number
  readonly ok: boolean
  /** HTTP status the URL answered; absent for listeners and network failures. */
  readonly status?: number
  /** Why the attempt failed, when it did. */
  readonly error?: string
}

/** Delivery of one notification to one receiver. */
export interface WebhookDelivery {
  readonly receiver: "url" | "listener"
  /** Where a URL delivery went. */
  readonly url?: string
  /** Which copy this is: 2 for the extra copy sent in `duplicates` mode. */
  readonly copy: number
  readonly attempts: ReadonlyArray<WebhookAttempt>
  readonly outcome: "pending" | "delivered" | "dropped"
}

/** A notification the simulator emitted, with every delivery attempt. */
export interface WebhookRecord {
  readonly notificationId: string
  readonly payloadType: "customer_account_status_changed" | "participant_status_changed"
  /**
   * When the status changed (ms, the simulator's clock), sent as `x-zh-hook-timestamp` on every
   * attempt; strictly increasing per simulator, so ordering by it is always well defined.
   */
  readonly emittedAt: number
  /** The account's ZRN; for `participant_status_changed`, the participant code. */
  readonly zrn: string
  readonly status: string
  readonly rawBody: string
  readonly payload: unknown
  readonly deliveries: ReadonlyArray<WebhookDelivery>
  /** `delivered` once any receiver took it; `dropped` when every delivery gave up; `unsent` with no receiver. */
  readonly outcome: "pending" | "delivered" | "dropped" | "unsent"
}

/** The vendor's schedule (upstream-api.md): 4 fast retries 250 ms apart, then 3 with exponential backoff. */
export interface RetrySchedule {
  readonly fastRetries: number
  readonly fastDelayMs: number
  readonly backoffRetries: number
  /** First backoff delay; each later one doubles. */
  readonly backoffBaseMs: number
}

export const defaultRetrySchedule: RetrySchedule = {
  fastRetries: 4,
  fastDelayMs: 250,
  backoffRetries: 3,
  backoffBaseMs: 1000
}

/** Delivery modes that reproduce what real receivers see. */
export interface WebhookModes {
  /** Deliver every notification twice (same notification id, signed anew). */
  readonly duplicates?: boolean
  /** Hold notifications for `holdMs` and release each batch newest first. */
  readonly outOfOrder?: boolean | { readonly holdMs: number }
}

export interface WebhookConfig {
  readonly clock: Clock
  readonly scheduler: Scheduler
  readonly secret: string
  readonly url: string | undefined
  readonly fetch: (() => typeof globalThis.fetch) | undefined
  readonly retry: RetrySchedule
  readonly modes: WebhookModes
  readonly timeoutMs: number
  readonly newId: () => string
}

interface MutableDelivery {
  receiver: "url" | "listener"
  url?: string
  copy: number
  attempts: Array<WebhookAttempt>
  outcome: "pending" | "delivered" | "dropped"
  listener?: WebhookListener
}

interface MutableRecord {
  notificationId: string
  payloadType: "customer_account_status_changed" | "participant_status_changed"
  emittedAt: number
  zrn: string
  status: string
  rawBody: string
  payload: unknown
  deliveries: Array<MutableDelivery>
}

/** Delay before retry number `n` (1-based), or `undefined` when the notification is to be dropped. */
export const retryDelay = (schedule: RetrySchedule, n: number): number | undefined => {
  if (n <= schedule.fastRetries) return schedule.fastDelayMs
  const k = n - schedule.fastRetries
  if (k <= schedule.backoffRetries) return schedule.backoffBaseMs * 2 ** (k - 1)
  return undefined
}

export class Webhooks {
  private records: Array<MutableRecord> = []
  private listeners = new Set<WebhookListener>()
  private held: Array<MutableRecord> = []
  private holding = false
  private lastStamp = 0
  private url: string | undefined
  private modes: WebhookModes

  constructor(private readonly config: WebhookConfig) {
    this.url = config.url
    this.modes = config.modes
  }

  /** Changes where notifications go and how (for receivers whose address is known only later). */
  configure(options: { readonly url?: string | null; readonly modes?: WebhookModes }): void {
    if (options.url !== undefined) this.url = options.url ?? undefined
    if (options.modes !== undefined) this.modes = { ...this.modes, ...options.modes }
  }

  /** The current URL and modes. */
  settings(): { readonly url: string | undefined; readonly modes: WebhookModes } {
    return { url: this.url, modes: this.modes }
  }

  /** Registers an in-process receiver; returns its removal. */
  listen(listener: WebhookListener): () => void {
    this.listeners.add(listener)
    return () => {
      this.listeners.delete(listener)
    }
  }

  /** Emits one notification for a status change. `rawBody` is the encoded payload, sent byte for byte. */
  emit(zrn: string, status: string, rawBody: string, payload: unknown): void {
    this.send("customer_account_status_changed", zrn, status, rawBody, payload)
  }

  /**
   * Emits one `participant_status_changed` notification (`participants.md`); its record's `zrn` is the
   * participant code.
   */
  emitParticipant(participantCode: string, status: string, rawBody: string, payload: unknown): void {
    this.send("participant_status_changed", participantCode, status, rawBody, payload)
  }

  private send(
    payloadType: MutableRecord["payloadType"],
    subject: string,
    status: string,
    rawBody: string,
    payload: unknown
  ): void {
    const record: MutableRecord = {
      notificationId: this.config.newId(),
      payloadType,
      emittedAt: this.stamp(),
      zrn: subject,
      status,
      rawBody,
      payload,
      deliveries: []
    }
    this.records.push(record)
    const outOfOrder = this.modes.outOfOrder
    if (outOfOrder === undefined || outOfOrder === false) {
      this.dispatch(record)
      return
    }
    this.held.push(record)
    if (!this.holding) {
      this.holding = true
      const holdMs = typeof outOfOrder === "object" ? outOfOrder.holdMs : 100
      this.config.scheduler.scheduleDetached(holdMs, "webhook out-of-order release", () => {
        this.holding = false
        const batch = this.held.reverse()
        this.held = []
        for (const r of batch) this.dispatch(r)
      })
    }
  }

  private stamp(): number {
    this.lastStamp = Math.max(this.config.clock.now(), this.lastStamp + 1)
    return this.lastStamp
  }

  /** Every notification so far, oldest first. */
  list(): ReadonlyArray<WebhookRecord> {
    return this.records.map(snapshot)
  }

  /** Forgets records (reset). Listeners, URL and modes are wiring, not state: they stay. */
  clear(): void {
    this.records = []
    this.held = []
    this.holding = false
    this.lastStamp = 0
  }

  private dispatch(record: MutableRecord): void {
    const copies = this.modes.duplicates === true ? 2 : 1
    for (let copy = 1; copy <= copies; copy++) {
      if (this.url !== undefined) {
        const delivery: MutableDelivery = {
          receiver: "url",
          url: this.url,
          copy,
          attempts: [],
          outcome: "pending"
        }
        record.deliveries.push(delivery)
        this.attempt(record, delivery)
      }
      for (const listener of this.listeners) {
        const delivery: MutableDelivery = {
          receiver: "listener",
          copy,
          attempts: [],
          outcome: "pending",
          listener
        }
        record.deliveries.push(delivery)
        this.attempt(record, delivery)
      }
    }
  }

  /**
   * Headers of every attempt. The timestamp is the notification's, not the attempt's: receivers are
   * told to order events by it, which only works if a retry carries the time of the event.
   */
  private headersFor(record: MutableRecord): Record<string, string> {
    const { secret } = this.config
    const timestamp = record.emittedAt
    return {
      "content-type": "application/json",
      "x-zh-hook-payload-type": record.payloadType,
      "x-zh-hook-notification-id": record.notificationId,
      "x-zh-hook-timestamp": String(timestamp),
      "x-zh-hook-signature": signWebhook(secret, record.rawBody, timestamp),
      "x-zh-hook-signature-256": signWebhookLegacy(secret, record.rawBody)
    }
  }

  private attempt(record: MutableRecord, delivery: MutableDelivery): void {
    const at = this.config.clock.now()
    const headers = this.headersFor(record)
    const outcome =
      delivery.receiver === "url"
        ? this.post(delivery.url!, headers, record.rawBody)
        : this.callListener(delivery, record, headers)
    const done = outcome.then((result) => {
      delivery.attempts.push({ at, ...result })
      if (result.ok) {
        delivery.outcome = "delivered"
        return
      }
      const delay = retryDelay(this.config.retry, delivery.attempts.length)
      if (delay === undefined) {
        delivery.outcome = "dropped"
        return
      }
      this.config.scheduler.scheduleDetached(delay, `webhook retry ${record.notificationId}`, () =>
        this.attempt(record, delivery)
      )
    })
    this.config.scheduler.track(done)
  }

  private async callListener(
    delivery: MutableDelivery,
    record: MutableRecord,
    headers: Record<string, string>
  ): Promise<Omit<WebhookAttempt, "at">> {
    try {
      await delivery.listener!({
        notificationId: record.notificationId,
        timestamp: record.emittedAt,
        headers,
        rawBody: record.rawBody,
        payload: record.payload
      })
      return { ok: true }
    } catch (error) {
      return { ok: false, error: error instanceof Error ? error.message : String(error) }
    }
  }

  private async post(
    url: string,
    headers: Record<string, string>,
    body: string
  ): Promise<Omit<WebhookAttempt, "at">> {
    const { clock, timeoutMs } = this.config
    const fetchImpl = this.config.fetch?.() ?? globalThis.fetch
    const controller = new AbortController()
    const timer = clock.setTimeout(() => controller.abort(), timeoutMs)
    try {
      const response = await fetchImpl(url, {
        method: "POST",
        headers,
        body,
        signal: controller.signal
      })
      await response.arrayBuffer().catch(() => undefined)
      return response.ok
        ? { ok: true, status: response.status }
        : { ok: false, status: response.status, error: `receiver answered ${response.status}` }
    } catch (error) {
      const cause = error instanceof Error && error.cause instanceof Error ? `: ${error.cause.message}` : ""
      return { ok: false, error: `${error instanceof Error ? error.message : String(error)}${cause}` }
    } finally {
      clock.clearTimeout(timer)
    }
  }
}

const snapshot = (r: MutableRecord): WebhookRecord => {
  const deliveries = r.deliveries.map(
    (d): WebhookDelivery => ({
      receiver: d.receiver,
      ...(d.url === undefined ? {} : { url: d.url }),
      copy: d.copy,
      attempts: [...d.attempts],
      outcome: d.outcome
    })
  )
  const outcome =
    deliveries.length === 0
      ? "unsent"
      : deliveries.some((d) => d.outcome === "delivered")
        ? "delivered"
        : deliveries.every((d) => d.outcome === "dropped")
          ? "dropped"
          : "pending"
  return {
    notificationId: r.notificationId,
    payloadType: r.payloadType,
    emittedAt: r.emittedAt,
    zrn: r.zrn,
    status: r.status,
    rawBody: r.rawBody,
    payload: r.payload,
    deliveries,
    outcome
  }
}
