/**
 * Every README's code, run as a user runs it (issue 15, "docs that run"): the root README and each
 * `packages/*\/README.md`, every fenced block (`support/snippets.ts` says how blocks are read and
 * annotated). New blocks are picked up without touching this file.
 *
 * - The four packages are packed (`scripts/pack.mjs`, as published). Each README gets a fresh
 *   consumer project of its own, outside the repository, built by running that README's own
 *   `npm install` lines (as `pnpm add`, offline from the store when it can; `@mta/*` are the
 *   tarballs; no peer installed unless the line names it, and an unmet peer is an error). So an
 *   install line that omits what the examples import, or picks an `effect` the packages do not
 *   take, fails here. The runner adds `tsx` to run TypeScript, as a user would.
 * - TypeScript/JavaScript blocks run there with tsx; a block that imports `vitest` runs as a test
 *   file with the project's vitest. Python blocks run with python3.
 * - Shell blocks run with `bash -e -o pipefail` from the repository's root (where the READMEs' `pnpm`
 *   commands are typed), with `MTA_STORE=memory` so that nothing is written to a data directory.
 * - The proxy is started with the root README's own `pnpm start` (on a free port, memory store);
 *   blocks that call `127.0.0.1:8080` call it there instead (the address is rewritten). A block
 *   annotated `snippet-server` starts its own servers on fresh ports instead of 8080/4010.
 * - A block annotated `not-run` is skipped with its reason in the test's name and printed.
 *
 * A block that exits non-zero, or whose output lacks an annotated `snippet-expect` text, fails.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process"
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type Block, extract, installArgs } from "./support/snippets.js"
import { freePort, repoDir } from "./support.js"

const readmes = [
  "README.md",
  ...readdirSync(join(repoDir, "packages"))
    .filter((p) => existsSync(join(repoDir, "packages", p, "README.md")))
    .map((p) => `packages/${p}/README.md`)
]
const blocks = readmes.flatMap((file) => extract(file, readFileSync(join(repoDir, file), "utf8")))
const code = blocks.filter((b) => b.kind !== "data")
const where = (b: Block) => `${b.file}:${b.line} (${b.lang})`

const has = (command: string) => spawnSync("sh", ["-c", `command -v ${command}`]).status === 0
const missing = (b: Block): ReadonlyArray<string> =>
  [...b.needs, ...(b.kind === "python" ? ["python3"] : [])].filter((c) => !has(c))

const work = mkdtempSync(join(tmpdir(), "mta-readmes-"))

/** The environment of a user's shell: the test runner's own variables removed. */
const userEnv = (extra: Record<string, string> = {}): NodeJS.ProcessEnv => {
  const env: NodeJS.ProcessEnv = {}
  for (const [k, v] of Object.entries(process.env)) {
    if (!/^(VITEST|NODE_OPTIONS$|NODE_ENV$|TEST$|PORT$|MTA_|ZH_|DATABASE_URL)/.test(k)) env[k] = v
  }
  return { ...env, FORCE_COLOR: "0", NO_COLOR: "1", ...extra }
}

interface Ran {
  readonly code: number | null
  readonly out: string
}

/** Runs a command to its end (its whole process group is killed after `timeoutMs`). */
const run = (
  command: string,
  args: ReadonlyArray<string>,
  cwd: string,
  env: NodeJS.ProcessEnv,
  timeoutMs = 120_000
): Promise<Ran> =>
  new Promise((resolve) => {
    const child = spawn(command, [...args], { cwd, env, detached: true, stdio: ["ignore", "pipe", "pipe"] })
    let out = ""
    child.stdout.on("data", (d: Buffer) => {
      out += d
    })
    child.stderr.on("data", (d: Buffer) => {
      out += d
    })
    const timer = setTimeout(() => {
      out += `\n[killed after ${timeoutMs} ms]`
      killGroup(child)
    }, timeoutMs)
    child.on("close", (code) => {
      clearTimeout(timer)
      resolve({ code, out })
    })
  })

const killGroup = (child: ChildProcess, signal: NodeJS.Signals = "SIGTERM") => {
  try {
    if (child.pid !== undefined) process.kill(-child.pid, signal)
  } catch {
    // already gone
  }
}

