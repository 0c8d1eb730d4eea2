/**
 * Domain hot-path benchmark: `Zrn.parse` (canonical, short, invalid), `Access.decide` and
 * `Lifecycle.transition`, single-threaded (one core). Writes `bench/RESULTS.md`.
 * Rerun: `pnpm bench` at the repo root, or `pnpm -C packages/domain bench`.
 */
import { writeFileSync } from "node:fs"
import { cpus } from "node:os"
// Imports resolve to the built package (dist): the code consumers run.
import { Access, Lifecycle, Zrn } from "@mta/domain"
import { Schema } from "effect"
import { Bench } from "tinybench"

const UUID = "c761fc96-5c44-40d4-8eb2-3fcd5d06754e"
const canonical = `zrn:zh:us:accounts:customer:${UUID}`
const short = `customer:${UUID.toUpperCase()}`
const invalid = `zrn:zh:fr:accounts:customer:${UUID}`
const decodeZrn = Schema.decodeUnknownSync(Zrn.ZrnFromString)

const account = {
  type: "jtic",
  status: "open",
  participant_code: "CUST01",
  tenants: ["CUST02"],
  financial_advisors: ["ADVSR1"]
} as const
const allowed = { account, participant: { code: "CUST02", status: "approved" }, action: "buy" } as const
const denied = {
  account: { ...account, status: "locked" },
  participant: { code: "ADVSR1", status: "locked", reason_code: "compliance_issue" },
  action: "withdraw"
} as const

const targets: Record<string, number> = {
  "Zrn.parse (canonical)": 2_000_000,
  "Access.decide (allowed)": 2_000_000
}

const bench = new Bench({ time: 1500, warmupTime: 300 })
let sink: unknown
bench
  .add("Zrn.parse (canonical)", () => {
    sink = Zrn.parse(canonical)
  })
  .add("Zrn.parse (short, upper case)", () => {
    sink = Zrn.parse(short)
  })
  .add("Zrn.parse (invalid geo)", () => {
    sink = Zrn.parse(invalid)
  })
  .add("Schema decode ZrnFromString (canonical)", () => {
    sink = decodeZrn(canonical)
  })
  .add("Access.decide (allowed)", () => {
    sink = Access.decide(allowed)
  })
  .add("Access.decide (denied, 3 reasons)", () => {
    sink = Access.decide(denied)
  })
  .add("Lifecycle.transition (open → locked)", () => {
    sink = Lifecycle.transition("open", "lock")
  })
  .add("Lifecycle.transition (rejected)", () => {
    sink = Lifecycle.transition("closed", "lock")
  })

await bench.run()
void sink

const rows = bench.tasks.map((t) => {
  const r = t.result!
  const ops = Math.round(r.throughput.mean)
  const target = targets[t.name]
  return {
    name: t.name,
    ops,
    p99ns: Math.round((r.latency.p99 ?? Number.NaN) * 1e6),
    target:
      target === undefined
        ? "—"
        : `${ops >= target ? "met" : "MISSED"} (≥ ${target.toLocaleString("en-US")}/s)`
  }
})
console.table(rows)

const md = [
  "# @mta/domain benchmark",
  "",
  `Measured ${new Date().toISOString().slice(0, 10)} on ${cpus()[0]?.model ?? "unknown CPU"} (${cpus().length} cores; the benchmark runs on one), Node.js ${process.version}.`,
  "",
  "Rerun: `pnpm bench` at the repository root (all packages), or `pnpm -C packages/domain bench`.",
  "Each figure includes tinybench's own timing of every call (tens of nanoseconds), so the fastest",
  "operations are understated. Pin to one core for steadier numbers: `taskset -c 1 pnpm -C packages/domain bench`.",
  "",
  "| operation | ops/s | p99 latency (ns) | target |",
  "|---|---:|---:|---|",
  ...rows.map(
    (r) =>
      `| ${r.name} | ${r.ops.toLocaleString("en-US")} | ${r.p99ns.toLocaleString("en-US")} | ${r.target} |`
  ),
  ""
].join("\n")
writeFileSync(new URL("./RESULTS.md", import.meta.url), md)
console.log("wrote packages/domain/bench/RESULTS.md")
