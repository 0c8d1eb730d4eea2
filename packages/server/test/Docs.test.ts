/**
 * `/docs`, the API reference you can try (Scalar, served by the proxy itself):
 *
 * - The page and its assets over HTTP: content types, caching, the Content-Security-Policy (only
 *   `'self'`, a per-request style nonce), gzip, `304`, an unknown asset is the proxy's JSON 404; the
 *   bundle served is the installed `@scalar/api-reference`'s.
 * - Every example in the OpenAPI document decodes with the Schema of its place; every request body and
 *   JSON success answer of the 19 mirrored endpoints has one.
 * - In a real headless Chromium (Debian's `chromium`, driven by `playwright-core`) against the proxy
 *   process on a real port in front of its embedded simulator: enter the dev token, try a create
 *   (`POST /accounts`, the example body as prefilled) and `GET /accounts/{zrn}/details` for the account
 *   it created, read the answers in the page, and check that every request the page made went to the
 *   proxy. Saves `artifacts/docs-try-create.png` and `artifacts/docs-try-details.png`. Skipped, with
 *   the reason printed, when Chromium is absent. Behind a reverse proxy that mounts the proxy under a
 *   path prefix, the page loads and "try it" calls under the prefix.
 */
import { existsSync, mkdirSync, readFileSync, statSync } from "node:fs"
import { createRequire } from "node:module"
import { dirname, join } from "node:path"
import { gunzipSync } from "node:zlib"
import { Endpoint, Participants } from "@mta/domain"
import { App, Callers, Logger, Metrics, OpenApi, Schemas, Store } from "@mta/server"
import { Either, Schema } from "effect"
import { chromium, type Page } from "playwright-core"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import * as Examples from "../src/internal/openApiExamples.js"
import { freePort, type ProxyProcess, repoDir, startProxyProcess } from "./support.js"

const app = App.make({
  authenticator: Callers.makeAuthenticator([]),
  store: Store.memory(),
  // The reference needs no upstream.
  upstream: {} as App.UpstreamClient,
  webhookSecret: "unused",
  logger: Logger.make({ level: "silent" }),
  metrics: Metrics.make({ processMetrics: false })
})
const get = (path: string, headers: Record<string, string> = {}) =>
  app.fetch(new Request(`http://proxy.test${path}`, { headers }))

const scriptsOf = (html: string) => [...html.matchAll(/<script src="([^"]+)"><\/script>/g)].map((m) => m[1]!)

describe("the /docs page and its assets", () => {
  it("answers the page with a strict policy: only 'self', no inline script, a fresh style nonce", async () => {
    const first = await get("/docs")
    expect(first.status).toBe(200)
    expect(first.headers.get("content-type")).toMatch(/^text\/html/)
    expect(first.headers.get("cache-control")).toBe("no-store")
    const html = await first.text()
    const csp = first.headers.get("content-security-policy") ?? ""
    const directives = Object.fromEntries(
      csp.split(";").map((d) => {
        const [name, ...values] = d.trim().split(/\s+/)
        return [name, values]
      })
    )
    expect(directives["default-src"]).toEqual(["'none'"])
    expect(directives["script-src"]).toEqual(["'self'"])
    expect(directives["connect-src"]).toEqual(["'self'"])
    expect(directives["font-src"]).toEqual(["'self'"])
    expect(directives["img-src"]).toEqual(["'self'", "data:"])
    expect(directives["frame-ancestors"]).toEqual(["'none'"])
    const nonce = html.match(/<meta property="csp-nonce" content="([^"]+)">/)?.[1]
    expect(nonce).toMatch(/^[A-Za-z0-9+/]{24}$/)
    expect(directives["style-src"]).toEqual(["'self'", `'nonce-${nonce}'`])
    // No source anywhere in the policy names another origin.
    expect(csp).not.toMatch(/https?:|\*|'unsafe-eval'/)
    expect(directives["script-src"]).not.toContain("'unsafe-inline'")
    // No inline script in the page: every script is a file of the proxy's.
    expect(html.match(/<script/g)?.length).toBe(scriptsOf(html).length)
    const second = await get("/docs")
    expect(second.headers.get("content-security-policy")).not.toBe(csp)
  })

  it("serves every asset the page names with its type, immutable caching, gzip and 304", async () => {
    const html = await (await get("/docs")).text()
    const scripts = scriptsOf(html)
    expect(scripts).toHaveLength(3)
    for (const src of scripts) {
      expect(src).toMatch(/^docs\/assets\/[a-z]+\.[0-9a-f]{16}\.js$/)
      const plain = await get(`/${src}`)
      expect(plain.status).toBe(200)
      expect(plain.headers.get("content-type")).toBe("text/javascript; charset=utf-8")
      expect(plain.headers.get("cache-control")).toBe("public, max-age=31536000, immutable")
      expect(plain.headers.get("x-content-type-options")).toBe("nosniff")
      expect(plain.headers.get("content-encoding")).toBeNull()
      const body = Buffer.from(await plain.arrayBuffer())
      expect(body.length).toBeGreaterThan(100)
      const zipped = await get(`/${src}`, { "accept-encoding": "gzip, br" })
      expect(zipped.headers.get("content-encoding")).toBe("gzip")
      expect(gunzipSync(Buffer.from(await zipped.arrayBuffer())).equals(body)).toBe(true)
      const etag = plain.headers.get("etag")!
      const again = await get(`/${src}`, { "if-none-match": etag })
      expect(again.status).toBe(304)
    }
    // The bundle is the installed package's browser build, byte for byte.
    const main = createRequire(import.meta.url).resolve("@scalar/api-reference")
    const installed = readFileSync(join(dirname(main), "browser", "standalone.js"))
    const bundle = scripts.find((s) => s.includes("/scalar."))!
    expect(Buffer.from(await (await get(`/${bundle}`)).arrayBuffer()).equals(installed)).toBe(true)
  })

  it("answers an unknown or stale asset with the proxy's 404", async () => {
    for (const path of ["/docs/assets/scalar.0000000000000000.js", "/docs/assets/..%2Fpackage.json"]) {
      const response = await get(path)
      expect(response.status).toBe(404)
      expect(((await response.json()) as { code: string }).code).toBe("not_found")
    }
  })
})

