// A JSON document as fleet prints it. JSON.stringify escapes C0 control characters but leaves DEL
// and C1 (U+007F..U+009F) raw, and U+009B alone starts a terminal control sequence: host text in a
// `--json` document read on a terminal must not act on it either. Escaped, the parsed value is the
// same. (Those characters can only stand inside JSON strings, where \uXXXX is their escape.)
export function jsonText(value: unknown): string {
  return JSON.stringify(value, null, 2).replace(/[\x7f-\x9f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
}
