import { Api, Zrn } from "@mta/domain"
import { Arbitrary, Either, FastCheck as fc, ParseResult, Schema } from "effect"
import { describe, expect, it } from "vitest"

const UUID = "c761fc96-5c44-40d4-8eb2-3fcd5d06754e"
const CUSTOMER = `zrn:zh:us:accounts:customer:${UUID}`
const LEDGER_ID = "ce819fe8-b1d7-43bb-961c-e09ede0988d3"

/** Decodes or fails the test with the formatted messages. */
const decode = <A, I>(schema: Schema.Schema<A, I>, input: unknown): A => {
  const r = Schema.decodeUnknownEither(schema)(input)
  if (Either.isLeft(r)) throw new Error(`expected to decode, got: ${Api.formatErrors(r.left).join(" | ")}`)
  return r.right
}

/** The human messages of a refused input (fails the test if it decodes). */
const problems = <A, I>(schema: Schema.Schema<A, I>, input: unknown): Array<string> => {
  const r = Schema.decodeUnknownEither(schema)(input)
  if (Either.isRight(r)) throw new Error(`expected a refusal, decoded ${JSON.stringify(r.right)}`)
  return Api.formatErrors(r.left)
}

const jtic = {
  participant_code: "CUST01",
  account_label: "joint",
  type: "jtic",
  tier: "pro",
  prefunded: false,
  tenants: ["CUST02"]
}

describe("ParticipantCode", () => {
  it.each(["C", "CUST01", "a_b-9", "______"])("accepts %j", (code) => {
    expect(decode(Api.ParticipantCode, code)).toBe(code)
  })

  it.each([
    ["", 'expected a participant code (1 to 6 characters of A-Z, a-z, 0-9, _ or -), got ""'],
    ["CUST001", 'expected a participant code (1 to 6 characters of A-Z, a-z, 0-9, _ or -), got "CUST001"'],
    ["CU ST", 'expected a participant code (1 to 6 characters of A-Z, a-z, 0-9, _ or -), got "CU ST"'],
    ["CUST.1", 'expected a participant code (1 to 6 characters of A-Z, a-z, 0-9, _ or -), got "CUST.1"'],
    [42, "expected a participant code (1 to 6 characters of A-Z, a-z, 0-9, _ or -), got 42"]
  ])("refuses %j", (input, message) => {
    expect(problems(Api.ParticipantCode, input)).toEqual([message])
  })

  it("PathParticipantCode needs exactly 6 characters", () => {
    expect(decode(Api.PathParticipantCode, "CUST02")).toBe("CUST02")
    expect(problems(Api.PathParticipantCode, "CUST2")).toEqual([
      'expected a participant code of exactly 6 characters (A-Z, a-z, 0-9, _ or -), got "CUST2"'
    ])
  })
})

