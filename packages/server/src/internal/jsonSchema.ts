/**
 * JSON Schema of a body as it travels on the wire, from the same effect Schemas the handlers decode
 * with.
 *
 * `JSONSchema.make` describes a transformation by its encoded side. The domain's request and record
 * Schemas are transformations from `unknown` (they refuse older shapes with tailored messages, and
 * accept aliases), whose encoded side says nothing; their decoded side is the wire shape. So this
 * walker takes the decoded side of a transformation from `unknown` and the encoded side of every
 * other (a ZRN is a string on the wire), and names every Schema with an `identifier` as a component.
 */
import { SchemaAST as AST } from "effect"

/** A JSON Schema object (OpenAPI 3.1 dialect). */
export type JsonSchema = { [key: string]: unknown }

/** Collects named schemas as components while converting. */
export interface Emitter {
  readonly components: Record<string, JsonSchema>
  readonly toJsonSchema: (ast: AST.AST) => JsonSchema
}

// Titles effect generates for its built-in refinements say nothing to a reader.
const keep = (a: AST.Annotated): JsonSchema => {
  const out: JsonSchema = {}
  const description = AST.getDescriptionAnnotation(a)
  if (
    description._tag === "Some" &&
    !/^an? (string|number|integer|boolean|non-negative|positive|negative|non-positive)\b/.test(
      description.value
    )
  ) {
    out.description = description.value
  }
  return out
}

const literalSchema = (literal: AST.LiteralValue): JsonSchema => {
  if (literal === null) return { type: "null" }
  if (typeof literal === "string") return { type: "string", const: literal }
  if (typeof literal === "boolean") return { type: "boolean", const: literal }
  if (typeof literal === "bigint") return { type: "integer", const: Number(literal) }
  return { type: "number", const: literal }
}

/**
 * `wrapped`: identifiers of records the vendor sends wrapped (`{"message": {...}}`); the domain reads
 * them wrapped or flat and encodes them wrapped, which the decoded side does not show.
 */
export const emitter = (wrapped: ReadonlySet<string> = new Set()): Emitter => {
  const components: Record<string, JsonSchema> = {}
  const naming = new Map<AST.AST, string>()

  const go = (ast: AST.AST, topLevel: boolean): JsonSchema => {
    const identifier = AST.getIdentifierAnnotation(ast)
    if (!topLevel && identifier._tag === "Some" && ast._tag !== "Declaration") {
      let name = naming.get(ast)
      if (name === undefined) {
        name = identifier.value
        // Two different Schemas with one identifier: suffix the second.
        let n = 2
        while (Object.hasOwn(components, name)) name = `${identifier.value}${n++}`
        naming.set(ast, name)
        components[name] = {}
        const schema = go(ast, true)
        components[name] = wrapped.has(identifier.value)
          ? { type: "object", required: ["message"], properties: { message: schema } }
          : schema
      }
      return { $ref: `#/components/schemas/${name}` }
    }
    switch (ast._tag) {
      case "StringKeyword":
      case "TemplateLiteral":
        return { type: "string", ...keep(ast) }
      case "NumberKeyword":
        return { type: "number", ...keep(ast) }
      case "BooleanKeyword":
        return { type: "boolean", ...keep(ast) }
      case "Literal":
        return { ...literalSchema(ast.literal), ...keep(ast) }
      case "UnknownKeyword":
      case "AnyKeyword":
      case "ObjectKeyword":
        return { ...keep(ast) }
      case "Enums":
        return { enum: ast.enums.map(([, v]) => v) }
      case "Union": {
        const members = ast.types.filter((t) => t._tag !== "UndefinedKeyword")
        if (members.every((t) => t._tag === "Literal" && typeof t.literal === "string")) {
          return { type: "string", enum: members.map((t) => (t as AST.Literal).literal), ...keep(ast) }
        }
        const schemas = members.map((t) => go(t, false))
        return schemas.length === 1 ? schemas[0]! : { anyOf: schemas, ...keep(ast) }
      }
      case "TupleType": {
        if (ast.elements.length === 0 && ast.rest.length === 1) {
          return { type: "array", items: go(ast.rest[0]!.type, false), ...keep(ast) }
        }
        return {
          type: "array",
          prefixItems: ast.elements.map((e) => go(e.type, false)),
          ...(ast.rest.length > 0 ? { items: go(ast.rest[0]!.type, false) } : { items: false }),
          ...keep(ast)
        }
      }
      case "TypeLiteral": {
        const properties: Record<string, JsonSchema> = {}
        const required: Array<string> = []
        for (const p of ast.propertySignatures) {
          if (typeof p.name !== "string") continue
          properties[p.name] = { ...go(p.type, false), ...keep(p) }
          if (!p.isOptional) required.push(p.name)
        }
        const out: JsonSchema = { type: "object", properties, ...keep(ast) }
        if (required.length > 0) out.required = required
        const index = ast.indexSignatures[0]
        if (index !== undefined) out.additionalProperties = go(index.type, false)
        return out
      }
      case "Refinement": {
        const base = go(ast.from, false)
        const extra = AST.getJSONSchemaAnnotation(ast)
        const merged = extra._tag === "Some" ? { ...base, ...(extra.value as JsonSchema) } : base
        return { ...merged, ...keep(ast) }
      }
      case "Transformation":
        return ast.from._tag === "UnknownKeyword"
          ? { ...go(ast.to, false), ...keep(ast) }
          : { ...go(ast.from, false), ...keep(ast) }
      case "Declaration":
        // The domain's only declaration is the `Zrn` class: a string on the wire.
        return {
          type: "string",
          description: "a ZRN, canonical form zrn:zh:<geo>:accounts:<customer|ledger>:<uuid>",
          examples: ["zrn:zh:us:accounts:customer:c761fc96-5c44-40d4-8eb2-3fcd5d06754e"]
        }
      case "Suspend":
        return go(ast.f(), false)
      default:
        return {}
    }
  }

  return { components, toJsonSchema: (ast) => go(ast, false) }
}
