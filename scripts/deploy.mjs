// Makes the proxy's deploy folder, the artifact that runs with plain `node`: builds @mta/server and the
// workspace packages it depends on (through turbo, so a cached build is reused), then copies it with
// its production dependencies only (pnpm's deploy; the workspace packages are injected as copies,
// `injectWorkspacePackages` in pnpm-workspace.yaml). The Dockerfile's build stage and the deploy test run exactly this, after
// `pnpm install --frozen-lockfile`.
//
//   node scripts/deploy.mjs <dir>      (dir must not exist or be empty; then: node <dir>/dist/main.js)
//
// Prints the commands it runs.
import { execFileSync } from "node:child_process"
import { resolve } from "node:path"
import { fileURLToPath } from "node:url"
import { acquireBuildLock } from "./lock.mjs"

const root = resolve(fileURLToPath(new URL("..", import.meta.url)))
const [dir] = process.argv.slice(2)
if (!dir) {
  console.error("usage: node scripts/deploy.mjs <dir>")
  process.exit(2)
}
const target = resolve(dir)

/** The commands, in order: what the Dockerfile and the README's "Deploy" section show. */
export const commands = [
  ["pnpm", "exec", "turbo", "run", "build", "--filter=@mta/server...", "--output-logs=errors-only"],
  ["pnpm", "--filter", "@mta/server", "deploy", "--prod", target]
]

const release = await acquireBuildLock(root)
try {
  for (const command of commands) {
    console.error(`$ ${command.join(" ")}`)
    execFileSync(command[0], command.slice(1), { cwd: root, stdio: ["ignore", "inherit", "inherit"] })
  }
} finally {
  release()
}
