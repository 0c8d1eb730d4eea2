/**
 * Probes of the proxy's edge (`production.md` §1 and §2), shared by `test/Edge.test.ts` and
 * `bench/edge.ts`: the resident memory of a proxy process while it is sent a huge body, the worst
 * inputs that pass the body and field limits, the event-loop delay they cause (prom-client's
 * `nodejs_eventloop_lag_max_seconds`), and the proxy spawned without `startProxyProcess`'s
 * forced `HOST` (to see how it refuses to start).
 *
 * Nothing here allocates a huge body: a body of any size is streamed from one reused chunk.
 */
import type { ChildProcess } from "node:child_process"
import { randomUUID } from "node:crypto"
import { readFileSync, writeFileSync } from "node:fs"
import { request as httpRequest } from "node:http"
import { connect } from "node:net"
import { createBody, spawnMain } from "../support.js"

export const MiB = 1024 * 1024
export const KiB = 1024

/** The body limits the proxy promises (`production.md` §1). */
export const API_BODY_LIMIT = 65_536
export const WEBHOOK_BODY_LIMIT = 262_144

/** How much a 50 MB body may grow the process (`production.md` §1). */
export const RSS_GROWTH_LIMIT = 64 * MiB
/** The longest synchronous step allowed on an input that passes the limits (`production.md` §1). */
export const EVENT_LOOP_LAG_LIMIT_S = 0.05

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

// ---------------------------------------------------------------------------------------------
// Resident memory
// ---------------------------------------------------------------------------------------------

const statusField = (pid: number, field: "VmRSS" | "VmHWM"): number | undefined => {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(readFileSync(`/proc/${pid}/status`, "utf8"))
    return m === null ? undefined : Number(m[1]) * 1024
  } catch {
    return undefined
  }
}

/** Resident set size of a process in bytes (Linux `/proc/<pid>/status`), or undefined. */
export const rssBytes = (pid: number): number | undefined => statusField(pid, "VmRSS")

/**
 * Resets the peak resident size (`VmHWM`) of a process of ours to its current size (`clear_refs` 5,
 * Linux ≥ 4.0). False when the kernel or the sandbox does not allow it; then only sampling sees peaks.
 */
export const resetPeakRss = (pid: number): boolean => {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, "5")
    const hwm = statusField(pid, "VmHWM")
    const rss = statusField(pid, "VmRSS")
    // Reset means the peak is now (about) the current size; leave a page or two of slack.
    return hwm !== undefined && rss !== undefined && hwm - rss < 4 * MiB
  } catch {
    return false
  }
}

/** Resident size when it is steady: the smallest of a few readings, `settleMs` apart. */
export const settledRss = async (pid: number, tries = 4, settleMs = 250): Promise<number> => {
  let least = Number.POSITIVE_INFINITY
  for (let i = 0; i < tries; i++) {
    await sleep(settleMs)
    const rss = rssBytes(pid)
    if (rss !== undefined) least = Math.min(least, rss)
  }
  if (!Number.isFinite(least)) throw new Error(`cannot read /proc/${pid}/status`)
  return least
}

export interface RssGrowth {
  readonly before: number
  /** The highest resident size while the body was being sent (and until it settled). */
  readonly peak: number
  /** Resident size after the send, settled. */
  readonly after: number
  readonly peakGrowth: number
  readonly settledGrowth: number
  /** Whether the peak comes from the kernel's `VmHWM` (exact) or only from sampling every 10 ms. */
  readonly peakSource: "VmHWM" | "sampled"
}

