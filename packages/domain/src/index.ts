/**
 * @mta/domain: the pure rules of zerohash Customer Accounts.
 *
 * @since 0.1.0
 */
export * as Access from "./Access.js"
export * as Api from "./Api.js"
export * as Composition from "./Composition.js"
export * as Endpoint from "./Endpoint.js"
export * as Enums from "./Enums.js"
export * as Lifecycle from "./Lifecycle.js"
export * as Limits from "./Limits.js"
export * as Participants from "./Participants.js"
export * as Webhook from "./Webhook.js"
export * as Zrn from "./Zrn.js"
