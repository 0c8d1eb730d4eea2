/**
 * The cheap upstream stand-in of the benchmark: answers every request at once with a fixed account
 * record (no signature check, no state), so the figures measure the proxies, not the fake.
 * Prints `READY <port>` when listening.
 */
import { createServer } from "node:http"

const body = JSON.stringify({
  message: {
    zrn: "zrn:zh:us:accounts:customer:c761fc96-5c44-40d4-8eb2-3fcd5d06754e",
    participant_code: "CUST01",
    platform_code: "PLAT01",
    prefunded: false,
    account_label: "bench",
    account_group: "PLAT01",
    type: "jtic",
    tier: "pro",
    status: "open",
    tenants: ["CUST02"],
    financial_advisors: []
  }
})
const length = String(Buffer.byteLength(body))

const server = createServer({ keepAlive: true }, (req, res) => {
  req.resume()
  req.on("end", () => {
    res.writeHead(200, { "content-type": "application/json", "content-length": length })
    res.end(body)
  })
})
server.keepAliveTimeout = 60_000
server.listen(Number(process.argv[2] ?? 0), "127.0.0.1", () => {
  const address = server.address()
  process.stdout.write(`READY ${typeof address === "object" && address !== null ? address.port : 0}\n`)
})
process.on("SIGTERM", () => process.exit(0))
