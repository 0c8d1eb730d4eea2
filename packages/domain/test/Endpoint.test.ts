import { Api, Endpoint, Zrn } from "@mta/domain"
import { FastCheck as fc } from "effect"
import { describe, expect, it } from "vitest"

const ZRN = "zrn:zh:us:accounts:customer:c761fc96-5c44-40d4-8eb2-3fcd5d06754e"

// Every row of upstream-api.md's endpoint table, with the client method and the proxy scope.
const rows = [
  ["createAccount", "POST", "/accounts", 202, "accounts:write"],
  ["updateAccount", "PATCH", "/accounts/{zrn}", 202, "accounts:write"],
  ["getAccount", "GET", "/accounts/{zrn}/details", 200, "accounts:read"],
  ["getStatusReason", "GET", "/account/{zrn}/status_reason", 200, "accounts:read"],
  ["lock", "POST", "/accounts/{zrn}/lock", 202, "accounts:access"],
  ["unlock", "POST", "/accounts/{zrn}/unlock", 202, "accounts:access"],
  ["withdrawLock", "POST", "/accounts/{zrn}/withdraw_lock", 202, "accounts:access"],
  ["withdrawUnlock", "POST", "/accounts/{zrn}/withdraw_unlock", 202, "accounts:access"],
  ["addTenant", "POST", "/accounts/{zrn}/tenants", 202, "accounts:members"],
  ["removeTenant", "DELETE", "/accounts/{zrn}/tenants/{tenant}", 202, "accounts:members"],
  ["addAdvisor", "POST", "/accounts/{zrn}/advisors", 202, "accounts:members"],
  ["removeAdvisor", "DELETE", "/accounts/{zrn}/advisors/{financial_advisor}", 202, "accounts:members"],
  ["divest", "POST", "/accounts/{zrn}/divest", 202, "accounts:wind_down"],
  ["close", "POST", "/accounts/{zrn}/close", 202, "accounts:wind_down"],
  ["listLedgerAccounts", "GET", "/accounts", 200, "accounts:read"],
  // participants.md, 16-19
  ["createParticipant", "POST", "/participants/customers/new", 201, "participants:write"],
  ["createMinor", "POST", "/participants/customers/minor", 201, "participants:write"],
  ["listParticipants", "GET", "/participants", 200, "participants:read"],
  ["lockParticipant", "POST", "/participants/customers/{participant_code}/lock", 200, "participants:write"]
] as const

const samplePath = (template: string): string =>
  template.replace("{zrn}", ZRN).replace("{tenant}", "CUST02").replace("{financial_advisor}", "ADVSR1")

describe("Endpoint.table", () => {
  it("holds the 19 endpoints, in the spec's order, keyed by client method", () => {
    expect(Endpoint.all.map((e) => e.name)).toEqual(rows.map(([name]) => name))
    for (const [name, endpoint] of Object.entries(Endpoint.table)) expect(endpoint.name).toBe(name)
  })

  it.each(rows)("%s is %s %s → %i, scope %s", (name, method, path, status, scope) => {
    const endpoint = Endpoint.table[name]
    expect(endpoint).toMatchObject({ method, path, successStatus: status, scope })
    expect(Endpoint.Scope.literals).toContain(endpoint.scope)
  })

  it("declares the path parameters of each template", () => {
    for (const endpoint of Endpoint.all) {
      const inTemplate = [...endpoint.path.matchAll(/\{(\w+)\}/g)].map((m) => m[1])
      expect(endpoint.params).toEqual(inTemplate)
    }
  })

  it("carries the command of each status command", () => {
    const commands = Endpoint.all.flatMap((e) => ("command" in e ? [[e.name, e.command]] : []))
    expect(commands).toEqual([
      ["lock", "lock"],
      ["unlock", "unlock"],
      ["withdrawLock", "withdraw_lock"],
      ["withdrawUnlock", "withdraw_unlock"],
      ["divest", "divest"],
      ["close", "close"]
    ])
  })

  it("names the body Schemas: commands send {} and answer Accepted; reads send no body", () => {
    expect(Endpoint.table.createAccount.request).toBe(Api.CreateAccountRequest)
    expect(Endpoint.table.createAccount.response).toBe(Api.AccountResponse)
    expect(Endpoint.table.updateAccount.request).toBe(Api.UpdateAccountRequest)
    expect(Endpoint.table.getStatusReason.response).toBe(Api.StatusReasonResponse)
    expect(Endpoint.table.addTenant.request).toBe(Api.ParticipantCodeRequest)
    expect(Endpoint.table.listLedgerAccounts.query).toBe(Api.LedgerQuery)
    expect(Endpoint.table.listLedgerAccounts.response).toBe(Api.LedgerPage)
    for (const e of Endpoint.all) {
      if ("command" in e) expect([e.request, e.response]).toEqual([Api.EmptyRequest, Api.Accepted])
      if (e.method === "GET" || e.method === "DELETE") expect(e.request).toBeUndefined()
    }
  })
})