describe("the OpenAPI document's examples", () => {
  interface Media {
    readonly example?: unknown
  }
  interface Operation {
    readonly operationId: string
    readonly requestBody?: { readonly content: Record<string, Media> }
    readonly responses: Record<string, { readonly content?: Record<string, Media> }>
  }
  const document = OpenApi.document() as { paths: Record<string, Record<string, Operation>> }
  const decodes = (schema: Schema.Schema.AnyNoContext, example: unknown, where: string) => {
    const result = Schema.decodeUnknownEither(schema)(example)
    if (Either.isLeft(result))
      throw new Error(`${where}: the example does not decode: ${result.left.message}`)
  }
  const examplesIn = (content: unknown): Array<unknown> =>
    Object.values((content ?? {}) as Record<string, { example?: unknown }>)
      .filter((m) => m.example !== undefined)
      .map((m) => m.example)

  it("every example in the document decodes with the Schema of its place", () => {
    const ownRoutes: Record<string, Record<number, Schema.Schema.AnyNoContext>> = {
      getStatus: { 200: Schemas.StatusResponse },
      refreshStatus: { 200: Schemas.StatusResponse },
      listAudit: { 200: Schemas.AuditPage },
      receiveWebhook: { 200: Schemas.WebhookAck },
      healthz: { 200: Schemas.Health },
      readyz: { 200: Schemas.Health, 503: Schemas.Health }
    }
    const byName = new Map<string, Endpoint.Endpoint>(Endpoint.all.map((e) => [e.name, e]))
    let checked = 0
    for (const [path, item] of Object.entries(document.paths)) {
      for (const [method, operation] of Object.entries(item)) {
        const where = `${method.toUpperCase()} ${path}`
        const endpoint = byName.get(operation.operationId)
        for (const example of examplesIn(operation.requestBody?.content)) {
          const schema =
            endpoint?.request ??
            (operation.operationId === "receiveWebhook" ? Schemas.WebhookPayload : undefined)
          expect(schema, `${where}: a request example without a Schema`).toBeDefined()
          decodes(schema!, example, `${where} request`)
          checked++
        }
        for (const [status, response] of Object.entries(operation.responses)) {
          const code = Number(status)
          for (const example of examplesIn(response.content)) {
            const schema =
              endpoint !== undefined && code === endpoint.successStatus
                ? endpoint.response
                : (ownRoutes[operation.operationId]?.[code] ??
                  Schemas.errorBodies[code as keyof typeof Schemas.errorBodies])
            expect(schema, `${where} ${status}: an example without a Schema`).toBeDefined()
            decodes(schema!, example, `${where} ${status}`)
            checked++
          }
        }
      }
    }
    expect(checked).toBeGreaterThan(200)
    // The picked examples themselves, including any the document does not place.
    for (const [schema, example] of Examples.all()) decodes(schema, example, "picked")
  })

  it("the participant examples pass the vendor's clock rules now (recent timestamps, an adult, a minor)", () => {
    expect(Participants.clockProblems("customer", Examples.participantRequests.customer, Date.now())).toEqual(
      []
    )
    expect(Participants.clockProblems("minor", Examples.participantRequests.minor, Date.now())).toEqual([])
  })

  it("every mirrored endpoint has an example request body and success answer", () => {
    for (const endpoint of Endpoint.all) {
      const operation = document.paths[endpoint.path]?.[endpoint.method.toLowerCase()]
      expect(operation, `${endpoint.method} ${endpoint.path}`).toBeDefined()
      if (endpoint.request !== undefined) {
        expect(
          operation!.requestBody?.content["application/json"]?.example,
          `${endpoint.name} request`
        ).toBeDefined()
      }
      const success = operation!.responses[String(endpoint.successStatus)]?.content ?? {}
      if (success["application/json"] !== undefined) {
        expect(success["application/json"].example, `${endpoint.name} answer`).toBeDefined()
      }
      for (const [status, response] of Object.entries(operation!.responses)) {
        if (Number(status) >= 400) expect(response.content?.["application/json"]?.example).toBeDefined()
      }
    }
  })
})

