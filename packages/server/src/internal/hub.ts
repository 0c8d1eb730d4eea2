/**
 * Fan-out of the store's change feed to the requests waiting on it: long polls (by ZRN) and event
 * streams. One store subscription serves them all, and `drain` releases every one at shutdown.
 *
 * A change only marks who is due: the long polls it satisfies join a queue, its event joins a shared
 * tail and every stream is due for it. A pump then answers the due long polls and hands each due
 * stream every event it has not had yet, a slice per turn of the event loop, so that other requests
 * (`/healthz`, reads) are served between slices instead of after the whole storm. A stream that falls
 * behind gets the events it missed together, in one call; streams at the same place in the tail get
 * the same array in a turn, so `routes/events.ts` frames a batch once for all of them.
 */
import type {
  Change,
  ParticipantChange,
  ParticipantRecord,
  StatusRecord,
  Store,
  StoreEvent
} from "../Store.js"

/** A long poll's wait: resolves with the record that matched, or `undefined` on timeout or drain. */
export interface Waiter<R = StatusRecord> {
  readonly promise: Promise<R | undefined>
  readonly cancel: () => void
}

/** A live event stream's subscription. */
export interface StreamSubscription {
  readonly close: () => void
}

export interface Hub {
  /** Waits until `zrn`'s projection satisfies `accept`, for at most `timeoutMs`. Register before reading. */
  readonly wait: (zrn: string, accept: (record: StatusRecord) => boolean, timeoutMs: number) => Waiter
  /** The same for a participant's projection (`GET /participants/{code}/status`). */
  readonly waitParticipant: (
    code: string,
    accept: (record: ParticipantRecord) => boolean,
    timeoutMs: number
  ) => Waiter<ParticipantRecord>
  /**
   * Calls `onEvents` with the events appended since the subscription (in order, each once; several
   * at a time when they came together or the stream was behind) and `onClose` when drained.
   */
  readonly stream: (
    onEvents: (events: ReadonlyArray<StoreEvent>) => void,
    onClose: () => void
  ) => StreamSubscription
  /** Releases every waiter (as a timeout) and closes every stream; new ones are released at once. */
  readonly drain: () => void
  readonly close: () => void
}

/**
 * Long polls answered, and streams written to, per turn of the event loop. With 2,000 long polls and
 * 1,000 streams waiting on 20 changes at once, one turn for all of them held the loop (and `/healthz`)
 * for most of a second; a long poll's answer costs about 80 µs and a stream's write about 50 µs of the
 * proxy's CPU there, so a turn stays near 3 ms (`bench/FANOUT-RESULTS.md`).
 */
const POLLS_PER_TURN = 16
const STREAMS_PER_TURN = 32
/** Under a steady flow the queues may never empty: what they have handed over is dropped this often. */
const COMPACT_AT = 4_096

interface Entry {
  readonly accept: (record: never) => boolean
  readonly resolve: (record: unknown) => void
  /** The record that satisfied it, once due. */
  due: unknown
}

/** Participant waiters share the map with account waiters, under keys no ZRN can be. */
const participantKey = (code: string) => `\u0000participant:${code}`

interface StreamEntry {
  readonly onEvents: (events: ReadonlyArray<StoreEvent>) => void
  readonly onClose: () => void
  /** Position in the tail of the next event this stream has not had. */
  next: number
  queued: boolean
  open: boolean
}

