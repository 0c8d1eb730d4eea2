/** The shared test vectors (`shared/spec/vectors.json`), read where the workspace keeps them. */
import { readFileSync } from "node:fs"

export interface Vectors {
  readonly request_signing: {
    readonly api_secret_base64: string
    readonly vectors: ReadonlyArray<{
      readonly timestamp: string
      readonly method: string
      readonly path: string
      readonly body: string
      readonly signature: string
    }>
  }
  readonly webhook_signing: {
    readonly secret: string
    readonly vectors: ReadonlyArray<{
      readonly raw_body: string
      readonly timestamp: string
      readonly notification_id: string
      readonly signature: string
      readonly legacy_signature_256: string
    }>
  }
}

export const vectorsUrl = new URL("../../../../shared/spec/vectors.json", import.meta.url)

/** The vectors, or `undefined` when the shared folder is not beside the work tree. */
export const loadVectors = (): Vectors | undefined => {
  try {
    return JSON.parse(readFileSync(vectorsUrl, "utf8")) as Vectors
  } catch {
    return undefined
  }
}
