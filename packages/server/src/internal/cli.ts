/**
 * The `mta-server` command: one table of commands (`commands`), each a row with its words, its
 * options, a one-line summary and what it runs; `--help` is printed from the same table, so a new
 * command is one row. No command starts the proxy.
 *
 * Exit codes: 0 done, 1 failed (a store unreachable, a startup error), 2 a usage or configuration
 * error (every problem named).
 */

import { parseArgs } from "node:util"
import { Either } from "effect"
import * as Config from "../Config.js"
import { packageInfo } from "./packageInfo.js"

/** What a command is given: its own arguments (after its words) and where to write. */
export interface CommandContext {
  readonly args: ReadonlyArray<string>
  readonly env: Config.Env
  readonly out: (text: string) => void
  readonly err: (text: string) => void
}

/** One row of the table. `run` resolves with the exit code, or `"running"` for a server that stays up. */
export interface Command {
  /** The words that name it, e.g. `["migrate"]`, `["audit", "export"]`. */
  readonly words: ReadonlyArray<string>
  /** Its arguments as `--help` shows them, e.g. `--before <date>`. */
  readonly synopsis: string
  readonly summary: string
  readonly run: (context: CommandContext) => Promise<number | "running">
}

/** `@mta/server`'s name and version (`internal/packageInfo.ts`). */
export { packageInfo }

/** Refuses any argument: the commands below are configured by the environment only. */
const noArguments = (context: CommandContext, name: string): string | undefined => {
  try {
    parseArgs({ args: [...context.args], options: {}, strict: true, allowPositionals: false })
    return undefined
  } catch (error) {
    return `${name}: ${error instanceof Error ? error.message : String(error)}`
  }
}

/** Loads the configuration, or writes every problem and yields exit code 2. */
const loadConfig = (context: CommandContext): Config.Config | number => {
  const loaded = Config.load(context.env)
  if (Either.isLeft(loaded)) {
    context.err(`mta-server: ${loaded.left.message}\n`)
    return 2
  }
  return loaded.right
}

const describeUpstream = (config: Config.Config): string =>
  config.upstream.mode === "embedded"
    ? "the embedded simulator (development default; loopback only)"
    : config.upstream.baseUrl

/** The commands, in the order `--help` lists them. */
export const commands: ReadonlyArray<Command> = [
  {
    words: ["serve"],
    synopsis: "",
    summary: "start the proxy (also what no command does)",
    run: async (context) => {
      const refused = noArguments(context, "serve")
      if (refused !== undefined) return usageError(context, refused)
      const { serve, startFailure } = await import("./serve.js")
      try {
        await serve()
      } catch (error) {
        context.err(`mta-server: failed to start: ${startFailure(error)}\n`)
        return 1
      }
      return "running"
    }
  },
  {
    words: ["check-config"],
    synopsis: "",
    summary: "validate the configuration in the environment and exit: 0 valid, 2 with every problem named",
    run: async (context) => {
      const refused = noArguments(context, "check-config")
      if (refused !== undefined) return usageError(context, refused)
      const config = loadConfig(context)
      if (typeof config === "number") return config
      context.out(
        [
          "mta-server: the configuration is valid",
          `  upstream: ${describeUpstream(config)}`,
          `  state: ${Config.describeStore(config.store)}`,
          `  callers: ${config.callers.map((c) => c.name).join(", ")}`,
          `  listen: ${config.host}:${config.port}`,
          ""
        ].join("\n")
      )
      return 0
    }
  },
  {
    words: ["migrate"],
    synopsis: "",
    summary: "apply the store's migrations (embedded PGlite or PostgreSQL) and exit",
    run: async (context) => {
      const refused = noArguments(context, "migrate")
      if (refused !== undefined) return usageError(context, refused)
      const config = loadConfig(context)
      if (typeof config === "number") return config
      if (config.store.kind === "memory") {
        context.out("mta-server: MTA_STORE=memory keeps no schema; nothing to migrate\n")
        return 0
      }
      const [{ openStore }, { migrations }] = await Promise.all([
        import("../Server.js"),
        import("./store/migrations.js")
      ])
      // Opening a SQL store applies the migrations it lacks (under an advisory lock, so replicas
      // starting at the same time are safe); closing it releases the data directory or the pool.
      try {
        const store = await openStore(config.store)
        await store.close()
      } catch (error) {
        // The driver's message (a refused connection, a locked data directory) names no password.
        context.err(
          `mta-server migrate: cannot migrate ${Config.describeStore(config.store)}: ${error instanceof Error ? error.message : String(error)}\n`
        )
        return 1
      }
      const latest = migrations.reduce((max, m) => Math.max(max, m.version), 0)
      context.out(
        `mta-server: migrations applied; ${Config.describeStore(config.store)} is at schema version ${latest}\n`
      )
      return 0
    }
  },
  {
    words: ["audit", "export"],
    synopsis: "--before <date> [--out <file>|-]",
    summary:
      "write the audit entries older than <date> as JSON lines (a new file, or - for stdout), then delete exactly those; the store of the environment (the embedded one with the proxy stopped)",
    run: async (context) => {
      const [{ auditCommand }, { openStore }] = await Promise.all([
        import("./auditExport.js"),
        import("../Server.js")
      ])
      // The export writes its lines to stdout itself (`--out -`): a stream, not `context.out`.
      return auditCommand(["export", ...context.args], context.env, {
        stdout: process.stdout,
        stderr: process.stderr,
        openStore
      })
    }
  }
]

