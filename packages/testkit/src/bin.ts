#!/usr/bin/env node
/**
 * `mta-simulator`: the simulator on a real port, printing its URL and the (fake) credentials to sign
 * requests with. Stops cleanly on SIGINT and SIGTERM.
 *
 * @since 0.1.0
 */
import { parseArgs } from "node:util"
import { startSimulatorServer } from "./Server.js"
import { defaultCredentials, defaultWebhookSecret } from "./Simulator.js"

const USAGE = `Usage: mta-simulator [options]

  --port N             port to listen on (default 4010; 0 for any free port)
  --host H             address to bind (default 127.0.0.1)
  --api-key K          accepted X-SCX-API-KEY (default ${defaultCredentials.apiKey})
  --api-secret BASE64  API secret, base64 (default the built-in fake secret)
  --passphrase P       accepted X-SCX-PASSPHRASE (default ${defaultCredentials.passphrase})
  --webhook-url URL    POST customer_account_status_changed notifications here
  --webhook-secret S   webhook signing secret (default ${defaultWebhookSecret})
  --async-delay-ms N   delay of provisioning and other background steps (default 0)
  --rate-limit N       requests per rolling 10 s (default 2000; 0 turns it off)
  --seed-demo          add the demo participants (CUST01..CUST20, MINOR1, CUSTD1, TRUST1, TRSTE1, BUSNS1, ADVSR1, ADVSR2)
  --help               show this help
`

const fail = (message: string): never => {
  process.stderr.write(`mta-simulator: ${message}\n\n${USAGE}`)
  process.exit(2)
}

const int = (name: string, value: string | undefined, fallback: number): number => {
  if (value === undefined) return fallback
  if (!/^\d+$/.test(value)) fail(`--${name} must be a whole number, got ${JSON.stringify(value)}`)
  return Number(value)
}

const main = async (): Promise<void> => {
  let parsed: ReturnType<typeof parse>
  try {
    parsed = parse()
  } catch (error) {
    return fail(error instanceof Error ? error.message : String(error))
  }
  const v = parsed.values
  if (v.help === true) {
    process.stdout.write(USAGE)
    return
  }
  const apiSecret = v["api-secret"] ?? defaultCredentials.apiSecret
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(apiSecret) || Buffer.from(apiSecret, "base64").length === 0) {
    fail("--api-secret must be base64 (the HMAC key is its decoded bytes)")
  }
  const webhookUrl = v["webhook-url"]
  if (webhookUrl !== undefined && !URL.canParse(webhookUrl)) fail(`--webhook-url is not a URL: ${webhookUrl}`)
  const credentials = {
    apiKey: v["api-key"] ?? defaultCredentials.apiKey,
    apiSecret,
    passphrase: v.passphrase ?? defaultCredentials.passphrase
  }
  const server = await startSimulatorServer({
    port: int("port", v.port, 4010),
    host: v.host ?? "127.0.0.1",
    credentials,
    asyncDelayMs: int("async-delay-ms", v["async-delay-ms"], 0),
    rateLimit: int("rate-limit", v["rate-limit"], 2000),
    seedDemo: v["seed-demo"] === true,
    webhook: {
      ...(webhookUrl === undefined ? {} : { url: webhookUrl }),
      secret: v["webhook-secret"] ?? defaultWebhookSecret
    }
  })
  // The credentials are the simulator's own fakes: printing them is the point.
  process.stdout.write(
    [
      `mta-simulator listening on ${server.url}`,
      `  X-SCX-API-KEY     ${credentials.apiKey}`,
      `  API secret        ${credentials.apiSecret}`,
      `  X-SCX-PASSPHRASE  ${credentials.passphrase}`,
      `  webhook secret    ${v["webhook-secret"] ?? defaultWebhookSecret}`,
      `  webhook URL       ${webhookUrl ?? "(none)"}`,
      `  control plane     ${server.url}/__simulator/`,
      ""
    ].join("\n")
  )
  const stop = () => {
    server.close().then(
      () => process.exit(0),
      () => process.exit(1)
    )
  }
  process.once("SIGINT", stop)
  process.once("SIGTERM", stop)
}

/**
 * The arguments, without a leading `--`: `pnpm start -- --seed-demo` passes the `--` on (npm does
 * not), and `parseArgs` would take everything after it for positionals.
 */
const argsOf = (argv: ReadonlyArray<string>): Array<string> => (argv[0] === "--" ? argv.slice(1) : [...argv])

const parse = () =>
  parseArgs({
    args: argsOf(process.argv.slice(2)),
    options: {
      port: { type: "string" },
      host: { type: "string" },
      "api-key": { type: "string" },
      "api-secret": { type: "string" },
      passphrase: { type: "string" },
      "webhook-url": { type: "string" },
      "webhook-secret": { type: "string" },
      "async-delay-ms": { type: "string" },
      "rate-limit": { type: "string" },
      "seed-demo": { type: "boolean" },
      help: { type: "boolean" }
    },
    strict: true,
    allowPositionals: false
  })

main().catch((error: unknown) => {
  process.stderr.write(`mta-simulator: ${error instanceof Error ? error.message : String(error)}\n`)
  process.exit(1)
})
