import { fileURLToPath } from "node:url"
import { defineConfig } from "vitest/config"

// One process runs every package's tests, so CI gets one summary over all packages.
// Workspace packages resolve to their TypeScript sources, so tests need no build step.
const root = fileURLToPath(new URL(".", import.meta.url))
const packages = ["domain", "client", "testkit", "server"] as const

const alias = [
  { find: /^@mta\/(domain|client|testkit|server)$/, replacement: `${root}packages/$1/src/index.ts` }
]

export default defineConfig({
  test: {
    projects: packages.map((name) => ({
      resolve: { alias },
      test: {
        name,
        root: `${root}packages/${name}`,
        include: ["test/**/*.test.ts"],
        testTimeout: 30_000,
        hookTimeout: 60_000
      }
    }))
  }
})
