// Splits what differs between a live ruleset and the baseline into drift (the baseline's own
// chains no longer as the role says) and foreign state that no role owns: chains the baseline does
// not declare (added by hand, Docker, fail2ban...), the rules that jump to them, and tables fleet
// does not manage.
import { BUILTIN_CHAINS, MANAGED_TABLES } from '../render/ruleset.ts'
import type { Table } from '../roles/types.ts'
import type { SavedRuleset, SavedTable } from './normal-form.ts'
import { chainOf } from './preserve.ts'

export interface ForeignItem {
  readonly table: string
  readonly chain?: string
  // The chain declaration or rule as iptables-save prints it, or a summary for a whole table.
  readonly line: string
}

function jumpTarget(rule: string): string | undefined {
  return /\s-[jg] (\S+)/.exec(rule)?.[1]
}

export function separateForeign(live: SavedRuleset, desired: SavedRuleset): { owned: SavedRuleset; foreign: ForeignItem[] } {
  const foreign: ForeignItem[] = []
  const owned = new Map<string, SavedTable>()
  for (const [name, table] of live) {
    if (!MANAGED_TABLES.includes(name as never)) {
      foreign.push({ table: name, line: `table ${name} (${table.lines.filter((l) => l.startsWith('-A')).length} rules), not managed by fleet` })
      continue
    }
    const declared = new Set((desired.get(name)?.lines ?? []).filter((l) => l.startsWith(':')).map(chainOf))
    const isForeign = (chain: string) => !declared.has(chain) && !BUILTIN_CHAINS[name as Table].includes(chain)
    const kept: string[] = []
    for (const line of table.lines) {
      const chain = chainOf(line)
      const target = line.startsWith('-A') ? jumpTarget(line) : undefined
      if (isForeign(chain) || (target !== undefined && isForeign(target) && table.lines.some((l) => l.startsWith(`:${target} `)))) {
        foreign.push({ table: name, chain, line })
      } else {
        kept.push(line)
      }
    }
    owned.set(name, { name, lines: kept })
  }
  return { owned, foreign }
}
