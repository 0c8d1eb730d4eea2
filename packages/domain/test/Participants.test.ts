import { Api, Enums, Participants } from "@mta/domain"
import { Either, Schema } from "effect"
import { describe, expect, it } from "vitest"

const NOW = Date.UTC(2026, 11, 6, 12, 0, 0)

const adult = {
  first_name: "Ada",
  last_name: "Lovelace",
  email: "ada@example.com",
  address_one: "1 Main St",
  city: "Chicago",
  jurisdiction_code: "US-IL",
  date_of_birth: "1990-04-21",
  sanction_screening: "pass",
  sanction_screening_timestamp: NOW - 60_000
}

const minor = {
  first_name: "Tim",
  last_name: "Lovelace",
  email: "tim@example.com",
  address_one: "1 Main St",
  city: "Chicago",
  jurisdiction_code: "US-IL",
  date_of_birth: "2015-01-01",
  custodian_participant_code: "CUST01",
  custodian_relationship: "parent"
}

const problemsOf = <A, I>(schema: Schema.Schema<A, I>, input: unknown): Array<string> => {
  const r = Schema.decodeUnknownEither(schema, { errors: "all" })(input)
  return Either.isLeft(r) ? Api.formatErrors(r.left) : []
}

describe("create customer (16) and minor (17) bodies", () => {
  it("accepts the contract's fields and keeps the fields it does not name (Decision)", () => {
    const body = { ...adult, occupation: "mathematician", employment_status: "employed" }
    const decoded = Schema.decodeUnknownSync(Participants.CreateCustomerRequest)(body)
    expect(decoded).toEqual(body)
    expect(Schema.encodeSync(Participants.CreateCustomerRequest)(decoded)).toEqual(body)
  })

  it("reports every missing required field at once", () => {
    const problems = problemsOf(Participants.CreateCustomerRequest, {})
    for (const field of [
      "first_name",
      "last_name",
      "email",
      "address_one",
      "city",
      "jurisdiction_code",
      "date_of_birth",
      "sanction_screening",
      "sanction_screening_timestamp"
    ]) {
      expect(problems.some((p) => p.startsWith(`${field}:`))).toBe(true)
    }
  })

  it("names each malformed field and what was expected", () => {
    const problems = problemsOf(Participants.CreateCustomerRequest, {
      ...adult,
      email: "not-an-email",
      jurisdiction_code: "Illinois",
      date_of_birth: "1990-02-30",
      citizenship_code: "usa",
      kyc: "maybe",
      metadata: "[1,2]",
      signed_agreements: [{ type: "terms", region: "us" }]
    })
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^email: expected an email address/),
        expect.stringMatching(/^jurisdiction_code: expected an ISO 3166-2 code/),
        expect.stringMatching(/^date_of_birth: expected a date YYYY-MM-DD that exists/),
        expect.stringMatching(/^citizenship_code: expected an ISO 3166-1 alpha-2/),
        expect.stringMatching(/^kyc: expected "pass" or "fail"/),
        expect.stringMatching(/^metadata: expected an object, or a string holding a JSON object/),
        expect.stringMatching(/^signed_agreements\[0\]\.signed_timestamp: /)
      ])
    )
  })

  it("accepts metadata as an object or as a string holding one", () => {
    expect(problemsOf(Participants.CreateCustomerRequest, { ...adult, metadata: { a: 1 } })).toEqual([])
    expect(problemsOf(Participants.CreateCustomerRequest, { ...adult, metadata: '{"a":1}' })).toEqual([])
  })

  it("refuses a body wrapped in message, saying what to send", () => {
    const problems = problemsOf(Participants.CreateCustomerRequest, { message: adult })
    expect(problems).toEqual([expect.stringContaining("the body is not wrapped")])
  })

  it("refuses what is not an object", () => {
    expect(problemsOf(Participants.CreateMinorRequest, [1])).toEqual([
      expect.stringContaining("expected a JSON object with the minor's fields")
    ])
  })

  it("checks a minor's custodian fields", () => {
    expect(problemsOf(Participants.CreateMinorRequest, minor)).toEqual([])
    const problems = problemsOf(Participants.CreateMinorRequest, {
      ...minor,
      custodian_participant_code: "CUST1",
      custodian_relationship: "uncle"
    })
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^custodian_participant_code: expected a participant code of exactly 6/),
        expect.stringMatching(/^custodian_relationship: expected "parent" or "legal_guardian"/)
      ])
    )
  })
})

