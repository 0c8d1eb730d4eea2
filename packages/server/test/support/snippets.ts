/**
 * The code blocks of the repository's READMEs, as `ReadmeSnippets.test.ts` runs them.
 *
 * A block's kind comes from its fence's language: `ts`/`typescript`/`js`/`javascript` are scripts
 * (run with tsx in a consumer project), `sh`/`bash`/`shell` are shell (run with bash), `python`/`py`
 * run with python3; anything else (`json`, `text`, no language) is data and is not run. HTML comments
 * right before a fence (blank lines between are fine) annotate it:
 *
 * - `<!-- not-run: why -->`: not run; the reason is printed.
 * - `<!-- snippet-expect: text | text -->`: its output must contain each text.
 * - `<!-- snippet-runs: 2 -->`: run that many times (a walk-through that must work again).
 * - `<!-- snippet-server: http://127.0.0.1:8080/readyz -->`: it starts a server and runs until
 *   stopped: it is started, must answer 200 at that URL, and is then stopped.
 * - `<!-- snippet-needs: python3 openssl -->`: run only where these commands exist (else the reason
 *   is printed).
 * - `<!-- snippet-continues: what it continues -->`: a shell block that goes on from the README's
 *   previous shell block (its variables): run as one script, the previous block's code first.
 *
 * An `sh` block made only of `npm install …` lines (no `-g`) is an install block: it builds the
 * README's consumer project.
 */

export type Kind = "script" | "shell" | "python" | "data"

export interface Block {
  /** The README, relative to the repository's root. */
  readonly file: string
  /** The line of the opening fence, 1-based. */
  readonly line: number
  readonly lang: string
  readonly kind: Kind
  readonly code: string
  readonly notRun: string | undefined
  readonly expect: ReadonlyArray<string>
  readonly runs: number
  readonly server: string | undefined
  readonly needs: ReadonlyArray<string>
  /** Only `npm install` lines: builds the consumer project. */
  readonly install: boolean
  /** Imports from `vitest`: run as a test file. */
  readonly vitest: boolean
}

const kinds: Record<string, Kind> = {
  ts: "script",
  typescript: "script",
  js: "script",
  javascript: "script",
  mjs: "script",
  sh: "shell",
  bash: "shell",
  shell: "shell",
  python: "python",
  py: "python"
}

const FENCE_OPEN = /^(\s*)(`{3,})\s*([\w-]*)[^`]*$/
const ANNOTATION =
  /^\s*<!--\s*(not-run|snippet-expect|snippet-runs|snippet-server|snippet-needs|snippet-continues)\s*:\s*(.*?)\s*-->\s*$/

/** Every fenced block of a README, with its annotations. Throws on an unclosed fence or a bad note. */
export const extract = (file: string, text: string): ReadonlyArray<Block> => {
  const lines = text.split("\n")
  const blocks: Array<Block> = []
  let notes: Array<readonly [string, string]> = []
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!
    const note = ANNOTATION.exec(line)
    if (note !== null) {
      notes.push([note[1]!, note[2]!])
      continue
    }
    const open = FENCE_OPEN.exec(line)
    if (open === null) {
      if (line.trim() !== "") notes = []
      continue
    }
    const [, indent = "", fence = "```", langRaw = ""] = open
    const body: Array<string> = []
    let j = i + 1
    for (; j < lines.length; j++) {
      const l = lines[j]!
      if (l.trim() === fence || (l.trim().startsWith(fence) && l.trim().replace(/`/g, "") === "")) break
      body.push(l.startsWith(indent) ? l.slice(indent.length) : l.trimStart())
    }
    if (j === lines.length) throw new Error(`${file}:${i + 1}: the code block is not closed`)
    const lang = langRaw.toLowerCase()
    const kind = kinds[lang] ?? "data"
    const get = (key: string) => notes.filter(([k]) => k === key).map(([, v]) => v)
    const own = `${body.join("\n")}\n`
    let code = own
    if (get("snippet-continues").length > 0) {
      const previous = blocks.findLast((b) => b.kind === "shell" && !b.install)
      if (kind !== "shell" || previous === undefined)
        throw new Error(`${file}:${i + 1}: snippet-continues needs a shell block after another shell block`)
      code = `${previous.code}${own}`
    }
    const notRun = get("not-run")[0]
    if (notRun !== undefined && notRun.trim() === "") {
      throw new Error(`${file}:${i + 1}: <!-- not-run: … --> needs a reason`)
    }
    const runs = Number(get("snippet-runs")[0] ?? "1")
    if (!Number.isInteger(runs) || runs < 1)
      throw new Error(`${file}:${i + 1}: snippet-runs must be 1 or more`)
    const commands = own.split("\n").filter((l) => l.trim() !== "" && !l.trim().startsWith("#"))
    blocks.push({
      file,
      line: i + 1,
      lang,
      kind,
      code,
      notRun,
      expect: get("snippet-expect")
        .flatMap((v) => v.split("|"))
        .map((v) => v.trim())
        .filter((v) => v !== ""),
      runs,
      server: get("snippet-server")[0],
      needs: get("snippet-needs").flatMap((v) => v.split(/\s+/).filter((n) => n !== "")),
      install:
        kind === "shell" &&
        commands.length > 0 &&
        commands.every((l) => /^npm (install|i)\s/.test(l.trim()) && !/\s(-g|--global)\b/.test(l)),
      vitest: kind === "script" && /from\s+["']vitest["']/.test(code)
    })
    notes = []
    i = j
  }
  return blocks
}

/** Splits a command line into words: whitespace separates, single and double quotes group. */
export const shellWords = (line: string): Array<string> => {
  const words: Array<string> = []
  const re = /"((?:[^"\\]|\\.)*)"|'([^']*)'|(\S+)/g
  for (const m of line.matchAll(re)) words.push(m[1] ?? m[2] ?? m[3]!)
  return words
}

/**
 * `npm install` lines as `pnpm add` arguments for a consumer project: `@mta/*` become their packed
 * tarballs, `--save-dev`/`-D` stays a dev dependency.
 */
export const installArgs = (
  code: string,
  tarballs: Readonly<Record<string, string>>
): Array<{ readonly dev: boolean; readonly specs: ReadonlyArray<string> }> =>
  code
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "" && !l.startsWith("#"))
    .map((l) => {
      const words = shellWords(l).slice(2)
      const dev = words.some((w) => w === "-D" || w === "--save-dev")
      const specs = words
        .filter((w) => !w.startsWith("-"))
        .map((w) => {
          const name = w.startsWith("@") ? `@${w.slice(1).split("@")[0]}` : w.split("@")[0]!
          const tarball = tarballs[name]
          if (name.startsWith("@mta/") && tarball === undefined) throw new Error(`no tarball for ${name}`)
          return tarball ?? w
        })
      return { dev, specs }
    })