describe("CreateAccountRequest (strict)", () => {
  it("accepts an individual account without tenants", () => {
    const body = {
      participant_code: "CUST01",
      account_label: "main",
      type: "individual",
      tier: "gold",
      prefunded: true
    }
    expect(decode(Api.CreateAccountRequest, body)).toEqual(body)
  })

  it("accepts a joint account with tenants and advisors, and encodes it unchanged", () => {
    const body = { ...jtic, financial_advisors: ["ADVSR1"] }
    const decoded = decode(Api.CreateAccountRequest, body)
    expect(decoded).toEqual(body)
    expect(Schema.encodeSync(Api.CreateAccountRequest)(decoded)).toEqual(body)
  })

  it.each(["business", "jtic", "jtwros", "trust", "utma", "community_property"])(
    "requires tenants for a %s account, naming the field",
    (type) => {
      const { tenants: _, ...body } = { ...jtic, type }
      expect(problems(Api.CreateAccountRequest, body)).toEqual([
        `tenants: is required for a ${type} account (an array of participant codes)`
      ])
    }
  )

  it("refuses `tenant` (singular), as older guides send it, saying to use `tenants`", () => {
    // The JTIC example of the account-types guide.
    const guide = {
      participant_code: "CUST01",
      prefunded: false,
      tier: "pro",
      type: "jtwros",
      account_label: "my-label",
      tenant: ["CUST02"]
    }
    expect(problems(Api.CreateAccountRequest, guide)).toEqual([
      "tenant: unknown field, use `tenants` (an array of participant codes)"
    ])
  })

  it("refuses `tenants` as a bare string", () => {
    expect(problems(Api.CreateAccountRequest, { ...jtic, type: "utma", tenants: "CUSTD1" })).toEqual([
      'tenants: expected an array of participant codes, got "CUSTD1"'
    ])
  })

  it("refuses a body wrapped in message with one message, not one per missing field", () => {
    // The UTMA example of the guide, wrapped and with a bare-string tenants.
    const guide = {
      message: {
        type: "utma",
        participant_code: "MINOR1",
        tenants: "CUSTD1",
        prefunded: true,
        account_label: "general",
        tier: "pro"
      }
    }
    expect(problems(Api.CreateAccountRequest, guide)).toEqual([
      "message: the request body must not be wrapped in message; send the fields at the top level"
    ])
  })

  it("reports every problem at once, unknown keys by name", () => {
    const body = {
      ...jtic,
      participant_code: "TOOLONG1",
      account_label: "",
      tier: "platinum",
      prefunded: "yes",
      tenants: ["CUST02", 5],
      nickname: "x"
    }
    expect(problems(Api.CreateAccountRequest, body)).toEqual([
      "nickname: unknown field; expected one of participant_code, account_label, type, tier, prefunded, tenants, financial_advisors",
      'participant_code: expected a participant code (1 to 6 characters of A-Z, a-z, 0-9, _ or -), got "TOOLONG1"',
      'account_label: expected a non-empty string, got ""',
      'tier: expected one of lite, pro, bronze, silver, gold, got "platinum"',
      'prefunded: expected true or false, got "yes"',
      "tenants[1]: expected a participant code (1 to 6 characters of A-Z, a-z, 0-9, _ or -), got 5"
    ])
  })

  it("names every missing field", () => {
    expect(problems(Api.CreateAccountRequest, {})).toEqual([
      "participant_code: is required (the primary holder's participant code)",
      "account_label: is required",
      "type: is required",
      "tier: is required",
      "prefunded: is required"
    ])
  })

  it("refuses an unknown account type with the list of known ones", () => {
    expect(problems(Api.CreateAccountRequest, { ...jtic, type: "joint" })).toEqual([
      'type: expected one of individual, business, jtic, jtwros, trust, utma, community_property, got "joint"'
    ])
  })

  it("refuses what is not an object", () => {
    expect(problems(Api.CreateAccountRequest, null)).toEqual([
      "expected a JSON object with the account's fields, got null"
    ])
    expect(problems(Api.CreateAccountRequest, [jtic])).toEqual([
      "expected a JSON object with the account's fields, got an array"
    ])
  })

  it("gives ArrayFormatter a path and a message for each problem", () => {
    const r = Schema.decodeUnknownEither(Api.CreateAccountRequest)({
      ...jtic,
      tenants: "CUST02",
      tenant: "x"
    })
    if (Either.isRight(r)) throw new Error("expected a refusal")
    const issues = ParseResult.ArrayFormatter.formatErrorSync(r.left).map(({ path, message }) => ({
      path,
      message
    }))
    expect(issues).toEqual([
      { path: ["tenant"], message: "unknown field, use `tenants` (an array of participant codes)" },
      { path: ["tenants"], message: 'expected an array of participant codes, got "CUST02"' }
    ])
  })

  it("is a type guard on the decoded side, tenants rule included", () => {
    expect(Schema.is(Api.CreateAccountRequest)(jtic)).toBe(true)
    const { tenants: _, ...noTenants } = jtic
    expect(Schema.is(Api.CreateAccountRequest)(noTenants)).toBe(false)
  })
})

