/**
 * The proxy's edge over real ports (`production.md` §1, §2, §6), the proxy started as `pnpm start`
 * starts it, and the fair shares of the vendor budget in process:
 *
 * - a 50 MB body (with `Content-Length`, chunked, to the webhook receiver, unauthenticated) grows the
 *   process by less than 64 MB, is answered 413 (or 401 unauthenticated) and is not read to its end;
 * - the worst inputs that pass the limits never hold the event loop for 50 ms or more;
 * - the embedded default refuses a non-loopback `HOST` (exit 2, naming HOST), and the banner prints
 *   the address actually bound;
 * - `/readyz` stays 200 when only the upstream is down, and says so (503 with
 *   `MTA_READY_REQUIRES_UPSTREAM=true`);
 * - each caller may use at most its share of the upstream budget (default half), so one caller's read
 *   loop cannot block another's lock.
 */
import { Callers } from "@mta/server"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import {
  API_BODY_LIMIT,
  cpuMs,
  depthOf,
  EVENT_LOOP_LAG_LIMIT_S,
  exitWithin,
  hugeBodyCases,
  idleEventLoopMax,
  listening,
  MiB,
  mb,
  measureHugeBody,
  RSS_GROWTH_LIMIT,
  type SpawnedProxy,
  scrapeEventLoopMax,
  sendWorstLoad,
  spawnProxy,
  type WorstLoad,
  worstInputs
} from "./support/edge.js"
import {
  callerEntries,
  createBody,
  freePort,
  harness,
  type ProxyProcess,
  startProxyProcess,
  TOKENS
} from "./support.js"

const DEV_TOKEN = "dev-token"
/** The embedded default without a data directory: persistence plays no part here. */
const EMBEDDED = { MTA_STORE: "memory", LOG_LEVEL: "warn" }

const stopQuietly = async (proxy: ProxyProcess | undefined) => {
  if (proxy !== undefined) await proxy.stop("SIGKILL")
}

describe("a 50 MB body neither grows the proxy by 64 MB nor is read to its end (§1)", () => {
  const TOTAL = 50 * MiB

  for (const c of hugeBodyCases(DEV_TOKEN)) {
    it(c.name, { timeout: 180_000 }, async () => {
      const proxy = await startProxyProcess(EMBEDDED, await freePort())
      try {
        const { growth, result } = await measureHugeBody(proxy, c, TOTAL)
        const seen = `status ${result.status ?? "none"}, error ${result.errorCode ?? "none"}, ${mb(result.bytesWritten)} written${result.stalled ? ", STALLED" : ""}; RSS ${mb(growth.before)} -> peak ${mb(growth.peak)} (${growth.peakSource}) / settled ${mb(growth.after)}; body ${result.body?.slice(0, 300) ?? "(unread)"}`

        expect.soft(result.stalled, `neither answered nor stopped reading: ${seen}`).toBe(false)
        if (result.status === undefined) {
          // The proxy closed the socket while we were still writing: acceptable, without a status.
          expect.soft(["EPIPE", "ECONNRESET"], seen).toContain(result.errorCode)
        } else {
          expect.soft(c.statuses, seen).toContain(result.status)
          if (result.status === 413) {
            expect.soft(result.headers?.connection, `Connection header: ${seen}`).toBe("close")
            if (result.body !== undefined) {
              const body = JSON.parse(result.body) as Record<string, unknown>
              expect.soft(body, seen).toMatchObject({
                errors: [`request body is larger than ${c.limit} bytes`],
                code: "payload_too_large"
              })
              expect.soft(typeof body.request_id, seen).toBe("string")
            }
          }
        }
        expect.soft(growth.peakGrowth, `peak RSS growth: ${seen}`).toBeLessThan(RSS_GROWTH_LIMIT)
        expect.soft(growth.settledGrowth, `settled RSS growth: ${seen}`).toBeLessThan(RSS_GROWTH_LIMIT)
        if (c.mustStopReading) {
          // A proxy that stops reading cannot take 50 MB: the kernel's socket buffers hold a few MB.
          expect.soft(result.wroteAll, `the whole body was taken in: ${seen}`).toBe(false)
        }
        // Still serving afterwards.
        const health = await fetch(`${proxy.url}/healthz`)
        await health.arrayBuffer()
        expect(health.status).toBe(200)
      } finally {
        await stopQuietly(proxy)
      }
    })
  }
})

