/**
 * Operations routes: liveness, readiness, Prometheus metrics, the OpenAPI document and the browsable
 * reference. None needs a caller token (the usual arrangement for probes and scrapers); none reveals
 * a secret.
 */
import { Hono } from "hono"
import * as OpenApi from "../../OpenApi.js"
import type * as Schemas from "../../Schemas.js"
import type { HonoEnv, Shared } from "../context.js"
import { docsHtml } from "../docsPage.js"
import { named } from "../middleware.js"

const CHECK_TIMEOUT_MS = 2_000

const withTimeout = (check: () => Promise<void>): Promise<void> =>
  new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no answer in ${CHECK_TIMEOUT_MS} ms`)), CHECK_TIMEOUT_MS)
    check().then(
      () => {
        clearTimeout(timer)
        resolve()
      },
      (error: unknown) => {
        clearTimeout(timer)
        reject(error)
      }
    )
  })

export const routes = (shared: Shared): Hono<HonoEnv> => {
  const app = new Hono<HonoEnv>()
  // Built once: the document depends only on the Schemas.
  const openapi = JSON.stringify(OpenApi.document())

  app.get("/healthz", named("/healthz"), (c) => c.json({ status: "ok" } satisfies Schemas.Health))

  app.get("/readyz", named("/readyz"), async (c) => {
    const checks: Record<string, string> = {}
    if (shared.isDraining()) checks.shutdown = "shutting down"
    const gating = { store: () => shared.store.ping(), ...shared.readiness }
    const run = (all: Readonly<Record<string, () => Promise<void>>>) =>
      Promise.all(
        Object.entries(all).map(async ([name, check]) => {
          try {
            await withTimeout(check)
            checks[name] = "ok"
          } catch (error) {
            checks[name] = error instanceof Error ? error.message : "failed"
          }
        })
      )
    await Promise.all([run(gating), run(shared.reports)])
    const ready = !shared.isDraining() && Object.keys(gating).every((name) => checks[name] === "ok")
    const body: Schemas.Health = { status: ready ? "ok" : "unavailable", checks }
    return c.json(body, ready ? 200 : 503)
  })

  app.get("/metrics", named("/metrics"), async (c) => {
    const text = await shared.metrics.render()
    return c.body(text, 200, { "content-type": shared.metrics.contentType })
  })

  app.get("/openapi.json", named("/openapi.json"), (c) =>
    c.body(openapi, 200, { "content-type": "application/json; charset=utf-8" })
  )

  app.get("/docs", named("/docs"), (c) =>
    c.html(docsHtml, 200, {
      // The page's own inline script and style only; it fetches the document from this origin.
      "content-security-policy":
        "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:"
    })
  )
  return app
}
