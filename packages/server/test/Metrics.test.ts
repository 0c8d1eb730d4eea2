/**
 * The Prometheus registry: the stock process metrics under their stock names, `mta_build_info`, and
 * an audit that no metric of the proxy repeats another's information. The audit drives traffic that
 * moves every `mta_*` counter (requests, refusals, upstream errors, the vendor's own 429, webhooks of
 * each outcome, reconciliation re-reads and failures, a long poll), scrapes after each step, and flags
 * a series set that equalled another metric's (summed over the labels it lacks) at every scrape while
 * it changed: two metrics moving together through varied traffic carry the same information.
 */
import { readFileSync } from "node:fs"
import { Metrics } from "@mta/server"
import { Counter, Registry } from "prom-client"
import { describe, expect, it } from "vitest"
import { createBody, harness, signWebhook, TOKENS } from "./support.js"

interface Series {
  readonly labels: Readonly<Record<string, string>>
  readonly value: number
}
interface Family {
  readonly type: string
  readonly series: Array<Series>
}
type Scrape = ReadonlyMap<string, Family>

/** The counter and gauge families of an exposition (histograms carry latency no counter has). */
const parse = (text: string): Scrape => {
  const families = new Map<string, Family>()
  for (const line of text.split("\n")) {
    const type = /^# TYPE (\S+) (\S+)$/.exec(line)
    if (type !== null) {
      if (type[2] === "counter" || type[2] === "gauge") families.set(type[1]!, { type: type[2], series: [] })
      continue
    }
    const sample = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line)
    if (sample === null) continue
    const family = families.get(sample[1]!)
    if (family === undefined) continue
    const labels: Record<string, string> = {}
    for (const m of (sample[2] ?? "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[m[1]!] = m[2]!
    family.series.push({ labels, value: Number(sample[3]) })
  }
  return families
}

/** Series of a family kept by a selection (`undefined`: all; else one label fixed to one value). */
type Selection = readonly [string, string] | undefined

const labelsOf = (scrapes: ReadonlyArray<Scrape>, name: string): Set<string> => {
  const out = new Set<string>()
  for (const s of scrapes)
    for (const series of s.get(name)?.series ?? []) for (const l in series.labels) out.add(l)
  return out
}

const selectionsOf = (scrapes: ReadonlyArray<Scrape>, name: string): Array<Selection> => {
  const values = new Map<string, Set<string>>()
  for (const s of scrapes) {
    for (const series of s.get(name)?.series ?? []) {
      for (const [l, v] of Object.entries(series.labels)) {
        if (!values.has(l)) values.set(l, new Set())
        values.get(l)!.add(v)
      }
    }
  }
  return [undefined, ...[...values].flatMap(([l, vs]) => [...vs].map((v): Selection => [l, v]))]
}

/** The selected series summed by `keep` labels, without zeros, as one comparable text. */
const vector = (scrape: Scrape, name: string, selection: Selection, keep: ReadonlyArray<string>): string => {
  const sums = new Map<string, number>()
  for (const s of scrape.get(name)?.series ?? []) {
    if (selection !== undefined && s.labels[selection[0]] !== selection[1]) continue
    const key = keep.map((l) => `${l}=${s.labels[l] ?? ""}`).join(",")
    sums.set(key, (sums.get(key) ?? 0) + s.value)
  }
  return [...sums]
    .filter(([, v]) => v !== 0)
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([k, v]) => `${k}:${v}`)
    .join(";")
}

const show = (name: string, selection: Selection) =>
  selection === undefined ? name : `${name}{${selection[0]}="${selection[1]}"}`

/**
 * Pairs where metric A (all of it, or its series with one label fixed, every other label of A kept)
 * equalled metric B (all, or one label fixed, summed over the labels A lacks) at every scrape, while
 * A took at least two different non-zero values.
 */
export const duplicates = (scrapes: ReadonlyArray<Scrape>): Array<string> => {
  const last = scrapes[scrapes.length - 1]!
  const names = [...last.keys()]
  const found: Array<string> = []
  for (const a of names) {
    const aLabels = labelsOf(scrapes, a)
    for (const selA of selectionsOf(scrapes, a)) {
      const keep = [...aLabels].filter((l) => l !== selA?.[0]).sort()
      const aVectors = scrapes.map((s) => vector(s, a, selA, keep))
      if (new Set(aVectors.filter((v) => v !== "")).size < 2) continue
      for (const b of names) {
        if (b === a) continue
        const bLabels = labelsOf(scrapes, b)
        for (const selB of selectionsOf(scrapes, b)) {
          if (!keep.every((l) => bLabels.has(l) && l !== selB?.[0])) continue
          if (scrapes.every((s, i) => vector(s, b, selB, keep) === aVectors[i])) {
            found.push(`${show(a, selA)} = ${show(b, selB)}`)
          }
        }
      }
    }
  }
  return found
}