describe("the worst inputs that pass the limits never hold the event loop for 50 ms (§1)", () => {
  const TOTAL = 200
  /**
   * The rule is about one input's synchronous work (production.md §1: no step over 50 ms on any input
   * within the limits). Two at a time still overlaps requests, without turning the figure into the
   * sum of four requests' work landing in one turn of the loop (4 × ~8 ms plus a GC measured 110 ms on
   * a shared machine while each request's own work stayed under 10 ms).
   */
  const CONCURRENCY = 2
  /**
   * A step of 50 ms or more on some input recurs in every round; a CPU taken away by other work on a
   * loaded machine does not. So: up to this many rounds, and the best round's maximum is judged.
   */
  const ROUNDS = 3
  let proxy: ProxyProcess | undefined

  beforeAll(async () => {
    proxy = await startProxyProcess({ MTA_STORE: "memory" }, await freePort())
  })
  afterAll(() => stopQuietly(proxy))

  it("every input is under 64 KiB and within the field limits", () => {
    for (const input of worstInputs()) {
      expect(Buffer.byteLength(input.body), input.name).toBeLessThan(API_BODY_LIMIT)
      expect(depthOf(JSON.parse(input.body)), input.name).toBeLessThanOrEqual(32)
    }
  })

  it(`${TOTAL} requests, ${CONCURRENCY} at a time, each with an Idempotency-Key: max event-loop lag < 50 ms`, {
    timeout: 300_000
  }, async () => {
    const url = proxy!.url
    const inputs = worstInputs()
    // One of each first: code loaded and compiled once is not work per input.
    const warm = await sendWorstLoad(url, DEV_TOKEN, inputs, { total: inputs.length, concurrency: 1 })
    expect(warm.failures).toEqual([])

    // What the machine alone costs (for the message: a busy machine shows here too).
    const idle = await idleEventLoopMax(url)
    expect(idle, "nodejs_eventloop_lag_max_seconds is not on /metrics").toBeDefined()

    const pid = proxy!.child.pid!
    const rounds: Array<{
      readonly max: number | undefined
      readonly load: WorstLoad
      readonly cpu: number
    }> = []
    for (let round = 0; round < ROUNDS; round++) {
      await scrapeEventLoopMax(url)
      const cpu0 = cpuMs(pid) ?? Number.NaN
      const load = await sendWorstLoad(url, DEV_TOKEN, inputs, { total: TOTAL, concurrency: CONCURRENCY })
      const max = await scrapeEventLoopMax(url)
      rounds.push({ max, load, cpu: ((cpuMs(pid) ?? Number.NaN) - cpu0) / TOTAL })
      if (max !== undefined && max < EVENT_LOOP_LAG_LIMIT_S) break
    }
    const maxima = rounds.map((r) => r.max ?? Number.NaN)
    const best = Math.min(...maxima)
    const seen = `max lag per round ${maxima.map((m) => `${(m * 1000).toFixed(1)} ms`).join(", ")} (idle ${((idle ?? Number.NaN) * 1000).toFixed(1)} ms); proxy CPU per request ${rounds.map((r) => `${r.cpu.toFixed(1)} ms`).join(", ")}; statuses ${JSON.stringify(rounds.map((r) => r.load.statuses))}; failures ${JSON.stringify(rounds.flatMap((r) => r.load.failures).slice(0, 5))}`

    for (const { load } of rounds) {
      expect.soft(load.failures, seen).toEqual([])
      for (const [name, byStatus] of Object.entries(load.statuses)) {
        for (const status of Object.keys(byStatus).map(Number)) {
          // Within the limits: never refused for size, never a 5xx (a client's mistake is a 4xx).
          expect.soft(status, `${name}: ${seen}`).not.toBe(413)
          expect.soft(status, `${name}: ${seen}`).toBeLessThan(500)
        }
      }
    }
    expect(best, seen).toBeLessThan(EVENT_LOOP_LAG_LIMIT_S)
  })
})

