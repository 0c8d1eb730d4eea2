// A stub of the proxy on a real port: what it answers for an Idempotency-Key (`packages/server`'s
// idempotency middleware): 409 idempotency_in_flight with Retry-After while the first request runs,
// then the stored answer with Idempotent-Replayed: true. Any other request is a 404 with a code.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"

const ZRN = "zrn:zh:us:accounts:customer:c761fc96-5c44-40d4-8eb2-3fcd5d06754e"

/** A request as the stub saw it. */
export interface Seen {
  readonly method: string
  readonly url: string
  readonly key: string | undefined
  readonly requestId: string | undefined
  readonly traceparent: string | undefined
}

/**
 * A stub of the proxy's idempotency for `POST /accounts`. With `holdFirst`, the first request of a key
 * is applied but answered only when a second request with the key has met the 409.
 */
export const startProxyStub = async (options: { readonly holdFirst: boolean }) => {
  const seen: Array<Seen> = []
  const records = new Map<string, { done: boolean; body?: string }>()
  let applied = 0
  let held: (() => void) | undefined
  const send = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    res.writeHead(status, { "content-type": "application/json", ...headers })
    res.end(typeof body === "string" ? body : JSON.stringify(body))
  }
  const server: Server = createServer((req: IncomingMessage, res) => {
    req.resume()
    req.on("end", () => {
      const header = (name: string) => req.headers[name] as string | undefined
      seen.push({
        method: req.method ?? "",
        url: req.url ?? "",
        key: header("idempotency-key"),
        requestId: header("x-request-id"),
        traceparent: header("traceparent")
      })
      const echo = { "x-request-id": `proxy-${seen.length}` }
      if (req.method !== "POST") return send(res, 404, { error: "Not Found", code: "not_found" }, echo)
      const key = header("idempotency-key") ?? ""
      const record = records.get(key)
      if (record === undefined) {
        // The first request of the key: applied once, answered only when released (after the
        // client has given up on it and its retry has met the 409).
        records.set(key, { done: false })
        applied++
        held = () => {
          const body = JSON.stringify({ message: { zrn: ZRN, participant_code: "CUST01", status: null } })
          records.set(key, { done: true, body })
          if (!res.destroyed) send(res, 202, body, echo)
        }
        if (!options.holdFirst) held()
        return
      }
      if (!record.done) {
        send(
          res,
          409,
          { errors: ["a request with this Idempotency-Key is in flight"], code: "idempotency_in_flight" },
          { ...echo, "retry-after": "1" }
        )
        held?.()
        return
      }
      send(res, 202, record.body!, { ...echo, "idempotent-replayed": "true" })
    })
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    applied: () => applied,
    close: () => new Promise<void>((resolve) => server.close(() => resolve()))
  }
}
