#!/usr/bin/env node
/**
 * `mta-server`: the proxy's command (`mta-server --help`). With no command it starts the proxy, as
 * `pnpm start` does; the commands are one table in `internal/cli.ts`.
 *
 * @since 0.1.0
 */
import { main } from "./internal/cli.js"

main(process.argv.slice(2))
