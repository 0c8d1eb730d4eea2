import { fileURLToPath } from "node:url"
import { defineConfig } from "vitest/config"

// One process runs every package's tests, so CI gets one summary over all packages.
// Workspace packages resolve to their TypeScript sources, so tests need no build step.
const root = fileURLToPath(new URL(".", import.meta.url))
const packages = ["domain", "client", "testkit", "server"] as const

const alias = [
  { find: /^@mta\/testkit\/msw$/, replacement: `${root}packages/testkit/src/Msw.ts` },
  { find: /^@mta\/(domain|client|testkit|server)$/, replacement: `${root}packages/$1/src/index.ts` }
]

/**
 * Tests that measure a real process's event loop and memory (`production.md` §1): they run in a group
 * of their own, after every other project has finished, so the other test files' workers do not
 * compete with the measured proxy for the machine's CPUs.
 */
const isolated = ["test/Edge.test.ts"]

export default defineConfig({
  test: {
    projects: [
      ...packages.map((name) => ({
        resolve: { alias },
        test: {
          name,
          root: `${root}packages/${name}`,
          include: ["test/**/*.test.ts"],
          exclude: name === "server" ? isolated : [],
          testTimeout: 30_000,
          hookTimeout: 60_000,
          sequence: { groupOrder: 0 }
        }
      })),
      {
        resolve: { alias },
        test: {
          name: "server-edge",
          root: `${root}packages/server`,
          include: isolated,
          testTimeout: 120_000,
          hookTimeout: 60_000,
          sequence: { groupOrder: 1 }
        }
      }
    ]
  }
})
