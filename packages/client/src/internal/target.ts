/**
 * Where a `node:http` request goes, from its URL, without a WHATWG `URL` per request.
 *
 * A client (or the proxy) sends every request to one origin, so the origin (`https://host:port`, as
 * the URL spells it) is parsed once and remembered; the path is the rest of the URL, used as it is
 * when it is one `new URL(url)` would leave unchanged (plain printable ASCII, no dot segment, no
 * fragment, no empty query). Anything else (`/a/../b`, a space, a `#fragment`, no `://`) takes the slow path, a full
 * `new URL(url)`, so what goes on the wire is exactly what `pathname + search` would have been.
 */

/** One parsed origin. */
export interface Target {
  /** The origin as the URL spelled it (scheme and authority), the cache key. */
  readonly prefix: string
  readonly protocol: string
  readonly secure: boolean
  /** Without IPv6 brackets, as `http.request` wants it. */
  readonly hostname: string
  readonly port: string
}

const targetOf = (prefix: string, url: URL): Target => ({
  prefix,
  protocol: url.protocol,
  secure: url.protocol === "https:",
  hostname: url.hostname.startsWith("[") ? url.hostname.slice(1, -1) : url.hostname,
  port: url.port
})

/**
 * Where the authority of `url` ends (at its first `/`, `?` or `#`, or its end), or -1 when the URL is
 * not a plain `scheme://authority…` one (the slow path decides).
 */
const authorityEnd = (url: string): number => {
  const scheme = url.indexOf("://")
  if (scheme <= 0) return -1
  for (let i = scheme + 3; i < url.length; i++) {
    const c = url.charCodeAt(i)
    if (c === 47 /* / */ || c === 63 /* ? */ || c === 35 /* # */) return i
    // A backslash (read as `/`) or white space (trimmed at the ends only): the slow path decides.
    if (c === 92 /* \ */ || c <= 0x20) return -1
  }
  return url.length
}

// Printable ASCII that `new URL` may rewrite in a path or a query (percent-encodes it, or reads it
// as a separator), or that ends the path (`#`); anything outside 0x21–0x7e too.
const UNSAFE = new Uint8Array(128)
for (const c of "\"#'<>\\^`{|}") UNSAFE[c.charCodeAt(0)] = 1

/** Whether `new URL` would leave the path and query starting at `start` exactly as they are. */
const plainPath = (url: string, start: number): boolean => {
  let query = false
  for (let i = start; i < url.length; i++) {
    const c = url.charCodeAt(i)
    if (c <= 0x20 || c >= 0x7f || UNSAFE[c] === 1) return false
    if (c === 63 /* ? */) {
      // An empty query is dropped by `new URL` (`search` is "").
      if (i === url.length - 1) return false
      query = true
    } else if (!query) {
      // A dot segment (`/.`, `/..`, `/%2e`) is resolved by `new URL`: leave it to the slow path.
      if (c === 46 /* . */ && url.charCodeAt(i - 1) === 47) return false
      if (c === 37 /* % */ && url.charCodeAt(i + 1) === 50 && (url.charCodeAt(i + 2) | 0x20) === 101)
        return false
    }
  }
  return true
}

/** Origins seen (a handful in practice; forgotten all at once past this many). */
const MAX_ORIGINS = 64

/** The origins of one transport, each parsed once. */
export class Targets {
  private last: Target | undefined
  private readonly known = new Map<string, Target>()

  /**
   * The origin of `url` and the path to request (with its query). Throws what `new URL` throws for
   * a URL it cannot parse.
   */
  resolve(url: string): { readonly target: Target; readonly path: string } {
    const last = this.last
    let end: number
    let target: Target | undefined
    if (last !== undefined && url.startsWith(last.prefix)) {
      end = last.prefix.length
      const next = url.charCodeAt(end)
      // Same origin only if the authority ends there (`http://h:80` is not `http://h:8080`).
      if (next === 47 || next === 63 || next === 35 || Number.isNaN(next)) target = last
    } else {
      end = -1
    }
    if (target === undefined) {
      end = authorityEnd(url)
      if (end === -1) return this.slow(url)
      const prefix = url.slice(0, end)
      target = this.known.get(prefix)
      if (target === undefined) {
        target = targetOf(prefix, new URL(prefix))
        if (this.known.size >= MAX_ORIGINS) this.known.clear()
        this.known.set(prefix, target)
      }
      this.last = target
    }
    if (!plainPath(url, end)) return this.slow(url)
    if (end === url.length) return { target, path: "/" }
    return { target, path: url.charCodeAt(end) === 63 ? `/${url.slice(end)}` : url.slice(end) }
  }

  private slow(url: string): { readonly target: Target; readonly path: string } {
    const parsed = new URL(url)
    return { target: targetOf(parsed.origin, parsed), path: `${parsed.pathname}${parsed.search}` }
  }
}