describe("UpdateAccountRequest, ParticipantCodeRequest, EmptyRequest (strict)", () => {
  it("update needs both prefunded and tier", () => {
    expect(decode(Api.UpdateAccountRequest, { prefunded: true, tier: "gold" })).toEqual({
      prefunded: true,
      tier: "gold"
    })
    expect(problems(Api.UpdateAccountRequest, { tier: "gold" })).toEqual(["prefunded: is required"])
    expect(problems(Api.UpdateAccountRequest, { prefunded: true, tier: "gold", type: "jtic" })).toEqual([
      "type: unknown field; expected one of prefunded, tier"
    ])
  })

  it("add tenant/advisor takes one participant code", () => {
    expect(decode(Api.ParticipantCodeRequest, { participant_code: "ADVSR1" })).toEqual({
      participant_code: "ADVSR1"
    })
    expect(problems(Api.ParticipantCodeRequest, { participant_code: ["ADVSR1"] })).toEqual([
      "participant_code: expected a participant code (1 to 6 characters of A-Z, a-z, 0-9, _ or -), got an array"
    ])
    expect(problems(Api.ParticipantCodeRequest, {})).toEqual(["participant_code: is required"])
  })

  it("commands take {} and refuse any key", () => {
    expect(decode(Api.EmptyRequest, {})).toEqual({})
    expect(Schema.encodeSync(Api.EmptyRequest)({})).toEqual({})
    expect(problems(Api.EmptyRequest, { reason: "fraud" })).toEqual([
      "reason: unknown field; this request takes no fields (send {})"
    ])
    expect(problems(Api.EmptyRequest, { message: {} })).toEqual([
      "message: the request body must not be wrapped in message; send the fields at the top level"
    ])
  })
})