const CHROMIUM = "/usr/bin/chromium"
const present = existsSync(CHROMIUM)
if (!present)
  console.warn(`skipping the /docs browser test: ${CHROMIUM} is not installed (apt-get install -y chromium)`)

describe.skipIf(!present)("/docs in headless Chromium: try it against the proxy", () => {
  let proxy: ProxyProcess
  beforeAll(async () => {
    // The embedded default, as a new user starts it: the simulator upstream, the caller "dev".
    proxy = await startProxyProcess({ LOG_LEVEL: "warn" }, await freePort())
  }, 60_000)
  afterAll(async () => {
    await proxy?.stop()
  })

  const screenshot = async (page: Page, name: string) => {
    const dir = join(repoDir, "artifacts")
    mkdirSync(dir, { recursive: true })
    const file = join(dir, name)
    await page.screenshot({ path: file })
    expect(statSync(file).size).toBeGreaterThan(20_000)
  }

  /** Opens the API client for an operation (its "Test Request" button, found from the sidebar). */
  const openClient = async (page: Page, sidebar: string, method: string, path: string) => {
    await page.getByText(sidebar, { exact: true }).first().click()
    await page.locator("button", { hasText: `Test Request(${method} ${path})` }).click()
  }
  /** The client's answer panel (status line and body, as the page shows them), once it shows `status`. */
  const answer = async (page: Page, status: string) => {
    const panel = page.locator('section[aria-label="Response"]').filter({ hasText: status })
    await panel.waitFor({ timeout: 15_000 })
    return (await panel.textContent()) ?? ""
  }

  it("enter the dev token, try a create and the created account's details; nothing leaves the proxy", async () => {
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ["--headless", "--no-sandbox", "--disable-background-networking"]
    })
    try {
      const context = await browser.newContext({ viewport: { width: 1400, height: 1000 } })
      // Every request the page makes (documents, scripts, fetches, workers) is recorded; any other
      // origin's is refused, so a call out would fail the page as well as this test.
      const requests: Array<string> = []
      await context.route("**/*", (route) => {
        const url = route.request().url()
        requests.push(`${route.request().method()} ${url}`)
        return url.startsWith(`${proxy.url}/`) ? route.continue() : route.abort("blockedbyclient")
      })
      const page = await context.newPage()
      const problems: Array<string> = []
      page.on("pageerror", (error) => problems.push(`page error: ${error.message}`))
      page.on("console", (message) => {
        if (message.type() === "error") problems.push(`console: ${message.text()}`)
      })

      await page.goto(`${proxy.url}/docs`)
      await page.waitForSelector("body[data-ready=true]")
      expect(await page.getByRole("heading", { level: 1 }).first().textContent()).toContain(
        "mta proxy for zerohash Customer Accounts"
      )
      // Markdown is rendered: the description's `code` is a <code> element, no backtick is left.
      const intro = page.locator("p", { hasText: "Every error body carries" }).first()
      expect(await intro.locator("code").allInnerTexts()).toEqual(["code", "request_id"])
      expect(await intro.textContent()).not.toContain("`")

      // The token, in the reference's authentication field (the bearer scheme of the document).
      await page.getByPlaceholder("Token").first().fill("dev-token")

      // A create, with the example body the reference fills in from the document.
      await openClient(
        page,
        "Create a customer account (provisioning completes asynchronously)",
        "post",
        "/accounts"
      )
      await page.getByRole("button", { name: /^Send post request/ }).click()
      const created = await answer(page, "202 Accepted")
      expect(created).toContain('"account_label": "joint-savings"')
      const zrn = created.match(/zrn:zh:us:accounts:customer:[0-9a-f-]{36}/)?.[0]
      expect(zrn).toBeDefined()
      await screenshot(page, "docs-try-create.png")
      // The account exists at the proxy (the page's call did create it).
      const check = await fetch(`${proxy.url}/accounts/${zrn}/details`, {
        headers: { authorization: "Bearer dev-token" }
      })
      expect(check.status).toBe(200)
      expect(JSON.stringify(await check.json())).toContain("joint-savings")

      // Its details, the ZRN typed into the path variable.
      await page.getByRole("button", { name: "Close Client" }).click()
      await openClient(page, "Read an account", "get", "/accounts/{zrn}/details")
      await page.locator('[contenteditable][data-placeholder="Value"]').first().click()
      await page.keyboard.type(zrn!)
      await page.getByRole("button", { name: /^Send get request/ }).click()
      const details = await answer(page, "200 OK")
      expect(details).toContain(`"zrn": "${zrn}"`)
      expect(details).toContain('"tenants": [')
      await screenshot(page, "docs-try-details.png")

      expect(problems).toEqual([])
      // What the page asked for: the page, its three scripts, the document, and the two calls.
      expect(requests.filter((r) => !r.split(" ")[1]!.startsWith(`${proxy.url}/`))).toEqual([])
      const decoded = requests.map(decodeURIComponent)
      expect(decoded).toContain(`GET ${proxy.url}/openapi.json`)
      expect(decoded).toContain(`POST ${proxy.url}/accounts`)
      expect(decoded).toContain(`GET ${proxy.url}/accounts/${zrn}/details`)
    } finally {
      await browser.close()
    }
  }, 120_000)

  it("behind a reverse proxy that mounts it under /mta, the page loads and tries requests under /mta", async () => {
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ["--headless", "--no-sandbox", "--disable-background-networking"]
    })
    try {
      const context = await browser.newContext({ viewport: { width: 1400, height: 1000 } })
      // The reverse proxy: /mta/<path> is the proxy's /<path>; nothing else is served.
      const prefix = `${proxy.url}/mta`
      const asked: Array<string> = []
      await context.route("**/*", async (route) => {
        const request = route.request()
        asked.push(`${request.method()} ${request.url()}`)
        if (!request.url().startsWith(`${prefix}/`)) return route.abort("blockedbyclient")
        const response = await fetch(`${proxy.url}${request.url().slice(prefix.length)}`, {
          method: request.method(),
          headers: request.headers(),
          ...(request.postDataBuffer() === null ? {} : { body: request.postDataBuffer()! })
        })
        return route.fulfill({
          status: response.status,
          headers: Object.fromEntries(response.headers),
          body: Buffer.from(await response.arrayBuffer())
        })
      })
      const page = await context.newPage()
      await page.goto(`${prefix}/docs`)
      await page.waitForSelector("body[data-ready=true]")
      await page.getByPlaceholder("Token").first().fill("dev-token")
      await openClient(page, "List ledger (balance) accounts", "get", "/accounts")
      await page.getByRole("button", { name: /^Send get request/ }).click()
      const answered = await answer(page, "200 OK")
      expect(answered).toContain('"total_pages"')
      expect(asked.filter((r) => !r.split(" ")[1]!.startsWith(`${prefix}/`))).toEqual([])
      expect(asked).toContain(`GET ${prefix}/openapi.json`)
      expect(
        asked.filter((r) => r === `GET ${prefix}/accounts` || r.startsWith(`GET ${prefix}/accounts?`)),
        asked.join("\n")
      ).toHaveLength(1)
    } finally {
      await browser.close()
    }
  }, 120_000)
})
