import { setupServer } from "msw/node"
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest"
import { Fault } from "../src/index.js"
import { handlers } from "../src/Msw.js"
import { signed, simulator } from "./support.js"

const baseUrl = "https://api.cert.zerohash.com"
const sim = simulator()
const server = setupServer(...handlers(sim, { baseUrl }))

beforeAll(() => server.listen({ onUnhandledRequest: "error" }))
beforeEach(() => sim.reset())
afterAll(() => server.close())

describe("msw handlers", () => {
  it("answer the code under test's own fetch calls with the simulator", async () => {
    const create = signed(sim, "POST", "/accounts", {
      baseUrl,
      body: {
        participant_code: "CUST01",
        account_label: "msw",
        type: "individual",
        tier: "pro",
        prefunded: true
      }
    })
    // The code under test calls the global fetch with the vendor's URL; msw routes it to the simulator.
    const response = await fetch(create)
    expect(response.status).toBe(202)
    const { message } = (await response.json()) as { message: { zrn: string } }
    await sim.settle()
    const details = await fetch(signed(sim, "GET", `/accounts/${message.zrn}/details`, { baseUrl }))
    expect(((await details.json()) as { message: { status: string } }).message.status).toBe("open")
  })

  it("keep the vendor's auth: an unsigned call is 403", async () => {
    const response = await fetch(`${baseUrl}/accounts`)
    expect(response.status).toBe(403)
  })

  it("turn a dropped-connection fault into a network error", async () => {
    sim.injectFault(Fault.dropConnection())
    await expect(fetch(signed(sim, "GET", "/accounts", { baseUrl }))).rejects.toThrow(TypeError)
  })

  it("leave other hosts unhandled, which is an error", async () => {
    await expect(fetch("https://api.zerohash.com/accounts")).rejects.toThrow()
  })
})
