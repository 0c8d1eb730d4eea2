// Where the node transport sends a request: the origin parsed once, the path as `new URL` would send it.
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { Targets } from "../src/internal/target.js"

/** What the transport sent before it parsed origins once: a `new URL` per request. */
const expected = (url: string) => {
  const parsed = new URL(url)
  return {
    protocol: parsed.protocol,
    hostname: parsed.hostname.startsWith("[") ? parsed.hostname.slice(1, -1) : parsed.hostname,
    port: parsed.port,
    path: `${parsed.pathname}${parsed.search}`
  }
}
const actual = (targets: Targets, url: string) => {
  const { target, path } = targets.resolve(url)
  return { protocol: target.protocol, hostname: target.hostname, port: target.port, path }
}
/** The result, or the code of what was thrown. */
const outcome = <A>(f: () => A): A | { thrown: unknown } => {
  try {
    return f()
  } catch (error) {
    return { thrown: (error as { code?: unknown }).code }
  }
}

const origins = [
  "http://127.0.0.1:8080",
  "http://127.0.0.1:80",
  "http://127.0.0.1:8",
  "https://api.cert.zerohash.com",
  "https://api.cert.zerohash.com:443",
  "HTTP://Example.COM",
  "http://user:pw@h",
  "http://[::1]:3000",
  " http://h",
  "ftp://h"
]
const pieces = ["/", ".", "..", "%", "%2e", "%2E", "a", "zrn:zh:us", "?", "#", "&x=1", " ", '"', "'", "<"]
const more = ["\\", "^", "`", "{", "|", "é", "✓", "~", "@", "=", "+", "*", "\t", ":", "//", "9", "\n"]

describe("Targets", () => {
  it("resolves every URL to the origin and path new URL gives (or throws as it does), across origins on one instance", () => {
    const targets = new Targets()
    fc.assert(
      fc.property(
        fc.constantFrom(...origins),
        fc.array(fc.constantFrom(...pieces, ...more), { maxLength: 12 }),
        (origin, parts) => {
          const url = `${origin}${parts.join("")}`
          expect(outcome(() => actual(targets, url))).toEqual(outcome(() => expected(url)))
        }
      ),
      { numRuns: 3000 }
    )
  })

  it("does not take one origin for another it is a prefix of", () => {
    const targets = new Targets()
    expect(actual(targets, "http://h:80/x")).toMatchObject({ port: "", path: "/x" })
    expect(actual(targets, "http://h:8080/y")).toMatchObject({ port: "8080", path: "/y" })
    expect(actual(targets, "http://h.example/z")).toMatchObject({ hostname: "h.example", path: "/z" })
    expect(actual(targets, "http://h:80")).toMatchObject({ port: "", path: "/" })
    expect(actual(targets, "http://h:80?q")).toMatchObject({ path: "/?q" })
  })

  it("throws what new URL throws for a URL it cannot parse", () => {
    const targets = new Targets()
    for (const url of ["not a url", "http://", "http://exa mple/x", "/relative?u=http://h/"]) {
      expect(() => targets.resolve(url)).toThrow(expect.objectContaining({ code: "ERR_INVALID_URL" }))
    }
  })
})
