/**
 * The root README's walk-through with curl, run as written (bash, curl, python3) against the proxy
 * process in its embedded default, as `pnpm start` serves it: the account steps, then onboarding a
 * participant (submit, long poll until approved, open an account) and the access endpoint. Only the
 * address is changed (`API=` points at this test's port). Skipped, with the reason printed, when
 * `curl` or `python3` is missing. Run as a terminal runs it (no `set -e`: step 4 ends on curl's own
 * `-m 2` time limit); what each step printed is asserted instead.
 */
import { execFileSync, spawnSync } from "node:child_process"
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { freePort, type ProxyProcess, repoDir, startProxyProcess } from "./support.js"

const missing = ["curl", "python3", "bash"].filter(
  (tool) => spawnSync(tool, ["--version"]).error !== undefined
)
if (missing.length > 0)
  console.warn(
    `skipping the README walk-through: ${missing.join(", ")} not installed (the walk-through needs them)`
  )

/** The `sh` blocks of the README's walk-through section, in order. */
const walkThrough = (): ReadonlyArray<string> => {
  const readme = readFileSync(join(repoDir, "README.md"), "utf8")
  const start = readme.indexOf("### Walk-through with curl")
  const end = readme.indexOf("\n## ", start)
  return [...readme.slice(start, end).matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]!)
}

describe.skipIf(missing.length > 0)("the root README's walk-through with curl, run as written", () => {
  let proxy: ProxyProcess
  beforeAll(async () => {
    proxy = await startProxyProcess({ MTA_SIM_DELAY_MS: "100", LOG_LEVEL: "warn" }, await freePort())
  }, 60_000)
  afterAll(async () => {
    await proxy?.stop()
  })

  it("creates, waits, locks, onboards a participant, opens their account and asks the access endpoint", () => {
    const blocks = walkThrough()
    expect(blocks).toHaveLength(2)
    const script = blocks.join("\n").replace("API=http://127.0.0.1:8080", `API=${proxy.url}`)
    expect(script).toContain(`API=${proxy.url}`)
    const out = execFileSync("bash", ["-c", script], {
      encoding: "utf8",
      timeout: 60_000
    })
    // The account steps.
    expect(out).toMatch(/"status":"open","updated_at":"[^"]+","confirmed_at":"[^"]+","timed_out":false/)
    expect(out).toMatch(/"status":"locked"/)
    expect(out).toContain('"code":"transition_rejected"')
    // Onboarding: a new participant code, approved through the long poll.
    const code = /\{"participant_code":"([A-Z0-9]{6})","status":"approved"/.exec(out)?.[1]
    expect(code).toBeDefined()
    // `echo "$CODE"` printed it before the long poll answered (curl's answers end without a newline).
    expect(out).toContain(`${code}\n{"participant_code":"${code}"`)
    // The access answers: the new customer may withdraw from their open account ...
    const answers = out
      .split(/(?=\{"zrn")/)
      .filter((chunk) => chunk.includes('"decisions"'))
      .map((chunk) => JSON.parse(chunk.trim()))
    expect(answers).toHaveLength(2)
    expect(answers[0].as_of.account_status).toBe("open")
    expect(answers[0].decisions).toEqual([
      expect.objectContaining({
        participant: code,
        role: "primary",
        action: "withdraw",
        allowed: true,
        reasons: []
      })
    ])
    // ... and on the locked JTIC account CUST02 may view and deposit only, each refusal by AccountStatus.
    expect(answers[1].as_of.account_status).toBe("locked")
    expect(
      Object.fromEntries(
        answers[1].decisions.map((d: { action: string; allowed: boolean }) => [d.action, d.allowed])
      )
    ).toEqual({ view: true, buy: false, sell: false, deposit: true, withdraw: false })
    for (const d of answers[1].decisions.filter((d: { allowed: boolean }) => !d.allowed))
      expect(d.reasons.map((r: { rule: string }) => r.rule)).toEqual(["AccountStatus"])
  }, 90_000)
})
