/**
 * The proxy as a deployable artifact (`production.md` §8, §2): the deploy folder made exactly as the
 * Dockerfile makes it (`scripts/deploy.mjs`: turbo's build, then `pnpm --filter @mta/server deploy
 * --prod`), in a temporary directory outside the workspace.
 *
 * - What is in it: the proxy's runtime dependencies, and no tsx, TypeScript, esbuild or msw; the /docs bundle
 *   as one file (dist/docs), not Scalar's dependency tree.
 * - `mta-server` run from it with plain `node` against the folder's own standalone simulator (what the
 *   compose file runs), the credentials, the webhook secret and the callers read from files, a caller
 *   with two token hashes (rotation): create → open (the simulator's webhook) → lock, both tokens.
 * - That process never resolved a module of msw or the testkit (a `node --import` hook records every
 *   resolution); the embedded default from the same folder resolves the testkit, and still no msw.
 * - The command itself: `--help`, `--version`, `check-config` on the files, `migrate` (PGlite).
 * - The Dockerfile and compose file run these same commands (a drift guard: no Docker engine here).
 */
import { createHash } from "node:crypto"
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Simulator } from "@mta/testkit"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import {
  installedPackages,
  makeDeployFolder,
  type NodeProcess,
  resolutionRecorder,
  spawnNode,
  startDeployedSimulator,
  waitFor200
} from "./support/deploy.js"
import { createBody, freePort, packageDir, repoDir } from "./support.js"

const work = mkdtempSync(join(tmpdir(), "mta-deploy-test-"))
const app = join(work, "app")
const secrets = join(work, "secrets")
const running: Array<NodeProcess> = []

const sha256 = (text: string) => createHash("sha256").update(text).digest("hex")
const OLD_TOKEN = "deploy-test-token-old"
const NEW_TOKEN = "deploy-test-token-new"
const WEBHOOK_SECRET = "deploy-test-webhook-secret"
const credentials = Simulator.defaultCredentials

beforeAll(() => {
  expect(work.startsWith(repoDir)).toBe(false)
  makeDeployFolder(app)
  mkdirSync(secrets)
  // As a container platform mounts them: one file each, a trailing newline included.
  writeFileSync(join(secrets, "zh-api-secret"), `${credentials.apiSecret}\n`)
  writeFileSync(join(secrets, "zh-api-passphrase"), `${credentials.passphrase}\n`)
  writeFileSync(join(secrets, "zh-webhook-secret"), `${WEBHOOK_SECRET}\n`)
  writeFileSync(
    join(secrets, "callers.json"),
    JSON.stringify([
      {
        name: "ops",
        token_sha256: [sha256(OLD_TOKEN), sha256(NEW_TOKEN)],
        scopes: ["accounts:read", "accounts:write", "accounts:access"]
      }
    ])
  )
}, 300_000)

afterAll(async () => {
  await Promise.all(running.map((p) => p.stop("SIGKILL")))
  rmSync(work, { recursive: true, force: true })
})

/** The proxy's environment with a real upstream at `simUrl`, every secret from a file. */
const remoteEnv = (simUrl: string, port: number): Record<string, string> => ({
  ZH_BASE_URL: simUrl,
  ZH_API_KEY: credentials.apiKey,
  ZH_API_SECRET_FILE: join(secrets, "zh-api-secret"),
  ZH_API_PASSPHRASE_FILE: join(secrets, "zh-api-passphrase"),
  ZH_WEBHOOK_SECRET_FILE: join(secrets, "zh-webhook-secret"),
  MTA_CALLERS: `@${join(secrets, "callers.json")}`,
  MTA_STORE: "memory",
  HOST: "127.0.0.1",
  PORT: String(port),
  LOG_LEVEL: "warn"
})

const main = () => join(app, "dist/main.js")