const mustSucceed = (what: string, r: Ran): string => {
  if (r.code !== 0) throw new Error(`${what} exited ${r.code}:\n${r.out.slice(-6000)}`)
  return r.out
}

/** Polls `url` until it answers 200; fails when `exited()` says the process is gone. */
const waitFor200 = async (url: string, exited: () => boolean, output: () => string, timeoutMs = 90_000) => {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (exited()) throw new Error(`exited before ${url} answered 200:\n${output().slice(-6000)}`)
    const status = await fetch(url).then(
      (r) => r.status,
      () => 0
    )
    if (status === 200) return
    await new Promise((r) => setTimeout(r, 250))
  }
  throw new Error(`${url} did not answer 200 within ${timeoutMs} ms:\n${output().slice(-6000)}`)
}

/** A background process (the proxy, or a block that starts servers), stopped with its children. */
const background = (command: string, args: ReadonlyArray<string>, cwd: string, env: NodeJS.ProcessEnv) => {
  const child = spawn(command, [...args], { cwd, env, detached: true, stdio: ["ignore", "pipe", "pipe"] })
  let out = ""
  let exited = false
  child.stdout.on("data", (d: Buffer) => {
    out += d
  })
  child.stderr.on("data", (d: Buffer) => {
    out += d
  })
  const closed = new Promise<void>((resolve) => child.on("close", () => resolve()))
  child.on("exit", () => {
    exited = true
  })
  return {
    output: () => out,
    exited: () => exited,
    stop: async () => {
      if (!exited) killGroup(child)
      const late = setTimeout(() => killGroup(child, "SIGKILL"), 15_000)
      await closed
      clearTimeout(late)
    }
  }
}

/** The README's addresses made the test's: the started proxy for 8080, fresh ports for a server block. */
const localize = (text: string, ports: { readonly proxy: number; readonly simulator?: number }) => {
  let t = text.replace(/(127\.0\.0\.1|localhost):8080\b/g, `127.0.0.1:${ports.proxy}`)
  if (ports.simulator !== undefined) {
    t = t.replace(/(127\.0\.0\.1|localhost):4010\b/g, `127.0.0.1:${ports.simulator}`)
    t = t.replace(/--port 4010\b/g, `--port ${ports.simulator}`)
  }
  return t
}

let tarballs: Record<string, string> = {}
let proxy: ReturnType<typeof background> | undefined
let proxyPort = 0
const consumers = new Map<string, Promise<string>>()
const notes: Array<string> = []

/** The README's consumer project: its `npm install` lines, then tsx to run TypeScript. */
const consumerOf = (file: string): Promise<string> => {
  const known = consumers.get(file)
  if (known !== undefined) return known
  const made = makeConsumer(file)
  consumers.set(file, made)
  return made
}

const makeConsumer = async (file: string): Promise<string> => {
  const dir = join(work, file.replace(/[/.]/g, "-"))
  mkdirSync(dir, { recursive: true })
  writeFileSync(
    join(dir, "package.json"),
    JSON.stringify({
      name: "consumer",
      private: true,
      type: "module",
      // A tarball's own dependency on another @mta package resolves to that package's tarball.
      pnpm: { overrides: Object.fromEntries(Object.entries(tarballs).map(([n, t]) => [n, `file:${t}`])) }
    })
  )
  writeFileSync(join(dir, ".npmrc"), "auto-install-peers=false\nstrict-peer-dependencies=true\n")
  const installs = blocks.filter((b) => b.file === file && b.install)
  if (installs.length === 0) {
    throw new Error(`${file} has code to run but no \`npm install …\` line saying what it needs`)
  }
  const pnpm = (args: ReadonlyArray<string>) =>
    run("pnpm", ["add", "--prefer-offline", ...args], dir, userEnv())
  for (const block of installs) {
    for (const { dev, specs } of installArgs(block.code, tarballs)) {
      const what = `${where(block)}: npm install ${specs.join(" ")}`
      const out = mustSucceed(what, await pnpm([...(dev ? ["-D"] : []), ...specs]))
      // pnpm reports a peer it could not satisfy (effect 4 for packages that take effect 3) and goes on.
      if (/unmet peer|missing peer/.test(out))
        throw new Error(`${what}: a peer dependency is not met:\n${out}`)
    }
  }
  if (!existsSync(join(dir, "node_modules", ".bin", "tsx"))) {
    mustSucceed("the runner's tsx", await pnpm(["-D", "tsx@^4.20.0"]))
  }
  return dir
}