describe("AccountRecord and AccountResponse (tolerant)", () => {
  const record = {
    zrn: CUSTOMER,
    participant_code: "CUST01",
    platform_code: "PLAT01",
    prefunded: false,
    account_label: "joint",
    account_group: "PLAT01",
    type: "jtic",
    tier: "pro",
    status: "open",
    tenants: ["CUST02"],
    financial_advisors: ["ADVSR1"]
  }

  it("reads the wrapped record and encodes it back wrapped, unchanged", () => {
    const decoded = decode(Api.AccountResponse, { message: record })
    expect(decoded.zrn).toBeInstanceOf(Zrn.Zrn)
    expect(decoded.zrn.id).toBe(UUID)
    expect(decoded.status).toBe("open")
    expect(Schema.encodeSync(Api.AccountResponse)(decoded)).toEqual({ message: record })
  })

  it("reads a flat record with `urn`, as older guides show, and ignores unknown keys", () => {
    // The JTIC create response of the account-types guide.
    const guide = {
      urn: `urn:zh:us:accounts:customer:${UUID}`,
      participant_code: "CUST01",
      prefunded: false,
      tier: "pro",
      type: "jtic",
      account_label: "my-label",
      tenant: ["CUST02"],
      account_group: "PLAT01"
    }
    const decoded = decode(Api.AccountResponse, guide)
    expect(decoded).toEqual({
      zrn: Zrn.unsafeParse(CUSTOMER),
      participant_code: "CUST01",
      prefunded: false,
      tier: "pro",
      type: "jtic",
      account_label: "my-label",
      account_group: "PLAT01"
    })
    expect(Schema.encodeSync(Api.AccountResponse)(decoded).message.zrn).toBe(CUSTOMER)
  })

  it("prefers zrn when both zrn and urn are sent", () => {
    const other = "zrn:zh:eu:accounts:customer:d731ff96-5c44-41d4-8eb0-3dcd5d02764a"
    expect(decode(Api.AccountRecord, { zrn: other, urn: CUSTOMER }).zrn.toString()).toBe(other)
  })

  it("keeps an unknown status and an unknown type, and lets readers narrow them", () => {
    const decoded = decode(Api.AccountRecord, { zrn: CUSTOMER, status: "frozen", type: "family_office" })
    expect(decoded.status).toBe("frozen")
    expect(decoded.type).toBe("family_office")
    expect(Api.isKnownStatus(decoded.status!)).toBe(false)
    expect(Api.isKnownAccountType(decoded.type!)).toBe(false)
    const known = decode(Api.AccountRecord, { zrn: CUSTOMER, status: "withdraw_locked" })
    expect(Api.isKnownStatus(known.status!)).toBe(true)
    expect(Schema.encodeSync(Api.AccountRecord)(decoded)).toEqual({
      zrn: CUSTOMER,
      status: "frozen",
      type: "family_office"
    })
  })

  it("keeps an unknown tier (tiers depend on the platform's configuration), in records and status reasons", () => {
    const decoded = decode(Api.AccountRecord, { zrn: CUSTOMER, tier: "platinum" })
    expect(decoded.tier).toBe("platinum")
    expect(Api.isKnownTier(decoded.tier!)).toBe(false)
    expect(Api.isKnownTier(decode(Api.AccountRecord, { zrn: CUSTOMER, tier: "gold" }).tier!)).toBe(true)
    expect(Schema.encodeSync(Api.AccountRecord)(decoded)).toEqual({ zrn: CUSTOMER, tier: "platinum" })
    expect(decode(Api.StatusReasonRecord, { zrn: CUSTOMER, tier: "platinum" }).tier).toBe("platinum")
    // A request still takes only the tiers this version knows.
    expect(
      problems(Api.UpdateAccountRequest, { prefunded: true, tier: "platinum" }).some((p) =>
        p.startsWith("tier:")
      )
    ).toBe(true)
    // Not a string: still refused.
    expect(problems(Api.AccountRecord, { zrn: CUSTOMER, tier: 3 })).toEqual([
      expect.stringMatching(/^tier: expected an account tier/)
    ])
  })

  it("reads a provisioning account (no status) and null fields as absent", () => {
    const decoded = decode(Api.AccountRecord, { zrn: CUSTOMER, status: null, tenants: null })
    expect(decoded).toEqual({ zrn: Zrn.unsafeParse(CUSTOMER) })
    expect("status" in decoded).toBe(false)
  })

  it("still refuses what it cannot read: no identifier, a ledger ZRN, a wrong-typed field", () => {
    expect(problems(Api.AccountResponse, { message: { status: "open" } })).toEqual([
      "message.zrn: is required (as zrn or urn)"
    ])
    expect(problems(Api.AccountRecord, { zrn: `zrn:zh:us:accounts:ledger:${UUID}` })).toEqual([
      `zrn: expected a customer ZRN, got a ledger ZRN "zrn:zh:us:accounts:ledger:${UUID}"`
    ])
    expect(problems(Api.AccountRecord, { zrn: CUSTOMER, status: 3 })).toEqual([
      "status: expected an account status (open, locked, withdraw_locked, divesting, closed or another string), got 3"
    ])
    expect(problems(Api.AccountResponse, "Accepted")).toEqual([
      'expected an account response, got "Accepted"'
    ])
  })
})

describe("Accepted (202 of the commands)", () => {
  it.each([{}, { message: {} }, { message: "accepted" }])("reads %j as {}", (body) => {
    expect(decode(Api.Accepted, body)).toEqual({})
  })

  it("encodes {}", () => {
    expect(Schema.encodeSync(Api.Accepted)({})).toEqual({})
  })

  it.each([
    [null, "expected a JSON object such as {}, got null"],
    [[], "expected a JSON object such as {}, got an empty array"],
    ["", 'expected a JSON object such as {}, got ""']
  ])("refuses %j", (body, message) => {
    expect(problems(Api.Accepted, body)).toEqual([message])
  })
})