describe("failing closed (§2)", () => {
  const spawned: Array<SpawnedProxy> = []
  afterAll(async () => {
    await Promise.all(spawned.map((p) => p.kill()))
  })

  for (const host of ["0.0.0.0", "::"]) {
    it(`the embedded default refuses HOST=${host}: exit 2, nothing listening, the message names HOST`, {
      timeout: 90_000
    }, async () => {
      const port = await freePort()
      const proxy = spawnProxy({ ...EMBEDDED, PORT: String(port), HOST: host })
      spawned.push(proxy)
      try {
        const code = await exitWithin(proxy, 45_000)
        const stillListening = await listening(port)
        const seen = `exit ${code}; listening ${stillListening}; stderr: ${proxy.stderr().slice(0, 800)}`
        expect.soft(code, seen).toBe(2)
        expect.soft(stillListening, seen).toBe(false)
        expect.soft(proxy.stderr(), seen).not.toMatch(/listening on/)
        expect.soft(proxy.stderr(), seen).toMatch(/\bHOST\b/)
        expect.soft(proxy.stderr(), seen).toMatch(/loopback/i)
      } finally {
        await proxy.kill()
      }
    })
  }

  it("the startup banner prints the port actually bound (PORT=0)", { timeout: 90_000 }, async () => {
    const proxy = spawnProxy({ ...EMBEDDED, PORT: "0", HOST: "127.0.0.1" })
    spawned.push(proxy)
    try {
      let port: number | undefined
      for (let i = 0; i < 450 && port === undefined && proxy.child.exitCode === null; i++) {
        const m = /listening on \S*127\.0\.0\.1:(\d+)/.exec(proxy.stderr())
        if (m !== null) port = Number(m[1])
        else await new Promise((r) => setTimeout(r, 100))
      }
      expect(port, proxy.stderr()).toBeDefined()
      expect(port).toBeGreaterThan(0)
      const health = await fetch(`http://127.0.0.1:${port}/healthz`)
      expect(health.status).toBe(200)
    } finally {
      await proxy.kill()
    }
  })

  it("with a real upstream and HOST=0.0.0.0 the banner says 0.0.0.0 and the port bound", {
    timeout: 90_000
  }, async () => {
    const proxy = spawnProxy({
      ...downUpstreamEnv(await freePort()),
      PORT: "0",
      HOST: "0.0.0.0"
    })
    spawned.push(proxy)
    try {
      let port: number | undefined
      for (let i = 0; i < 450 && port === undefined && proxy.child.exitCode === null; i++) {
        // Wait for the banner's API reference line (the last one), then look for the address.
        if (/API reference/.test(proxy.stderr())) {
          const m = /0\.0\.0\.0:(\d+)/.exec(proxy.stderr())
          port = m === null ? -1 : Number(m[1])
        } else await new Promise((r) => setTimeout(r, 100))
      }
      const seen = `stderr: ${proxy.stderr().slice(0, 800)}`
      expect(port, seen).toBeDefined()
      expect(port, `the banner does not name 0.0.0.0:<port>; ${seen}`).toBeGreaterThan(0)
      const health = await fetch(`http://127.0.0.1:${port}/healthz`)
      expect(health.status).toBe(200)
    } finally {
      await proxy.kill()
    }
  })
})

/** A real-upstream configuration whose upstream is a closed local port. */
const downUpstreamEnv = (closedPort: number): Record<string, string> => ({
  ZH_BASE_URL: `http://127.0.0.1:${closedPort}`,
  ZH_API_KEY: "k",
  ZH_API_SECRET: "c2VjcmV0",
  ZH_API_PASSPHRASE: "p",
  ZH_WEBHOOK_SECRET: "w",
  MTA_CALLERS: JSON.stringify([
    { name: "edge", token_sha256: Callers.hashToken("edge-token"), scopes: Callers.allScopes }
  ]),
  MTA_STORE: "memory",
  LOG_LEVEL: "warn"
})

describe("/readyz when only the upstream is down (§2)", () => {
  let proxy: ProxyProcess | undefined
  let strict: ProxyProcess | undefined
  afterAll(async () => {
    await Promise.all([stopQuietly(proxy), stopQuietly(strict)])
  })

  it("stays 200 and says the upstream is unreachable in its body", { timeout: 90_000 }, async () => {
    proxy = await startProxyProcess(downUpstreamEnv(await freePort()), await freePort())
    const r = await fetch(`${proxy.url}/readyz`)
    const body = (await r.json()) as { status?: unknown; checks?: Record<string, unknown> }
    const seen = `${r.status} ${JSON.stringify(body)}`
    expect.soft(r.status, seen).toBe(200)
    expect.soft(body.checks?.store, seen).toBe("ok")
    expect.soft(body.checks?.upstream, seen).toBeDefined()
    expect.soft(body.checks?.upstream, seen).not.toBe("ok")
    expect
      .soft(JSON.stringify(body.checks?.upstream ?? ""), seen)
      .toMatch(/unreachable|refused|ECONNREFUSED|connect|fetch failed|down|unavailable/i)
  })

  it("is 503 when MTA_READY_REQUIRES_UPSTREAM=true", { timeout: 90_000 }, async () => {
    strict = await startProxyProcess(
      { ...downUpstreamEnv(await freePort()), MTA_READY_REQUIRES_UPSTREAM: "true" },
      await freePort()
    )
    const r = await fetch(`${strict.url}/readyz`)
    const body = (await r.json()) as { status?: unknown; checks?: Record<string, unknown> }
    const seen = `${r.status} ${JSON.stringify(body)}`
    expect.soft(r.status, seen).toBe(503)
    expect.soft(body.checks?.upstream, seen).not.toBe("ok")
  })
})