describe("clockProblems: the rules that need a clock", () => {
  it("passes an adult with fresh timestamps", () => {
    expect(Participants.clockProblems("customer", adult, NOW)).toEqual([])
  })

  it("refuses timestamps over a year old or over a day ahead, naming the field", () => {
    const problems = Participants.clockProblems(
      "customer",
      { ...adult, sanction_screening_timestamp: NOW - 366 * 86_400_000, kyc_timestamp: NOW + 2 * 86_400_000 },
      NOW
    )
    expect(problems).toEqual([
      expect.stringMatching(/^sanction_screening_timestamp: must be at most one year in the past/),
      expect.stringMatching(/^kyc_timestamp: must be at most one day in the future/)
    ])
  })

  it("accepts the edges: exactly one year back and one day ahead", () => {
    const body = {
      ...adult,
      sanction_screening_timestamp: NOW - 365 * 86_400_000,
      signed_timestamp: NOW + 86_400_000
    }
    expect(Participants.clockProblems("customer", body, NOW)).toEqual([])
  })

  it("an adult for 16 and a minor for 17, on the day of the 18th birthday", () => {
    const turns18Today = "2008-12-06"
    const turns18Tomorrow = "2008-12-07"
    expect(Participants.ageAt(turns18Today, NOW)).toBe(18)
    expect(Participants.ageAt(turns18Tomorrow, NOW)).toBe(17)
    expect(Participants.clockProblems("customer", { ...adult, date_of_birth: turns18Today }, NOW)).toEqual([])
    expect(Participants.clockProblems("customer", { ...adult, date_of_birth: turns18Tomorrow }, NOW)).toEqual(
      [expect.stringMatching(/^date_of_birth: a customer must be an adult \(18 or older\), got age 17/)]
    )
    expect(Participants.clockProblems("minor", { ...minor, date_of_birth: turns18Tomorrow }, NOW)).toEqual([])
    expect(Participants.clockProblems("minor", { ...minor, date_of_birth: turns18Today }, NOW)).toEqual([
      expect.stringMatching(/^date_of_birth: a minor must be under 18, got age 18/)
    ])
    expect(Participants.clockProblems("minor", { ...minor, date_of_birth: "2027-01-01" }, NOW)).toEqual([
      "date_of_birth: 2027-01-01 is in the future"
    ])
  })

  it("refuses failed KYC or sanction screening, naming the field", () => {
    expect(
      Participants.clockProblems("customer", { ...adult, kyc: "fail", sanction_screening: "fail" }, NOW)
    ).toEqual([
      'kyc: zerohash does not accept a participant whose kyc is "fail"',
      'sanction_screening: zerohash does not accept a participant whose sanction_screening is "fail"'
    ])
  })
})

describe("list (18) and lock (19)", () => {
  it("decodes the filters and refuses unknown ones naming the accepted ones", () => {
    expect(
      Schema.decodeUnknownSync(Participants.ParticipantQuery)({
        status: "approved",
        minors: "true",
        page: "2"
      })
    ).toEqual({ status: "approved", minors: "true", page: 2 })
    expect(problemsOf(Participants.ParticipantQuery, { statuz: "approved" })).toEqual([
      "statuz: unknown query parameter; expected one of participant_code, email, status, minors, page"
    ])
    expect(problemsOf(Participants.ParticipantQuery, { status: "open", page: "0" })).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^status: expected one of submitted, pending_approval, approved/),
        expect.stringMatching(/^page: expected a page number/)
      ])
    )
  })

  it("reads a page tolerantly: null reason codes, unknown statuses and extra fields", () => {
    const page = Schema.decodeUnknownSync(Participants.ParticipantPage)({
      message: [
        {
          participant_code: "CUST01",
          participant_name: "Ada Lovelace",
          email: "ada@example.com",
          status: "approved",
          reason_code: null,
          jurisdiction_code: "US-IL",
          updated_at: NOW,
          extra: true
        },
        { participant_code: "CUST02", status: "under_review" }
      ],
      count: 2,
      page: 1,
      page_size: 15,
      total_pages: 1
    })
    expect(page.message[0]?.reason_code).toBeUndefined()
    expect(page.message[1]?.status).toBe("under_review")
    expect(Participants.isKnownStatus("under_review")).toBe(false)
  })

  it("takes exactly reason_code and notes on a lock", () => {
    expect(
      Schema.decodeUnknownSync(Participants.LockParticipantRequest)({
        reason_code: "user_request",
        notes: "closed"
      })
    ).toEqual({ reason_code: "user_request", notes: "closed" })
    expect(problemsOf(Participants.LockParticipantRequest, { reason_code: "fraud", force: true })).toEqual(
      expect.arrayContaining([
        "force: unknown field; expected one of reason_code, notes",
        expect.stringMatching(/^reason_code: expected "user_request" or "compliance_issue"/),
        expect.stringMatching(/^notes: /)
      ])
    )
  })
})

