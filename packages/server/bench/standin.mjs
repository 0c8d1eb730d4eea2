/**
 * The cheap upstream stand-in of the benchmark: answers every request at once with an account record
 * (no signature check, no state), so the figures measure the proxies, not the fake. Plain JavaScript,
 * run by `node` itself (no TypeScript loader), like the built proxy.
 *
 * A read of the account `VARY_UUID` gets a different record each time (its label counts up), so a run
 * against it measures the proxy when no answer repeats; every other path gets the same bytes.
 * Usage: `node standin.mjs [port]`. Prints `READY <port>` when listening.
 */
import { createServer } from "node:http"

const VARY_UUID = "0d5a4bd6-7c0e-4b8a-9a51-6f0e8b7c2d11"

const record = (uuid, label) =>
  JSON.stringify({
    message: {
      zrn: `zrn:zh:us:accounts:customer:${uuid}`,
      participant_code: "CUST01",
      platform_code: "PLAT01",
      prefunded: false,
      account_label: label,
      account_group: "PLAT01",
      type: "jtic",
      tier: "pro",
      status: "open",
      tenants: ["CUST02"],
      financial_advisors: []
    }
  })

const fixed = record("c761fc96-5c44-40d4-8eb2-3fcd5d06754e", "bench")
const fixedLength = String(Buffer.byteLength(fixed))
// The varying record, split around its label so each answer costs one concatenation.
const [before, after] = record(VARY_UUID, "@label@").split("@label@")
let counter = 0

const server = createServer({ keepAlive: true }, (req, res) => {
  req.resume()
  req.on("end", () => {
    if (req.url?.includes(VARY_UUID)) {
      const body = `${before}bench-${++counter}${after}`
      res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(body) })
      res.end(body)
      return
    }
    res.writeHead(200, { "content-type": "application/json", "content-length": fixedLength })
    res.end(fixed)
  })
})
server.keepAliveTimeout = 60_000
server.listen(Number(process.argv[2] ?? 0), "127.0.0.1", () => {
  const address = server.address()
  process.stdout.write(`READY ${typeof address === "object" && address !== null ? address.port : 0}\n`)
})
process.on("SIGTERM", () => process.exit(0))
