/**
 * Secrets as container platforms mount them, and token rotation (`production.md` §8):
 * - any setting `X` may come from the file `X_FILE` (the four secrets above all); the trailing
 *   newline is trimmed; `X` and `X_FILE` together are refused; an unreadable, empty, oversized or
 *   non-regular file is named (the setting and the path) without its content;
 * - a caller's `token_sha256` may be a list: every hash in it authenticates the same caller, a hash
 *   removed from it no longer does, and a hash may not be listed twice (nor by two callers).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Callers, Config } from "@mta/server"
import { Either, Redacted } from "effect"
import { afterAll, describe, expect, it } from "vitest"
import { ok, problems } from "./support/config.js"
import { harness } from "./support.js"

const work = mkdtempSync(join(tmpdir(), "mta-secret-files-"))
afterAll(() => rmSync(work, { recursive: true, force: true }))

let n = 0
const file = (content: string | Buffer): string => {
  const path = join(work, `setting-${n++}`)
  writeFileSync(path, content)
  return path
}

const callers = JSON.stringify([
  { name: "ops", token_sha256: Callers.hashToken("t"), scopes: ["accounts:read"] }
])
const remote: Record<string, string> = {
  ZH_BASE_URL: "http://127.0.0.1:4010",
  ZH_API_KEY: "key",
  ZH_API_SECRET: "c2VjcmV0LXNlY3JldA==",
  ZH_API_PASSPHRASE: "pass",
  ZH_WEBHOOK_SECRET: "whsec",
  MTA_CALLERS: callers
}
const without = (env: Record<string, string>, name: string) => {
  const { [name]: _, ...rest } = env
  return rest
}

describe("settings from files", () => {
  it("reads each secret from its _FILE, trailing newline trimmed", () => {
    const c = ok({
      ...without(without(without(remote, "ZH_API_SECRET"), "ZH_API_PASSPHRASE"), "ZH_WEBHOOK_SECRET"),
      ZH_API_SECRET_FILE: file("c2VjcmV0LXNlY3JldA==\n"),
      ZH_API_PASSPHRASE_FILE: file("pass phrase\r\n"),
      ZH_WEBHOOK_SECRET_FILE: file("whsec-from-file\n"),
      DATABASE_URL_FILE: file("postgres://mta:pw@db:5432/mta\n")
    })
    if (c.upstream.mode !== "remote") throw new Error("expected a remote upstream")
    expect(Redacted.value(c.upstream.credentials.apiSecret)).toBe("c2VjcmV0LXNlY3JldA==")
    expect(Redacted.value(c.upstream.credentials.passphrase)).toBe("pass phrase")
    expect(Redacted.value(c.upstream.webhookSecret)).toBe("whsec-from-file")
    expect(c.store.kind).toBe("postgres")
    if (c.store.kind === "postgres") expect(Redacted.value(c.store.url)).toBe("postgres://mta:pw@db:5432/mta")
  })

  it("is generic: any setting, the upstream's address and a number included", () => {
    const c = ok({
      ...without(remote, "ZH_BASE_URL"),
      ZH_BASE_URL_FILE: file("http://10.0.0.7:4010\n"),
      PORT_FILE: file("9090")
    })
    expect(c.upstream).toMatchObject({ mode: "remote", baseUrl: "http://10.0.0.7:4010" })
    expect(c.port).toBe(9090)
  })

  it("refuses a value and its _FILE together, for each of the four secrets, naming both", () => {
    for (const name of ["ZH_API_SECRET", "ZH_API_PASSPHRASE", "ZH_WEBHOOK_SECRET", "DATABASE_URL"]) {
      const env = { ...remote, DATABASE_URL: "postgres://mta:pw@db:5432/mta", [`${name}_FILE`]: file("x\n") }
      const e = problems(env)
      expect(e.problems).toContainEqual({
        setting: name,
        message: `is set and so is ${name}_FILE: set only one of them`
      })
      expect(e.message).not.toContain("pw@db")
    }
  })

  it("names an unreadable, empty, oversized or non-regular file by setting and path, never its content", () => {
    const dir = join(work, "a-directory")
    mkdirSync(dir)
    const cases: ReadonlyArray<readonly [string, RegExp]> = [
      [join(work, "missing"), /cannot read .*missing: ENOENT/],
      [dir, /cannot read .*a-directory: not a regular file/],
      [file("\n"), /the file is empty/],
      [file(Buffer.alloc(Config.MAX_SETTING_FILE_BYTES + 1, "a")), /larger than 1048576 bytes/]
    ]
    for (const [path, message] of cases) {
      const e = problems({ ...without(remote, "ZH_WEBHOOK_SECRET"), ZH_WEBHOOK_SECRET_FILE: path })
      expect(e.problems).toHaveLength(1)
      expect(e.problems[0]!.setting).toBe("ZH_WEBHOOK_SECRET_FILE")
      expect(e.problems[0]!.message).toMatch(message)
    }
  })

  it("a malformed value read from a file is reported without the file's content", () => {
    const secret = "definitely not base64 but secret!"
    const path = file(`${secret}\n`)
    const e = problems({ ...without(remote, "ZH_API_SECRET"), ZH_API_SECRET_FILE: path })
    expect(e.problems.map((p) => p.setting)).toEqual(["ZH_API_SECRET"])
    expect(e.message).toContain(`the content of ${path}`)
    expect(e.message).not.toContain(secret)
    const url = problems({
      ...without(remote, "ZH_BASE_URL"),
      ZH_BASE_URL_FILE: file("ftp://host-in-a-file\n")
    })
    expect(url.message).not.toContain("host-in-a-file")
  })
})

describe("token rotation", () => {
  const entries = (hashes: unknown): string =>
    JSON.stringify([{ name: "ops", token_sha256: hashes, scopes: ["accounts:read"] }])

  it("every hash of a caller's list authenticates that caller; a removed one no longer does", async () => {
    const rotating = Callers.parseCallers(
      entries([Callers.hashToken("old"), Callers.hashToken("new").toUpperCase()])
    )
    if (Either.isLeft(rotating)) throw new Error(rotating.left)
    const during = harness({ authenticator: Callers.makeAuthenticator(rotating.right) })
    const path = "/accounts/customer:00000000-0000-4000-8000-000000000000/status"
    expect((await during.request(path, { token: "old" })).status).toBe(404)
    expect((await during.request(path, { token: "new" })).status).toBe(404)
    expect((await during.request(path, { token: "other" })).status).toBe(401)
    const auth = Callers.makeAuthenticator(rotating.right)
    expect(auth.authenticate("old")?.name).toBe("ops")
    expect(auth.authenticate("new")).toBe(auth.authenticate("old"))

    const after = Callers.parseCallers(entries([Callers.hashToken("new")]))
    if (Either.isLeft(after)) throw new Error(after.left)
    const done = harness({ authenticator: Callers.makeAuthenticator(after.right) })
    expect((await done.request(path, { token: "old" })).status).toBe(401)
    expect((await done.request(path, { token: "new" })).status).toBe(404)
  })

  it("MTA_CALLERS takes the list through Config.load, and refuses an empty list, a bad hash or a repeated one", () => {
    const c = ok({ ...remote, MTA_CALLERS: entries([Callers.hashToken("a"), Callers.hashToken("b")]) })
    expect(c.callers[0]!.token_sha256).toEqual([Callers.hashToken("a"), Callers.hashToken("b")])
    expect(problems({ ...remote, MTA_CALLERS: entries([]) }).message).toContain("at least one hash")
    expect(problems({ ...remote, MTA_CALLERS: entries([Callers.hashToken("a"), "beef"]) }).message).toContain(
      "64 hex digits"
    )
    expect(
      problems({
        ...remote,
        MTA_CALLERS: entries([Callers.hashToken("a"), Callers.hashToken("a").toUpperCase()])
      }).message
    ).toContain("a token_sha256 appears twice")
    const twoCallers = JSON.stringify([
      { name: "a", token_sha256: [Callers.hashToken("x"), Callers.hashToken("y")], scopes: [] },
      { name: "b", token_sha256: Callers.hashToken("y"), scopes: [] }
    ])
    expect(problems({ ...remote, MTA_CALLERS: twoCallers }).message).toContain('the second time under "b"')
  })
})
