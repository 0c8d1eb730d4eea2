import { ZeroHashClient } from "@mta/client"
import { startSimulatorServer } from "@mta/testkit"
import { Console, Effect, Stream } from "effect"

const program = Effect.gen(function* () {
  const client = yield* ZeroHashClient
  const account = yield* client.createAccount({
    participant_code: "CUST03",
    account_label: "savings",
    type: "individual",
    tier: "gold",
    prefunded: true
  })
  const opened = yield* client.waitForStatus(account.zrn, "open", { timeoutMs: 10_000 })
  yield* Console.log("opened", String(opened.zrn))

  // Failures are typed values: pick one out by its tag.
  const missing = yield* client.getAccount("customer:00000000-0000-4000-8000-000000000000").pipe(
    Effect.as("found"),
    Effect.catchTag("NotFound", (error) => Effect.succeed(`not found (${error.status})`))
  )
  yield* Console.log(missing)

  // Ledger accounts as a Stream over every page.
  const assets = yield* client.listLedgerAccounts({ account_owner: "CUST03" }).pipe(
    Stream.map((ledger) => ledger.asset),
    Stream.runCollect
  )
  yield* Console.log("assets", [...assets].join(",") || "none")
})

// The testkit's simulator stands in for zerohash; `ZeroHashClient.layerConfig()` reads
// ZH_BASE_URL, ZH_API_KEY, ZH_API_SECRET and ZH_API_PASSPHRASE from the environment instead.
const upstream = await startSimulatorServer({ seedDemo: true })
await Effect.runPromise(
  program.pipe(
    Effect.provide(
      ZeroHashClient.layer({ baseUrl: upstream.url, credentials: upstream.simulator.credentials })
    )
  )
)
await upstream.close()