let runs = 0

const runBlock = async (block: Block): Promise<string> => {
  // Unique per run: blocks run concurrently, and a block may run more than once.
  const slug = `${block.file.replace(/[/.]/g, "-")}-L${block.line}-${++runs}`
  if (block.kind === "script") {
    const dir = await consumerOf(block.file)
    const name = `${slug}${block.vitest ? ".test" : ""}.${block.lang.startsWith("j") || block.lang === "mjs" ? "mjs" : "ts"}`
    writeFileSync(join(dir, name), localize(block.code, { proxy: proxyPort }))
    const bin = (tool: string) => join(dir, "node_modules", ".bin", tool)
    if (block.vitest && !existsSync(bin("vitest"))) {
      throw new Error(`${where(block)} imports vitest, which the README's install lines do not install`)
    }
    const [command, args] = block.vitest
      ? [bin("vitest"), ["run", name, "--reporter=verbose", "--root", dir]]
      : [bin("tsx"), [name]]
    return mustSucceed(where(block), await run(command, args, dir, userEnv()))
  }
  if (block.kind === "python") {
    writeFileSync(join(work, `${slug}.py`), block.code)
    return mustSucceed(where(block), await run("python3", [`${slug}.py`], work, userEnv()))
  }
  // Shell, from the repository's root.
  const script = join(work, `${slug}.sh`)
  if (block.server !== undefined) {
    const ports = { proxy: await freePort(), simulator: await freePort() }
    writeFileSync(script, localize(block.code, ports))
    const server = background("bash", ["-e", "-o", "pipefail", script], repoDir, {
      ...userEnv({ MTA_STORE: "memory", PORT: String(ports.proxy) })
    })
    try {
      await waitFor200(localize(block.server, ports), server.exited, server.output)
    } finally {
      await server.stop()
    }
    return server.output()
  }
  writeFileSync(script, localize(block.code, { proxy: proxyPort }))
  return mustSucceed(
    where(block),
    await run("bash", ["-e", "-o", "pipefail", script], repoDir, userEnv({ MTA_STORE: "memory" }))
  )
}

beforeAll(async () => {
  const packed = await run(
    "node",
    [join(repoDir, "scripts/pack.mjs"), join(work, "tarballs"), "domain", "client", "testkit", "server"],
    repoDir,
    process.env,
    300_000
  )
  tarballs = (
    JSON.parse(mustSucceed("scripts/pack.mjs", packed).trim().split("\n").pop()!) as {
      tarballs: Record<string, string>
    }
  ).tarballs
  // The proxy, started as the root README starts it.
  proxyPort = await freePort()
  proxy = background("pnpm", ["start"], repoDir, userEnv({ PORT: String(proxyPort), MTA_STORE: "memory" }))
  await waitFor200(`http://127.0.0.1:${proxyPort}/readyz`, proxy.exited, proxy.output)
}, 400_000)

afterAll(async () => {
  await proxy?.stop()
  rmSync(work, { recursive: true, force: true })
  if (notes.length > 0)
    process.stdout.write(`README blocks not run:\n${notes.map((n) => `  ${n}`).join("\n")}\n`)
})

