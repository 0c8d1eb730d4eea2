/**
 * @mta/testkit: a stateful, faithful fake of the zerohash Customer Accounts API, with msw handlers,
 * a standalone HTTP server, a control plane and a reusable contract suite.
 *
 * @since 0.1.0
 */
export * as Clock from "./Clock.js"
export * as Contract from "./Contract.js"
export * as Fault from "./Fault.js"
export * as Msw from "./Msw.js"
export { handlers } from "./Msw.js"
export * as Server from "./Server.js"
export { startSimulatorServer } from "./Server.js"
export * as Signing from "./Signing.js"
export * as Simulator from "./Simulator.js"
export { createSimulator } from "./Simulator.js"
