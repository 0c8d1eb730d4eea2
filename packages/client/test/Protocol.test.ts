/**
 * The wire protocol on its own: the request of every endpoint from its row, the one query encoding,
 * the checks before anything is sent, the headers, and what each kind of response means.
 */
import {
  AuthenticationError,
  DecodeError,
  InvalidInput,
  NotFound,
  OutcomeUnknown,
  Protocol,
  RateLimited,
  Signing,
  signRequest
} from "@mta/client"
import { Endpoint, Zrn } from "@mta/domain"
import { Either, Redacted } from "effect"
import { describe, expect, it } from "vitest"

const UUID = "c761fc96-5c44-40d4-8eb2-3fcd5d06754e"
const ZRN = `zrn:zh:us:accounts:customer:${UUID}`
const T = Endpoint.table
const meta = { requestId: "r-1" }

const headersOf = (h: Record<string, string> = {}) => ({
  get: (name: string) => h[name.toLowerCase()] ?? null
})
const received = (status: number, text: string, h?: Record<string, string>): Protocol.Received => ({
  status,
  text,
  headers: headersOf(h)
})

describe("Protocol.request", () => {
  it("builds every endpoint's method, path and body from its row", () => {
    const sent = (row: Protocol.Row, args: ReadonlyArray<unknown>) => {
      const r = Protocol.request(row, args as never, meta)
      return `${r.method} ${r.path} ${r.body ?? "-"}`
    }
    const body = {
      participant_code: "CUST01",
      account_label: "x",
      type: "individual",
      tier: "pro",
      prefunded: true
    }
    expect(sent(T.createAccount, [body])).toBe(`POST /accounts ${JSON.stringify(body)}`)
    expect(sent(T.updateAccount, [ZRN, { prefunded: false, tier: "gold" }])).toBe(
      `PATCH /accounts/${ZRN} {"prefunded":false,"tier":"gold"}`
    )
    expect(sent(T.getAccount, [ZRN])).toBe(`GET /accounts/${ZRN}/details -`)
    expect(sent(T.getStatusReason, [Zrn.unsafeParse(ZRN)])).toBe(`GET /account/${ZRN}/status_reason -`)
    expect(sent(T.withdrawUnlock, [ZRN])).toBe(`POST /accounts/${ZRN}/withdraw_unlock {}`)
    expect(sent(T.addAdvisor, [ZRN, "ADVSR1"])).toBe(
      `POST /accounts/${ZRN}/advisors {"participant_code":"ADVSR1"}`
    )
    expect(sent(T.removeTenant, [ZRN, "CUST02"])).toBe(`DELETE /accounts/${ZRN}/tenants/CUST02 -`)
    expect(sent(T.removeAdvisor, [ZRN, "ADVSR1"])).toBe(`DELETE /accounts/${ZRN}/advisors/ADVSR1 -`)
    expect(sent(T.listLedgerAccounts, [])).toBe("GET /accounts -")
    for (const row of Endpoint.all)
      expect(Protocol.request(row, [ZRN, "CUST02", {}] as never, meta).operation).toBe(row.name)
  })

  it("writes a query in the wire order, ':' kept, other characters percent-encoded, a parsed ZRN canonical", () => {
    const path = (query: Record<string, unknown>) =>
      Protocol.request(T.listLedgerAccounts, [query] as never, meta).path
    // zerohash's order (signing vector 1), whatever order the keys come in.
    expect(path({ account_group: "BBLGTW", account_owner: "00SCXM" })).toBe(
      "/accounts?account_owner=00SCXM&account_group=BBLGTW"
    )
    expect(path({ zrn: Zrn.unsafeParse(ZRN), page: 2, asset: "a b&c" })).toBe(
      `/accounts?page=2&asset=a%20b%26c&zrn=${ZRN}`
    )
    expect(path({ page: undefined })).toBe("/accounts")
    expect(Protocol.encodeQuery({ b: "x:y", a: 1 }, ["a"])).toBe("?a=1&b=x:y")
    expect(Protocol.encodeQuery({})).toBe("")
  })

  it("carries the request id and the idempotency key", () => {
    const r = Protocol.request(T.lock, [ZRN], { requestId: "r-9", idempotencyKey: "k-1" })
    expect([r.requestId, r.idempotencyKey]).toEqual(["r-9", "k-1"])
  })
})

