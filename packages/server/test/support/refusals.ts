/**
 * Helpers of the tests of refused input on every store (`Limits.test.ts`, `Nul.test.ts`): the stores
 * (the in-memory one, the embedded PGlite in a temporary directory, PostgreSQL in a throwaway cluster,
 * skipped with the reason when its server binaries are absent), one `describe` per store with the app in
 * front of it, requests as the admin caller, the audit entry of a request, and the check that a create
 * refused for its body was refused before the upstream and before its `Idempotency-Key` was claimed.
 */
import { randomUUID } from "node:crypto"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Store } from "@mta/server"
import { afterAll, beforeAll, describe, expect } from "vitest"
import { createBody, type Harness, harness, signWebhook, TOKENS } from "../support.js"
import { type PostgresCluster, postgresUnavailable, startPostgres } from "./postgres.js"

// ---------------------------------------------------------------------------------------------
// Stores
// ---------------------------------------------------------------------------------------------

export interface StoreCase {
  readonly name: string
  /** Why the store is absent (its tests are skipped), or undefined. */
  readonly skip: string | undefined
  readonly open: () => Promise<Store.Store>
}

/**
 * The stores of a test file: the in-memory one (when `memory`), the embedded one in a temporary
 * directory, and PostgreSQL (a database `name` in a throwaway cluster). Registers the file's hooks that
 * start the cluster and, after the file, stop it and remove the directory. Call it at the file's top level.
 */
export const testStores = (name: string, options: { readonly memory: boolean }): ReadonlyArray<StoreCase> => {
  const dataDir = mkdtempSync(join(tmpdir(), `mta-${name}-test-`))
  let cluster: PostgresCluster | undefined
  beforeAll(async () => {
    if (postgresUnavailable === undefined) cluster = await startPostgres()
  }, 120_000)
  afterAll(async () => {
    await cluster?.stop()
    rmSync(dataDir, { recursive: true, force: true })
  })
  return [
    ...(options.memory ? [{ name: "memory", skip: undefined, open: async () => Store.memory() }] : []),
    { name: "embedded (PGlite)", skip: undefined, open: () => Store.embedded({ dataDir }) },
    {
      name: "PostgreSQL",
      skip: postgresUnavailable,
      open: async () => Store.postgres({ url: await cluster!.createDatabase(name) })
    }
  ]
}

/** The store and the app in front of it, once the describe's `beforeAll` has opened them. */
export interface Opened {
  readonly store: Store.Store
  readonly h: Harness
}

/**
 * One `describe` per store, `<subject> on the <store> store` (skipped, with the reason printed, where the
 * store is absent). `body` declares the describe's tests; the `open` it is given registers the hook that,
 * before them, opens the store, puts the app in front of it (`harness` with `options`) and hands both
 * to `use`. After the tests the store is closed.
 */
export const describeOnStores = (
  file: string,
  subject: string,
  stores: ReadonlyArray<StoreCase>,
  options: Parameters<typeof harness>[0],
  body: (open: (use: (opened: Opened) => void) => void) => void
): void => {
  for (const s of stores) {
    describe.skipIf(s.skip !== undefined)(`${subject} on the ${s.name} store`, () => {
      if (s.skip !== undefined) console.warn(`[${file}] ${s.name} skipped: ${s.skip}`)
      let store: Store.Store | undefined
      const open = (use: (opened: Opened) => void) =>
        beforeAll(async () => {
          store = await s.open()
          use({ store, h: harness({ store, ...options }) })
        }, 60_000)
      afterAll(async () => {
        await store?.close()
      })
      body(open)
    })
  }
}

// ---------------------------------------------------------------------------------------------
// Requests, the audit, the upstream
// ---------------------------------------------------------------------------------------------

/** A request as the admin caller, JSON content type and a fresh `X-Request-Id` unless `headers` say otherwise. */
export const send = (
  h: Harness,
  method: string,
  path: string,
  body: string | undefined,
  headers: Record<string, string> = {}
) =>
  h.request(path, {
    method,
    token: TOKENS.admin,
    headers: { "content-type": "application/json", "x-request-id": randomUUID(), ...headers },
    ...(body === undefined ? {} : { body })
  })

/** Creates the simulator received whose body mentions `label` (as JSON text, so escaped). */
export const creates = (h: Harness, label: string) =>
  h.simulator.journal().filter((e) => e.endpoint === "createAccount" && e.requestBody.includes(label)).length

export interface AuditWire {
  readonly request_id: string
  readonly outcome: string
  readonly status: number
  readonly target: string | null
  readonly request: {
    readonly method: string
    readonly path: string
    readonly body?: Record<string, unknown>
    readonly idempotency_key?: string
  }
}

/** The audit entry of one request, read through `GET /audit` (so it is stored and readable). */
export const auditEntry = async (h: Harness, requestId: string): Promise<AuditWire | undefined> => {
  const r = await h.request("/audit?caller=admin&limit=1000")
  expect(r.status).toBe(200)
  const page = (await r.json()) as { entries: ReadonlyArray<AuditWire> }
  return page.entries.find((e) => e.request_id === requestId)
}

/**
 * Sends `body`, a create of `label` + one refused character + "x", with a fresh `Idempotency-Key` and
 * `requestId`, and checks: a 400 `invalid_request` with exactly `error`; nothing upstream (no create of
 * `label`); audited (`invalid_request`, 400, no target, the key) with U+FFFD in place of the character.
 * Then the key was never claimed: a valid create of `label` with it runs (202, not a 422, not a replay).
 */
export const expectRefusedBeforeClaim = async (
  h: Harness,
  refused: {
    readonly label: string
    readonly body: string
    readonly error: string
    readonly requestId: string
  }
): Promise<void> => {
  const { label, requestId } = refused
  const key = randomUUID()
  const before = h.upstreamCount()
  const r = await send(h, "POST", "/accounts", refused.body, {
    "idempotency-key": key,
    "x-request-id": requestId
  })
  expect(r.status).toBe(400)
  expect(await r.json()).toEqual({ errors: [refused.error], code: "invalid_request", request_id: requestId })
  expect(h.upstreamCount()).toBe(before)
  expect(creates(h, label)).toBe(0)

  const entry = await auditEntry(h, requestId)
  expect(entry).toMatchObject({
    outcome: "invalid_request",
    status: 400,
    target: null,
    request: { method: "POST", path: "/accounts", idempotency_key: key }
  })
  // The summary records U+FFFD in place of the refused character (the request itself was refused).
  expect(entry?.request.body?.account_label).toBe(`${label}\uFFFDx`)

  const fixed = await send(h, "POST", "/accounts", JSON.stringify(createBody(label)), {
    "idempotency-key": key
  })
  expect(fixed.status).toBe(202)
  expect(fixed.headers.get("idempotent-replayed")).toBeNull()
  expect(creates(h, label)).toBe(1)
}

// ---------------------------------------------------------------------------------------------
// Webhooks
// ---------------------------------------------------------------------------------------------

/** A `customer_account_status_changed` payload for `zrn` (open, jtic, label "hook"), `fields` added or replaced. */
export const webhookPayload = (zrn: string, fields: Record<string, unknown> = {}) =>
  JSON.stringify({
    urn: zrn,
    participant_code: "CUST01",
    account_label: "hook",
    status: "open",
    type: "jtic",
    ...fields
  })

/** Delivers a webhook body to the app, signed the way zerohash signs it unless `headers` are given. */
export const deliverWebhook = (h: Harness, body: string, headers = signWebhook(body)) =>
  h.request("/webhooks/zerohash", { method: "POST", token: null, headers, body })
