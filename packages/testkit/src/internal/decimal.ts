/**
 * Decimal strings for ledger balances. Balances are never parsed into floating point: they are
 * scaled integers (`bigint`) while added, and strings everywhere else.
 */

const DECIMAL = /^-?(0|[1-9]\d*)(\.\d+)?$/

/** Whether `s` is a plain decimal string (`"12.50"`, `"-0.00000001"`, `"0"`). */
export const isDecimal = (s: string): boolean => DECIMAL.test(s)

/** Whether a decimal string is zero (`"0"`, `"0.00"`, `"-0.0"`). */
export const isZero = (s: string): boolean => !/[1-9]/.test(s)

const scaleOf = (s: string): number => {
  const dot = s.indexOf(".")
  return dot === -1 ? 0 : s.length - dot - 1
}

const toScaled = (s: string, scale: number): bigint => {
  const negative = s.startsWith("-")
  const body = negative ? s.slice(1) : s
  const [whole = "0", fraction = ""] = body.split(".")
  const n = BigInt(whole + fraction.padEnd(scale, "0"))
  return negative ? -n : n
}

const fromScaled = (n: bigint, scale: number): string => {
  const negative = n < 0n
  const digits = (negative ? -n : n).toString().padStart(scale + 1, "0")
  const text = scale === 0 ? digits : `${digits.slice(0, -scale)}.${digits.slice(-scale)}`
  return negative ? `-${text}` : text
}

/** `a + b`, exactly, keeping the larger number of decimals. */
export const add = (a: string, b: string): string => {
  const scale = Math.max(scaleOf(a), scaleOf(b))
  return fromScaled(toScaled(a, scale) + toScaled(b, scale), scale)
}
