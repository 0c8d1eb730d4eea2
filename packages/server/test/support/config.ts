/** Loading a configuration in the Config tests: the config it must be, or the problems it must have. */
import { Callers, Config } from "@mta/server"
import { Either } from "effect"

/** The configuration `env` loads to; throws with its problems when it does not load. */
export const ok = (env: Config.Env): Config.Config => {
  const r = Config.load(env)
  if (Either.isLeft(r)) throw new Error(r.left.message)
  return r.right
}

/** The problems `env` has; throws when it loads. */
export const problems = (env: Config.Env): Config.ConfigError => {
  const r = Config.load(env)
  if (Either.isRight(r)) throw new Error("expected a ConfigError")
  return r.left
}

/** The settings of a real upstream (every required one, one caller): what tests start from. */
export const remote = {
  ZH_BASE_URL: "http://127.0.0.1:4010",
  ZH_API_KEY: "key",
  ZH_API_SECRET: "c2VjcmV0LXNlY3JldA==",
  ZH_API_PASSPHRASE: "pass",
  ZH_WEBHOOK_SECRET: "whsec",
  MTA_CALLERS: JSON.stringify([
    { name: "ops", token_sha256: Callers.hashToken("t"), scopes: ["accounts:read"] }
  ])
}
