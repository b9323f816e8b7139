// POSIX shell quoting, for fleet's scripts and as zx's `$.quote` in roles (recording-shell.ts).
// zx's own `quote` emits bash-only $'...' strings, which dash (Debian's /bin/sh) takes literally,
// so fleet quotes the portable way: plain words stay bare, everything else goes in single quotes
// with embedded single quotes written as '\''.

const SAFE_WORD = /^[A-Za-z0-9_@%+=:,./-]+$/

export function quote(word: string | number): string {
  const text = String(word)
  if (text !== '' && SAFE_WORD.test(text)) return text
  return `'${text.replaceAll("'", `'\\''`)}'`
}
