/**
 * In the workspace every `@mta/*` dependency is a link to the package's own folder, never a copy.
 * `injectWorkspacePackages: true` (for `pnpm deploy`) makes pnpm copy a workspace package whose peer
 * dependencies resolve differently for its dependent (an `@opentelemetry/api` version, say); a copy
 * loads `@mta/domain` twice, and a ZRN parsed by one copy is not a ZRN to the other (every create
 * through the proxy process failed with "Expected a parsed ZRN"). Keep the peers' versions aligned.
 */
import { lstatSync, readdirSync, realpathSync } from "node:fs"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { repoDir } from "./support.js"

describe("workspace links", () => {
  it("every @mta/* dependency of every package is its workspace folder", () => {
    const packages = ["domain", "client", "testkit", "server"]
    const found: Array<string> = []
    for (const name of packages) {
      const scope = join(repoDir, "packages", name, "node_modules", "@mta")
      let entries: Array<string> = []
      try {
        entries = readdirSync(scope)
      } catch {
        continue
      }
      for (const dep of entries) {
        const path = join(scope, dep)
        expect(lstatSync(path).isSymbolicLink(), `${path} is a copy, not a link`).toBe(true)
        expect(realpathSync(path), `${path} points elsewhere`).toBe(
          realpathSync(join(repoDir, "packages", dep))
        )
        found.push(`${name} → ${dep}`)
      }
    }
    expect(found).toEqual(expect.arrayContaining(["server → client", "server → domain", "client → domain"]))
  })
})
