/**
 * The deploy folder as a team gets it (`scripts/deploy.mjs`, what the Dockerfile runs) and processes
 * of it run with plain `node`: a module-resolution recorder (a `node --import` hook that writes every
 * module the process resolves to a file), the standalone simulator's bin and the proxy's, each waited
 * for on a real port.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process"
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { pathToFileURL } from "node:url"
import { repoDir } from "../support.js"

/** Makes the deploy folder in `dir` (outside the workspace) exactly as the Dockerfile does. */
export const makeDeployFolder = (dir: string): void => {
  execFileSync(process.execPath, [join(repoDir, "scripts/deploy.mjs"), dir], {
    cwd: repoDir,
    stdio: ["ignore", "pipe", "pipe"],
    encoding: "utf8"
  })
}

/** The package names in a pnpm `node_modules/.pnpm` folder (`@hono+node-server@1.19.19` → `@hono/node-server`). */
export const installedPackages = (appDir: string): ReadonlyArray<string> =>
  readdirSync(join(appDir, "node_modules", ".pnpm"))
    .filter((entry) => entry !== "node_modules" && entry !== "lock.yaml")
    .map((entry) => {
      const scoped = entry.startsWith("@")
      const name = scoped ? entry.replace("+", "/") : entry
      const at = name.indexOf("@", scoped ? 1 : 0)
      return at === -1 ? name : name.slice(0, at)
    })

/**
 * A resolution recorder in `dir`: `flags` make a Node process append every module it resolves (ESM
 * through a `module.register` hook, CommonJS through `Module._resolveFilename`) to `log`.
 */
export const resolutionRecorder = (dir: string, name: string) => {
  const log = join(dir, `${name}.resolved.txt`)
  const hooks = join(dir, `${name}.hooks.mjs`)
  const register = join(dir, `${name}.register.mjs`)
  writeFileSync(log, "")
  writeFileSync(
    hooks,
    `import { appendFileSync } from "node:fs"
export async function resolve(specifier, context, next) {
  const result = await next(specifier, context)
  appendFileSync(${JSON.stringify(log)}, "esm " + result.url + "\\n")
  return result
}
`
  )
  writeFileSync(
    register,
    `import Module, { register } from "node:module"
import { appendFileSync } from "node:fs"
register(${JSON.stringify(pathToFileURL(hooks).href)})
// Node 20's module hooks do not see require(): CommonJS resolutions are recorded here.
const resolveFilename = Module._resolveFilename
Module._resolveFilename = function (request, ...rest) {
  const resolved = resolveFilename.call(this, request, ...rest)
  appendFileSync(${JSON.stringify(log)}, "cjs " + resolved + "\\n")
  return resolved
}
`
  )
  return {
    flags: ["--import", pathToFileURL(register).href],
    resolved: (): ReadonlyArray<string> =>
      readFileSync(log, "utf8")
        .split("\n")
        .filter((l) => l !== "")
  }
}

/** A process with its output captured. */
export interface NodeProcess {
  readonly child: ChildProcess
  readonly stdout: () => string
  readonly stderr: () => string
  readonly exited: Promise<number | null>
  /** Sends a signal (SIGTERM) and resolves with the exit code. */
  readonly stop: (signal?: NodeJS.Signals) => Promise<number | null>
}

/** `node <args>` in `cwd` with `env` (plus `PATH` and `HOME`) as its whole environment. */
export const spawnNode = (
  args: ReadonlyArray<string>,
  cwd: string,
  env: Record<string, string>
): NodeProcess => {
  const child = spawn(process.execPath, [...args], {
    cwd,
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", ...env },
    stdio: ["ignore", "pipe", "pipe"]
  })
  let out = ""
  let err = ""
  child.stdout!.on("data", (d: Buffer) => {
    out += d.toString()
  })
  child.stderr!.on("data", (d: Buffer) => {
    err += d.toString()
  })
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)))
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    exited,
    stop: async (signal = "SIGTERM") => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal)
      return exited
    }
  }
}

/** Waits until `url` answers 200 (or the process exits, or 30 s pass). */
export const waitFor200 = async (process: NodeProcess, url: string): Promise<void> => {
  const deadline = Date.now() + 30_000
  for (;;) {
    if (process.child.exitCode !== null) {
      throw new Error(`exited with ${process.child.exitCode}: ${process.stderr()}${process.stdout()}`)
    }
    try {
      const r = await fetch(url)
      await r.arrayBuffer()
      if (r.status === 200) return
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await process.stop("SIGKILL")
      throw new Error(`${url} did not answer 200 in 30 s: ${process.stderr()}`)
    }
    await new Promise((r) => setTimeout(r, 50))
  }
}

/** The deploy folder's `mta-simulator` (the compose file's simulator service) on `port`. */
export const startDeployedSimulator = async (
  appDir: string,
  port: number,
  args: ReadonlyArray<string>
): Promise<NodeProcess> => {
  const bin = join(appDir, "node_modules/@mta/testkit/dist/bin.js")
  if (!existsSync(bin)) throw new Error(`no simulator bin at ${bin}`)
  const sim = spawnNode([bin, "--port", String(port), ...args], appDir, {})
  await waitFor200(sim, `http://127.0.0.1:${port}/time`)
  return sim
}
