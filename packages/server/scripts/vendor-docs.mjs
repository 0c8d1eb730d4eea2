// Copies the API reference's browser bundle (Scalar's standalone build, from the installed
// `@scalar/api-reference`, a development dependency) and a notice naming it and its licence into `dist/docs/`, so the built
// package and the deploy folder serve `/docs` from one file instead of carrying Scalar's dependency tree.
// Run by `pnpm build` after tsc.
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs"
import { createRequire } from "node:module"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"

const pkg = fileURLToPath(new URL("..", import.meta.url))
const main = createRequire(join(pkg, "package.json")).resolve("@scalar/api-reference")
const root = join(dirname(main), "..")
const bundle = join(root, "dist", "browser", "standalone.js")
if (!existsSync(bundle)) {
  console.error(`vendor-docs: ${bundle} is missing; run pnpm install`)
  process.exit(1)
}
const out = join(pkg, "dist", "docs")
mkdirSync(out, { recursive: true })
copyFileSync(bundle, join(out, "scalar.js"))
// The package ships no licence file; its package.json names the licence.
const meta = JSON.parse(readFileSync(join(root, "package.json"), "utf8"))
writeFileSync(
  join(out, "scalar.NOTICE.txt"),
  `dist/docs/scalar.js is ${meta.name}@${meta.version} (dist/browser/standalone.js), licence ${meta.license}, ${meta.homepage ?? meta.repository?.url ?? ""}\n`
)
