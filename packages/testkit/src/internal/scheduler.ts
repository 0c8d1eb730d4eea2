/**
 * Pending background work on the simulator's clock. Work runs in the order it was accepted (a task
 * is never due before one accepted earlier), either when its timer fires or all at once in `settle`.
 */
import type { Clock } from "../Clock.js"

interface Task {
  readonly seq: number
  readonly dueAt: number
  readonly label: string
  readonly run: () => void
  handle: unknown
}

export class Scheduler {
  private seq = 0
  private lastDue = 0
  private readonly tasks = new Map<number, Task>()
  private readonly inFlight = new Set<Promise<unknown>>()

  constructor(private readonly clock: Clock) {}

  /** Runs `run` after `delayMs`, never before work scheduled earlier. */
  schedule(delayMs: number, label: string, run: () => void): void {
    const seq = ++this.seq
    const dueAt = Math.max(this.clock.now() + Math.max(0, delayMs), this.lastDue)
    this.lastDue = dueAt
    const task: Task = { seq, dueAt, label, run, handle: undefined }
    this.tasks.set(seq, task)
    task.handle = this.clock.setTimeout(() => this.fire(seq), Math.max(0, dueAt - this.clock.now()))
  }

  /** Schedules work that may run out of acceptance order (webhook retries, holds). */
  scheduleDetached(delayMs: number, label: string, run: () => void): void {
    const seq = ++this.seq
    const task: Task = { seq, dueAt: this.clock.now() + Math.max(0, delayMs), label, run, handle: undefined }
    this.tasks.set(seq, task)
    task.handle = this.clock.setTimeout(() => this.fire(seq), Math.max(0, delayMs))
  }

  /** Keeps a promise (a webhook delivery) so `settle` can wait for it. */
  track(promise: Promise<unknown>): void {
    this.inFlight.add(promise)
    const done = () => this.inFlight.delete(promise)
    promise.then(done, done)
  }

  /** Labels of the work not yet run, in the order it will run. */
  pending(): ReadonlyArray<string> {
    return this.ordered().map((t) => t.label)
  }

  /** Runs every pending task now, then waits for in-flight deliveries, until nothing is left. */
  async settle(): Promise<void> {
    for (let round = 0; round < 100_000; round++) {
      const next = this.ordered()[0]
      if (next !== undefined) {
        this.clock.clearTimeout(next.handle)
        this.tasks.delete(next.seq)
        next.run()
        continue
      }
      if (this.inFlight.size === 0) return
      await Promise.allSettled([...this.inFlight])
    }
    throw new Error("settle did not converge: background work keeps scheduling more work")
  }

  /** Forgets every pending task (reset). Deliveries already in flight finish on their own. */
  clear(): void {
    for (const task of this.tasks.values()) this.clock.clearTimeout(task.handle)
    this.tasks.clear()
    this.lastDue = 0
  }

  private ordered(): Array<Task> {
    return [...this.tasks.values()].sort((a, b) => a.dueAt - b.dueAt || a.seq - b.seq)
  }

  private fire(seq: number): void {
    const task = this.tasks.get(seq)
    if (task === undefined) return
    // Work ordered before this task runs first, whatever order the timers fire in.
    for (const t of this.ordered()) {
      if (t.dueAt > task.dueAt || (t.dueAt === task.dueAt && t.seq > seq)) break
      this.clock.clearTimeout(t.handle)
      this.tasks.delete(t.seq)
      t.run()
    }
  }
}
