/**
 * The messages a new user meets first (issue 15, "clearer messages"): each says what is wrong and
 * what to do, and repeats no secret. A malformed `ZH_ENV`/`ZH_REGION` or `MTA_CALLERS` names the
 * setting, the problem, what is expected and an example (no raw Schema output); a port in use names
 * the `PORT` to use instead (a real `EADDRINUSE` from `node:http`); an unknown token says where tokens
 * are configured. (An embedded store in use says what to do too: `Lock.test.ts`.)
 */
import { createServer, type Server } from "node:http"
import type { AddressInfo } from "node:net"
import { Callers } from "@mta/server"
import { afterAll, describe, expect, it } from "vitest"
import { startFailure } from "../src/internal/serve.js"
import { problems, remote } from "./support/config.js"
import { harness } from "./support.js"

const { ZH_BASE_URL: _, ...credentials } = remote

/** The one problem of `setting` in the configuration `env` loads to. */
const problemOf = (env: Record<string, string>, setting: string): string => {
  const found = problems(env).problems.filter((p) => p.setting === setting)
  expect(found).toHaveLength(1)
  return found[0]!.message
}

const rawSchemaOutput = /Expected |actual |ReadonlyArray</

describe("configuration messages", () => {
  it("ZH_ENV and ZH_REGION: the value, the choices and an example", () => {
    const env = problemOf({ ...credentials, ZH_ENV: "staging", ZH_REGION: "us" }, "ZH_ENV")
    expect(env).toBe(
      `is "staging"; expected cert or prod, e.g. ZH_ENV=cert ZH_REGION=us (zerohash's certification environment in the US)`
    )
    const region = problemOf({ ...credentials, ZH_ENV: "cert", ZH_REGION: "asia" }, "ZH_REGION")
    expect(region).toBe(`is "asia"; expected us or eu, e.g. ZH_ENV=cert ZH_REGION=us`)
    // Every setting that is one of a few words reads the same way.
    expect(problemOf({ LOG_LEVEL: "loud" }, "LOG_LEVEL")).toBe(
      `is "loud"; expected fatal, error, warn, info, debug, trace or silent, e.g. LOG_LEVEL=info`
    )
  })

  it("MTA_CALLERS: one line per caller and field, what is expected, no Schema output", () => {
    const cases: ReadonlyArray<readonly [unknown, ReadonlyArray<string>]> = [
      [
        { name: "ops" },
        ['expected a JSON array of callers, e.g. [{"name":"ops-console","token_sha256":"<hex SHA-256']
      ],
      [[5], ['caller 1: expected an object like {"name":"ops-console"']],
      [
        [{ name: "ops" }],
        [
          'caller 1 ("ops"): token_sha256 is missing; expected the hex SHA-256 of the token (64 hex digits',
          'caller 1 ("ops"): scopes is missing; expected a list of scopes, e.g. ["accounts:read"]'
        ]
      ],
      [
        [
          { name: "ops", token_sha256: Callers.hashToken("a"), scopes: ["accounts:read"] },
          { name: "ci", token_sha256: "abc", scopes: ["accounts:reed", "audit:read"] }
        ],
        [
          'caller 2 ("ci"): token_sha256 must be the hex SHA-256 of the token (64 hex digits)',
          'caller 2 ("ci"): scope "accounts:reed" is unknown; expected one of accounts:read, accounts:write'
        ]
      ],
      [
        [{ name: "a b", token_sha256: [], scopes: "accounts:read", upstream_share: 2 }],
        [
          "caller 1: name is not valid; expected 1-64 characters",
          "caller 1: token_sha256 must list at least one hash",
          'caller 1: scopes is not valid; expected a list of scopes, e.g. ["accounts:read"]',
          "caller 1: upstream_share is not valid; expected a fraction above 0 and at most 1"
        ]
      ]
    ]
    for (const [value, expected] of cases) {
      const message = problemOf({ ...remote, MTA_CALLERS: JSON.stringify(value) }, "MTA_CALLERS")
      expect(message).not.toMatch(rawSchemaOutput)
      const lines = message.split("; caller ")
      expect(lines).toHaveLength(expected.length)
      for (const part of expected) expect(message).toContain(part)
    }
  })

  it("MTA_CALLERS that is not JSON: where, what is expected, and the text is not repeated", () => {
    const message = problemOf({ ...remote, MTA_CALLERS: "pasted-the-token-by-mistake" }, "MTA_CALLERS")
    expect(message).toMatch(/^is not valid JSON( \(at character \d+\))?; expected a JSON array of callers/)
    expect(message).toContain("@/path/to/callers.json")
    expect(message).not.toContain("pasted")
  })
})

describe("start failures say what to do", () => {
  const servers: Array<Server> = []
  afterAll(async () => {
    await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))))
  })
  const listen = (port: number) =>
    new Promise<Server>((resolve, reject) => {
      const server = createServer()
      server.once("error", reject)
      server.listen(port, "127.0.0.1", () => {
        servers.push(server)
        resolve(server)
      })
    })

  it("a port in use: which port, and the PORT to start on instead", async () => {
    const taken = await listen(0)
    const port = (taken.address() as AddressInfo).port
    const error = await listen(port).then(
      () => undefined,
      (e: unknown) => e
    )
    expect((error as NodeJS.ErrnoException).code).toBe("EADDRINUSE")
    expect(startFailure(error)).toBe(
      `port ${port} on 127.0.0.1 is already in use (another mta proxy, or another program). Stop that process, or start on another port: PORT=${port + 1} pnpm start (PORT=0 takes any free port) [listen EADDRINUSE: address already in use 127.0.0.1:${port}]`
    )
    expect(startFailure(new Error("something else"))).toBe("something else")
  })
})

describe("an unknown token", () => {
  const h = harness()
  it("is a 401 that says where callers' tokens are configured, and repeats no token", async () => {
    const r = await h.request("/accounts/customer:00000000-0000-4000-8000-000000000000/details", {
      token: null,
      headers: { authorization: "Bearer not-a-known-token" }
    })
    expect(r.status).toBe(401)
    const body = (await r.json()) as { message: string }
    expect(body.message).toBe(
      "unknown bearer token: send the token of a caller configured for this proxy (MTA_CALLERS lists the callers and their tokens' SHA-256; with the embedded default, the dev token printed at startup)"
    )
    expect(body.message).not.toContain("not-a-known-token")
  })
})
