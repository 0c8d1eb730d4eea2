/**
 * Operations routes: liveness, readiness, Prometheus metrics, the OpenAPI document and the browsable
 * reference. None needs a caller token (the usual arrangement for probes and scrapers); none reveals
 * a secret.
 */
import { Hono } from "hono"
import * as OpenApi from "../../OpenApi.js"
import type * as Schemas from "../../Schemas.js"
import type { HonoEnv, Shared } from "../context.js"
import * as Docs from "../docsPage.js"
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

  // The reference (Scalar, served from the installed package; see docsPage.ts). The page itself is
  // never cached (its style nonce is per request); the assets are content-addressed and immutable.
  app.get("/docs", named("/docs"), (c) => {
    const assets = Docs.docsAssets()
    if (assets === undefined) {
      return c.text(
        "The API reference's bundle (@scalar/api-reference) is not installed; the OpenAPI document is at /openapi.json.\n",
        503,
        { "cache-control": "no-store" }
      )
    }
    const nonce = Docs.nonce()
    return c.html(Docs.docsHtml(assets, nonce), 200, {
      "content-security-policy": Docs.contentSecurityPolicy(nonce),
      "cache-control": "no-store",
      "referrer-policy": "no-referrer",
      "x-content-type-options": "nosniff"
    })
  })

  app.get("/docs/assets/:file", named("/docs/assets/:file"), async (c, next) => {
    const asset = Docs.docsAssets()?.byName.get(c.req.param("file"))
    if (asset === undefined) return next() // the app's 404
    const headers: Record<string, string> = {
      "content-type": asset.contentType,
      "cache-control": "public, max-age=31536000, immutable",
      etag: asset.etag,
      vary: "accept-encoding",
      "x-content-type-options": "nosniff",
      "cross-origin-resource-policy": "same-origin"
    }
    if (c.req.header("if-none-match") === asset.etag) return c.body(null, 304, headers)
    const gzip = /\bgzip\b/.test(c.req.header("accept-encoding") ?? "")
    if (gzip) headers["content-encoding"] = "gzip"
    return c.body(gzip ? asset.gzip : asset.body, 200, headers)
  })
  return app
}