describe("StatusReasonResponse", () => {
  const reason = {
    zrn: CUSTOMER,
    participant_code: "CUST01",
    platform_code: "PLAT01",
    account_label: "account-label",
    type: "individual",
    tier: "gold",
    status: "locked",
    author_type: "admin",
    reason: "compliance_issue",
    compliance_reasons: ["fraud", "sanctions_confirmed_match"],
    notes: "Account flagged for suspicious activity",
    case_number: "CASE-2024-001",
    tenants: [],
    financial_advisors: []
  }

  it("reads the wrapped body and encodes it back", () => {
    const decoded = decode(Api.StatusReasonResponse, { message: reason })
    expect(decoded.compliance_reasons).toEqual(["fraud", "sanctions_confirmed_match"])
    expect(Schema.encodeSync(Api.StatusReasonResponse)(decoded)).toEqual({ message: reason })
  })

  it("reads it flat and with urn", () => {
    const { zrn: _, ...rest } = reason
    expect(decode(Api.StatusReasonResponse, { ...rest, urn: CUSTOMER }).zrn.toString()).toBe(CUSTOMER)
  })

  it("refuses a compliance reason outside the 48 codes", () => {
    const [first] = problems(Api.StatusReasonResponse, {
      message: { ...reason, compliance_reasons: ["tax"] }
    })
    expect(first).toMatch(
      /^message\.compliance_reasons\[0\]: expected one of restricted_jurisdiction, .*, got "tax"$/
    )
  })
})

describe("LedgerAccount and LedgerPage", () => {
  // The ledger example of the account-types guide.
  const guide = {
    message: [
      {
        urn: `urn:zh:us:accounts:ledger:${LEDGER_ID}`,
        asset: "USD",
        account_owner: "ABCDEF",
        account_type: "available",
        account_group: "XYZ456",
        account_label: "general",
        balance: "0.00",
        account_id: LEDGER_ID,
        last_update: 1554395972174
      },
      {
        urn: "urn:zh:us:accounts:ledger:ce819fe8-b1d7-43bb-961c-e09ede0988d4",
        asset: "BTC",
        account_owner: "ABCDEF",
        account_type: "available",
        account_group: "XYZ456",
        account_label: "general",
        balance: "0.00000001",
        account_id: "ce819fe8-b1d7-43bb-961c-e09ede0988d4",
        last_update: 1554395972174
      }
    ],
    page: 1,
    total_pages: 1
  }

  it("reads the guide's page, urn as zrn, balances kept as strings", () => {
    const page = decode(Api.LedgerPage, guide)
    expect(page.message.map((a) => a.balance)).toEqual(["0.00", "0.00000001"])
    expect(page.message[0]!.zrn!.subdomain).toBe("ledger")
    const encoded = Schema.encodeSync(Api.LedgerPage)(page)
    expect(encoded.message?.[0]).toMatchObject({
      zrn: `zrn:zh:us:accounts:ledger:${LEDGER_ID}`,
      balance: "0.00"
    })
    expect(encoded.message?.[0]).not.toHaveProperty("urn")
  })

  it("refuses a balance sent as a number, saying why", () => {
    const entry = { asset: "USD", account_id: LEDGER_ID, balance: 12.5 }
    expect(problems(Api.LedgerAccount, entry)).toEqual([
      'balance: expected a decimal string such as "12.50" (a JSON number would lose precision), got 12.5'
    ])
    expect(problems(Api.LedgerAccount, { ...entry, balance: "1e3" })).toEqual([
      'balance: expected a decimal string such as "12.50", got "1e3"'
    ])
  })

  it("reads an entry without zrn (the OpenAPI has none) but needs account_id, asset and balance", () => {
    expect(decode(Api.LedgerAccount, { asset: "USD", account_id: LEDGER_ID, balance: "-3.5" })).toEqual({
      asset: "USD",
      account_id: LEDGER_ID,
      balance: "-3.5"
    })
    expect(problems(Api.LedgerAccount, { asset: "USD" })).toEqual([
      "account_id: is required",
      "balance: is required"
    ])
  })

  it("reads an empty page whose message is null as []", () => {
    expect(decode(Api.LedgerPage, { message: null, page: 1, total_pages: 0 })).toEqual({
      message: [],
      page: 1,
      total_pages: 0
    })
  })

  it("points at the entry at fault", () => {
    const bad = { ...guide, message: [guide.message[0], { ...guide.message[1], account_type: "savings" }] }
    expect(problems(Api.LedgerPage, bad)).toEqual([
      'message[1].account_type: expected one of available, collateral, payable, receivable, collateral_deficiency, staked, got "savings"'
    ])
  })
})

