// A consuming team's view: the packed tarball passes publint and attw, installs into a fresh
// project, and works from plain Node.js ESM with no TypeScript and no workspace in sight.
import { execFileSync } from "node:child_process"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { afterAll, describe, expect, it } from "vitest"

const root = fileURLToPath(new URL("../../..", import.meta.url))
const work = mkdtempSync(join(tmpdir(), "mta-domain-pack-"))
afterAll(() => rmSync(work, { recursive: true, force: true }))

describe("@mta/domain as published", () => {
  it("packs cleanly (publint --strict, attw esm-only) and imports from plain ESM", {
    timeout: 240_000
  }, () => {
    const out = execFileSync("node", [join(root, "scripts/pack.mjs"), join(work, "tarballs"), "domain"], {
      encoding: "utf8"
    })
    const { tarballs } = JSON.parse(out.trim().split("\n").pop()!) as { tarballs: Record<string, string> }
    const tarball = tarballs["@mta/domain"]!
    expect(tarball).toMatch(/mta-domain-0\.1\.0\.tgz$/)

    const project = join(work, "consumer")
    execFileSync("mkdir", ["-p", project])
    writeFileSync(
      join(project, "package.json"),
      JSON.stringify({ name: "consumer", private: true, type: "module" })
    )
    execFileSync(
      "npm",
      ["install", "--no-audit", "--no-fund", "--prefer-offline", "--loglevel=error", tarball],
      {
        cwd: project,
        encoding: "utf8"
      }
    )
    writeFileSync(
      join(project, "main.mjs"),
      [
        'import { Zrn } from "@mta/domain"',
        'import { Either } from "effect"',
        'const ok = Zrn.parse("URN:ZH:US:ACCOUNT:CUSTOMER:C761FC96-5C44-40D4-8EB2-3FCD5D06754E")',
        'const bad = Zrn.parse("zrn:zh:fr:accounts:customer:x")',
        "console.log(JSON.stringify({ ok: Either.isRight(ok) ? Zrn.format(ok.right) : null, bad: Either.isLeft(bad) ? bad.left.reason : null }))"
      ].join("\n")
    )
    const result = JSON.parse(execFileSync("node", ["main.mjs"], { cwd: project, encoding: "utf8" }))
    expect(result).toEqual({
      ok: "zrn:zh:us:accounts:customer:c761fc96-5c44-40d4-8eb2-3fcd5d06754e",
      bad: "Geo"
    })
  })
})
