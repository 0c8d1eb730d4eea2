import { inspect } from "node:util"
import { describe, expect, it } from "@effect/vitest"
import { createClient, InvalidConfig, isClientError, ZeroHashClient } from "@mta/client"
import { Effect, Logger, LogLevel, Redacted } from "effect"
import { rejection } from "./scenarios.js"
import { networkError, scripted } from "./support.js"

const SECRET = "c3VwZXItc2VjcmV0LWhtYWMta2V5LTEyMzQ1Njc4OTA="
const PASSPHRASE = "correct-horse-battery-staple"
const TOKEN = "bearer-token-do-not-print"
const secrets = [SECRET, PASSPHRASE, TOKEN, Buffer.from(SECRET, "base64").toString("latin1")]

const expectNoSecret = (text: string) => {
  for (const secret of secrets) expect(text).not.toContain(secret)
}

const views = (value: unknown): string =>
  [String(value), inspect(value, { depth: 10, showHidden: true }), JSON.stringify(value)].join("\n")

describe("configuration", () => {
  it.each([
    [{ baseUrl: "not a url" }, "baseUrl"],
    [{ baseUrl: "ftp://example.test" }, "baseUrl"],
    [{ baseUrl: "https://example.test?x=1" }, "baseUrl"],
    [{ credentials: {} }, "credentials.apiKey"],
    [{ credentials: { apiKey: "k", apiSecret: "***", passphrase: PASSPHRASE } }, "credentials.apiSecret"],
    [{ credentials: { bearerToken: "" } }, "credentials.bearerToken"],
    [{ timeoutMs: 0 }, "timeoutMs"],
    [{ maxRetries: -1 }, "maxRetries"],
    [{ geo: "mars" }, "geo"]
  ] as const)("refuses %o, naming %s", (overrides, field) => {
    const config = {
      baseUrl: "https://api.cert.zerohash.com",
      credentials: { apiKey: "key", apiSecret: SECRET, passphrase: PASSPHRASE },
      ...overrides
    }
    let thrown: unknown
    try {
      createClient(config as never)
    } catch (error) {
      thrown = error
    }
    expect(thrown).toBeInstanceOf(InvalidConfig)
    expect((thrown as InvalidConfig).field).toBe(field)
    expectNoSecret(views(thrown))
  })

  it("keeps a path prefix of the base URL, and signs it", async () => {
    const fake = scripted([{ status: 200, body: { message: [], page: 1, total_pages: 1 } }])
    const client = createClient({
      baseUrl: "https://gateway.test/zerohash/",
      credentials: { apiKey: "key", apiSecret: SECRET, passphrase: PASSPHRASE },
      transport: fake.transport
    })
    await client.getLedgerPage({ account_owner: "CUST01" })
    expect(fake.calls[0]!.url).toBe("https://gateway.test/zerohash/accounts?account_owner=CUST01")
  })
})

describe("secrets never appear in errors, logs, toString, util.inspect or JSON", () => {
  it("a Promise client and its Effect service print a summary without secrets", () => {
    for (const credentials of [
      { apiKey: "public-key", apiSecret: SECRET, passphrase: PASSPHRASE },
      { apiKey: "public-key", apiSecret: Redacted.make(SECRET), passphrase: Redacted.make(PASSPHRASE) },
      { bearerToken: TOKEN }
    ]) {
      const client = createClient({ baseUrl: "https://api.cert.zerohash.com", credentials })
      const text = views(client) + views(client.effect)
      expectNoSecret(text)
      expect(String(client)).toContain("https://api.cert.zerohash.com")
    }
  })

  it.effect("errors of every kind, and the client's debug logs, carry no secret", () =>
    Effect.gen(function* () {
      const logs: Array<string> = []
      const logger = Logger.make(({ message, annotations }) => {
        logs.push(JSON.stringify({ message, annotations: [...annotations] }))
      })
      const fake = scripted([
        { status: 503, body: { error: "Service Unavailable" }, headers: { "zh-allow-retry": "true" } },
        { status: 403, body: { error: true, message: "invalid signature" } }
      ])
      const client = yield* Effect.provide(
        ZeroHashClient,
        ZeroHashClient.layer({
          baseUrl: "https://api.cert.zerohash.com",
          credentials: { apiKey: "public-key", apiSecret: SECRET, passphrase: PASSPHRASE },
          retry: { baseDelayMs: 0, maxDelayMs: 0 },
          transport: fake.transport
        })
      )
      const forbidden = yield* Effect.flip(client.getLedgerPage()).pipe(
        Effect.provide(Logger.replace(Logger.defaultLogger, logger)),
        Logger.withMinimumLogLevel(LogLevel.All)
      )
      expect(forbidden._tag).toBe("PermissionDenied")
      expect(logs.length).toBeGreaterThan(0)
      const bearer = createClient({
        baseUrl: "https://api.cert.zerohash.com",
        credentials: { bearerToken: TOKEN },
        transport: scripted([{ reject: networkError("ECONNRESET") }]).transport,
        maxRetries: 0
      })
      const dropped = yield* Effect.promise(() =>
        rejection(bearer.lock("customer:c761fc96-5c44-40d4-8eb2-3fcd5d06754e"))
      )
      const invalid = yield* Effect.promise(() => rejection(bearer.getAccount("nope")))
      for (const error of [forbidden, dropped, invalid]) {
        expect(isClientError(error)).toBe(true)
        expectNoSecret(views(error))
      }
      expectNoSecret(logs.join("\n"))
      // The headers the transport was given do hold them: the test looks in the right places.
      expect(fake.calls[0]!.headers["X-SCX-PASSPHRASE"]).toBe(PASSPHRASE)
    })
  )
})