/** Resident-size growth of `pid` while `work` runs: peak (kernel high-water mark or samples) and settled. */
export const measureRssGrowth = async <A>(
  pid: number,
  work: () => Promise<A>
): Promise<{ readonly growth: RssGrowth; readonly result: A }> => {
  const before = await settledRss(pid)
  const hwmReset = resetPeakRss(pid)
  let sampled = rssBytes(pid) ?? before
  const sampler = setInterval(() => {
    const rss = rssBytes(pid)
    if (rss !== undefined && rss > sampled) sampled = rss
  }, 10)
  let result: A
  try {
    result = await work()
  } finally {
    clearInterval(sampler)
  }
  const after = await settledRss(pid)
  const hwm = hwmReset ? statusField(pid, "VmHWM") : undefined
  const peak = Math.max(sampled, after, hwm ?? 0)
  return {
    result,
    growth: {
      before,
      peak,
      after,
      peakGrowth: peak - before,
      settledGrowth: after - before,
      peakSource: hwm === undefined ? "sampled" : "VmHWM"
    }
  }
}

/** CPU time (user + system) of a process so far, in ms (Linux `/proc/<pid>/stat`, 100 Hz ticks), or undefined. */
export const cpuMs = (pid: number): number | undefined => {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ")
    return (Number(fields[11]) + Number(fields[12])) * 10
  } catch {
    return undefined
  }
}

/** Max event-loop lag over `ms` of idling (what the machine alone costs), in seconds. */
export const idleEventLoopMax = async (url: string, ms = 1_000): Promise<number | undefined> => {
  await scrapeEventLoopMax(url)
  await sleep(ms)
  return scrapeEventLoopMax(url)
}

export const mb = (bytes: number) => `${(bytes / MiB).toFixed(1)} MB`

// ---------------------------------------------------------------------------------------------
// A huge body, streamed
// ---------------------------------------------------------------------------------------------

export interface HugeBodyOutcome {
  /** The status, when a response arrived. */
  readonly status: number | undefined
  readonly headers: Readonly<Record<string, string | Array<string> | undefined>> | undefined
  /** The response body, when it could be read whole. */
  readonly body: string | undefined
  /** The error the request met (EPIPE, ECONNRESET, …), if any. */
  readonly errorCode: string | undefined
  /** Bytes of body handed to the socket. */
  readonly bytesWritten: number
  /** Whether the whole body was written (the server read it all, or buffered it). */
  readonly wroteAll: boolean
  /** No response, no error, no progress for `stallMs`: the server neither reads nor answers. */
  readonly stalled: boolean
}

export interface HugeBodyOptions {
  readonly url: string
  readonly path: string
  readonly headers?: Readonly<Record<string, string>>
  readonly totalBytes: number
  /** `Transfer-Encoding: chunked` (no `Content-Length`). */
  readonly chunked: boolean
  readonly chunkBytes?: number
  /** Give up when nothing happens for this long. Default 30 s. */
  readonly stallMs?: number
}

/**
 * Streams a body of `totalBytes` from one reused chunk (JSON-looking: `{"account_label":"xxxx…`),
 * honouring back-pressure, and stops writing as soon as a response arrives. An error on the request
 * (the server closed the socket while we wrote: EPIPE, ECONNRESET) ends it without a status.
 */
