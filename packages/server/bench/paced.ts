/**
 * Load at a fixed rate for `bench/run.ts`: `rate` requests a second for `seconds` seconds, each sent
 * when its time comes whatever the earlier ones are doing (an open loop; autocannon's `overallRate`
 * sends each second's share in a burst), over a keep-alive agent. Answers the 2xx latencies, sorted.
 */
import { Agent, request } from "node:http"

/** One load at a fixed rate (see above). */
export const paced = (
  target: string,
  headers: Record<string, string>,
  rate: number,
  seconds: number
): Promise<{ readonly sorted: Float64Array; readonly bad: number }> =>
  new Promise((resolve) => {
    const agent = new Agent({ keepAlive: true, maxSockets: 256 })
    const url = new URL(target)
    const total = rate * seconds
    const times: Array<number> = []
    let sent = 0
    let ended = 0
    let bad = 0
    const finish = () => {
      if (++ended < total) return
      agent.destroy()
      resolve({ sorted: Float64Array.from(times).sort(), bad })
    }
    const one = () => {
      const t0 = performance.now()
      const req = request(
        { hostname: url.hostname, port: url.port, path: url.pathname, headers, agent },
        (res) => {
          res.resume()
          res.on("end", () => {
            const status = res.statusCode ?? 0
            if (status >= 200 && status < 300) times.push(performance.now() - t0)
            else bad++
            finish()
          })
        }
      )
      req.on("error", () => {
        bad++
        finish()
      })
      req.end()
    }
    const start = performance.now()
    const tick = () => {
      const due = Math.min(total, Math.floor(((performance.now() - start) * rate) / 1000))
      while (sent < due) {
        sent++
        one()
      }
      if (sent < total) setTimeout(tick, 1)
    }
    tick()
  })

/** The `q` quantile of sorted values (0 when none). */
export const percentile = (sorted: Float64Array, q: number): number =>
  sorted.length === 0
    ? 0
    : sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!

/** `a / b`, 0 when `b` is. */
export const ratio = (a: number, b: number) => (b === 0 ? 0 : a / b)
/** The median (the mean of the middle two for an even count). */
export const median = (xs: ReadonlyArray<number>): number => {
  const s = [...xs].sort((a, b) => a - b)
  const mid = Math.floor(s.length / 2)
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2
}

/** The fixed rate, requests a second. */
export const RATE = 1_000

export interface PacedFigures {
  readonly name: string
  readonly p50: number
  readonly p99: number
  /** Median over the rounds of this target's p99 over (a)'s, and minus (a)'s (ms). */
  readonly p99VsPass: number
  readonly p99OverPass: number
  readonly bad: number
}

export interface PacedTarget {
  readonly name: string
  readonly url: string
  readonly headers: () => Record<string, string>
}

/** The targets at `RATE` requests a second, in turn, `rounds` times (after a warm-up); medians. */
export const measurePaced = async (
  plan: { readonly rounds: number; readonly seconds: number; readonly warmupSeconds: number },
  targets: ReadonlyArray<PacedTarget>
): Promise<Array<PacedFigures>> => {
  const at = (target: PacedTarget, seconds: number) => paced(target.url, target.headers(), RATE, seconds)
  for (const target of targets) await at(target, plan.warmupSeconds)
  const runs = targets.map(() => [] as Array<{ p50: number; p99: number; bad: number }>)
  for (let round = 0; round < plan.rounds; round++) {
    const order = [...targets.keys()]
    if (round % 2 === 1) order.reverse()
    for (const i of order) {
      const { sorted, bad } = await at(targets[i]!, plan.seconds)
      const run = { p50: percentile(sorted, 0.5), p99: percentile(sorted, 0.99), bad }
      runs[i]!.push(run)
      process.stdout.write(
        `${RATE} req/s round ${round + 1}/${plan.rounds} ${targets[i]!.name}: p50 ${run.p50.toFixed(2)} ms, p99 ${run.p99.toFixed(2)} ms, bad ${bad}\n`
      )
    }
  }
  const pass = runs[targets.findIndex((t) => t.name.startsWith("(a)"))]!
  return targets.map((target, i) => {
    const r = runs[i]!
    return {
      name: target.name,
      p50: median(r.map((x) => x.p50)),
      p99: median(r.map((x) => x.p99)),
      p99VsPass: median(r.map((x, round) => ratio(x.p99, pass[round]!.p99))),
      p99OverPass: median(r.map((x, round) => x.p99 - pass[round]!.p99)),
      bad: r.reduce((n, x) => n + x.bad, 0)
    }
  })
}

/** The fixed-rate figures as a Markdown table. */
export const pacedTable = (rows: ReadonlyArray<PacedFigures>) =>
  [
    "| target | p50 ms | p99 ms | p99 vs (a) | p99 − (a)'s, ms | errors + non-2xx |",
    "|---|---:|---:|---:|---:|---:|",
    ...rows.map(
      (f) =>
        `| ${f.name} | ${f.p50.toFixed(2)} | ${f.p99.toFixed(2)} | ${f.p99VsPass.toFixed(2)} × | ${f.p99OverPass.toFixed(2)} | ${f.bad} |`
    )
  ].join("\n")
