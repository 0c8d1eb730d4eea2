/** `@mta/server`'s own `package.json`, read when asked: the version is never a constant in the code. */
import { readFileSync } from "node:fs"

/** The package's name and version. */
export const packageInfo = (): { readonly name: string; readonly version: string } => {
  // `src/internal/packageInfo.ts` and `dist/internal/packageInfo.js` are both two levels below the package root.
  const text = readFileSync(new URL("../../package.json", import.meta.url), "utf8")
  const pkg = JSON.parse(text) as { name: string; version: string }
  return { name: pkg.name, version: pkg.version }
}