describe("fair shares of the vendor budget (§6)", () => {
  const budget = { requests: 10, window_ms: 60_000 }

  /** The tests' callers and `bulk` (token `bulk-token`, reads only) whose entry says `upstream_share`. */
  const withBulk = (upstream_share: number) => {
    const entries: ReadonlyArray<Callers.CallerEntry> = [
      ...callerEntries,
      {
        name: "bulk",
        token_sha256: Callers.hashToken("bulk-token"),
        scopes: ["accounts:read"],
        upstream_share
      }
    ]
    return Callers.makeAuthenticator(entries)
  }

  const expectUpstreamLimited = async (r: Response, what: string) => {
    const text = await r.text()
    expect(r.status, `${what}: ${text}`).toBe(429)
    expect(Number(r.headers.get("retry-after")), what).toBeGreaterThanOrEqual(1)
    expect(JSON.parse(text), what).toMatchObject({
      error: "Too Many Requests",
      code: "upstream_rate_limited"
    })
  }

  it("a caller flooding reads is stopped at half the budget; another caller's lock still goes through", async () => {
    const h = harness({ egressLimit: budget })
    // admin: 1 of its 5.
    const created = await h.request("/accounts", { method: "POST", json: createBody("fair-share") })
    expect(created.status).toBe(202)
    const zrn = ((await created.json()) as { message: { zrn: string } }).message.zrn
    await h.simulator.settle()

    for (let i = 0; i < 5; i++) {
      const r = await h.request("/accounts", { token: TOKENS.reader })
      expect(r.status, `read ${i + 1} of reader's share of 5: ${await r.text()}`).toBe(200)
    }
    const before = h.upstreamCount()
    await expectUpstreamLimited(await h.request("/accounts", { token: TOKENS.reader }), "reader's 6th read")
    expect(h.upstreamCount(), "a refused read does not reach the upstream").toBe(before)

    // 6 of 10 spent: admin (1 of its 5 so far) locks.
    const lock = await h.request(`/accounts/${zrn}/lock`, { method: "POST", token: TOKENS.admin })
    expect(lock.status, await lock.clone().text()).toBe(202)
  })

  it("a caller whose entry says upstream_share: 1 may use the whole budget", async () => {
    const h = harness({ egressLimit: budget, authenticator: withBulk(1) })
    for (let i = 0; i < 10; i++) {
      const r = await h.request("/accounts", { token: "bulk-token" })
      expect(r.status, `read ${i + 1} of 10: ${await r.text()}`).toBe(200)
    }
    // The whole budget is spent now, by anyone.
    await expectUpstreamLimited(await h.request("/accounts", { token: "bulk-token" }), "bulk's 11th read")
    await expectUpstreamLimited(await h.request("/accounts", { token: TOKENS.reader }), "reader after bulk")
  })

  it("upstreamShare sets the default share; an entry's upstream_share overrides it", async () => {
    const h = harness({ egressLimit: budget, upstreamShare: 0.2, authenticator: withBulk(0.8) })
    for (let i = 0; i < 2; i++) {
      const r = await h.request("/accounts", { token: TOKENS.reader })
      expect(r.status, `reader's read ${i + 1} of 2: ${await r.text()}`).toBe(200)
    }
    await expectUpstreamLimited(await h.request("/accounts", { token: TOKENS.reader }), "reader's 3rd read")
    for (let i = 0; i < 8; i++) {
      const r = await h.request("/accounts", { token: "bulk-token" })
      expect(r.status, `bulk's read ${i + 1} of 8: ${await r.text()}`).toBe(200)
    }
    await expectUpstreamLimited(await h.request("/accounts", { token: "bulk-token" }), "bulk's 9th read")
  })
})
