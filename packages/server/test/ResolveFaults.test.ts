/**
 * Every fault of the testkit (`Fault.ts`: statuses before and after applying, dropped connections,
 * latency past the proxy's deadline, with and without `afterApply`) against keyed creates and keyed
 * commands, through the proxy as a process (`src/main.ts`, its embedded SQL store) in front of the
 * standalone simulator on a port, each retried with the same key as a careful client would (retry on
 * 5xx, 429, 409 `idempotency_in_flight` / `idempotency_outcome_pending`, honouring `Retry-After`),
 * with short proxy settings so the whole matrix runs in seconds:
 *
 * - every key reaches one final answer, and a further retry gets it again;
 * - zero double-creates: one account per (participant, label) in the simulator;
 * - zero permanent 409s for a caller's own account: every create's final answer is its 202, with
 *   the ZRN of the account the simulator holds for its label.
 *
 * The bound on how long a key may stay pending on the default settings is `Config`'s to hold (it
 * refuses settings whose sum passes 2 minutes: test/Config.test.ts).
 */
import { randomUUID } from "node:crypto"
import { Callers } from "@mta/server"
import { type Fault, type Server as SimServer, startSimulatorServer } from "@mta/testkit"
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest"
import { createBody, freePort, type ProxyProcess, startProxyProcess, upstreamEnv } from "./support.js"

const TOKEN = "resolve-faults-token"
const SECRET = "resolve-faults-webhook-secret"
const TIMEOUT_MS = 400
/** A careful client waits what `Retry-After` says, up to this (a 429's lock-out is longer). */
const MAX_WAIT_MS = 1_500

/** The testkit's fault shapes, each once (`times: 1`) on the endpoint under test. */
const matrix: ReadonlyArray<readonly [string, Omit<Fault.FaultSpec, "endpoint" | "times">]> = [
  ...[500, 502, 503, 504, 429].map((status) => [`${status} before applying`, { status }] as const),
  ...[500, 502, 503, 504, 429].map(
    (status) => [`${status} after applying`, { status, afterApply: true }] as const
  ),
  ["dropped connection", { drop: true }],
  ["dropped connection after applying", { drop: true, afterApply: true }],
  ["latency past the deadline", { latencyMs: TIMEOUT_MS * 3 }],
  ["latency past the deadline, after applying", { latencyMs: TIMEOUT_MS * 3, afterApply: true }]
]

