/**
 * @mta/domain: the pure rules of zerohash Customer Accounts.
 *
 * @since 0.1.0
 */
export * as Enums from "./Enums.js"
export * as Zrn from "./Zrn.js"