describe("LedgerQuery (strict, query-string values)", () => {
  it("decodes page to a number and zrn to a Zrn; encodes query-string values", () => {
    const query = decode(Api.LedgerQuery, { page: "2", account_owner: "CUST01", zrn: `customer:${UUID}` })
    expect(query.page).toBe(2)
    expect(query.zrn?.toString()).toBe(CUSTOMER)
    expect(Schema.encodeSync(Api.LedgerQuery)(query)).toEqual({
      page: "2",
      account_owner: "CUST01",
      zrn: CUSTOMER
    })
  })

  it("reads `urn`, as the guide writes the filter, but not both spellings", () => {
    expect(decode(Api.LedgerQuery, { urn: CUSTOMER }).zrn?.toString()).toBe(CUSTOMER)
    expect(problems(Api.LedgerQuery, { urn: CUSTOMER, zrn: CUSTOMER })).toEqual([
      "urn: send either zrn or urn, not both"
    ])
  })

  it("reads the guide's participant_code as account_owner (Decision), but not both spellings", () => {
    expect(decode(Api.LedgerQuery, { participant_code: "CUST01" })).toEqual({ account_owner: "CUST01" })
    expect(problems(Api.LedgerQuery, { participant_code: "CUST01", account_owner: "CUST02" })).toEqual([
      "participant_code: send either account_owner or participant_code, not both"
    ])
    expect(problems(Api.LedgerQuery, { participant_code: "bad code!" })).toEqual([
      expect.stringMatching(/^account_owner: expected a participant code/)
    ])
  })

  it("refuses unknown parameters and malformed values", () => {
    expect(problems(Api.LedgerQuery, { acount_owner: "CUST01", page: "0", account_type: "savings" })).toEqual(
      [
        "acount_owner: unknown query parameter; expected one of page, account_group, account_label, account_owner, asset, account_type, zrn",
        'page: expected a page number (1, 2, ...), got "0"',
        'account_type: expected one of available, collateral, payable, receivable, collateral_deficiency, staked, got "savings"'
      ]
    )
    expect(problems(Api.LedgerQuery, { page: "1.5" })).toEqual([
      'page: expected a page number (1, 2, ...), got "1.5"'
    ])
  })
})

describe("error bodies", () => {
  it.each([
    [{ errors: ["participant not found"] }, ["participant not found"]],
    [{ error: true, message: "invalid signature" }, ["invalid signature"]],
    [{ error: "Not Found" }, ["Not Found"]],
    [{ error: "Too Many Requests", code: "rate_limited", request_id: "req-1" }, ["Too Many Requests"]]
  ])("UpstreamErrorBody reads %j", (body, messages) => {
    const decoded = decode(Api.UpstreamErrorBody, body)
    expect(decoded).toEqual(body)
    expect(Api.errorMessages(decoded)).toEqual(messages)
  })

  it("keeps the proxy's code and request_id and ignores other extra fields", () => {
    expect(
      decode(Api.ValidationErrorBody, { errors: [], code: "validation", request_id: "r", trace: 1 })
    ).toEqual({
      errors: [],
      code: "validation",
      request_id: "r"
    })
  })

  it("tells the 403 body (error: true) from the others (error: string)", () => {
    expect(Schema.is(Api.ForbiddenBody)({ error: true, message: "no permission" })).toBe(true)
    expect(Schema.is(Api.ForbiddenBody)({ error: "Forbidden", message: "x" })).toBe(false)
    expect(problems(Api.UpstreamErrorBody, "Bad Gateway")).toEqual([
      'expected an error body ({"errors": [...]}, {"error": true, "message": ...} or {"error": "..."}), got "Bad Gateway"'
    ])
  })
})

