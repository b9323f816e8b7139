// The `iptables` tagged template: turns one iptables command, as an administrator would type it,
// into a RulesetLine. Only whole-ruleset commands make sense in a baseline: -A (append, in the
// role's order), -P (builtin chain policy) and -N (user chain).
import type { Family, IptablesValue, RulesetLine, Table } from './types.ts'

export class RoleError extends Error {}

const TABLES: readonly Table[] = ['raw', 'mangle', 'nat', 'filter']
const SAFE_VALUE = /^[A-Za-z0-9._:/,+@-]+$/
const CHAIN_NAME = /^[A-Za-z0-9_.-]{1,28}$/
const MULTIPORT_MAX = 15

function valueText(value: IptablesValue): string {
  if (typeof value === 'number') return String(value)
  if (typeof value === 'string') {
    if (!SAFE_VALUE.test(value)) throw new RoleError(`unsafe value in an iptables rule: ${JSON.stringify(value)}`)
    return value
  }
  if (value.length === 0) throw new RoleError('empty port list in an iptables rule (guard the rule with a length check)')
  if (value.length > MULTIPORT_MAX) throw new RoleError(`multiport takes at most ${MULTIPORT_MAX} ports, got ${value.length}`)
  return value.map(String).join(',')
}

// Splits on whitespace, keeping "double quoted" words (comments) whole. Values were checked to be
// free of spaces and quotes, so they can be spliced in before splitting.
export function tokenize(text: string): string[] {
  const tokens: string[] = []
  const re = /"([^"]*)"|(\S+)/g
  for (const m of text.matchAll(re)) tokens.push(m[1] ?? m[2] ?? '')
  return tokens
}

function template(family: Family) {
  return (strings: TemplateStringsArray, ...values: IptablesValue[]): RulesetLine => {
    let text = strings[0] ?? ''
    values.forEach((v, i) => (text += valueText(v) + (strings[i + 1] ?? '')))
    return parseIptables(text, family)
  }
}

export const iptables = template('ipv4')
export const ip6tables = template('ipv6')

export function parseIptables(text: string, family: Family = 'ipv4'): RulesetLine {
  const tokens = tokenize(text)
  if (tokens[0] === 'iptables' || tokens[0] === 'ip6tables') tokens.shift()
  let table: Table = 'filter'
  const t = tokens.indexOf('-t')
  if (t !== -1) {
    const name = tokens[t + 1] as Table
    if (!TABLES.includes(name)) throw new RoleError(`fleet manages the ${TABLES.join(', ')} tables, not "${name}": ${text}`)
    table = name
    tokens.splice(t, 2)
  }
  const [command, chain, ...rest] = tokens
  if (chain === undefined || !CHAIN_NAME.test(chain)) throw new RoleError(`expected a chain name after ${command}: ${text}`)
  switch (command) {
    case '-A':
      if (rest.length === 0) throw new RoleError(`empty rule: ${text}`)
      return { family, kind: 'rule', table, chain, spec: rest }
    case '-P':
      if (rest.length !== 1 || (rest[0] !== 'ACCEPT' && rest[0] !== 'DROP')) {
        throw new RoleError(`a policy is ACCEPT or DROP: ${text}`)
      }
      return { family, kind: 'policy', table, chain, target: rest[0] }
    case '-N':
      if (rest.length > 0) throw new RoleError(`-N takes only a chain name: ${text}`)
      return { family, kind: 'chain', table, chain }
    default:
      throw new RoleError(
        `a baseline is built from -A (append, in order), -P (policy) and -N (new chain); got "${command}": ${text}`,
      )
  }
}
