/**
 * Where secrets may hide is written once (`src/internal/secrets.ts`): the logger's explicit keys, the
 * audit's rule for any key, and the secret settings. These hold the three together.
 */
import { describe, expect, it } from "vitest"
import { redact } from "../src/internal/audit.js"
import { isSecretKey, secretKeys, secretSettings } from "../src/internal/secrets.js"
import { redactPaths } from "../src/Logger.js"

describe("secret names", () => {
  it("every key the logger redacts is one the audit redacts too", () => {
    for (const key of secretKeys) expect(isSecretKey(key), key).toBe(true)
  })

  it("the audit redacts each of them, and other spellings, at any depth it keeps", () => {
    const body = Object.fromEntries([...secretKeys, "client_secret", "X-Api-Key"].map((k) => [k, "hunter2"]))
    const text = JSON.stringify(redact({ outer: { ...body, account_label: "visible" } }))
    expect(text).not.toContain("hunter2")
    expect(text).toContain("visible")
  })

  it("the logger redacts each key at the top level and under headers and config", () => {
    for (const key of secretKeys.filter((k) => !k.includes("-"))) {
      expect(redactPaths).toContain(key)
      expect(redactPaths).toContain(`headers.${key}`)
    }
    expect(redactPaths).toContain('headers["x-scx-signed"]')
  })

  it("a secret setting is named in secretSettings, and only those", () => {
    expect([...secretSettings].every((name) => /SECRET|PASSPHRASE|DATABASE_URL|TOKEN/.test(name))).toBe(true)
    expect(secretSettings.has("ZH_API_KEY")).toBe(false)
  })
})
