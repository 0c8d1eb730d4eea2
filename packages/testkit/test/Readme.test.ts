// The README's first example, kept runnable.
import { expect, it } from "vitest"
import { Fault, Signing } from "../src/index.js"
import { simulator } from "./support.js"

it("README: locks an account", async () => {
  const sim = simulator({ seedDemo: true })
  const send = (method: string, path: string, body?: unknown) => {
    const text = body === undefined ? undefined : JSON.stringify(body)
    const headers = Signing.signedHeaders(sim.credentials, { method, path, body: text })
    return sim.fetch(
      new Request(`https://api.cert.zerohash.com${path}`, {
        method,
        headers,
        ...(text === undefined ? {} : { body: text })
      })
    )
  }

  const created = await send("POST", "/accounts", {
    participant_code: "CUST01",
    account_label: "main",
    type: "jtic",
    tier: "pro",
    prefunded: false,
    tenants: ["CUST02"]
  })
  expect(created.status).toBe(202)
  const { zrn } = ((await created.json()) as { message: { zrn: string } }).message

  await sim.settle()
  expect((await send("POST", `/accounts/${zrn}/lock`, {})).status).toBe(202)
  expect(sim.account(zrn)?.status).toBe("open")
  await sim.settle()
  expect(sim.account(zrn)?.status).toBe("locked")
  expect(sim.webhooks().map((w) => w.status)).toEqual(["open", "locked"])

  sim.injectFault(Fault.failNext(2, { status: 503, endpoint: "unlock" }))
  expect((await send("POST", `/accounts/${zrn}/unlock`, {})).status).toBe(503)
})