describe("Endpoint.match", () => {
  it.each(rows)("routes %s", (name, method, path) => {
    const found = Endpoint.match(method, samplePath(path))
    expect(found?.endpoint.name).toBe(name)
  })

  it("returns the path parameters raw, for the caller to parse", () => {
    expect(Endpoint.match("DELETE", `/accounts/${ZRN}/tenants/CUST02`)?.params).toEqual({
      zrn: ZRN,
      tenant: "CUST02"
    })
    expect(Endpoint.match("DELETE", `/accounts/customer:abc/advisors/ADVSR1`)?.params).toEqual({
      zrn: "customer:abc",
      financial_advisor: "ADVSR1"
    })
    expect(Endpoint.match("GET", `/account/${ZRN}/status_reason`)?.params).toEqual({ zrn: ZRN })
    expect(Endpoint.match("GET", "/accounts")?.params).toEqual({})
  })

  it("compares the method case-insensitively (fetch does not upper-case PATCH)", () => {
    expect(Endpoint.match("patch", `/accounts/${ZRN}`)?.endpoint.name).toBe("updateAccount")
  })

  it.each([
    ["POST", "/accounts/new", "the older guides' create path"],
    ["POST", "/accounts/", "a trailing slash"],
    ["POST", `/accounts/${ZRN}/lock/`, "a trailing slash after a command"],
    ["POST", `/accounts/${ZRN}/lock/now`, "trailing garbage"],
    ["POST", `/accounts/${ZRN}//lock`, "an empty segment"],
    ["POST", `/accounts/${ZRN}/freeze`, "an unknown command"],
    ["GET", `/accounts/${ZRN}/lock`, "a command with the wrong method"],
    ["PUT", `/accounts/${ZRN}`, "PUT in place of PATCH"],
    ["DELETE", `/accounts/${ZRN}`, "deleting an account"],
    ["GET", `/accounts/${ZRN}/status_reason`, "status reason under the plural /accounts/"],
    ["GET", `/account/${ZRN}/details`, "details under the singular /account/"],
    ["DELETE", `/accounts/${ZRN}/tenants`, "removing a tenant without naming it"],
    ["POST", `/accounts/${ZRN}/tenants/CUST02`, "adding a tenant by path"],
    ["DELETE", `/accounts/${ZRN}/owners/CUST02`, "an unknown member collection"],
    ["GET", "/time", "an endpoint outside Customer Accounts"],
    ["GET", "accounts", "a path without its leading slash"],
    ["GET", "", "an empty path"],
    ["POST", `/accounts/${ZRN}/toString`, "an Object.prototype member name"]
  ])("does not route %s %s (%s)", (method, path) => {
    expect(Endpoint.match(method, path)).toBeUndefined()
  })

  it("never throws and only ever routes to an endpoint whose method agrees (property)", () => {
    const segment = fc.oneof(
      fc.constantFrom(
        "accounts",
        "account",
        "details",
        "lock",
        "tenants",
        "advisors",
        "status_reason",
        ZRN,
        ""
      ),
      fc.string()
    )
    const method = fc.constantFrom("GET", "POST", "PATCH", "DELETE", "PUT", "get")
    fc.assert(
      fc.property(method, fc.array(segment, { maxLength: 5 }), (m, segments) => {
        const found = Endpoint.match(m, `/${segments.join("/")}`)
        if (found !== undefined) {
          expect(found.endpoint.method).toBe(m.toUpperCase())
          expect(segments.length).toBe(found.endpoint.path.split("/").length - 1)
        }
      })
    )
  })

  it("methodsAt lists what answers at a path, for a 405", () => {
    expect(Endpoint.methodsAt("/accounts")).toEqual(["GET", "POST"])
    expect(Endpoint.methodsAt(`/accounts/${ZRN}`)).toEqual(["PATCH"])
    expect(Endpoint.methodsAt(`/accounts/${ZRN}/lock`)).toEqual(["POST"])
    expect(Endpoint.methodsAt("/accounts/new/more/than/enough")).toEqual([])
  })
})

describe("Endpoint.pathFor", () => {
  it("fills a template; a parsed ZRN is written canonical with its colons unencoded", () => {
    const zrn = Zrn.unsafeParse("URN:ZH:US:ACCOUNT:CUSTOMER:C761FC96-5C44-40D4-8EB2-3FCD5D06754E")
    expect(Endpoint.pathFor("lock", { zrn })).toBe(`/accounts/${ZRN}/lock`)
    expect(Endpoint.pathFor("removeAdvisor", { zrn: ZRN, financial_advisor: "ADVSR1" })).toBe(
      `/accounts/${ZRN}/advisors/ADVSR1`
    )
    expect(Endpoint.pathFor("createAccount", {})).toBe("/accounts")
    expect(Endpoint.pathFor("lockParticipant", { participant_code: "CUST03" })).toBe(
      "/participants/customers/CUST03/lock"
    )
  })

  it("routes the participant paths and nothing near them", () => {
    expect(Endpoint.match("GET", "/participants")?.endpoint.name).toBe("listParticipants")
    expect(Endpoint.match("POST", "/participants/customers/new")?.endpoint.name).toBe("createParticipant")
    expect(Endpoint.match("POST", "/participants/customers/minor")?.endpoint.name).toBe("createMinor")
    expect(Endpoint.match("POST", "/participants/customers/CUST03/lock")).toMatchObject({
      endpoint: { name: "lockParticipant" },
      params: { participant_code: "CUST03" }
    })
    for (const [method, path] of [
      ["POST", "/participants"],
      ["GET", "/participants/customers/new"],
      ["POST", "/participants/customers"],
      ["POST", "/participants/customers/CUST03/unlock"],
      ["POST", "/participants/business/new"],
      ["POST", "/participants/customers/CUST03/lock/x"]
    ] as const) {
      expect(Endpoint.match(method, path)).toBeUndefined()
    }
    expect(Endpoint.methodsAt("/participants")).toEqual(["GET"])
  })

  it("builds paths that match back to the same endpoint and parameters", () => {
    for (const endpoint of Endpoint.all) {
      const params = { zrn: ZRN, tenant: "CUST02", financial_advisor: "ADVSR1", participant_code: "CUST03" }
      const path = Endpoint.pathFor(endpoint.name, params)
      const found = Endpoint.match(endpoint.method, path)
      expect(found?.endpoint).toBe(endpoint)
      for (const key of endpoint.params) expect(found?.params[key]).toBe(params[key])
    }
  })
})
