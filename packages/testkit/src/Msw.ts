/**
 * msw request handlers backed by a simulator: tests that use msw get the stateful fake without a
 * port. Unhandled requests should be errors (`onUnhandledRequest: "error"`), so a test never reaches
 * the network by mistake.
 *
 * @since 0.1.0
 */
import { HttpResponse, http, type RequestHandler } from "msw"
import { isDropped } from "./internal/http.js"
import { engineOf, type Simulator } from "./Simulator.js"

/** Options of `handlers`. */
export interface HandlersOptions {
  /** The base URL the code under test is configured with, e.g. `https://api.cert.zerohash.com`. */
  readonly baseUrl: string
}

const targetOf = (url: string): string => {
  const u = new URL(url)
  return `${u.pathname}${u.search}`
}

/** msw handlers answering every request under `baseUrl` with the simulator. */
export const handlers = (simulator: Simulator, options: HandlersOptions): Array<RequestHandler> => {
  const engine = engineOf(simulator)
  const base = options.baseUrl.replace(/\/+$/, "")
  return [
    http.all(`${base}/*`, async ({ request }) => {
      const body = request.method === "GET" || request.method === "HEAD" ? "" : await request.text()
      const outcome = await engine.handle({
        method: request.method,
        target: targetOf(request.url),
        header: (name) => request.headers.get(name) ?? undefined,
        body,
        source: "msw"
      })
      if (isDropped(outcome)) return HttpResponse.error()
      return new HttpResponse(outcome.body, { status: outcome.status, headers: outcome.headers })
    })
  ]
}