describe("Protocol.prepare", () => {
  const prepare = (row: Protocol.Row, args: ReadonlyArray<unknown>, geo?: "eu") =>
    Protocol.prepare(row, args as never, { ...meta, geo })

  it("accepts every ZRN form, sends it canonical (short forms in the client's geo)", () => {
    const right = (e: Either.Either<Protocol.Request, InvalidInput>) => Either.getOrThrow(e).path
    expect(right(prepare(T.lock, [`customer:${UUID}`]))).toBe(`/accounts/${ZRN}/lock`)
    expect(right(prepare(T.lock, [UUID], "eu"))).toBe(`/accounts/zrn:zh:eu:accounts:customer:${UUID}/lock`)
    expect(right(prepare(T.listLedgerAccounts, [{ zrn: `customer:${UUID}`, page: 3 }]))).toBe(
      `/accounts?page=3&zrn=${ZRN}`
    )
  })

  it("refuses the first argument at fault, naming it, before anything is sent", () => {
    const field = (e: Either.Either<Protocol.Request, InvalidInput>) => {
      const error = Either.flip(e).pipe(Either.getOrThrow)
      expect(error).toBeInstanceOf(InvalidInput)
      expect(error.message).toContain("(nothing was sent)")
      return [error.operation, error.field, error.requestId]
    }
    expect(field(prepare(T.updateAccount, ["nope", { tier: 1 }]))).toEqual(["updateAccount", "zrn", "r-1"])
    expect(field(prepare(T.updateAccount, [ZRN, { tier: "gold" }]))).toEqual(["updateAccount", "body", "r-1"])
    expect(field(prepare(T.lock, [`zrn:zh:us:accounts:ledger:${UUID}`]))[1]).toBe("zrn")
    expect(field(prepare(T.addTenant, [ZRN, "toolong1"]))[1]).toBe("participantCode")
    expect(field(prepare(T.removeAdvisor, [ZRN, "a/b"]))[1]).toBe("participantCode")
    expect(field(prepare(T.listLedgerAccounts, [{ page: 0 }]))[1]).toBe("query")
    expect(field(prepare(T.listLedgerAccounts, [{ colour: "red" }]))[1]).toBe("query")
    expect(field(prepare(T.listLedgerAccounts, [{ zrn: "nope" }]))[1]).toBe("zrn")
  })
})

describe("Protocol.headers", () => {
  const request = Protocol.request(T.addTenant, [ZRN, "CUST02"], { requestId: "r-2", idempotencyKey: "k" })

  it("signs the exact path and body at the given time, zerohash's way", () => {
    const secret = Buffer.from("protocol-test-secret").toString("base64")
    const auth: Protocol.Auth = {
      kind: "signed",
      apiKey: "key",
      passphrase: Redacted.make("pass"),
      sign: Signing.makeSigner(secret)
    }
    const h = Protocol.headers(auth, request, "ua/1", 1_714_445_421_999)
    expect(h).toEqual({
      accept: "application/json",
      "content-type": "application/json",
      "user-agent": "ua/1",
      "x-request-id": "r-2",
      "idempotency-key": "k",
      "X-SCX-API-KEY": "key",
      "X-SCX-PASSPHRASE": "pass",
      "X-SCX-TIMESTAMP": "1714445421",
      "X-SCX-SIGNED": signRequest({
        apiSecret: secret,
        timestamp: "1714445421",
        method: "POST",
        path: request.path,
        body: request.body
      })
    })
  })

  it("sends a bearer token and no X-SCX header to the proxy; no content type without a body", () => {
    const get = Protocol.request(T.getAccount, [ZRN], meta)
    const h = Protocol.headers({ kind: "bearer", token: Redacted.make("t") }, get, "ua/1", 0)
    expect(h).toEqual({
      accept: "application/json",
      "user-agent": "ua/1",
      "x-request-id": "r-1",
      authorization: "Bearer t"
    })
  })
})

