/**
 * The contract suite: the documented flows and errors of the Customer Accounts API, written once
 * against a small target interface, and run against the simulator, the proxy, or the vendor's
 * certification environment (only when real credentials are in the environment).
 *
 * The suite takes the test framework's `describe`/`it` as parameters and asserts with `node:assert`,
 * so importing `@mta/testkit` never loads a test framework (the proxy embeds the simulator at run
 * time) and any runner with that shape can drive it.
 *
 * @since 0.1.0
 */

export * from "./internal/contract/scenarios.js"
export * from "./internal/contract/targets.js"
