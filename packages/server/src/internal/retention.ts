/**
 * Retention (`MTA_RETENTION_DAYS`): the webhook inbox and the event log are pruned in the background,
 * once at startup and then every interval, by `Store.prune` (small batches, each its own statement,
 * so no long lock). Runs never overlap; a failed run is logged and the next one tries again. Every
 * replica prunes (deleting what another already deleted costs nothing).
 */
import type { Logger } from "../Logger.js"
import type { PruneResult, Store } from "../Store.js"

/** What the pruning loop needs. */
export interface RetentionOptions {
  readonly store: Store
  /** Entries received longer ago than this go. */
  readonly retentionMs: number
  /** Between two runs. */
  readonly intervalMs: number
  readonly logger: Logger
  /** The clock, epoch ms. Default `Date.now`. */
  readonly now?: (() => number) | undefined
}

/** The running loop. */
export interface Retention {
  /** Runs one pruning now (or waits for the one running); what it removed. */
  readonly run: () => Promise<PruneResult>
  /** Stops the loop; resolves once a run in progress is over. */
  readonly stop: () => Promise<void>
}

/** Starts pruning in the background. */
export const startRetention = (options: RetentionOptions): Retention => {
  const now = options.now ?? Date.now
  let running: Promise<PruneResult> | undefined
  let stopped = false
  const run = (): Promise<PruneResult> => {
    running ??= (async () => {
      const at = now()
      try {
        const result = await options.store.prune({ before: at - options.retentionMs, now: at })
        if (result.inbox > 0 || result.events > 0) {
          options.logger.info(
            {
              inbox: result.inbox,
              events: result.events,
              before: new Date(at - options.retentionMs).toISOString()
            },
            "retention: pruned the webhook inbox and the event log"
          )
        }
        return result
      } finally {
        running = undefined
      }
    })()
    return running
  }
  const tick = () => {
    if (stopped) return
    run().catch((error: unknown) => {
      if (stopped) return
      options.logger.warn(
        { err: { message: error instanceof Error ? error.message : String(error) } },
        "retention: pruning failed; the next run tries again"
      )
    })
  }
  const first = setTimeout(tick, 0)
  first.unref()
  const timer = setInterval(tick, options.intervalMs)
  timer.unref()
  return {
    run,
    stop: async () => {
      stopped = true
      clearTimeout(first)
      clearInterval(timer)
      await running?.catch(() => {})
    }
  }
}
