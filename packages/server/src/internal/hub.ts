/**
 * Fan-out of the store's change feed to the requests waiting on it: long polls (by ZRN) and event
 * streams. One store subscription serves them all, and `drain` releases every one at shutdown.
 */
import type { AccountEvent, Change, StatusRecord, Store } from "../Store.js"

/** A long poll's wait: resolves with the record that matched, or `undefined` on timeout or drain. */
export interface Waiter {
  readonly promise: Promise<StatusRecord | undefined>
  readonly cancel: () => void
}

/** A live event stream's subscription. */
export interface StreamSubscription {
  readonly close: () => void
}

export interface Hub {
  /** Waits until `zrn`'s projection satisfies `accept`, for at most `timeoutMs`. Register before reading. */
  readonly wait: (zrn: string, accept: (record: StatusRecord) => boolean, timeoutMs: number) => Waiter
  /** Calls `onEvent` for every appended event and `onClose` when drained; returns the subscription. */
  readonly stream: (onEvent: (event: AccountEvent) => void, onClose: () => void) => StreamSubscription
  /** Releases every waiter (as a timeout) and closes every stream; new ones are released at once. */
  readonly drain: () => void
  readonly close: () => void
}

interface Entry {
  readonly accept: (record: StatusRecord) => boolean
  readonly resolve: (record: StatusRecord | undefined) => void
}

export const make = (store: Store): Hub => {
  const waiters = new Map<string, Set<Entry>>()
  const streams = new Set<{ onEvent: (e: AccountEvent) => void; onClose: () => void }>()
  let draining = false

  const unsubscribe = store.subscribe((change: Change) => {
    const set = waiters.get(change.record.zrn)
    if (set !== undefined) {
      for (const entry of set) if (entry.accept(change.record)) entry.resolve(change.record)
    }
    if (change.event !== undefined) for (const s of streams) s.onEvent(change.event)
  })

  return {
    wait: (zrn, accept, timeoutMs) => {
      let entry: Entry | undefined
      let timer: NodeJS.Timeout | undefined
      const promise = new Promise<StatusRecord | undefined>((resolve) => {
        if (draining) return resolve(undefined)
        const done = (record: StatusRecord | undefined) => {
          clearTimeout(timer)
          const set = waiters.get(zrn)
          if (set !== undefined && entry !== undefined) {
            set.delete(entry)
            if (set.size === 0) waiters.delete(zrn)
          }
          resolve(record)
        }
        entry = { accept, resolve: done }
        let set = waiters.get(zrn)
        if (set === undefined) {
          set = new Set()
          waiters.set(zrn, set)
        }
        set.add(entry)
        timer = setTimeout(() => done(undefined), timeoutMs)
      })
      return { promise, cancel: () => entry?.resolve(undefined) }
    },
    stream: (onEvent, onClose) => {
      const s = { onEvent, onClose }
      if (draining) {
        queueMicrotask(onClose)
        return { close: () => {} }
      }
      streams.add(s)
      return { close: () => streams.delete(s) }
    },
    drain: () => {
      draining = true
      for (const set of [...waiters.values()]) for (const entry of [...set]) entry.resolve(undefined)
      for (const s of [...streams]) {
        streams.delete(s)
        s.onClose()
      }
    },
    close: () => unsubscribe()
  }
}