interface Answer {
  readonly status: number
  readonly replayed: boolean
  readonly body: { code?: string; message?: { zrn?: string } }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

describe("every testkit fault against keyed creates and commands, through the proxy process", () => {
  let sim: SimServer.SimulatorServer
  let proxy: ProxyProcess

  beforeAll(async () => {
    const port = await freePort()
    sim = await startSimulatorServer({
      seedDemo: true,
      asyncDelayMs: 100,
      webhook: { url: `http://127.0.0.1:${port}/webhooks/zerohash`, secret: SECRET }
    })
    proxy = await startProxyProcess(
      {
        ...upstreamEnv(sim),
        ZH_WEBHOOK_SECRET: SECRET,
        ZH_TIMEOUT_MS: String(TIMEOUT_MS),
        MTA_IDEMPOTENCY_RESOLVE_INTERVAL_MS: "100",
        MTA_IDEMPOTENCY_RESEND_AFTER_MS: "200",
        MTA_IDEMPOTENCY_PENDING_MAX_MS: "30000",
        MTA_CALLERS: JSON.stringify([
          { name: "careful", token_sha256: Callers.hashToken(TOKEN), scopes: Callers.allScopes }
        ]),
        LOG_LEVEL: "warn"
      },
      port
    )
  }, 60_000)
  afterAll(async () => {
    await proxy?.stop("SIGKILL")
    await sim?.close()
  })

  const send = async (
    method: string,
    path: string,
    key: string | undefined,
    body?: unknown
  ): Promise<Answer> => {
    const r = await fetch(`${proxy.url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${TOKEN}`,
        "content-type": "application/json",
        ...(key === undefined ? {} : { "idempotency-key": key })
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) })
    })
    const text = await r.text()
    const wait = Number(r.headers.get("retry-after") ?? "0") * 1000
    return {
      status: r.status,
      replayed: r.headers.get("idempotent-replayed") === "true",
      body: text === "" ? {} : JSON.parse(text),
      ...(wait > 0 ? { wait } : {})
    } as Answer
  }

  /** Retries with the same key until an answer a careful client takes as final; returns it and the tries. */
  const careful = async (attempt: () => Promise<Answer>): Promise<{ final: Answer; tries: number }> => {
    for (let tries = 1; tries <= 200; tries++) {
      const a = await attempt()
      const busy =
        a.status === 409 &&
        (a.body.code === "idempotency_in_flight" || a.body.code === "idempotency_outcome_pending")
      // A stored answer (replayed) is final even when it is a 5xx: its cause is in it.
      const retry = busy || ((a.status >= 500 || a.status === 429) && !a.replayed)
      if (!retry) return { final: a, tries }
      const wait = (a as Answer & { wait?: number }).wait
      await sleep(wait === undefined ? 100 : Math.min(wait, MAX_WAIT_MS))
    }
    throw new Error("no final answer after 200 tries")
  }

  const accountsOf = (label: string) => sim.simulator.accounts().filter((a) => a.account_label === label)

  it("creates: one final answer each, the key's own account, never a double-create", async () => {
    const results: Array<{ name: string; label: string; final: Answer; again: Answer; tries: number }> = []
    for (const [name, fault] of matrix) {
      const label = `faults-${randomUUID().slice(0, 8)}`
      const key = randomUUID()
      sim.simulator.injectFault({ endpoint: "createAccount", times: 1, ...fault })
      const body = createBody(label)
      const { final, tries } = await careful(() => send("POST", "/accounts", key, body))
      const again = await send("POST", "/accounts", key, body)
      results.push({ name, label, final, again, tries })
    }
    // Every fault was met by a create (a delayed one is journaled when it is finally answered).
    await vi.waitFor(
      () => {
        const faulted = sim.simulator
          .journal()
          .filter((e) => e.endpoint === "createAccount" && e.fault !== undefined)
        expect(faulted.map((e) => e.fault)).toHaveLength(matrix.length)
      },
      { timeout: 10_000, interval: 100 }
    )
    for (const r of results) {
      const accounts = accountsOf(r.label)
      // One account per (participant, label): no double-create.
      expect([r.name, accounts.length]).toEqual([r.name, 1])
      // The key's own account, never a 409.
      expect([r.name, r.final.status]).toEqual([r.name, 202])
      expect([r.name, r.final.body.message?.zrn]).toEqual([r.name, accounts[0]!.zrn])
      // The final answer again, replayed.
      expect([r.name, r.again.status, r.again.replayed, r.again.body.message?.zrn]).toEqual([
        r.name,
        202,
        true,
        accounts[0]!.zrn
      ])
    }
    // No pair twice in the whole simulator.
    const pairs = sim.simulator.accounts().map((a) => `${a.participant_code}/${a.account_label}`)
    expect(new Set(pairs).size).toBe(pairs.length)
    console.info(`[ResolveFaults] creates: ${results.map((r) => `${r.name}: ${r.tries} tries`).join("; ")}`)
  }, 60_000)

  it("commands: one final answer each, applied once", async () => {
    for (const [name, fault] of matrix) {
      // An open account of its own (no key, no fault: faults target the lock only).
      const created = await send(
        "POST",
        "/accounts",
        undefined,
        createBody(`cmd-${randomUUID().slice(0, 8)}`)
      )
      expect(created.status).toBe(202)
      const zrn = created.body.message!.zrn!
      await (
        await fetch(`${proxy.url}/accounts/${zrn}/status?wait_for=open&timeout_ms=10000`, {
          headers: { authorization: `Bearer ${TOKEN}` }
        })
      ).text()
      sim.simulator.injectFault({ endpoint: "lock", times: 1, ...fault })
      const key = randomUUID()
      const { final } = await careful(() => send("POST", `/accounts/${zrn}/lock`, key, {}))
      // 202, or the transition refused because the first attempt had locked it already.
      expect([name, [202, 400].includes(final.status)]).toEqual([name, true])
      const again = await send("POST", `/accounts/${zrn}/lock`, key, {})
      expect([name, again.status, again.replayed]).toEqual([name, final.status, true])
      // Applied: the account ends locked.
      await sim.simulator.settle()
      expect([name, sim.simulator.account(zrn)?.status]).toEqual([name, "locked"])
    }
  }, 60_000)
})
