/**
 * `/docs`: an API reference you can try, rendered in the browser by Scalar (`@scalar/api-reference`,
 * its standalone browser bundle, vendored through npm) from the proxy's own `/openapi.json`.
 *
 * Everything the page loads comes from the proxy itself: the bundle and a small start script are served
 * at `/docs/assets/<name>.<sha256 prefix>.js` (immutable, cached for a year), the document at
 * `/openapi.json`, and "try it" sends requests to the proxy's own origin (the page's servers are
 * computed from the script's own URL, so a path prefix in front of the proxy keeps working). Scalar's
 * calls out are switched off (telemetry, the default web fonts, the request proxy, the agent, MCP, the
 * "open in API client" button, the developer tools), and the Content-Security-Policy allows `'self'`
 * only: scripts from the proxy, no inline script; the bundle's one `<style>` element carries a
 * per-request nonce (Scalar reads it from `<meta property="csp-nonce">`).
 *
 * The bundle is found in the built package (`dist/docs/scalar.js`, copied there by
 * `scripts/vendor-docs.mjs` at build time, so the deploy folder carries one 5 MB file instead of
 * Scalar's dependency tree), or, when running from source, in the installed `@scalar/api-reference`.
 */
import { createHash, randomBytes } from "node:crypto"
import { existsSync, readFileSync } from "node:fs"
import { createRequire } from "node:module"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { gzipSync } from "node:zlib"

/** A static asset held in memory: its bytes, their gzip, and a content-addressed name. */
export interface DocsAsset {
  readonly name: string
  readonly contentType: string
  readonly body: Uint8Array<ArrayBuffer>
  readonly gzip: Uint8Array<ArrayBuffer>
  readonly etag: string
}

const SCALAR_FILE = "scalar.js"

/** Where the Scalar bundle is: the built package's copy first, then the installed package. */
export const scalarBundlePath = (): string | undefined => {
  const here = dirname(fileURLToPath(import.meta.url))
  // dist/internal/docsPage.js → dist/docs/scalar.js
  const built = join(here, "..", "docs", SCALAR_FILE)
  if (existsSync(built)) return built
  try {
    // The package's main entry is dist/index.js; the standalone bundle is dist/browser/standalone.js.
    const main = createRequire(import.meta.url).resolve("@scalar/api-reference")
    const installed = join(dirname(main), "browser", "standalone.js")
    return existsSync(installed) ? installed : undefined
  } catch {
    return undefined
  }
}

/**
 * Runs before the bundle. Scalar's Vue components and its toaster create `<style>` elements at run
 * time, and the policy admits a `<style>` only with the page's nonce: elements created by script get
 * it (markup injected as HTML still does not). zod, inside the bundle, probes `Function` to compile
 * validators; the policy forbids eval, so it is told up front to run without (no violation reported).
 */
const preludeScript = `(function () {
  "use strict";
  var meta = document.querySelector('meta[property="csp-nonce"]');
  var nonce = meta ? meta.getAttribute("content") : "";
  var create = Document.prototype.createElement;
  Document.prototype.createElement = function (tag, options) {
    var element = create.call(this, tag, options);
    if (nonce && String(tag).toLowerCase() === "style") element.setAttribute("nonce", nonce);
    return element;
  };
  globalThis.__zod_globalConfig = Object.assign(globalThis.__zod_globalConfig || {}, { jitless: true });
})();
`

/**
 * The page's start script: mounts Scalar on `#app` with the proxy's document and the proxy's origin
 * (with any path prefix) as the only server. Served as a file (the policy allows no inline script).
 */
const initScript = `(function () {
  "use strict";
  // This script is <root>/docs/assets/init.<hash>.js: <root> is the proxy, with any path prefix.
  var root = new URL("../../", document.currentScript.src).href.replace(/\\/$/, "");
  var app = document.getElementById("app");
  if (typeof Scalar === "undefined" || !Scalar.createApiReference) {
    app.textContent = "The reference bundle did not load; the document itself is at " + root + "/openapi.json";
    return;
  }
  Scalar.createApiReference(app, {
    url: root + "/openapi.json",
    servers: [{ url: root, description: "this proxy" }],
    authentication: { preferredSecurityScheme: "bearer" },
    persistAuth: false,
    telemetry: false,
    withDefaultFonts: false,
    hideClientButton: true,
    showDeveloperTools: "never",
    agent: { disabled: true },
    mcp: { disabled: true },
    documentDownloadType: "json",
    defaultOpenFirstTag: true,
    operationTitleSource: "summary",
    theme: "default"
  });
  document.body.setAttribute("data-ready", "true");
})();
`

const asset = (stem: string, contentType: string, body: Uint8Array<ArrayBuffer>): DocsAsset => {
  const hash = createHash("sha256").update(body).digest("hex")
  return {
    name: `${stem}.${hash.slice(0, 16)}.js`,
    contentType,
    body,
    gzip: new Uint8Array(gzipSync(body, { level: 9 })),
    etag: `"${hash.slice(0, 32)}"`
  }
}

export interface DocsAssets {
  readonly prelude: DocsAsset
  readonly scalar: DocsAsset
  readonly init: DocsAsset
  readonly byName: ReadonlyMap<string, DocsAsset>
}

let loaded: DocsAssets | undefined

/** The assets, read and compressed once (on the first `/docs` request); `undefined` when the bundle is missing. */
export const docsAssets = (): DocsAssets | undefined => {
  if (loaded !== undefined) return loaded
  const path = scalarBundlePath()
  if (path === undefined) return undefined
  const scalar = asset("scalar", "text/javascript; charset=utf-8", new Uint8Array(readFileSync(path)))
  const script = (stem: string, text: string) =>
    asset(stem, "text/javascript; charset=utf-8", new TextEncoder().encode(text))
  const prelude = script("prelude", preludeScript)
  const init = script("init", initScript)
  loaded = { prelude, scalar, init, byName: new Map([prelude, scalar, init].map((a) => [a.name, a])) }
  return loaded
}

/** A fresh nonce for the page's one `<style>` element. */
export const nonce = (): string => randomBytes(18).toString("base64")

/**
 * The page's policy: everything from the proxy's origin, no inline script, inline style only with the
 * nonce, no frames, no form posts, no plugins.
 */
export const contentSecurityPolicy = (styleNonce: string): string =>
  [
    "default-src 'none'",
    "script-src 'self'",
    `style-src 'self' 'nonce-${styleNonce}'`,
    // Style attributes (Vue's bindings, positioning of popovers): they run no script, and what they
    // could load is held to img-src and font-src.
    "style-src-attr 'unsafe-inline'",
    "connect-src 'self'",
    "img-src 'self' data:",
    "font-src 'self'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'"
  ].join("; ")

/** The page. Asset URLs are relative (`docs/assets/…` from `/docs`), so a path prefix is kept. */
export const docsHtml = (assets: DocsAssets, styleNonce: string): string => `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta property="csp-nonce" content="${styleNonce}">
<link rel="icon" href="data:,">
<title>mta proxy — API reference</title>
</head>
<body>
<noscript>This reference needs JavaScript. The OpenAPI document is at <a href="openapi.json">openapi.json</a>.</noscript>
<div id="app"></div>
<script src="docs/assets/${assets.prelude.name}"></script>
<script src="docs/assets/${assets.scalar.name}"></script>
<script src="docs/assets/${assets.init.name}"></script>
</body>
</html>
`