export const make = (store: Store): Hub => {
  const waiters = new Map<string, Set<Entry>>()
  const duePolls: Array<Entry> = []
  const streams = new Set<StreamEntry>()
  const dueStreams: Array<StreamEntry> = []
  /** Events not yet handed to every stream; `tail[0]` is at position `tailStart`. */
  let tail: Array<StoreEvent> = []
  let tailStart = 0
  let draining = false
  let scheduled = false

  const schedule = () => {
    if (scheduled) return
    scheduled = true
    setImmediate(pump)
  }

  /** Hands `s` every event it has not had; `batches` shares one array per starting position. */
  const deliver = (s: StreamEntry, batches: Map<number, ReadonlyArray<StoreEvent>>) => {
    s.queued = false
    const end = tailStart + tail.length
    if (!s.open || s.next >= end) return
    let batch = batches.get(s.next)
    if (batch === undefined) {
      batch = tail.slice(s.next - tailStart)
      batches.set(s.next, batch)
    }
    s.next = end
    s.onEvents(batch)
  }

  let pollHead = 0
  let streamHead = 0
  const pump = () => {
    scheduled = false
    const pollEnd = Math.min(duePolls.length, pollHead + POLLS_PER_TURN)
    for (; pollHead < pollEnd; pollHead++) {
      const entry = duePolls[pollHead]!
      entry.resolve(entry.due)
    }
    if (pollHead === duePolls.length || pollHead >= COMPACT_AT) {
      duePolls.splice(0, pollHead)
      pollHead = 0
    }
    const batches = new Map<number, ReadonlyArray<StoreEvent>>()
    const streamEnd = Math.min(dueStreams.length, streamHead + STREAMS_PER_TURN)
    for (; streamHead < streamEnd; streamHead++) deliver(dueStreams[streamHead]!, batches)
    if (streamHead === dueStreams.length || streamHead >= COMPACT_AT) {
      // The events every stream has had are no longer needed (all of them once no stream is due).
      dueStreams.splice(0, streamHead)
      streamHead = 0
      let needed = tailStart + tail.length
      for (const s of dueStreams) needed = Math.min(needed, s.next)
      tail = tail.slice(needed - tailStart)
      tailStart = needed
    }
    if (duePolls.length > 0 || dueStreams.length > 0) schedule()
  }

  const onChange = (key: string, change: Change | ParticipantChange) => {
    const set = waiters.get(key)
    if (set !== undefined) {
      for (const entry of set) {
        if (entry.due === undefined && (entry.accept as (r: unknown) => boolean)(change.record)) {
          entry.due = change.record
          duePolls.push(entry)
        }
      }
    }
    if (change.event !== undefined && streams.size > 0) {
      tail.push(change.event)
      for (const s of streams) {
        if (!s.queued) {
          s.queued = true
          dueStreams.push(s)
        }
      }
    }
    if (duePolls.length > 0 || dueStreams.length > 0) schedule()
  }
  const unsubscribeAccounts = store.subscribe((change) => onChange(change.record.zrn, change))
  const unsubscribeParticipants = store.subscribeParticipants((change) =>
    onChange(participantKey(change.record.participantCode), change)
  )
  const unsubscribe = () => {
    unsubscribeAccounts()
    unsubscribeParticipants()
  }

  const wait = <R>(zrn: string, accept: (record: R) => boolean, timeoutMs: number): Waiter<R> => {
    let entry: Entry | undefined
    let timer: NodeJS.Timeout | undefined
    let settled = false
    const promise = new Promise<R | undefined>((resolve) => {
      if (draining) return resolve(undefined)
      const done = (record: unknown) => {
        if (settled) return
        settled = true
        clearTimeout(timer)
        const set = waiters.get(zrn)
        if (set !== undefined && entry !== undefined) {
          set.delete(entry)
          if (set.size === 0) waiters.delete(zrn)
        }
        resolve(record as R | undefined)
      }
      entry = { accept: accept as (record: never) => boolean, resolve: done, due: undefined }
      let set = waiters.get(zrn)
      if (set === undefined) {
        set = new Set()
        waiters.set(zrn, set)
      }
      set.add(entry)
      timer = setTimeout(() => done(entry?.due), timeoutMs)
    })
    return { promise, cancel: () => entry?.resolve(undefined) }
  }

  return {
    wait: (zrn, accept, timeoutMs) => wait<StatusRecord>(zrn, accept, timeoutMs),
    waitParticipant: (code, accept, timeoutMs) =>
      wait<ParticipantRecord>(participantKey(code), accept, timeoutMs),
    stream: (onEvents, onClose) => {
      if (draining) {
        queueMicrotask(onClose)
        return { close: () => {} }
      }
      const s: StreamEntry = { onEvents, onClose, next: tailStart + tail.length, queued: false, open: true }
      streams.add(s)
      return {
        close: () => {
          s.open = false
          streams.delete(s)
        }
      }
    },
    drain: () => {
      draining = true
      // What is due is handed over first: a long poll that matched answers with its record, and every
      // stream gets the events it has not had before it closes.
      const batches = new Map<number, ReadonlyArray<StoreEvent>>()
      for (; streamHead < dueStreams.length; streamHead++) deliver(dueStreams[streamHead]!, batches)
      for (const set of [...waiters.values()]) for (const entry of [...set]) entry.resolve(entry.due)
      for (const s of [...streams]) {
        s.open = false
        streams.delete(s)
        s.onClose()
      }
    },
    close: () => unsubscribe()
  }
}
