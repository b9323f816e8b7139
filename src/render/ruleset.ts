// A host's whole ruleset across the tables fleet manages, and its iptables-restore document.
// Every managed table is always present, even when the role leaves it empty: iptables-restore
// leaves a table absent from its input untouched, so an omitted table would keep yesterday's rules.
import { RoleError } from '../roles/iptables-line.ts'
import type { RulesetLine, Table } from '../roles/types.ts'

export const MANAGED_TABLES: readonly Table[] = ['raw', 'mangle', 'nat', 'filter']

export const BUILTIN_CHAINS: Readonly<Record<Table, readonly string[]>> = {
  raw: ['PREROUTING', 'OUTPUT'],
  mangle: ['PREROUTING', 'INPUT', 'FORWARD', 'OUTPUT', 'POSTROUTING'],
  nat: ['PREROUTING', 'INPUT', 'OUTPUT', 'POSTROUTING'],
  filter: ['INPUT', 'FORWARD', 'OUTPUT'],
}

export interface TableRules {
  readonly policies: ReadonlyMap<string, 'ACCEPT' | 'DROP'>
  readonly chains: readonly string[]
  readonly rules: readonly { readonly chain: string; readonly spec: readonly string[] }[]
}

export type Ruleset = ReadonlyMap<Table, TableRules>

export function buildRuleset(lines: readonly RulesetLine[]): Ruleset {
  const tables = new Map(
    MANAGED_TABLES.map((t) => [t, { policies: new Map<string, 'ACCEPT' | 'DROP'>(), chains: [] as string[], rules: [] as { chain: string; spec: readonly string[] }[] }]),
  )
  for (const line of lines) {
    const table = tables.get(line.table)!
    const builtin = BUILTIN_CHAINS[line.table].includes(line.chain)
    switch (line.kind) {
      case 'chain':
        if (builtin || table.chains.includes(line.chain)) {
          throw new RoleError(`chain ${line.chain} already exists in table ${line.table}`)
        }
        table.chains.push(line.chain)
        break
      case 'policy':
        if (!builtin) throw new RoleError(`only builtin chains have a policy; ${line.chain} is not one in table ${line.table}`)
        table.policies.set(line.chain, line.target)
        break
      case 'rule':
        if (!builtin && !table.chains.includes(line.chain)) {
          throw new RoleError(`rule appended to chain ${line.chain}, which table ${line.table} neither has nor declares with -N`)
        }
        table.rules.push({ chain: line.chain, spec: line.spec })
        break
    }
  }
  return tables
}

// iptables-restore reads double-quoted words; values never contain quotes (checked upstream).
function restoreWord(word: string): string {
  return /[\s#]/.test(word) || word === '' ? `"${word}"` : word
}

export function renderRestoreDocument(ruleset: Ruleset, header: string): string {
  const out = [`# ${header}`]
  for (const table of MANAGED_TABLES) {
    const t = ruleset.get(table)!
    out.push(`*${table}`)
    for (const chain of BUILTIN_CHAINS[table]) out.push(`:${chain} ${t.policies.get(chain) ?? 'ACCEPT'} [0:0]`)
    for (const chain of t.chains) out.push(`:${chain} - [0:0]`)
    // Grouped by chain like iptables-save prints it; the order within each chain is the role's.
    for (const chain of [...BUILTIN_CHAINS[table], ...t.chains]) {
      for (const rule of t.rules.filter((r) => r.chain === chain)) {
        out.push(`-A ${rule.chain} ${rule.spec.map(restoreWord).join(' ')}`)
      }
    }
    out.push('COMMIT')
  }
  return out.join('\n') + '\n'
}
