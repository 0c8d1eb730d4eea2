// Holds our wire Schemas to the vendor's published OpenAPI 1.7.0: every path and method is in the
// endpoint table, and every example the document gives (on request bodies, responses and path
// parameters, assembled from property examples the way API browsers show them) decodes with the
// Schema the table names for it.
import { existsSync, readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { Api, Endpoint, Enums } from "@mta/domain"
import { Either, Schema } from "effect"
import { describe, expect, it } from "vitest"

const file = fileURLToPath(
  new URL("../../../../shared/reference/zerohash-openapi-1.7.0-customer-accounts.json", import.meta.url)
)
const present = existsSync(file)
if (!present) console.warn(`OpenApi.test: skipped, the vendor's OpenAPI document is absent at ${file}`)

type Node = Readonly<Record<string, unknown>>
const isNode = (u: unknown): u is Node => typeof u === "object" && u !== null && !Array.isArray(u)
const node = (u: unknown): Node => (isNode(u) ? u : {})

const doc: Node = present ? (JSON.parse(readFileSync(file, "utf8")) as Node) : {}

const resolve = (schema: unknown): Node => {
  const s = node(schema)
  if (typeof s.$ref !== "string") return s
  const target = s.$ref
    .replace(/^#\//, "")
    .split("/")
    .reduce<unknown>((at, key) => node(at)[key], doc)
  return resolve(target)
}

const explicitExamples = (s: Node): Array<unknown> => {
  const out: Array<unknown> = []
  if (s.example !== undefined) out.push(s.example)
  if (Array.isArray(s.examples)) out.push(...s.examples)
  else if (isNode(s.examples)) for (const e of Object.values(s.examples)) out.push(node(e).value ?? e)
  return out
}

/** Every example of a schema: its own, or assembled from its properties' (one per `oneOf` variant). */
const examplesOf = (schema: unknown): Array<unknown> => {
  const s = resolve(schema)
  const own = explicitExamples(s)
  if (own.length > 0) return own
  for (const key of ["oneOf", "anyOf"] as const) {
    const variants = s[key]
    if (Array.isArray(variants)) return variants.flatMap(examplesOf)
  }
  if (s.type === "array") {
    const items = examplesOf(s.items)
    return items.length > 0 ? [[items[0]]] : []
  }
  if (s.type === "object" || isNode(s.properties)) {
    const out: Record<string, unknown> = {}
    for (const [key, property] of Object.entries(node(s.properties))) {
      const [first] = examplesOf(property)
      if (first !== undefined) out[key] = first
    }
    return [out]
  }
  return []
}

interface Operation {
  readonly method: string
  readonly path: string
  readonly op: Node
}

const operations: Array<Operation> = Object.entries(node(doc.paths)).flatMap(([path, item]) =>
  Object.entries(node(item)).map(([method, op]) => ({ method: method.toUpperCase(), path, op: node(op) }))
)

const endpointOf = (o: Operation) => Endpoint.all.find((e) => e.method === o.method && e.path === o.path)

const errorSchemas: Readonly<Record<string, Schema.Schema<unknown, unknown>>> = {
  "400": Api.ValidationErrorBody as Schema.Schema<unknown, unknown>,
  "403": Api.ForbiddenBody as Schema.Schema<unknown, unknown>,
  "404": Api.ErrorBody as Schema.Schema<unknown, unknown>,
  "500": Api.ErrorBody as Schema.Schema<unknown, unknown>,
  "503": Api.ErrorBody as Schema.Schema<unknown, unknown>
}

const decodes = (schema: Schema.Schema.AnyNoContext, example: unknown, where: string) => {
  const r = Schema.decodeUnknownEither(schema as Schema.Schema<unknown, unknown>)(example)
  expect(
    Either.isLeft(r) ? `${where}: ${JSON.stringify(example)} → ${Api.formatErrors(r.left).join("; ")}` : "ok"
  ).toBe("ok")
}

const jsonSchemaOf = (holder: unknown): unknown => node(node(node(holder).content)["application/json"]).schema

const mediaExamples = (holder: unknown): Array<unknown> => [
  ...explicitExamples(node(node(node(holder).content)["application/json"])),
  ...examplesOf(jsonSchemaOf(holder))
]

describe.skipIf(!present)("the vendor's OpenAPI 1.7.0", () => {
  it("has exactly the 15 customer-account endpoints of our table (16-19 are not in this document)", () => {
    expect(operations).toHaveLength(15)
    const ours = Endpoint.all
      .filter((e) => !e.path.startsWith("/participants"))
      .map((e) => `${e.method} ${e.path}`)
      .sort()
    expect(operations.map((o) => `${o.method} ${o.path}`).sort()).toEqual(ours)
  })

  it.each(operations.map((o) => [`${o.method} ${o.path}`, o] as const))(
    "%s: request, response and parameter examples decode with our Schemas",
    (_, o) => {
      const endpoint = endpointOf(o)!
      let checked = 0

      if (o.op.requestBody !== undefined) {
        expect(endpoint.request).toBeDefined()
        for (const example of mediaExamples(o.op.requestBody)) {
          decodes(endpoint.request!, example, "request")
          checked++
        }
      } else expect(endpoint.request).toBeUndefined()

      for (const [status, response] of Object.entries(node(o.op.responses))) {
        const schema = status.startsWith("2") ? endpoint.response : errorSchemas[status]
        expect(schema, `a Schema for ${status}`).toBeDefined()
        if (status.startsWith("2")) expect(Number(status)).toBe(endpoint.successStatus)
        for (const example of mediaExamples(response)) {
          decodes(schema!, example, status)
          if (!status.startsWith("2")) decodes(Api.UpstreamErrorBody, example, status)
          checked++
        }
      }

      const pathValues: Record<string, string> = {}
      for (const parameter of Array.isArray(o.op.parameters) ? o.op.parameters.map(resolve) : []) {
        if (parameter.in !== "path") continue
        const name = String(parameter.name)
        const example = [...explicitExamples(parameter), ...examplesOf(parameter.schema)][0]
        const schema = name === "zrn" ? Api.CustomerZrn : Api.PathParticipantCode
        if (typeof example === "string") {
          decodes(schema, example, `path parameter ${name}`)
          checked++
        }
        pathValues[name] =
          typeof example === "string"
            ? example
            : name === "zrn"
              ? "zrn:zh:us:accounts:customer:c761fc96-5c44-40d4-8eb2-3fcd5d06754b"
              : "CUST02"
      }
      expect(Object.keys(pathValues)).toEqual([...endpoint.params])
      const path = o.path.replace(/\{(\w+)\}/g, (_m, key: string) => pathValues[key]!)
      expect(Endpoint.match(o.method, path)?.endpoint).toBe(endpoint)

      expect(checked).toBeGreaterThan(0)
    }
  )

  it("gives one create example per account-type variant, each decoding", () => {
    const create = operations.find((o) => o.method === "POST" && o.path === "/accounts")!
    const examples = mediaExamples(create.op.requestBody)
    expect(examples.map((e) => node(e).type)).toEqual([
      "individual",
      "business",
      "jtic",
      "jtwros",
      "trust",
      "utma",
      "individual"
    ])
    // The individual examples carry a tenant: the wire shape allows it; Composition refuses it.
    for (const example of examples) decodes(Api.CreateAccountRequest, example, "create")
  })

  it("every query filter of GET /accounts is a LedgerQuery parameter", () => {
    const list = operations.find((o) => o.method === "GET" && o.path === "/accounts")!
    const samples: Record<string, string> = { page: "1", account_type: "available", asset: "USD" }
    for (const parameter of (list.op.parameters as Array<unknown>).map(resolve)) {
      if (parameter.in !== "query") continue
      const name = String(parameter.name)
      decodes(Api.LedgerQuery, { [name]: samples[name] ?? "XYZ456" }, `query ${name}`)
    }
  })

  it("enumerates the same wire values as our enums (community_property is ours, from the guide)", () => {
    const schemas = node(node(doc.components).schemas)
    const record = node(node(resolve(schemas.CustomerAccountResponse).properties).message)
    const fields = node(record.properties)
    const reason = node(
      node(node(resolve(schemas.GetCustomerAccountStatusReasonBody).properties).message).properties
    )
    const ledger = node(resolve(schemas.AccountsResponseEntity).properties)
    const values = (property: unknown) => node(property).enum
    expect(values(fields.tier)).toEqual(Enums.Tier.literals)
    expect(values(fields.status)).toEqual(Enums.AccountStatus.literals)
    expect([...(values(fields.type) as Array<string>), "community_property"]).toEqual(
      Enums.AccountType.literals
    )
    expect(values(reason.author_type)).toEqual(Enums.AuthorType.literals)
    expect(values(reason.reason)).toEqual(Enums.StatusReason.literals)
    expect(values(node(reason.compliance_reasons).items)).toEqual(Enums.ComplianceReason.literals)
    expect(values(ledger.account_type)).toEqual(Enums.LedgerAccountType.literals)
  })

  it("participant code bounds match the add-tenant body and the tenant path segment", () => {
    const schemas = node(node(doc.components).schemas)
    const code = node(node(resolve(schemas.AddTenantToCustomerAccountBody).properties).participant_code)
    expect([code.minLength, code.maxLength, code.pattern]).toEqual([1, 6, "^[a-zA-Z0-9_-]+$"])
  })

  // Where the document and the spec disagree, we follow the spec on purpose (see the README).
  it("Decision: prefunded is required on create, though the OpenAPI's 'All Fields' variant leaves it optional", () => {
    const variants = resolve(node(node(doc.components).schemas).PostCustomerAccountRequest)
      .oneOf as Array<unknown>
    const allFields = variants.map(resolve).find((v) => v.title === "Customer Account - All Fields")!
    expect(allFields.required).not.toContain("prefunded")
    const body = {
      participant_code: "PAR001",
      account_label: "custom-account-label",
      type: "individual",
      tier: "pro"
    }
    const r = Schema.decodeUnknownEither(Api.CreateAccountRequest)(body)
    expect(Either.isLeft(r) && Api.formatErrors(r.left)).toEqual(["prefunded: is required"])
  })
})
