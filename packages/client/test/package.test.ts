// A consuming team's view: the packed tarballs pass publint and attw, install into a fresh project
// with npm, and work from plain Node.js ESM: sign vector 1, verify the webhook vector, and call a
// loopback server through the Promise API.
import { execFileSync } from "node:child_process"
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { afterAll, describe, expect, it } from "vitest"
import { vectors } from "./vectors.js"

const root = fileURLToPath(new URL("../../..", import.meta.url))
const work = mkdtempSync(join(tmpdir(), "mta-client-pack-"))
afterAll(() => rmSync(work, { recursive: true, force: true }))

const pack = (): Record<string, string> => {
  const out = execFileSync(
    "node",
    [join(root, "scripts/pack.mjs"), join(work, "tarballs"), "domain", "client"],
    {
      encoding: "utf8"
    }
  )
  return (JSON.parse(out.trim().split("\n").pop()!) as { tarballs: Record<string, string> }).tarballs
}

const main = `
import http from "node:http"
import { createClient, signRequest, verifyWebhook, NotFound, nodeTransport } from "@mta/client"

const vectors = JSON.parse(process.argv[2])
const v = vectors.request_signing.vectors[0]
const signature = signRequest({ apiSecret: vectors.request_signing.api_secret_base64, timestamp: v.timestamp, method: v.method, path: v.path, body: v.body })

const hook = vectors.webhook_signing.vectors[0]
const event = verifyWebhook({
  secret: vectors.webhook_signing.secret,
  rawBody: hook.raw_body,
  now: Number(hook.timestamp),
  headers: { "x-zh-hook-timestamp": hook.timestamp, "x-zh-hook-signature": hook.signature }
})

const server = http.createServer((req, res) => {
  res.writeHead(404, { "content-type": "application/json" })
  res.end(JSON.stringify({ error: "Not Found", message: "customer account not found" }))
})
await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve))
const transport = nodeTransport()
const client = createClient({ baseUrl: "http://127.0.0.1:" + server.address().port, credentials: { bearerToken: "t" }, transport })
let notFound = null
try {
  await client.getAccount("customer:c761fc96-5c44-40d4-8eb2-3fcd5d06754e")
} catch (error) {
  notFound = { isNotFound: error instanceof NotFound, status: error.status, messages: error.messages }
}
transport.close()
server.close()
console.log(JSON.stringify({ signature, status: event.payload.status, zrn: String(event.payload.zrn), notFound }))
`

describe("@mta/client as published", () => {
  it("packs cleanly (publint --strict, attw esm-only), installs with npm and works from plain ESM", {
    timeout: 300_000
  }, () => {
    let tarballs: Record<string, string>
    try {
      tarballs = pack()
    } catch {
      // Another package's packaging test may be rebuilding @mta/domain's dist at this moment; once more.
      tarballs = pack()
    }
    expect(tarballs["@mta/client"]).toMatch(/mta-client-0\.1\.0\.tgz$/)

    const project = join(work, "consumer")
    mkdirSync(project, { recursive: true })
    writeFileSync(
      join(project, "package.json"),
      JSON.stringify({ name: "consumer", private: true, type: "module" })
    )
    execFileSync(
      "npm",
      [
        "install",
        "--no-audit",
        "--no-fund",
        "--prefer-offline",
        "--loglevel=error",
        tarballs["@mta/domain"]!,
        tarballs["@mta/client"]!
      ],
      { cwd: project, encoding: "utf8" }
    )
    writeFileSync(join(project, "main.mjs"), main)
    const result = JSON.parse(
      execFileSync("node", ["main.mjs", JSON.stringify(vectors)], { cwd: project, encoding: "utf8" })
    )
    expect(result).toEqual({
      signature: vectors.request_signing.vectors[0]!.signature,
      status: "open",
      zrn: "zrn:zh:us:accounts:customer:c761fc96-5c44-40d4-8eb2-3fcd5d06754e",
      notFound: { isNotFound: true, status: 404, messages: ["customer account not found", "Not Found"] }
    })
  })
})
