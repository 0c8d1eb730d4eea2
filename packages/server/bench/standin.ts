/**
 * The benchmark's upstream stand-in, for callers that start it through tsx (`bench/store.ts`): the
 * stand-in itself is `standin.mjs`, plain JavaScript that `bench/run.ts` runs with `node` alone.
 * Usage: `standin.ts [port]`. Prints `READY <port>` when listening.
 */
import "./standin.mjs"