export const sendHugeBody = (options: HugeBodyOptions): Promise<HugeBodyOutcome> =>
  new Promise((resolve) => {
    const chunkBytes = options.chunkBytes ?? 64 * KiB
    const chunk = Buffer.alloc(chunkBytes, "x")
    const prefix = Buffer.from('{"account_label":"')
    prefix.copy(chunk)
    const target = new URL(options.path, options.url)
    const headers: Record<string, string> = {
      "content-type": "application/json",
      ...options.headers,
      ...(options.chunked ? {} : { "content-length": String(options.totalBytes) })
    }
    const req = httpRequest({
      method: "POST",
      hostname: target.hostname,
      port: target.port,
      path: `${target.pathname}${target.search}`,
      headers,
      agent: false
    })
    let bytesWritten = 0
    let status: number | undefined
    let responseHeaders: HugeBodyOutcome["headers"]
    let body: string | undefined
    let errorCode: string | undefined
    let responded = false
    let done = false
    let lastProgress = Date.now()
    const stallMs = options.stallMs ?? 30_000
    const finish = (stalled = false) => {
      if (done) return
      done = true
      clearInterval(watchdog)
      req.destroy()
      resolve({
        status,
        headers: responseHeaders,
        body,
        errorCode,
        bytesWritten,
        wroteAll: bytesWritten >= options.totalBytes,
        stalled
      })
    }
    const watchdog = setInterval(() => {
      if (Date.now() - lastProgress > stallMs) finish(true)
    }, 250)
    req.on("response", (res) => {
      responded = true
      lastProgress = Date.now()
      status = res.statusCode
      responseHeaders = res.headers
      const parts: Array<Buffer> = []
      res.on("data", (d: Buffer) => parts.push(d))
      res.on("end", () => {
        body = Buffer.concat(parts).toString("utf8")
        finish()
      })
      // The socket may be reset under the response: keep the status, leave the body unknown.
      res.on("error", () => finish())
      res.on("aborted", () => finish())
    })
    req.on("error", (error: NodeJS.ErrnoException) => {
      errorCode ??= error.code ?? error.message
      // A response may still be on its way in (the parser has it); give it a moment.
      setTimeout(() => finish(), responded ? 1_000 : 200)
    })
    const pump = () => {
      while (!responded && !done && errorCode === undefined && bytesWritten < options.totalBytes) {
        const n = Math.min(chunkBytes, options.totalBytes - bytesWritten)
        const ok = req.write(n === chunkBytes ? chunk : chunk.subarray(0, n))
        bytesWritten += n
        lastProgress = Date.now()
        if (!ok) {
          req.once("drain", pump)
          return
        }
      }
      if (!responded && !done && errorCode === undefined && bytesWritten >= options.totalBytes) req.end()
    }
    pump()
  })

/**
 * The resident-size growth of a running proxy while one huge-body case of `totalBytes` is sent to it:
 * once with a small body first, so the route's code is loaded before the baseline.
 */
