/**
 * Baseline (a) of the benchmark: a minimal pass-through proxy on `node:http`. It only signs and
 * forwards over a pooled keep-alive agent: no caller auth, no validation, no logs, no metrics. Plain
 * JavaScript, run by `node` itself (no TypeScript loader), like the built proxy it is compared with.
 * Usage: `node passthrough.mjs <upstream base URL> <api key> <api secret> <passphrase>`.
 * Prints `READY <port>`.
 */
import { createHmac } from "node:crypto"
import { Agent, createServer, request } from "node:http"

const [base, apiKey, apiSecret, passphrase] = process.argv.slice(2)
const upstream = new URL(base)
const key = Buffer.from(apiSecret, "base64")
const agent = new Agent({ keepAlive: true, maxSockets: 256, maxFreeSockets: 256, scheduling: "lifo" })

const server = createServer({ keepAlive: true }, (req, res) => {
  const chunks = []
  req.on("data", (c) => chunks.push(c))
  req.on("end", () => {
    const body = chunks.length === 0 ? undefined : Buffer.concat(chunks).toString()
    const path = req.url ?? "/"
    const timestamp = String(Math.floor(Date.now() / 1000))
    const signature = createHmac("sha256", key)
      .update(`${timestamp}${req.method}${path}${body ?? "{}"}`)
      .digest("base64")
    const headers = {
      "x-scx-api-key": apiKey,
      "x-scx-passphrase": passphrase,
      "x-scx-timestamp": timestamp,
      "x-scx-signed": signature,
      accept: "application/json"
    }
    if (body !== undefined) {
      headers["content-type"] = "application/json"
      headers["content-length"] = String(Buffer.byteLength(body))
    }
    const out = request(
      { hostname: upstream.hostname, port: upstream.port, path, method: req.method, headers, agent },
      (up) => {
        res.writeHead(up.statusCode ?? 502, {
          "content-type": up.headers["content-type"] ?? "application/json"
        })
        up.pipe(res)
      }
    )
    out.on("error", () => {
      res.writeHead(502)
      res.end()
    })
    out.end(body)
  })
})
server.keepAliveTimeout = 60_000
server.listen(0, "127.0.0.1", () => {
  const address = server.address()
  process.stdout.write(`READY ${typeof address === "object" && address !== null ? address.port : 0}\n`)
})
process.on("SIGTERM", () => process.exit(0))
