// POSIX shell quoting. zx's `quote` emits bash-only $'...' strings, which dash (Debian's /bin/sh)
// takes literally, so fleet quotes the portable way: plain words stay bare, everything else goes in
// single quotes with embedded single quotes written as '\''.

const SAFE_WORD = /^[A-Za-z0-9_@%+=:,./-]+$/

export function quote(word: string | number): string {
  const text = String(word)
  if (text !== '' && SAFE_WORD.test(text)) return text
  return `'${text.replaceAll("'", `'\\''`)}'`
}

// A tagged template for remote commands: literal text is trusted (written by fleet or a role
// author), every interpolated value becomes exactly one quoted word (arrays: one word each).
export function sh(strings: TemplateStringsArray, ...values: unknown[]): string {
  let out = strings[0] ?? ''
  values.forEach((value, i) => {
    const words = Array.isArray(value) ? value : [value]
    out += words.map((w) => quote(String(w))).join(' ') + (strings[i + 1] ?? '')
  })
  return out
}
