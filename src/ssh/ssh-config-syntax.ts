// ssh_config lines and patterns exactly as OpenSSH splits and matches them (readconf.c, misc.c
// argv_split, match.c), so that a value quoted, commented or written `Key=value` means to fleet
// what it means to ssh.
import { globToRegExp } from '../shell/glob.ts'

export interface ConfigLine {
  // Lower-cased, as OpenSSH compares keywords.
  readonly keyword: string
  readonly args: readonly string[]
  // The text after the keyword, unsplit: ProxyCommand and ProxyJump take it whole.
  readonly rest: string
}

export type SplitLine = ConfigLine | { readonly error: string } | null

// null: a blank or comment line.
export function splitConfigLine(raw: string): SplitLine {
  const line = raw.replace(/[\s\f]+$/, '')
  // The keyword ends at whitespace or "=", and one "=" between keyword and value is allowed.
  const m = /^[ \t]*([^\s=]*)[ \t]*(?:=[ \t]*)?(.*)$/.exec(line)
  const keyword = m?.[1] ?? ''
  if (keyword === '' || keyword.startsWith('#')) return null
  const rest = m?.[2] ?? ''
  if (rest === '') return { error: `no argument after keyword "${keyword}"` }
  const args = splitArgs(rest)
  if (args === undefined) return { error: 'invalid quotes' }
  return { keyword: keyword.toLowerCase(), args, rest }
}

// argv_split(..., terminate_on_comment=1): whitespace separates, '...' and "..." quote, a
// backslash escapes a quote, a backslash or (outside quotes) a space, "#" starting an argument
// ends the line. undefined: an unterminated quote.
export function splitArgs(text: string): string[] | undefined {
  const args: string[] = []
  let i = 0
  while (i < text.length) {
    if (text[i] === ' ' || text[i] === '\t') {
      i++
      continue
    }
    if (text[i] === '#') break
    let arg = ''
    let quote = ''
    for (; i < text.length; i++) {
      const c = text[i]!
      const next = text[i + 1]
      if (c === '\\' && (next === "'" || next === '"' || next === '\\' || (quote === '' && next === ' '))) {
        arg += next
        i++
      } else if (quote === '' && (c === ' ' || c === '\t')) {
        break
      } else if (quote === '' && (c === '"' || c === "'")) {
        quote = c
      } else if (quote !== '' && c === quote) {
        quote = ''
      } else {
        arg += c
      }
    }
    if (quote !== '') return undefined
    args.push(arg)
  }
  return args
}

// match_pattern(): `*` and `?`, case-sensitive.
export function matchPattern(value: string, pattern: string): boolean {
  return globToRegExp(pattern).test(value)
}

// match_pattern_list() == 1: some comma-separated pattern matches and no negated one does.
// `lowerPatterns` is OpenSSH's dolower (Match host/originalhost): the patterns, not the value,
// are lower-cased.
export function matchPatternList(value: string, list: string, lowerPatterns = false): boolean {
  let matched = false
  for (const raw of list.split(',')) {
    const item = lowerPatterns ? raw.toLowerCase() : raw
    const negated = item.startsWith('!')
    if (matchPattern(value, negated ? item.slice(1) : item)) {
      if (negated) return false
      matched = true
    }
  }
  return matched
}

// A `Host` line: active when some pattern matches and no negated one does.
export function hostLineMatches(host: string, patterns: readonly string[]): boolean {
  let active = false
  for (const pattern of patterns) {
    const negated = pattern.startsWith('!')
    if (matchPattern(host, negated ? pattern.slice(1) : pattern)) {
      if (negated) return false
      active = true
    }
  }
  return active
}