describe("reading a README's blocks", () => {
  const readme = [
    "# T",
    "1. Start:",
    "",
    "   <!-- not-run: needs a fresh clone of the repository -->",
    "   ```sh",
    "   pnpm start",
    "   ```",
    "",
    "<!-- snippet-runs: 2 -->",
    "<!-- snippet-expect: a | b -->",
    "",
    "```ts",
    'import { it } from "vitest"',
    "```",
    "Some text resets notes.",
    "<!-- snippet-needs: openssl -->",
    "text",
    "```sh",
    'npm install @mta/client "effect@^3.22"',
    "npm install --save-dev msw",
    "```",
    "```json",
    "{}",
    "```"
  ].join("\n")

  it("kinds, annotations (only right before a fence), indented fences, install blocks", () => {
    const found = extract("T.md", readme)
    expect(found.map((b) => [b.line, b.kind, b.lang])).toEqual([
      [5, "shell", "sh"],
      [12, "script", "ts"],
      [18, "shell", "sh"],
      [22, "data", "json"]
    ])
    expect(found[0]).toMatchObject({ notRun: "needs a fresh clone of the repository", code: "pnpm start\n" })
    expect(found[1]).toMatchObject({ runs: 2, expect: ["a", "b"], vitest: true, notRun: undefined })
    expect(found[2]).toMatchObject({ install: true, needs: [] })
    expect(installArgs(found[2]!.code, { "@mta/client": "/t/client.tgz" })).toEqual([
      { dev: false, specs: ["/t/client.tgz", "effect@^3.22"] },
      { dev: true, specs: ["msw"] }
    ])
  })

  it("refuses an unclosed fence, a not-run without a reason, and an @mta package with no tarball", () => {
    expect(() => extract("T.md", "```ts\nx\n")).toThrow("T.md:1: the code block is not closed")
    expect(() => extract("T.md", "<!-- not-run: -->\n```sh\nx\n```\n")).toThrow("needs a reason")
    expect(() => installArgs("npm install @mta/nope", {})).toThrow("no tarball for @mta/nope")
  })
})

// Concurrently: each block is its own process (a consumer project is built once, by the first block
// that needs it); the machine's CPUs are the limit, not the blocks' waits.
describe.concurrent("the READMEs' code blocks", () => {
  it("were found, each with a kind, and every skipped one says why", () => {
    expect(code.length).toBeGreaterThan(10)
    expect(blocks.filter((b) => b.kind === "script").length).toBeGreaterThan(5)
    for (const b of code) if (b.notRun !== undefined) expect(b.notRun.length).toBeGreaterThan(10)
  })

  it("a block that fails fails the run (the runner itself)", async () => {
    const broken: Block = {
      ...code.find((b) => b.kind === "shell" && b.notRun === undefined && b.server === undefined)!,
      code: "true\nfalse\necho never\n"
    }
    await expect(runBlock(broken)).rejects.toThrow(/exited 1/)
  })

  for (const block of code) {
    const unavailable = missing(block)
    if (block.notRun !== undefined) {
      notes.push(`${where(block)}: ${block.notRun}`)
      it.skip(`${where(block)} — not run: ${block.notRun}`, () => {})
    } else if (unavailable.length > 0) {
      const reason = `${unavailable.join(", ")} not installed here`
      notes.push(`${where(block)}: ${reason}`)
      it.skip(`${where(block)} — skipped: ${reason}`, () => {})
    } else {
      it(`${where(block)}${block.install ? " (install)" : ""}${block.runs > 1 ? ` ×${block.runs}` : ""}`, {
        timeout: 300_000
      }, async () => {
        if (block.install) {
          // Run when the README's consumer project is built: what the line names is now a dependency.
          const dir = await consumerOf(block.file)
          const manifest = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as {
            dependencies?: Record<string, string>
            devDependencies?: Record<string, string>
          }
          const nameOf = (spec: string) =>
            Object.entries(tarballs).find(([, t]) => t === spec)?.[0] ??
            (spec.startsWith("@") ? `@${spec.slice(1).split("@")[0]}` : spec.split("@")[0]!)
          for (const { dev, specs } of installArgs(block.code, tarballs)) {
            const listed = Object.keys((dev ? manifest.devDependencies : manifest.dependencies) ?? {})
            expect(listed).toEqual(expect.arrayContaining(specs.map(nameOf)))
          }
          return
        }
        for (let i = 0; i < block.runs; i++) {
          const out = await runBlock(block)
          for (const text of block.expect) expect(out, `${where(block)} run ${i + 1}`).toContain(text)
        }
      })
    }
  }
})
