import { createHmac } from "node:crypto"
import { createServer, type IncomingMessage, type Server } from "node:http"
import type { AddressInfo } from "node:net"
import { afterEach, describe, expect, it } from "vitest"
import { Clock, type Simulator } from "../src/index.js"
import { call, openAccount, simulator } from "./support.js"
import { loadVectors, vectorsUrl } from "./vectors.js"

const vectors = loadVectors()
if (vectors === undefined) console.warn(`Webhook vector check skipped: ${vectorsUrl.pathname} is absent`)

/** What a receiver got: headers and the raw body, byte for byte. */
interface Received {
  readonly headers: IncomingMessage["headers"]
  readonly body: string
}

/** A webhook receiver on a real loopback port, answering each request with the next status of `answers`. */
const receiver = async (answers: (n: number) => number = () => 200) => {
  const received: Array<Received> = []
  const server: Server = createServer((req, res) => {
    const chunks: Array<Buffer> = []
    req.on("data", (c: Buffer) => chunks.push(c))
    req.on("end", () => {
      received.push({ headers: req.headers, body: Buffer.concat(chunks).toString("utf8") })
      res.writeHead(answers(received.length)).end()
    })
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  servers.push(server)
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`, received }
}

const servers: Array<Server> = []
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((resolve) => s.close(resolve))))
})

/** The receiver's check, written independently of the testkit's Signing module. */
const verify = (secret: string, r: Received) => {
  const timestamp = String(r.headers["x-zh-hook-timestamp"])
  const signature = createHmac("sha256", secret)
    .update(r.body + timestamp)
    .digest("hex")
  const legacy = createHmac("sha256", secret).update(r.body).digest("hex")
  return r.headers["x-zh-hook-signature"] === signature && r.headers["x-zh-hook-signature-256"] === legacy
}

describe("customer_account_status_changed delivery", () => {
  it("POSTs every status change, signed with the new and the legacy header", async () => {
    const hook = await receiver()
    const sim = simulator({ webhook: { url: hook.url, secret: "whsec_test_secret" } })
    const zrn = await openAccount(sim, { type: "jtic", tenants: ["CUST02"], financial_advisors: ["ADVSR1"] })
    await call(sim, "POST", `/accounts/${zrn}/lock`, { body: {} })
    await sim.settle()

    expect(hook.received).toHaveLength(2)
    for (const r of hook.received) {
      expect(verify("whsec_test_secret", r)).toBe(true)
      expect(r.headers["x-zh-hook-payload-type"]).toBe("customer_account_status_changed")
      expect(r.headers["x-zh-hook-notification-id"]).toMatch(/^[0-9a-f-]{36}$/)
      expect(String(r.headers["x-zh-hook-timestamp"])).toMatch(/^\d{13}$/)
    }
    const [opened, locked] = hook.received.map((r) => JSON.parse(r.body))
    expect(opened).toEqual({
      urn: zrn,
      status: "open",
      participant_code: "CUST01",
      prefunded: false,
      account_label: expect.any(String),
      account_group: "PLAT01",
      tier: "pro",
      type: "jtic",
      tenants: ["CUST02"],
      financial_advisors: ["ADVSR1"]
    })
    expect(locked.status).toBe("locked")
    expect(hook.received[0]!.headers["x-zh-hook-notification-id"]).not.toBe(
      hook.received[1]!.headers["x-zh-hook-notification-id"]
    )
    expect(sim.webhooks().map((w) => w.outcome)).toEqual(["delivered", "delivered"])
  })

  // Reported as skipped, not passed, where the vectors are absent (CI has them beside the repository).
  it.skipIf(vectors === undefined)("signs so that the vectors' verification accepts it", async () => {
    const { secret, vectors: cases } = vectors!.webhook_signing
    const v = cases[0]!
    // A simulator on a clock at the vector's instant signs the vector's body as the vendor did.
    const sim = simulator({ clock: Clock.manual(Number(v.timestamp)), webhook: { secret } })
    const events: Array<{ headers: Readonly<Record<string, string>>; rawBody: string }> = []
    sim.onWebhook((e) => {
      events.push(e)
    })
    const zrn = await openAccount(sim)
    const event = events[0]!
    expect(event.headers["x-zh-hook-timestamp"]).toBe(v.timestamp)
    expect(verify(secret, { headers: event.headers, body: event.rawBody })).toBe(true)
    // The same secret and timestamp over the vector's own body give the vector's signatures.
    expect(
      verify(secret, {
        headers: {
          ...event.headers,
          "x-zh-hook-signature": v.signature,
          "x-zh-hook-signature-256": v.legacy_signature_256
        },
        body: v.raw_body
      })
    ).toBe(true)
    expect(zrn).toMatch(/^zrn:/)
  })

  it("retries a failing receiver and records every attempt", async () => {
    const hook = await receiver((n) => (n <= 2 ? 500 : 200))
    const sim = simulator({ webhook: { url: hook.url } })
    await openAccount(sim)
    const [record] = sim.webhooks()
    expect(record!.outcome).toBe("delivered")
    expect(record!.deliveries[0]!.attempts.map((a) => a.status)).toEqual([500, 500, 200])
    const ids = new Set(hook.received.map((r) => r.headers["x-zh-hook-notification-id"]))
    expect(ids.size).toBe(1)
    // Every retry carries the notification's timestamp and a valid signature.
    expect(new Set(hook.received.map((r) => r.headers["x-zh-hook-timestamp"])).size).toBe(1)
    for (const r of hook.received) expect(verify(sim.webhookSecret, r)).toBe(true)
  })

  it("gives up after 4 fast retries and 3 with backoff, then records the notification as dropped", async () => {
    const hook = await receiver(() => 503)
    const sim = simulator({ webhook: { url: hook.url } })
    await openAccount(sim)
    expect(hook.received).toHaveLength(8)
    const [record] = sim.webhooks()
    expect(record!.outcome).toBe("dropped")
    expect(record!.deliveries[0]!.attempts).toHaveLength(8)
    expect(record!.deliveries[0]!.attempts.every((a) => a.status === 503 && !a.ok)).toBe(true)
  })

  it("follows the vendor's schedule on the clock: 250 ms apart four times, then 1 s, 2 s, 4 s", async () => {
    const clock = Clock.manual(Date.UTC(2026, 0, 1))
    const sim = simulator({ clock })
    const times: Array<number> = []
    sim.onWebhook(() => {
      times.push(clock.now())
      throw new Error("receiver down")
    })
    await openAccount(sim, {}, false)
    for (let i = 0; i < 1000; i++) {
      clock.advance(10)
      await new Promise((resolve) => setImmediate(resolve))
    }
    // Gaps between attempts (the clock moves in 10 ms steps, so the first failure is seen up to 10 ms late).
    const gaps = times.slice(1).map((t, i) => t - times[i]!)
    expect(gaps[0]).toBeGreaterThanOrEqual(250)
    expect(gaps[0]).toBeLessThanOrEqual(260)
    expect(gaps.slice(1)).toEqual([250, 250, 250, 1000, 2000, 4000])
    const delivery = sim.webhooks()[0]!.deliveries[0]!
    expect(delivery.outcome).toBe("dropped")
    expect(delivery.attempts[0]!.error).toBe("receiver down")
  })

  it("records a receiver that cannot be reached", async () => {
    const hook = await receiver()
    const url = hook.url
    await Promise.all(servers.splice(0).map((s) => new Promise((resolve) => s.close(resolve))))
    const sim = simulator({ webhook: { url, retry: { fastRetries: 1, backoffRetries: 0 } } })
    await openAccount(sim)
    const delivery = sim.webhooks()[0]!.deliveries[0]!
    expect(delivery.outcome).toBe("dropped")
    expect(delivery.attempts).toHaveLength(2)
    expect(delivery.attempts[0]!.error).toContain("fetch failed")
  })

  it("delivers to in-process listeners, which can be removed", async () => {
    const sim = simulator()
    const seen: Array<string> = []
    const stop = sim.onWebhook((e) => {
      seen.push((e.payload as { status: string }).status)
    })
    const zrn = await openAccount(sim)
    stop()
    await call(sim, "POST", `/accounts/${zrn}/lock`, { body: {} })
    await sim.settle()
    expect(seen).toEqual(["open"])
    expect(sim.webhooks().map((w) => w.outcome)).toEqual(["delivered", "unsent"])
  })

  it("duplicates mode delivers every notification twice with the same id", async () => {
    const hook = await receiver()
    const sim = simulator({ webhook: { url: hook.url, duplicates: true } })
    await openAccount(sim)
    expect(hook.received).toHaveLength(2)
    expect(hook.received[0]!.headers["x-zh-hook-notification-id"]).toBe(
      hook.received[1]!.headers["x-zh-hook-notification-id"]
    )
    expect(sim.webhooks()[0]!.deliveries.map((d) => d.copy)).toEqual([1, 2])
  })

  it("out-of-order mode delivers a batch newest first; timestamps still give the true order", async () => {
    const sim = simulator({ webhook: { outOfOrder: true } })
    const seen: Array<{ status: string; timestamp: number }> = []
    sim.onWebhook((e) => {
      seen.push({ status: (e.payload as { status: string }).status, timestamp: e.timestamp })
    })
    const zrn = await openAccount(sim)
    await call(sim, "POST", `/accounts/${zrn}/lock`, { body: {} })
    await call(sim, "POST", `/accounts/${zrn}/unlock`, { body: {} })
    await call(sim, "POST", `/accounts/${zrn}/withdraw_lock`, { body: {} })
    await sim.settle()
    const arrival = seen.map((s) => s.status)
    expect(arrival).toEqual(["open", "withdraw_locked", "open", "locked"])
    const byTimestamp = [...seen].sort((a, b) => a.timestamp - b.timestamp).map((s) => s.status)
    expect(byTimestamp).toEqual(["open", "locked", "open", "withdraw_locked"])
  })

  it("emits nothing for an accepted no-op", async () => {
    const sim: Simulator.Simulator = simulator()
    const zrn = await openAccount(sim)
    await call(sim, "POST", `/accounts/${zrn}/unlock`, { body: {} })
    await sim.settle()
    expect(sim.webhooks()).toHaveLength(1)
  })
})

describe("webhook wiring", () => {
  it("can be pointed at a receiver later, and survives reset", async () => {
    const hook = await receiver()
    const sim = simulator()
    const seen: Array<string> = []
    sim.onWebhook((e) => {
      seen.push(e.notificationId)
    })
    await openAccount(sim)
    expect(hook.received).toHaveLength(0)
    sim.configureWebhooks({ url: hook.url, duplicates: true })
    sim.reset()
    await openAccount(sim)
    expect(hook.received).toHaveLength(2)
    expect(seen).toHaveLength(3)
    expect(sim.webhooks()[0]!.deliveries.map((d) => d.url ?? d.receiver)).toEqual([
      hook.url,
      "listener",
      hook.url,
      "listener"
    ])
    sim.configureWebhooks({ url: null, duplicates: false })
    await openAccount(sim)
    expect(hook.received).toHaveLength(2)
  })
})