describe("participant_status_changed payload", () => {
  it("keeps unknown statuses and fields, and reads null as absent", () => {
    const decoded = Schema.decodeUnknownSync(Participants.StatusChangedPayload)({
      participant_code: "CUST01",
      participant_status: "frozen",
      timestamp: NOW,
      reason_code: null,
      new_field: 1
    })
    expect(decoded).toEqual({
      participant_code: "CUST01",
      participant_status: "frozen",
      timestamp: NOW,
      new_field: 1
    })
  })

  it("reads a rejection with its reasons and attempts", () => {
    const decoded = Schema.decodeUnknownSync(Participants.StatusChangedPayload)({
      participant_code: "CUST01",
      participant_status: "rejected",
      timestamp: NOW,
      reason_code: "id_mismatch",
      reject_reasons: ["id_mismatch", "address"],
      kyc_attempts: 1
    })
    expect(decoded.reject_reasons).toEqual(["id_mismatch", "address"])
  })

  it("requires the code, the status and the timestamp", () => {
    expect(problemsOf(Participants.StatusChangedPayload, {})).toEqual([
      "participant_code: is required",
      "participant_status: is required",
      "timestamp: is required"
    ])
  })
})

describe("the participant lifecycle", () => {
  const statuses = Enums.ParticipantStatus.literals
  const allMoves = Object.keys(Participants.moves) as Array<Participants.Move>

  it("every (status, move) pair either follows the table or is refused naming what is allowed", () => {
    for (const from of statuses) {
      for (const move of allMoves) {
        const result = Participants.transition(from, move)
        const rule = Participants.moves[move]
        if ((rule.from as ReadonlyArray<string>).includes(from)) expect(result).toEqual(Either.right(rule.to))
        else {
          expect(Either.isLeft(result)).toBe(true)
          if (Either.isLeft(result)) expect(result.left.message).toContain(from)
        }
      }
    }
  })

  it("once locked, the platform cannot lock again: only zerohash changes the status", () => {
    for (const from of ["locked", "pending_unlock", "pending_disable"]) {
      const result = Participants.transition(from, "platform_lock")
      expect(Either.isLeft(result) && result.left.message).toMatch(/already locked.*only zerohash/)
    }
    expect(Participants.actorOf("platform_lock")).toBe("platform")
    expect(Participants.actorOf("unlock")).toBe("zerohash")
  })

  it("the compliance paths of the contract", () => {
    const walk = (from: string, ...path: Array<Participants.Move>) =>
      path.reduce((s, m) => Either.getOrThrow(Participants.transition(s, m)) as string, from)
    expect(walk("approved", "compliance_lock", "request_unlock", "unlock")).toBe("approved")
    expect(walk("approved", "compliance_lock", "request_disable", "disable", "divest")).toBe("divested")
    expect(walk("approved", "platform_lock", "request_disable", "disable", "close")).toBe("closed")
    expect(walk("submitted", "kyc_pending", "kyc_rejected", "resubmit", "kyc_approved")).toBe("approved")
    expect([...Participants.unannounced].sort()).toEqual(["pending_disable", "pending_unlock"])
  })
})
