/**
 * The shared signing vectors (`shared/spec/vectors.json`, beside the repository), read once for the tests.
 */
import { readFileSync } from "node:fs"

interface RequestVector {
  readonly source: string
  readonly timestamp: string
  readonly method: string
  readonly path: string
  readonly body: string
  readonly signature: string
}

interface WebhookVector {
  readonly raw_body: string
  readonly timestamp: string
  readonly notification_id: string
  readonly signature: string
  readonly legacy_signature_256: string
}

interface Vectors {
  readonly request_signing: {
    readonly api_secret_base64: string
    readonly vectors: ReadonlyArray<RequestVector>
  }
  readonly webhook_signing: { readonly secret: string; readonly vectors: ReadonlyArray<WebhookVector> }
}

/** The parsed `vectors.json`. */
export const vectors: Vectors = JSON.parse(
  readFileSync(new URL("../../../../shared/spec/vectors.json", import.meta.url), "utf8")
) as Vectors