describe("Protocol.response", () => {
  const read = Protocol.request(T.getAccount, [ZRN], meta)
  const lock = Protocol.request(T.lock, [ZRN], meta)

  it("decodes a success with the endpoint's response Schema; a 202 command's body is nothing", () => {
    const account = Protocol.response(T.getAccount, read, received(200, `{"message":{"zrn":"${ZRN}"}}`), 0)
    expect(Zrn.format(Either.getOrThrow(account).zrn)).toBe(ZRN)
    expect(Protocol.response(T.lock, lock, received(202, ""), 0)).toEqual(Either.right(undefined))
    expect(Protocol.response(T.lock, lock, received(202, '{"message":{}}'), 0)).toEqual(
      Either.right(undefined)
    )
  })

  it("answers a DecodeError for a body that is not JSON or not the documented shape", () => {
    const reason = (status: number, text: string) => {
      const error = Either.flip(Protocol.response(T.getAccount, read, received(status, text), 0)).pipe(
        Either.getOrThrow
      )
      expect(error).toBeInstanceOf(DecodeError)
      return (error as DecodeError).reason
    }
    expect(reason(200, "not json")).toBe("InvalidJson")
    expect(reason(200, "")).toBe("InvalidJson")
    expect(reason(200, '{"message":{"zrn":42}}')).toBe("SchemaMismatch")
    expect(reason(302, "")).toBe("UnexpectedStatus")
  })

  it("maps any other status as the client's error mapping does (the method decides OutcomeUnknown)", () => {
    const error = (request: Protocol.Request, status: number, h?: Record<string, string>) =>
      Either.flip(Protocol.response(T.getAccount, request, received(status, '{"error":"x"}', h), 1_000)).pipe(
        Either.getOrThrow
      )
    expect(error(read, 404)).toBeInstanceOf(NotFound)
    expect(error(read, 401)).toBeInstanceOf(AuthenticationError)
    expect(error(read, 429, { "retry-after": "3" })).toMatchObject({
      _tag: "RateLimited",
      retryAfterMs: 3_000
    })
    expect(error(read, 429)).toBeInstanceOf(RateLimited)
    expect(error(lock, 502)).toBeInstanceOf(OutcomeUnknown)
    expect(error(read, 502)._tag).toBe("ServerError")
    expect(error(read, 404)).toMatchObject({ requestId: "r-1", operation: "getAccount", messages: ["x"] })
  })
})

/** Methods that answer their endpoint's name. */
interface Named extends Protocol.Kind {
  readonly type: string
}

describe("Protocol.methods", () => {
  it("makes one method per endpoint, each passing exactly its arguments and then the options", () => {
    const seen: Array<unknown> = []
    const methods = Protocol.methods<string, Named>((row, args, options) => {
      seen.push([row.name, args, options])
      return row.name
    })
    expect(Object.keys(methods).sort()).toEqual(
      Endpoint.all.map((row) => Protocol.methodName(row.name as Endpoint.Name)).sort()
    )
    expect(methods.getLedgerPage()).toBe("listLedgerAccounts")
    methods.getLedgerPage(undefined, "o")
    methods.addTenant(ZRN, "CUST02", "o")
    methods.lock(ZRN)
    expect(seen).toEqual([
      ["listLedgerAccounts", [undefined], undefined],
      ["listLedgerAccounts", [undefined], "o"],
      ["addTenant", [ZRN, "CUST02"], "o"],
      ["lock", [ZRN], undefined]
    ])
    expect(Endpoint.all.map(Protocol.arity)).toEqual([
      1, 2, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 1, 1, 1, 1, 1, 1, 2
    ])
  })
})