export const measureHugeBody = async (
  proxy: { readonly url: string; readonly child: ChildProcess },
  c: HugeBodyCase,
  totalBytes: number
): Promise<{ readonly growth: RssGrowth; readonly result: HugeBodyOutcome }> => {
  const warm = await fetch(`${proxy.url}${c.path}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...c.headers() },
    body: "{}"
  })
  await warm.arrayBuffer()
  return measureRssGrowth(proxy.child.pid!, () =>
    sendHugeBody({ url: proxy.url, path: c.path, headers: c.headers(), totalBytes, chunked: c.chunked })
  )
}

/** Bogus but well-formed zerohash signature headers: the proxy must refuse the size before checking them. */
export const fakeWebhookHeaders = (): Record<string, string> => ({
  "x-zh-hook-payload-type": "customer_account_status_changed",
  "x-zh-hook-notification-id": randomUUID(),
  "x-zh-hook-timestamp": String(Date.now()),
  "x-zh-hook-signature-256": "0".repeat(64)
})

export interface HugeBodyCase {
  readonly name: string
  readonly path: string
  readonly headers: () => Record<string, string>
  readonly chunked: boolean
  /** The statuses acceptable when a response arrives. */
  readonly statuses: ReadonlyArray<number>
  /** The limit a 413 names. */
  readonly limit: number
  /** Whether the proxy must stop reading the body (every 413 does; a 401 may drain it). */
  readonly mustStopReading: boolean
}

/** The huge-body cases of `production.md` §1, with the dev token of the embedded default. */
export const hugeBodyCases = (token = "dev-token"): ReadonlyArray<HugeBodyCase> => [
  {
    name: "authenticated POST /accounts with Content-Length",
    path: "/accounts",
    headers: () => ({ authorization: `Bearer ${token}` }),
    chunked: false,
    statuses: [413],
    limit: API_BODY_LIMIT,
    mustStopReading: true
  },
  {
    name: "authenticated POST /accounts, chunked (no Content-Length)",
    path: "/accounts",
    headers: () => ({ authorization: `Bearer ${token}` }),
    chunked: true,
    statuses: [413],
    limit: API_BODY_LIMIT,
    mustStopReading: true
  },
  {
    name: "unauthenticated POST /webhooks/zerohash with Content-Length",
    path: "/webhooks/zerohash",
    headers: fakeWebhookHeaders,
    chunked: false,
    statuses: [413],
    limit: WEBHOOK_BODY_LIMIT,
    mustStopReading: true
  },
  {
    name: "unauthenticated POST /webhooks/zerohash, chunked (no Content-Length)",
    path: "/webhooks/zerohash",
    headers: fakeWebhookHeaders,
    chunked: true,
    statuses: [413],
    limit: WEBHOOK_BODY_LIMIT,
    mustStopReading: true
  },
  {
    name: "unauthenticated POST /accounts, chunked (401 or 413)",
    path: "/accounts",
    headers: () => ({}),
    chunked: true,
    statuses: [401, 413],
    limit: API_BODY_LIMIT,
    mustStopReading: false
  }
]

// ---------------------------------------------------------------------------------------------
// The worst inputs that pass the limits
// ---------------------------------------------------------------------------------------------

/** A small deterministic generator, so every run sends the same bodies. */
const prng = (seed: number) => () => {
  seed = (seed * 1_103_515_245 + 12_345) & 0x7fffffff
  return seed / 0x7fffffff
}

const ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
const text = (random: () => number, length: number) => {
  let s = ""
  for (let i = 0; i < length; i++) s += ALNUM[Math.floor(random() * ALNUM.length)]
  return s
}

const shuffle = <A>(random: () => number, xs: Array<A>): Array<A> => {
  for (let i = xs.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1))
    ;[xs[i], xs[j]] = [xs[j]!, xs[i]!]
  }
  return xs
}

export interface WorstInput {
  readonly name: string
  readonly path: string
  /** ASCII JSON, under the API body limit. */
  readonly body: string
}

/** "64 KiB minus a bit": the bodies stay this far under the API limit. */
const MARGIN = 512
const BUDGET = API_BODY_LIMIT - MARGIN

/**
 * The worst bodies that pass the limits of `production.md` §1 (64 KiB, nesting ≤ 32 with the body's
 * own object as level 1, arrays ≤ 100 items, strings ≤ 1 024 characters), each under 64 KiB:
 *
 * - `many-keys`: a create with as many (short, shuffled) extra keys as fit;
 * - `deep-wide`: a create whose extra field holds as many 32-deep chains (objects and arrays
 *   alternating) as fit;
 * - `arrays-100`: `tenants` and `financial_advisors` of 100 items each, strings as long as fit;
 * - `arrays-1024`: 1 024-character strings, as many as fit, in arrays of at most 100;
 * - `long-strings`: as many 1 024-character keys with 1 024-character values as fit;
 * - `schema-valid`: a create that decodes (so it is fingerprinted, checked and may go upstream), with
 *   a 255-character label and 100 distinct tenants and advisors.
 */
export const worstInputs = (): ReadonlyArray<WorstInput> => {
  const random = prng(20_240_611)
  const inputs: Array<WorstInput> = []

  // many-keys
  {
    const head = JSON.stringify(createBody("edge-many-keys")).slice(0, -1)
    const keys: Array<string> = []
    let size = head.length + 1
    for (let i = 0; ; i++) {
      const entry = `,"x${i.toString(36)}":${i % 10}`
      if (size + entry.length > BUDGET) break
      keys.push(entry)
      size += entry.length
    }
    inputs.push({ name: "many-keys", path: "/accounts", body: `${head}${shuffle(random, keys).join("")}}` })
  }

  // deep-wide: the body (1) > "x" array (2) > 30 containers, objects and arrays alternating (3..32).
  {
    let chain = `"${text(random, 16)}"`
    for (let level = 32; level >= 3; level--) chain = level % 2 === 0 ? `{"a":${chain}}` : `[${chain}]`
    const head = `${JSON.stringify(createBody("edge-deep")).slice(0, -1)},"x":[`
    let body = head
    for (let n = 0; n < 100 && body.length + chain.length + 3 <= BUDGET; n++)
      body += `${n === 0 ? "" : ","}${chain}`
    body += "]"
    // More arrays of at most 100 chains each (one array of more would break the array limit).
    for (let extra = 0; body.length + `,"y${extra}":[${chain}]`.length + 1 <= BUDGET; extra++) {
      let group = `,"y${extra}":[${chain}`
      for (let n = 1; n < 100 && body.length + group.length + chain.length + 3 <= BUDGET; n++)
        group += `,${chain}`
      body += `${group}]`
    }
    inputs.push({ name: "deep-wide", path: "/accounts", body: `${body}}` })
  }

  // arrays-100
  {
    const overhead = JSON.stringify({
      ...createBody("edge-arrays-100"),
      tenants: [],
      financial_advisors: []
    }).length
    const length = Math.min(1_024, Math.floor((BUDGET - overhead) / 200) - 3)
    const tenants = Array.from({ length: 100 }, () => text(random, length))
    const advisors = Array.from({ length: 100 }, () => text(random, length))
    inputs.push({
      name: "arrays-100",
      path: "/accounts",
      body: JSON.stringify({ ...createBody("edge-arrays-100"), tenants, financial_advisors: advisors })
    })
  }

  // arrays-1024
  {
    const overhead = JSON.stringify({
      ...createBody("edge-arrays-1024"),
      tenants: [],
      financial_advisors: []
    }).length
    const count = Math.min(200, Math.floor((BUDGET - overhead) / (1_024 + 3)))
    const all = Array.from({ length: count }, () => text(random, 1_024))
    inputs.push({
      name: "arrays-1024",
      path: "/accounts",
      body: JSON.stringify({
        ...createBody("edge-arrays-1024"),
        tenants: all.slice(0, 100),
        financial_advisors: all.slice(100)
      })
    })
  }

  // long-strings
  {
    const head = JSON.stringify(createBody("edge-long-strings")).slice(0, -1)
    let body = head
    while (body.length + 2 * 1_024 + 6 + 1 <= BUDGET)
      body += `,"${text(random, 1_024)}":"${text(random, 1_024)}"`
    inputs.push({ name: "long-strings", path: "/accounts", body: `${body}}` })
  }

  // schema-valid: decodes as a create (so it is fingerprinted, checked for composition and may go
  // upstream): a 255-character label, 100 distinct tenants and 100 distinct advisors.
  {
    const codes = (prefix: string) =>
      Array.from({ length: 100 }, (_, i) => `${prefix}${i.toString(36).toUpperCase().padStart(5, "0")}`)
    inputs.push({
      name: "schema-valid",
      path: "/accounts",
      body: JSON.stringify({
        ...createBody(text(random, 255)),
        tenants: codes("T"),
        financial_advisors: codes("A")
      })
    })
  }

  for (const input of inputs) {
    if (Buffer.byteLength(input.body) > API_BODY_LIMIT - MARGIN)
      throw new Error(`${input.name} is ${Buffer.byteLength(input.body)} bytes`)
    JSON.parse(input.body)
  }
  return inputs
}

/** Depth of a JSON value, the value itself being level 1 when it is an object or array. */
export const depthOf = (value: unknown): number => {
  let deepest = 0
  const stack: Array<[unknown, number]> = [[value, 1]]
  while (stack.length > 0) {
    const [v, d] = stack.pop()!
    if (typeof v !== "object" || v === null) continue
    deepest = Math.max(deepest, d)
    for (const child of Object.values(v)) stack.push([child, d + 1])
  }
  return deepest
}

// ---------------------------------------------------------------------------------------------
// Event-loop delay
// ---------------------------------------------------------------------------------------------

/** `nodejs_eventloop_lag_max_seconds` of a scrape (prom-client resets it at each scrape). */
export const scrapeEventLoopMax = async (url: string): Promise<number | undefined> => {
  const response = await fetch(`${url}/metrics`)
  const text = await response.text()
  const m = /^nodejs_eventloop_lag_max_seconds(?:\{[^}]*\})? (\S+)$/m.exec(text)
  return m === null ? undefined : Number(m[1])
}

export interface WorstLoad {
  /** Statuses seen, per input name. */
  readonly statuses: Readonly<Record<string, Readonly<Record<number, number>>>>
  readonly sent: number
  /** Network errors (no status). */
  readonly failures: ReadonlyArray<string>
}

/**
 * Sends the worst inputs round-robin, `total` requests with at most `concurrency` in flight, each
 * with a fresh `Idempotency-Key` (so each one is fingerprinted and claimed).
 */
export const sendWorstLoad = async (
  url: string,
  token: string,
  inputs: ReadonlyArray<WorstInput>,
  options: { readonly total: number; readonly concurrency: number }
): Promise<WorstLoad> => {
  const statuses: Record<string, Record<number, number>> = {}
  const failures: Array<string> = []
  let next = 0
  const worker = async () => {
    for (;;) {
      const i = next++
      if (i >= options.total) return
      const input = inputs[i % inputs.length]!
      try {
        const r = await fetch(`${url}${input.path}`, {
          method: "POST",
          headers: {
            authorization: `Bearer ${token}`,
            "content-type": "application/json",
            "idempotency-key": randomUUID()
          },
          body: input.body
        })
        await r.arrayBuffer()
        statuses[input.name] ??= {}
        const byStatus = statuses[input.name]!
        byStatus[r.status] = (byStatus[r.status] ?? 0) + 1
      } catch (error) {
        failures.push(`${input.name}: ${error instanceof Error ? error.message : String(error)}`)
      }
    }
  }
  await Promise.all(Array.from({ length: options.concurrency }, worker))
  return { statuses, sent: options.total, failures }
}

// ---------------------------------------------------------------------------------------------
// The proxy process, with the environment as given
// ---------------------------------------------------------------------------------------------

export interface SpawnedProxy {
  readonly child: ChildProcess
  readonly stdout: () => string
  readonly stderr: () => string
  readonly exited: Promise<number | null>
  /** SIGKILL unless it has exited; resolves once it has. */
  readonly kill: () => Promise<number | null>
}

/**
 * The proxy as `startProxyProcess` starts it (node, tsx's loader, `src/main.ts`), but with `env` as
 * given (no forced `HOST`, no data directory) and without waiting for it to listen.
 */
export const spawnProxy = (env: Record<string, string>): SpawnedProxy => {
  const { child, stdout, stderr } = spawnMain(env)
  const exited = new Promise<number | null>((resolve) => {
    if (child.exitCode !== null) resolve(child.exitCode)
    else child.once("exit", (code, signal) => resolve(code ?? (signal === null ? null : -1)))
  })
  return {
    child,
    stdout,
    stderr,
    exited,
    kill: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL")
      return exited
    }
  }
}

/** Resolves with the exit code, or `"running"` after `ms`. */
export const exitWithin = (proxy: SpawnedProxy, ms: number): Promise<number | null | "running"> =>
  Promise.race([proxy.exited, sleep(ms).then(() => "running" as const)])

/** Whether something accepts TCP connections at host:port. */
export const listening = (port: number, host = "127.0.0.1"): Promise<boolean> =>
  new Promise((resolve) => {
    const socket = connect({ port, host })
    const done = (ok: boolean) => {
      socket.destroy()
      resolve(ok)
    }
    socket.once("connect", () => done(true))
    socket.once("error", () => done(false))
    socket.setTimeout(2_000, () => done(false))
  })