describe("formatErrors", () => {
  it("takes a ParseError or a ParseIssue and drops duplicate lines", () => {
    const r = Schema.decodeUnknownEither(Api.UpdateAccountRequest)({ prefunded: 1 })
    if (Either.isRight(r)) throw new Error("expected a refusal")
    const lines = ["prefunded: expected true or false, got 1", "tier: is required"]
    expect(Api.formatErrors(r.left)).toEqual(lines)
    expect(Api.formatErrors(r.left.issue)).toEqual(lines)
  })
})

// Every wire Schema, for the round-trip properties.
const wire = {
  ParticipantCode: Api.ParticipantCode,
  PathParticipantCode: Api.PathParticipantCode,
  DecimalString: Api.DecimalString,
  StatusOrUnknown: Api.StatusOrUnknown,
  AccountTypeOrUnknown: Api.AccountTypeOrUnknown,
  CreateAccountRequest: Api.CreateAccountRequest,
  UpdateAccountRequest: Api.UpdateAccountRequest,
  ParticipantCodeRequest: Api.ParticipantCodeRequest,
  EmptyRequest: Api.EmptyRequest,
  AccountRecord: Api.AccountRecord,
  AccountResponse: Api.AccountResponse,
  Accepted: Api.Accepted,
  StatusReasonRecord: Api.StatusReasonRecord,
  StatusReasonResponse: Api.StatusReasonResponse,
  LedgerAccount: Api.LedgerAccount,
  LedgerPage: Api.LedgerPage,
  LedgerQuery: Api.LedgerQuery,
  ValidationErrorBody: Api.ValidationErrorBody,
  ForbiddenBody: Api.ForbiddenBody,
  ErrorBody: Api.ErrorBody,
  UpstreamErrorBody: Api.UpstreamErrorBody
} as const satisfies Record<string, Schema.Schema.AnyNoContext>

describe("round trips (property)", () => {
  it.each(Object.entries(wire))("%s: decode(encode(x)) equals x, through JSON text too", (_, schema) => {
    const s = schema as Schema.Schema<unknown, unknown>
    const encode = Schema.encodeSync(s)
    const decodeUnknown = Schema.decodeUnknownSync(s)
    fc.assert(
      fc.property(Arbitrary.make(s), (x) => {
        const encoded = encode(x)
        expect(decodeUnknown(encoded)).toEqual(x)
        expect(decodeUnknown(JSON.parse(JSON.stringify(encoded)))).toEqual(x)
      }),
      { numRuns: 200 }
    )
  })

  it("strict requests name any unknown key they are sent", () => {
    const key = fc
      .oneof(
        fc.string({ minLength: 1, maxLength: 12 }),
        fc.constantFrom("__proto__", "toString", "constructor")
      )
      .filter((k) => !["prefunded", "tier", "message"].includes(k))
    fc.assert(
      fc.property(Arbitrary.make(Api.UpdateAccountRequest), key, fc.jsonValue(), (body, k, v) => {
        const lines = problems(Api.UpdateAccountRequest, { ...body, [k]: v })
        expect(lines).toContain(`${k}: unknown field; expected one of prefunded, tier`)
      })
    )
  })

  it("tolerant records read any extra key as if it were absent", () => {
    fc.assert(
      fc.property(
        Arbitrary.make(Api.AccountRecord),
        fc.oneof(fc.string({ minLength: 1 }), fc.constantFrom("__proto__", "toString")),
        fc.jsonValue(),
        (record, k, v) => {
          const encoded = Schema.encodeSync(Api.AccountRecord)(record) as Record<string, unknown>
          fc.pre(!Object.hasOwn(encoded, k) && k !== "urn")
          expect(decode(Api.AccountRecord, { ...encoded, [k]: v })).toEqual(record)
        }
      )
    )
  })
})