describe("the registry", () => {
  it("the stock process metrics have their stock names; mta_build_info names the package version", async () => {
    const text = await Metrics.make().render()
    const { version } = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as {
      version: string
    }
    for (const stock of [
      "process_cpu_seconds_total",
      "process_resident_memory_bytes",
      "process_start_time_seconds",
      "nodejs_eventloop_lag_seconds",
      "nodejs_heap_size_used_bytes",
      "nodejs_version_info"
    ]) {
      expect(text, stock).toMatch(new RegExp(`^# TYPE ${stock} `, "m"))
    }
    // Nothing twice under two names (the former `mta_process_cpu_seconds_total` beside the stock one).
    const names = [...text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]!)
    const bare = names.map((n) => n.replace(/^mta_/, ""))
    expect(new Set(bare).size).toBe(names.length)
    expect(names.filter((n) => n.startsWith("mta_process_") || n.startsWith("mta_nodejs_"))).toEqual([])
    expect(text).toContain("# TYPE mta_build_info gauge")
    expect(text).toContain(`mta_build_info{version="${version}",node_version="${process.versions.node}"} 1`)
    // Without the process metrics, only the proxy's own.
    const own = await Metrics.make({ processMetrics: false, version: "9.9.9" }).render()
    expect([...own.matchAll(/^# TYPE (\S+) /gm)].every((m) => m[1]!.startsWith("mta_"))).toBe(true)
    expect(own).toContain('mta_build_info{version="9.9.9"')
  })

  it("the audit finds a metric that repeats another (a counter and its twin series)", () => {
    const registry = new Registry()
    const received = new Counter({
      name: "x_received_total",
      help: "x",
      labelNames: ["outcome"] as const,
      registers: [registry]
    })
    const duplicate = new Counter({ name: "x_duplicate_total", help: "x", registers: [registry] })
    const other = new Counter({ name: "x_other_total", help: "x", registers: [registry] })
    const scrapes: Array<Scrape> = []
    const scrape = async () => scrapes.push(parse(await registry.metrics()))
    const steps: ReadonlyArray<string> = [
      "applied",
      "duplicate",
      "applied",
      "duplicate",
      "rejected",
      "duplicate"
    ]
    return (async () => {
      for (const outcome of steps) {
        received.inc({ outcome })
        if (outcome === "duplicate") duplicate.inc()
        if (outcome === "applied") other.inc(2)
        await scrape()
      }
      // Found both ways round; the unrelated counter is not.
      expect(duplicates(scrapes)).toEqual([
        'x_received_total{outcome="duplicate"} = x_duplicate_total',
        'x_duplicate_total = x_received_total{outcome="duplicate"}'
      ])
    })()
  })

  it("no metric of the proxy repeats another's information, through traffic that moves every one", async () => {
    const clock = { t: Date.now() }
    const h = harness({ webhooks: false, now: () => clock.t, reconcileProvisioningMs: 30_000 })
    const scrapes: Array<Scrape> = []
    const scrape = async () => scrapes.push(parse(await h.metrics.render()))
    const missing = "zrn:zh:us:accounts:customer:c761fc96-5c44-40d4-8eb2-3fcd5d06754e"
    const webhook = (status: string, id: string, secret?: string) => {
      const body = JSON.stringify({
        urn: "urn:zh:us:accounts:customer:0b6f4a57-3c1e-4d0e-9a51-7f0e2d9c4b11",
        participant_code: "CUST01",
        status,
        type: "jtic",
        timestamp: 1_700_000_000_000
      })
      return h.request("/webhooks/zerohash", {
        method: "POST",
        token: null,
        body,
        headers: signWebhook(body, secret === undefined ? { id } : { id, secret })
      })
    }

    await scrape()
    expect((await h.request(`/accounts/${missing}/details`)).status).toBe(404)
    await scrape()
    const created = await h.request("/accounts", { method: "POST", json: createBody("metrics-audit") })
    expect(created.status).toBe(202)
    const zrn = ((await created.json()) as { message: { zrn: string } }).message.zrn
    await scrape()
    expect((await h.request(`/accounts/${zrn}/details`, { token: TOKENS.reader })).status).toBe(200)
    expect((await h.request(`/accounts/${zrn}/details`, { token: "not-a-token" })).status).toBe(401)
    await scrape()
    for (let i = 0; i < 3; i++) await h.request(`/accounts/${zrn}/details`, { token: TOKENS.limited })
    await scrape()
    // zerohash's own 429, passed on: a 429 that is not a budget of the proxy.
    const vendor = h.simulator.injectFault({ endpoint: "getAccount", status: 429, times: 1 })
    expect((await h.request(`/accounts/${zrn}/details`)).status).toBe(429)
    vendor.remove()
    await scrape()
    expect((await webhook("locked", "w-1")).status).toBe(200)
    await scrape()
    expect((await webhook("locked", "w-1")).status).toBe(200)
    expect((await webhook("locked", "w-2", "wrong-secret")).status).toBe(401)
    await scrape()
    expect((await webhook("unlocked", "w-3")).status).toBe(200)
    expect((await webhook("unlocked", "w-3")).status).toBe(200)
    expect((await webhook("locked", "w-4", "wrong-secret")).status).toBe(401)
    expect((await webhook("locked", "w-5", "wrong-secret")).status).toBe(401)
    await scrape()
    // A long poll waiting while the scrape is taken.
    const poll = h.request(`/accounts/${zrn}/status?wait_for=closed&timeout_ms=300`)
    await new Promise((r) => setTimeout(r, 50))
    await scrape()
    expect((await poll).status).toBe(200)
    // The sweep: the create's account, still provisioning 31 s on, re-read (a repair), then one that fails.
    clock.t += 31_000
    expect(await h.app.reconciler.pass()).toBe(1)
    await scrape()
    const created2 = await h.request("/accounts", { method: "POST", json: createBody("metrics-audit-2") })
    expect(created2.status).toBe(202)
    clock.t += 31_000
    const down = h.simulator.injectFault({ endpoint: "getAccount", status: 500, times: 1 })
    expect(await h.app.reconciler.pass()).toBe(1)
    down.remove()
    await scrape()
    expect((await h.request(`/accounts/${missing}/details`, { token: TOKENS.reader })).status).toBe(404)
    await scrape()

    // Every counter of the proxy moved, so the audit looked at each.
    const last = scrapes[scrapes.length - 1]!
    for (const [name, family] of last) {
      if (family.type !== "counter") continue
      expect(
        family.series.some((s) => s.value > 0),
        `${name} did not move`
      ).toBe(true)
    }
    expect(duplicates(scrapes)).toEqual([])
  })
})
