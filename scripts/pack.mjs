// Builds and packs workspace packages the way they are published, then checks each tarball with
// publint (strict) and @arethetypeswrong/cli (ESM-only profile). Used by the packaging tests and
// runnable by hand: `node scripts/pack.mjs <outDir> domain client`.
// Prints one JSON line: { tarballs: { "@mta/domain": "/abs/path.tgz", ... } }.
import { execFileSync } from "node:child_process"
import { mkdirSync, readdirSync } from "node:fs"
import { join, resolve } from "node:path"
import { fileURLToPath } from "node:url"
import { acquireBuildLock } from "./lock.mjs"

const root = resolve(fileURLToPath(new URL("..", import.meta.url)))
const [outDir, ...names] = process.argv.slice(2)
if (!outDir || names.length === 0) {
  console.error("usage: node scripts/pack.mjs <outDir> <package> [<package> ...]")
  process.exit(2)
}
mkdirSync(outDir, { recursive: true })
const run = (cmd, args, cwd) =>
  execFileSync(cmd, args, { cwd, stdio: ["ignore", "pipe", "pipe"], encoding: "utf8" })
const bin = (pkg, name) => join(root, "packages", pkg, "node_modules", ".bin", name)

await acquireBuildLock(root)

const tarballs = {}
for (const name of names) {
  const dir = join(root, "packages", name)
  // Through turbo, so a build the workspace already made (CI builds before testing) is reused.
  run("pnpm", ["exec", "turbo", "run", "build", `--filter=@mta/${name}`, "--output-logs=errors-only"], root)
  const before = new Set(readdirSync(outDir))
  run("pnpm", ["pack", "--pack-destination", outDir], dir)
  const file = readdirSync(outDir).find(
    (f) => f.endsWith(".tgz") && !before.has(f) && f.includes(`mta-${name}-`)
  )
  if (!file) throw new Error(`pnpm pack produced no tarball for ${name}`)
  const tarball = join(outDir, file)
  const domainBin = (tool) => bin("domain", tool)
  run(domainBin("publint"), ["run", tarball, "--strict"], dir)
  run(domainBin("attw"), [tarball, "--profile", "esm-only", "--format", "ascii"], dir)
  tarballs[`@mta/${name}`] = tarball
}
console.log(JSON.stringify({ tarballs }))
