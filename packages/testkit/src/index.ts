/**
 * @mta/testkit: a stateful, faithful fake of the zerohash Customer Accounts API, with a standalone
 * HTTP server, a control plane and a reusable contract suite. The msw handlers are the subpath
 * `@mta/testkit/msw`, so this entry loads no msw (an optional peer dependency): a production process
 * that only starts the simulator (the proxy's embedded default) never pays for it.
 *
 * @since 0.1.0
 */
export * as Clock from "./Clock.js"
export * as Contract from "./Contract.js"
export * as Fault from "./Fault.js"
export * as Server from "./Server.js"
export { startSimulatorServer } from "./Server.js"
export * as Signing from "./Signing.js"
export * as Simulator from "./Simulator.js"
export { createSimulator } from "./Simulator.js"
