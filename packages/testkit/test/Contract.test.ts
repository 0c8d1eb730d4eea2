import { afterAll, beforeAll, describe, it } from "vitest"
import { Contract, startSimulatorServer } from "../src/index.js"
import { simulator, track } from "./support.js"

const api = { describe, it, beforeAll, afterAll }

// In process: the simulator's fetch, signed by the suite's own target.
Contract.contractSuite(Contract.simulatorTarget(simulator()), api)

// Over a real port, with the control plane over HTTP.
Contract.contractSuite(
  Contract.deferred(
    "simulator server",
    async () => {
      const server = await startSimulatorServer({ seedDemo: true })
      track(server.simulator)
      return { target: Contract.serverTarget(server), stop: () => server.close() }
    },
    { control: true }
  ),
  api
)

// The vendor's certification environment: only with real credentials in the environment.
Contract.contractSuite(Contract.certTarget(), api)
