/**
 * @mta/server: the Hono proxy internal teams call instead of zerohash.
 *
 * @since 0.1.0
 */
export * as App from "./App.js"
export * as Callers from "./Callers.js"
export * as Config from "./Config.js"
export * as Errors from "./Errors.js"
export * as Logger from "./Logger.js"
export * as Metrics from "./Metrics.js"
export * as OpenApi from "./OpenApi.js"
export * as Schemas from "./Schemas.js"
export * as Server from "./Server.js"
export * as Store from "./Store.js"
export * as Upstream from "./Upstream.js"
