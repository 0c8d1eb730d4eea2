/**
 * `/docs` in a real headless Chromium (Debian's `chromium`, driven by `playwright-core`): the page
 * renders offline from `/openapi.json` and lists every endpoint. Saves a screenshot to
 * `<repo>/artifacts/server-docs.png`. Skipped, with the reason printed, when Chromium is absent.
 */
import { existsSync, mkdirSync, statSync } from "node:fs"
import { createServer, type Server } from "node:http"
import { join } from "node:path"
import { getRequestListener } from "@hono/node-server"
import { Endpoint } from "@mta/domain"
import { App, Callers, Logger, Metrics, Store } from "@mta/server"
import { chromium } from "playwright-core"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { repoDir } from "./support.js"

const CHROMIUM = "/usr/bin/chromium"
const present = existsSync(CHROMIUM)
if (!present)
  console.warn(`skipping the /docs browser test: ${CHROMIUM} is not installed (apt-get install -y chromium)`)

describe.skipIf(!present)("/docs in headless Chromium", () => {
  let server: Server
  let url: string
  beforeAll(async () => {
    const app = App.make({
      authenticator: Callers.makeAuthenticator([]),
      store: Store.memory(),
      // The reference needs no upstream.
      upstream: {} as App.UpstreamClient,
      webhookSecret: "unused",
      logger: Logger.make({ level: "silent" }),
      metrics: Metrics.make({ processMetrics: false })
    })
    server = createServer(getRequestListener(app.fetch))
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
    const address = server.address()
    url = `http://127.0.0.1:${typeof address === "object" && address !== null ? address.port : 0}`
  })
  afterAll(async () => {
    await new Promise((resolve) => server?.close(resolve))
  })

  it("renders the reference from /openapi.json with every endpoint, offline", async () => {
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-background-networking",
        "--disable-gpu",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run"
      ]
    })
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 1400 } })
      const external: Array<string> = []
      page.on("request", (request) => {
        if (!request.url().startsWith(url)) external.push(request.url())
      })
      const errors: Array<string> = []
      page.on("pageerror", (error) => errors.push(error.message))
      await page.goto(`${url}/docs`)
      await page.waitForSelector("body[data-ready=true]", { timeout: 15_000 })
      const listed = await page.$$eval("details.endpoint", (nodes) =>
        nodes.map((n) => `${n.getAttribute("data-method")} ${n.getAttribute("data-path")}`)
      )
      for (const endpoint of Endpoint.all) expect(listed).toContain(`${endpoint.method} ${endpoint.path}`)
      expect(listed).toContain("GET /accounts/{zrn}/status")
      expect(listed).toContain("POST /accounts/{zrn}/status/refresh")
      expect(listed).toContain("GET /events")
      expect(await page.textContent("h1")).toContain("mta proxy")
      // Open one endpoint: its request schema is shown.
      await page.click("#createAccount > summary")
      expect(await page.textContent("#createAccount")).toContain("participant_code")
      expect(errors).toEqual([])
      expect(external).toEqual([])
      const dir = join(repoDir, "artifacts")
      mkdirSync(dir, { recursive: true })
      const file = join(dir, "server-docs.png")
      await page.screenshot({ path: file, fullPage: false })
      expect(statSync(file).size).toBeGreaterThan(10_000)
    } finally {
      await browser.close()
    }
  }, 60_000)
})