describe("the deploy folder", () => {
  it("holds the proxy's runtime dependencies and none of the development tools", () => {
    const packages = installedPackages(app)
    for (const needed of [
      "@mta/client",
      "@mta/domain",
      "@mta/testkit",
      "effect",
      "hono",
      "@hono/node-server",
      "pino",
      "pg",
      "@electric-sql/pglite"
    ]) {
      expect(packages).toContain(needed)
    }
    for (const banned of [
      "tsx",
      "typescript",
      "esbuild",
      "@esbuild/linux-x64",
      "msw",
      "@mswjs/interceptors",
      "graphql",
      "vitest",
      // /docs serves Scalar's one-file browser build from dist/docs, not its dependency tree.
      "@scalar/api-reference",
      "vue"
    ]) {
      expect(packages).not.toContain(banned)
    }
    expect(statSync(join(app, "dist/docs/scalar.js")).size).toBeGreaterThan(1_000_000)
    expect(existsSync(main())).toBe(true)
    const pkg = JSON.parse(readFileSync(join(app, "package.json"), "utf8")) as { bin: Record<string, string> }
    expect(pkg.bin["mta-server"]).toBe("./dist/main.js")
  })

  it("mta-server --help, --version and check-config run with plain node", async () => {
    const help = spawnNode([main(), "--help"], app, {})
    expect(await help.exited).toBe(0)
    expect(help.stdout()).toContain("Usage: mta-server [command]")
    expect(help.stdout()).toMatch(/check-config\s+validate/)

    const version = spawnNode([main(), "--version"], app, {})
    expect(await version.exited).toBe(0)
    const { version: expected } = JSON.parse(readFileSync(join(packageDir, "package.json"), "utf8")) as {
      version: string
    }
    expect(version.stdout().trim()).toBe(expected)

    const check = spawnNode([main(), "check-config"], app, remoteEnv("http://127.0.0.1:9", 8080))
    expect(await check.exited).toBe(0)
    expect(check.stdout()).toContain("the configuration is valid")
    expect(check.stdout()).toContain("callers: ops")
    // Nothing of the secrets' content is printed.
    expect(check.stdout() + check.stderr()).not.toContain(credentials.apiSecret)
    expect(check.stdout() + check.stderr()).not.toContain(WEBHOOK_SECRET)

    const migrate = spawnNode([main(), "migrate"], app, { MTA_DATA_DIR: join(work, "data") })
    expect(await migrate.exited).toBe(0)
    expect(migrate.stdout()).toContain("migrations applied")
  })

  it("the Dockerfile and compose file run the commands this test runs", () => {
    const dockerfile = readFileSync(join(repoDir, "Dockerfile"), "utf8")
    expect(dockerfile).toMatch(/^FROM node:22-slim AS build$/m)
    expect(dockerfile).toMatch(/^RUN pnpm install --frozen-lockfile$/m)
    expect(dockerfile).toMatch(/^RUN node scripts\/deploy\.mjs \/out$/m)
    expect(dockerfile).toMatch(/^COPY --from=build \/out \/app$/m)
    expect(dockerfile).toMatch(/^USER node$/m)
    expect(dockerfile).toMatch(/^VOLUME \["\/data"\]$/m)
    expect(dockerfile).toMatch(/^HEALTHCHECK .*\n.*\/healthz/m)
    expect(dockerfile).toMatch(/^ENTRYPOINT \["node", "\/app\/dist\/main\.js"\]$/m)
    const compose = readFileSync(join(repoDir, "compose.yaml"), "utf8")
    expect(compose).toContain('entrypoint: ["node", "/app/node_modules/@mta/testkit/dist/bin.js"]')
    expect(compose).toContain('command: ["migrate"]')
    for (const setting of [
      "ZH_API_SECRET_FILE",
      "ZH_API_PASSPHRASE_FILE",
      "ZH_WEBHOOK_SECRET_FILE",
      "DATABASE_URL_FILE"
    ]) {
      expect(compose).toContain(`${setting}: /run/secrets/`)
    }
    // The compose file's secrets are the simulator's fakes: the ones this test starts it with.
    const secret = (name: string) =>
      readFileSync(join(repoDir, "deploy/compose/secrets", name), "utf8").trim()
    expect(secret("zh_api_secret")).toBe(credentials.apiSecret)
    expect(secret("zh_api_passphrase")).toBe(credentials.passphrase)
    expect(compose).toContain(`--webhook-secret=${secret("zh_webhook_secret")}`)
  })

  it("serves a real upstream with plain node, secrets from files, both rotated tokens; never resolves msw or the testkit", async () => {
    const [proxyPort, simPort] = [await freePort(), await freePort()]
    const sim = await startDeployedSimulator(app, simPort, [
      "--seed-demo",
      "--async-delay-ms",
      "50",
      "--webhook-url",
      `http://127.0.0.1:${proxyPort}/webhooks/zerohash`,
      "--webhook-secret",
      WEBHOOK_SECRET
    ])
    running.push(sim)
    const recorder = resolutionRecorder(work, "remote")
    const proxy = spawnNode(
      [...recorder.flags, main()],
      app,
      remoteEnv(`http://127.0.0.1:${simPort}`, proxyPort)
    )
    running.push(proxy)
    const url = `http://127.0.0.1:${proxyPort}`
    await waitFor200(proxy, `${url}/readyz`)

    const call = async (method: string, path: string, token: string, body?: unknown) => {
      const response = await fetch(`${url}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${token}`,
          ...(body === undefined ? {} : { "content-type": "application/json" })
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) })
      })
      return { status: response.status, body: (await response.json()) as Record<string, unknown> }
    }

    const created = await call("POST", "/accounts", OLD_TOKEN, createBody("deploy-folder"))
    expect(created.status).toBe(202)
    const zrn = (created.body.message as { zrn: string }).zrn
    // The webhook from the simulator opens it: verified with the secret read from its file.
    const open = await call("GET", `/accounts/${zrn}/status?wait_for=open&timeout_ms=10000`, NEW_TOKEN)
    expect(open.body).toMatchObject({ status: "open", timed_out: false })
    expect((await call("POST", `/accounts/${zrn}/lock`, NEW_TOKEN)).status).toBe(202)
    const locked = await call("GET", `/accounts/${zrn}/status?wait_for=locked&timeout_ms=10000`, OLD_TOKEN)
    expect(locked.body).toMatchObject({ status: "locked", timed_out: false })
    expect((await call("GET", `/accounts/${zrn}/status`, "some-other-token")).status).toBe(401)
    // The reference and its bundle, from the folder's dist/docs.
    const docs = await (await fetch(`${url}/docs`)).text()
    const bundle = docs.match(/src="(docs\/assets\/scalar\.[0-9a-f]{16}\.js)"/)?.[1]
    expect(bundle).toBeDefined()
    const asset = await fetch(`${url}/${bundle}`)
    expect(asset.status).toBe(200)
    expect(asset.headers.get("content-type")).toBe("text/javascript; charset=utf-8")
    expect((await asset.arrayBuffer()).byteLength).toBe(statSync(join(app, "dist/docs/scalar.js")).size)

    expect(await proxy.stop("SIGTERM")).toBe(0)
    const resolved = recorder.resolved()
    // The recorder saw the proxy's own modules and its dependencies (so an absence below means something).
    expect(resolved.some((r) => r.includes("/dist/internal/serve.js"))).toBe(true)
    expect(resolved.some((r) => r.includes("/node_modules/hono/"))).toBe(true)
    expect(resolved.some((r) => r.includes("/node_modules/pino/"))).toBe(true)
    expect(resolved.filter((r) => /msw|mswjs|testkit/.test(r))).toEqual([])
  })

  it("the embedded default from the same folder loads the testkit lazily, and still no msw", async () => {
    const port = await freePort()
    const recorder = resolutionRecorder(work, "embedded")
    const proxy = spawnNode([...recorder.flags, main()], app, {
      MTA_STORE: "memory",
      PORT: String(port),
      LOG_LEVEL: "warn"
    })
    running.push(proxy)
    await waitFor200(proxy, `http://127.0.0.1:${port}/readyz`)
    const status = await fetch(
      `http://127.0.0.1:${port}/accounts/customer:00000000-0000-4000-8000-000000000000/status`,
      { headers: { authorization: "Bearer dev-token" } }
    )
    expect(status.status).toBe(404)
    expect(await proxy.stop("SIGTERM")).toBe(0)
    const resolved = recorder.resolved()
    expect(resolved.some((r) => r.includes("/@mta/testkit/dist/Simulator.js"))).toBe(true)
    expect(resolved.filter((r) => /msw|mswjs/.test(r))).toEqual([])
  })
})
