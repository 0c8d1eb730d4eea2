/** Loading a configuration in the Config tests: the config it must be, or the problems it must have. */
import { Config } from "@mta/server"
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