const usage = (): string => {
  const { name, version } = packageInfo()
  const rows = commands.map((c) => [[...c.words, c.synopsis].filter((w) => w !== "").join(" "), c.summary])
  const width = Math.max(...rows.map(([left]) => left!.length), "-v, --version".length) + 2
  const line = (left: string, right: string) => `  ${left.padEnd(width)}${right}`
  return [
    "Usage: mta-server [command] [options]",
    "",
    `The zerohash Customer Accounts proxy (${name} ${version}). Configured by the environment: every`,
    "setting X may also be read from a file named by X_FILE (see the README's settings table).",
    "",
    "Commands:",
    ...rows.map(([left, right]) => line(left!, right!)),
    "",
    "Options:",
    line("-h, --help", "show this help and exit"),
    line("-v, --version", "print the version and exit"),
    ""
  ].join("\n")
}

const usageError = (context: Pick<CommandContext, "err">, message: string): number => {
  context.err(`mta-server: ${message}\n\n${usage()}`)
  return 2
}

/** Runs the command `argv` names (no command: serve). */
export const run = async (
  given: ReadonlyArray<string>,
  context: Omit<CommandContext, "args">
): Promise<number | "running"> => {
  // `pnpm start -- migrate` passes the `--` on (npm does not): it separates no options here.
  const argv = given[0] === "--" ? given.slice(1) : given
  const [first] = argv
  if (first === "-h" || first === "--help" || first === "help") {
    context.out(usage())
    return 0
  }
  if (first === "-v" || first === "--version") {
    context.out(`${packageInfo().version}\n`)
    return 0
  }
  const command =
    argv.length === 0
      ? commands[0]
      : commands
          .filter((c) => c.words.every((w, i) => argv[i] === w))
          .sort((a, b) => b.words.length - a.words.length)[0]
  if (command === undefined) {
    return usageError(
      context,
      first!.startsWith("-") ? `unknown option ${first}` : `unknown command ${JSON.stringify(argv.join(" "))}`
    )
  }
  const args = argv.slice(command.words.length)
  if (args.includes("-h") || args.includes("--help")) {
    context.out(
      `Usage: mta-server ${[...command.words, command.synopsis].filter((w) => w !== "").join(" ")}\n\n  ${command.summary}\n`
    )
    return 0
  }
  return command.run({ ...context, args })
}

/** The process entry point: runs the command, then exits with its code (a server keeps running). */
export const main = (argv: ReadonlyArray<string>): void => {
  run(argv, {
    env: process.env,
    out: (text) => process.stdout.write(text),
    err: (text) => process.stderr.write(text)
  }).then(
    (code) => {
      // Explicitly: a store's driver may keep a handle a moment longer. stdout and stderr are
      // synchronous for files and pipes, so nothing written is lost.
      if (code !== "running") process.exit(code)
    },
    (error: unknown) => {
      process.stderr.write(`mta-server: ${error instanceof Error ? error.message : String(error)}\n`)
      process.exit(1)
    }
  )
}
