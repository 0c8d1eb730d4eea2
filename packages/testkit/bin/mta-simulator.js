#!/usr/bin/env node
// The `mta-simulator` command. This file is committed (dist/ only exists after a build), so a fresh
// clone's `pnpm install` links the command without warnings; the program itself is dist/bin.js.
const program = new URL("../dist/bin.js", import.meta.url)
try {
  await import(program.href)
} catch (error) {
  if (error?.code === "ERR_MODULE_NOT_FOUND" && String(error.message).includes(program.pathname)) {
    process.stderr.write(
      "mta-simulator: dist/bin.js is missing: build the package first (pnpm build), " +
        "or run it from the sources with `pnpm -C packages/testkit start -- <options>`\n"
    )
    process.exit(1)
  }
  throw error
}
