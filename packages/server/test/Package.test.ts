/**
 * The four packages as a consuming team installs them (`production.md` §8, last bullet): each packed
 * tarball passes publint (strict) and attw (ESM-only profile) (`scripts/pack.mjs`), and all four
 * install with npm into a project that already depends on another `effect` 3 patch (3.22.3; the
 * workspace builds with the catalog's 3.22.4). Afterwards there is one copy of `effect` (each package
 * declares it a peer), no msw (an optional peer of the testkit, asked for by `@mta/testkit/msw` only)
 * and no tsx or TypeScript; the packages work from plain ESM and the `mta-server` and `mta-simulator`
 * bins answer.
 */
import { execFile } from "node:child_process"
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { promisify } from "node:util"
import { afterAll, describe, expect, it } from "vitest"
import { repoDir } from "./support.js"

const work = mkdtempSync(join(tmpdir(), "mta-packages-"))
afterAll(() => rmSync(work, { recursive: true, force: true }))

const CONSUMER_EFFECT = "3.22.3"

/** Asynchronous, so the test worker keeps answering vitest while npm and the packer run (minutes). */
const run = async (command: string, args: ReadonlyArray<string>, cwd?: string): Promise<string> =>
  (await promisify(execFile)(command, [...args], { cwd, encoding: "utf8", maxBuffer: 64 * 1024 * 1024 }))
    .stdout

/** Every `<dir>/node_modules/**\/<name>/package.json`, nested copies included. */
const copiesOf = (dir: string, name: string): Array<string> => {
  const found: Array<string> = []
  const walk = (modules: string) => {
    if (!existsSync(modules)) return
    for (const entry of readdirSync(modules)) {
      if (entry.startsWith(".")) continue
      const paths = entry.startsWith("@")
        ? readdirSync(join(modules, entry)).map((e) => [`${entry}/${e}`, join(modules, entry, e)] as const)
        : [[entry, join(modules, entry)] as const]
      for (const [pkgName, path] of paths) {
        if (pkgName === name) found.push(path)
        walk(join(path, "node_modules"))
      }
    }
  }
  walk(join(dir, "node_modules"))
  return found
}

const main = `
import { Zrn } from "@mta/domain"
import { signRequest } from "@mta/client"
import { createSimulator } from "@mta/testkit"
import { Config } from "@mta/server"

const zrn = Zrn.unsafeParse("customer:c761fc96-5c44-40d4-8eb2-3fcd5d06754e")
const signature = signRequest({ apiSecret: "c2VjcmV0", timestamp: 1, method: "GET", path: "/time", body: "" })
const sim = createSimulator({ seedDemo: true })
const config = Config.load({ MTA_STORE: "memory" })
let msw
try {
  await import("@mta/testkit/msw")
  msw = "loaded"
} catch (error) {
  msw = error.code + " " + (String(error.message).includes("'msw'") ? "msw" : error.message)
}
console.log(JSON.stringify({
  zrn: Zrn.format(zrn),
  signed: typeof signature === "string" && signature.length > 0,
  simulator: typeof sim.fetch,
  config: config._tag,
  msw
}))
`

describe("the four packages as published", () => {
  it("pack cleanly, install beside another effect 3 patch with one copy of effect, and work from plain ESM", {
    timeout: 400_000
  }, async () => {
    const out = await run("node", [
      join(repoDir, "scripts/pack.mjs"),
      join(work, "tarballs"),
      "domain",
      "client",
      "testkit",
      "server"
    ])
    const { tarballs } = JSON.parse(out.trim().split("\n").pop()!) as { tarballs: Record<string, string> }
    expect(Object.keys(tarballs).sort()).toEqual([
      "@mta/client",
      "@mta/domain",
      "@mta/server",
      "@mta/testkit"
    ])

    // What each tarball declares: effect a peer with a range, msw an optional peer of the testkit only.
    for (const name of ["domain", "client", "testkit", "server"]) {
      const pkg = JSON.parse(readFileSync(join(repoDir, "packages", name, "package.json"), "utf8")) as {
        peerDependencies?: Record<string, string>
        publishConfig?: { registry?: string }
        repository?: { directory?: string }
      }
      expect(pkg.peerDependencies?.effect).toMatch(/^\^3\./)
      expect(pkg.publishConfig?.registry).toBeDefined()
      expect(pkg.repository?.directory).toBe(`packages/${name}`)
      expect(existsSync(join(repoDir, "packages", name, "LICENSE"))).toBe(true)
    }

    const project = join(work, "consumer")
    mkdirSync(project)
    writeFileSync(
      join(project, "package.json"),
      JSON.stringify({ name: "consumer", private: true, type: "module" })
    )
    const npm = (args: ReadonlyArray<string>) =>
      run(
        "npm",
        ["install", "--no-audit", "--no-fund", "--prefer-offline", "--loglevel=error", ...args],
        project
      )
    await npm([`effect@${CONSUMER_EFFECT}`])
    await npm(["--omit=dev", ...Object.values(tarballs)])

    const effects = copiesOf(project, "effect")
    expect(effects).toEqual([join(project, "node_modules", "effect")])
    const { version } = JSON.parse(readFileSync(join(effects[0]!, "package.json"), "utf8")) as {
      version: string
    }
    expect(version).toBe(CONSUMER_EFFECT)
    for (const absent of ["msw", "tsx", "typescript", "esbuild"])
      expect(copiesOf(project, absent)).toEqual([])

    writeFileSync(join(project, "main.mjs"), main)
    const result = JSON.parse(await run("node", ["main.mjs"], project)) as Record<string, unknown>
    expect(result).toMatchObject({
      zrn: "zrn:zh:us:accounts:customer:c761fc96-5c44-40d4-8eb2-3fcd5d06754e",
      signed: true,
      simulator: "function",
      config: "Right",
      msw: "ERR_MODULE_NOT_FOUND msw"
    })
    const bin = await run(join(project, "node_modules", ".bin", "mta-server"), ["--version"], project)
    expect(bin.trim()).toBe("0.1.0")
    // The testkit's bin is a committed shim (bin/mta-simulator.js) that loads dist/bin.js.
    const simulator = await run(join(project, "node_modules", ".bin", "mta-simulator"), ["--help"], project)
    expect(simulator).toMatch(/^Usage: mta-simulator \[options\]/)
  })
})
