// A JSON document as fleet prints it. JSON.stringify escapes C0 control characters but leaves DEL,
// C1 (U+007F..U+009F; U+009B alone starts a terminal control sequence) and the characters that
// reorder a line (bidirectional overrides, isolates, marks, separators) raw: host text in a `--json`
// document read on a terminal must not act on it either. Escaped, the parsed value is the same.
// (Those characters can only stand inside JSON strings, where \uXXXX is their escape.)
export function jsonText(value: unknown): string {
  return JSON.stringify(value, null, 2).replace(/[\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
}
