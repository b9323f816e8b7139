// One iptables command, as an administrator types it, read into a RulesetLine. Only
// whole-ruleset commands make sense in a baseline: -A (append, in the role's order), -P (builtin
// chain policy) and -N (user chain).
import { ShellSyntaxError, simpleCommandWords } from '../shell/words.ts'
import type { Family, RulesetLine, Table } from './types.ts'

export class RoleError extends Error {}

const TABLES: readonly Table[] = ['raw', 'mangle', 'nat', 'filter']
const CHAIN_NAME = /^[A-Za-z0-9_.-]{1,28}$/
// iptables-restore reads double quotes and nothing else: these it cannot carry inside a word.
const UNCARRIABLE = /["\\\x00-\x08\x0a-\x1f\x7f]/

// A command as an error message shows it: on one line, whatever its values hold.
export function oneLine(text: string): string {
  return text.replace(/[\x00-\x1f\x7f]/g, (c) => JSON.stringify(c).slice(1, -1))
}

export const PROGRAMS: Readonly<Record<string, Family>> = { iptables: 'ipv4', ip6tables: 'ipv6' }

// The words of a recorded shell command, or a RoleError saying why it has no fixed words.
export function commandWords(text: string): string[] {
  try {
    return simpleCommandWords(text)
  } catch (error) {
    if (error instanceof ShellSyntaxError) throw new RoleError(`${error.message} in: ${oneLine(text)}`)
    throw error
  }
}

// `text` is a whole command ("iptables -A ...") or its arguments ("-A ...").
export function parseIptables(text: string, family: Family = 'ipv4'): RulesetLine {
  const words = commandWords(text)
  const program = words[0] !== undefined ? PROGRAMS[words[0]] : undefined
  if (program !== undefined) words.shift()
  return parseIptablesWords(words, program ?? family, text)
}

export function parseIptablesWords(words: readonly string[], family: Family, text: string): RulesetLine {
  const bad = words.find((w) => UNCARRIABLE.test(w))
  if (bad !== undefined) {
    throw new RoleError(`iptables-restore cannot carry the value ${JSON.stringify(bad)} (a double quote, backslash or control character): ${oneLine(text)}`)
  }
  const tokens = [...words]
  let table: Table = 'filter'
  const t = tokens.indexOf('-t')
  if (t !== -1) {
    const name = tokens[t + 1] as Table
    if (!TABLES.includes(name)) throw new RoleError(`fleet manages the ${TABLES.join(', ')} tables, not "${name}": ${oneLine(text)}`)
    table = name
    tokens.splice(t, 2)
  }
  const [command, chain, ...rest] = tokens
  if (chain === undefined || !CHAIN_NAME.test(chain)) throw new RoleError(`expected a chain name after ${command}: ${oneLine(text)}`)
  switch (command) {
    case '-A':
      if (rest.length === 0) throw new RoleError(`empty rule: ${oneLine(text)}`)
      return { family, kind: 'rule', table, chain, spec: rest }
    case '-P':
      if (rest.length !== 1 || (rest[0] !== 'ACCEPT' && rest[0] !== 'DROP')) {
        throw new RoleError(`a policy is ACCEPT or DROP: ${oneLine(text)}`)
      }
      return { family, kind: 'policy', table, chain, target: rest[0] }
    case '-N':
      if (rest.length > 0) throw new RoleError(`-N takes only a chain name: ${oneLine(text)}`)
      return { family, kind: 'chain', table, chain }
    default:
      throw new RoleError(
        `a baseline is built from -A (append, in order), -P (policy) and -N (new chain); got "${command}": ${oneLine(text)}`,
      )
  }
}
