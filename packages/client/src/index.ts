/**
 * @mta/client: a signed, typed client for the zerohash Customer Accounts API, with an Effect API
 * (`ZeroHashClient` service) and a Promise API (`createClient`).
 *
 * The names most callers need are exported flat (`createClient`, `ZeroHashClient`, `signRequest`,
 * `verifyWebhook`, the error classes); each module is also exported whole as a namespace.
 *
 * @since 0.1.0
 */

// Configuration
export {
  type BearerCredentials,
  type ClientConfig,
  type Credentials,
  fromEnv as configFromEnv,
  type HostEnv,
  type HostRegion,
  hosts,
  InvalidConfig,
  type Secret,
  type SignedCredentials
} from "./ClientConfig.js"
// Errors, flat so `err instanceof NotFound` reads naturally
export * from "./ClientError.js"
// Whole modules
export * as ErrorMapping from "./ErrorMapping.js"
// Hooks of the Promise API and the metadata of responses
export type {
  AttemptEvent,
  Hook,
  HookEvents,
  HookName,
  Hooks,
  RequestEvent,
  ResponseEvent,
  RetryEvent
} from "./Hooks.js"
// Promise API
export {
  type Client,
  createClient,
  type PromiseCallOptions,
  type PromiseClientConfig,
  type PromiseEndpointMethods,
  type PromiseEndpointMethodsWithResponse,
  type PromiseWaitOptions
} from "./PromiseClient.js"
// The wire protocol: requests, headers and responses of every endpoint
export * as Protocol from "./Protocol.js"
export type { AccessAnswer, AccessDecision, AccessQuery } from "./ProxyRoutes.js"
// The proxy's own routes (participant status long poll, access decision)
export * as ProxyRoutes from "./ProxyRoutes.js"
export { type ResponseHeaders, ResponseInfo, responseOf, type WithResponse } from "./ResponseInfo.js"
export * as Retry from "./Retry.js"
export * as Signing from "./Signing.js"
// Signing, webhooks, transports
export { makeSigner, type SignRequestParams, signRequest } from "./Signing.js"
// OpenTelemetry: the client's spans, and the trace headers for code that sends requests itself
export * as Tracing from "./Tracing.js"
export {
  type ClosableTransport,
  type ExchangeRequest,
  type ExchangeResponse,
  exchange,
  type FetchLike,
  fetchTransport,
  type NodeTransport,
  type NodeTransportOptions,
  nodeTransport,
  type Transport,
  type TransportRequest,
  type TransportResponse,
  TransportTimeout
} from "./Transport.js"
export * as Webhook from "./Webhook.js"
export {
  type VerifyWebhookParams,
  verifyWebhook,
  type WebhookEvent,
  WebhookVerificationError
} from "./Webhook.js"
// Effect API
export {
  type Account,
  type CallOptions,
  type CreateAccountInput,
  type EndpointMethods,
  type EndpointMethodsWithResponse,
  type LedgerAccount,
  type LedgerPage,
  type LedgerQueryInput,
  type ParticipantEntry,
  type ParticipantQueryInput,
  type ParticipantStatusReached,
  type Service,
  type StatusReached,
  type StatusReason,
  type UpdateAccountInput,
  type WaitOptions,
  ZeroHashClient,
  type ZrnInput
} from "./ZeroHashClient.js"
