// One build of the workspace's dist/ folders at a time: the packaging and deploy tests run in parallel
// and each rebuilds dist/ in place. A directory is the lock (mkdir is atomic); one older than 5 minutes
// was left by a killed run. Released when the process exits.
import { mkdirSync, rmSync, statSync } from "node:fs"
import { join } from "node:path"

export const acquireBuildLock = async (root) => {
  const lock = join(root, "node_modules", ".mta-pack.lock")
  const deadline = Date.now() + 300_000
  for (;;) {
    try {
      mkdirSync(lock)
      break
    } catch (error) {
      if (error.code !== "EEXIST") throw error
      if (Date.now() - statSync(lock, { throwIfNoEntry: false })?.mtimeMs > 300_000)
        rmSync(lock, { recursive: true, force: true })
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${lock}`)
      await new Promise((resolve) => setTimeout(resolve, 200))
    }
  }
  const release = () => rmSync(lock, { recursive: true, force: true })
  process.on("exit", release)
  return release
}
