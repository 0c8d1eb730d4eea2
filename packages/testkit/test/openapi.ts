/**
 * Checks responses against the vendor's OpenAPI (`shared/reference/...-customer-accounts.json`),
 * with ajv over the document as published, with one documented widening: `community_property`,
 * an account type of the vendor's guide that OpenAPI 1.7.0 omits, is added to the `type` enums.
 *
 * Statuses the document does not describe for an operation (409, 429: both Decisions of
 * upstream-api.md) and paths that are not operations (404 for an unknown route, `GET /time`) are
 * counted as unchecked, not failures.
 */

import { readFileSync } from "node:fs"
import { Endpoint } from "@mta/domain"
import { Ajv2020 } from "ajv/dist/2020.js"
import type { Simulator } from "../src/index.js"

export const openApiUrl = new URL(
  "../../../../shared/reference/zerohash-openapi-1.7.0-customer-accounts.json",
  import.meta.url
)

// biome-ignore lint/suspicious/noExplicitAny: the OpenAPI document is walked by key, untyped
const load = (): Record<string, any> | undefined => {
  try {
    return JSON.parse(readFileSync(openApiUrl, "utf8"))
  } catch {
    return undefined
  }
}

const widen = (node: unknown): void => {
  if (Array.isArray(node)) {
    for (const n of node) widen(n)
    return
  }
  if (typeof node !== "object" || node === null) return
  const o = node as Record<string, unknown>
  if (Array.isArray(o.enum) && o.enum.includes("individual") && o.enum.includes("utma")) {
    o.enum = [...o.enum, "community_property"]
  }
  for (const v of Object.values(o)) widen(v)
}

const document = load()
if (document === undefined) {
  console.warn(`OpenAPI response checks skipped: ${openApiUrl.pathname} is absent`)
} else {
  widen(document)
}

/** Whether the vendor's document was found. */
export const available = document !== undefined

const ajv = new Ajv2020({ strict: false, allErrors: true })
ajv.addFormat("uuid", /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i)
ajv.addFormat("int64", { type: "number", validate: (n: number) => Number.isInteger(n) })
if (document !== undefined) ajv.addSchema({ ...document, $id: "vendor-openapi.json" })

const pointer = (s: string) => s.replaceAll("~", "~0").replaceAll("/", "~1")
const validators = new Map<string, ReturnType<typeof ajv.compile> | null>()

/** The validator of one operation's response, or `null` when the document does not describe it. */
export const validatorFor = (method: string, pathTemplate: string, status: number) => {
  const key = `${method} ${pathTemplate} ${status}`
  let v = validators.get(key)
  if (v === undefined) {
    const op = document?.paths?.[pathTemplate]?.[method.toLowerCase()]
    const content = op?.responses?.[String(status)]?.content?.["application/json"]
    v =
      content?.schema === undefined
        ? null
        : ajv.compile({
            $ref: `vendor-openapi.json#/paths/${pointer(pathTemplate)}/${method.toLowerCase()}/responses/${status}/content/application~1json/schema`
          })
    validators.set(key, v)
  }
  return v
}

/** Counts of what was checked, for the record. */
export const stats = { checked: 0, unchecked: 0 }

/** Problems with the journal's responses; empty when all fit (or when the document is absent). */
export const checkJournal = (journal: ReadonlyArray<Simulator.JournalEntry>): Array<string> => {
  if (document === undefined) return []
  const problems: Array<string> = []
  for (const entry of journal) {
    if (entry.endpoint === undefined || entry.status === 0) {
      stats.unchecked++
      continue
    }
    const e = Endpoint.table[entry.endpoint]
    const validate = validatorFor(e.method, e.path, entry.status)
    if (validate === null) {
      stats.unchecked++
      continue
    }
    stats.checked++
    let body: unknown
    try {
      body = JSON.parse(entry.responseBody)
    } catch {
      problems.push(`${entry.method} ${entry.path} → ${entry.status}: body is not JSON`)
      continue
    }
    if (!validate(body)) {
      problems.push(
        `${entry.method} ${entry.path} → ${entry.status}: ${ajv.errorsText(validate.errors)} in ${entry.responseBody.slice(0, 300)}`
      )
    }
  }
  return problems
}
