// The difference between a live ruleset and the baseline, per table and chain, as an
// administrator reads it: rules missing, rules extra, rules present but out of order, policies
// and chains. Both sides are in the kernel's normal form (iptables-save text).
import { MANAGED_TABLES } from '../render/ruleset.ts'
import type { Family } from '../roles/types.ts'
import type { SavedRuleset } from './normal-form.ts'

export type DiffKind = 'missing' | 'extra' | 'out-of-order' | 'policy' | 'chain-missing' | 'chain-extra'

export class DiffEntry {
  constructor(
    readonly family: Family,
    readonly table: string,
    readonly chain: string,
    readonly kind: DiffKind,
    // The rule or chain line as iptables-save prints it.
    readonly line: string,
  ) {}

  toJSON(): object {
    return { family: this.family, table: this.table, chain: this.chain, kind: this.kind, line: this.line }
  }

  // "ip6 filter/INPUT": where the difference is.
  get where(): string {
    return `${this.family === 'ipv6' ? 'ip6 ' : ''}${this.table}/${this.chain}`
  }

  toString(): string {
    return `${this.where}: ${diffMark(this.kind)} ${this.line}`
  }
}

const MARK: Record<DiffKind, string> = {
  missing: '+ missing',
  extra: '- extra',
  'out-of-order': '~ order',
  policy: '~ policy',
  'chain-missing': '+ chain',
  'chain-extra': '- chain',
}

// "+ missing", "- extra", "~ order"...: audit's marks, padded so the rules line up.
export function diffMark(kind: DiffKind): string {
  return MARK[kind].padEnd(9)
}

interface ChainView {
  readonly declaration?: string
  readonly rules: string[]
}

function chainsOf(lines: readonly string[]): Map<string, ChainView> {
  const chains = new Map<string, { declaration?: string; rules: string[] }>()
  const get = (name: string) => chains.get(name) ?? chains.set(name, { rules: [] }).get(name)!
  for (const line of lines) {
    if (line.startsWith(':')) get(line.slice(1).split(' ')[0]!).declaration = line
    else if (line.startsWith('-A ')) get(line.split(' ')[1]!).rules.push(line)
  }
  return chains
}

// Longest common subsequence, to tell "moved" from "kept in place" among rules on both sides.
function lcs(a: readonly string[], b: readonly string[]): Set<number> {
  const n = a.length
  const m = b.length
  const dp = Array.from({ length: n + 1 }, () => new Array<number>(m + 1).fill(0))
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      dp[i]![j] = a[i] === b[j] ? dp[i + 1]![j + 1]! + 1 : Math.max(dp[i + 1]![j]!, dp[i]![j + 1]!)
    }
  }
  const kept = new Set<number>()
  for (let i = 0, j = 0; i < n && j < m; ) {
    if (a[i] === b[j]) kept.add(i++), j++
    else if (dp[i + 1]![j]! >= dp[i]![j + 1]!) i++
    else j++
  }
  return kept
}

// Multiset difference: each occurrence counts, so a rule present twice where once is wanted is
// reported as one extra copy.
function without(a: readonly string[], b: readonly string[]): string[] {
  const counts = new Map<string, number>()
  for (const x of b) counts.set(x, (counts.get(x) ?? 0) + 1)
  return a.filter((x) => {
    const c = counts.get(x) ?? 0
    if (c > 0) return counts.set(x, c - 1), false
    return true
  })
}

function diffChain(family: Family, table: string, name: string, live: ChainView | undefined, want: ChainView | undefined): DiffEntry[] {
  const entry = (kind: DiffKind, line: string) => new DiffEntry(family, table, name, kind, line)
  if (!want) return [entry('chain-extra', live!.declaration ?? `:${name}`), ...live!.rules.map((r) => entry('extra', r))]
  if (!live) return [entry('chain-missing', want.declaration ?? `:${name}`), ...want.rules.map((r) => entry('missing', r))]
  const out: DiffEntry[] = []
  if (want.declaration && live.declaration && want.declaration !== live.declaration) {
    out.push(entry('policy', `${live.declaration} -> ${want.declaration}`))
  }
  const missing = without(want.rules, live.rules)
  const extra = without(live.rules, want.rules)
  out.push(...missing.map((r) => entry('missing', r)))
  out.push(...extra.map((r) => entry('extra', r)))
  const commonWant = without(want.rules, missing)
  const commonLive = without(live.rules, extra)
  const kept = lcs(commonWant, commonLive)
  commonWant.forEach((r, i) => kept.has(i) || out.push(entry('out-of-order', r)))
  return out
}

const PRISTINE = (name: string) => `:${name} ACCEPT`

export function diffRulesets(live: SavedRuleset, want: SavedRuleset, family: Family = 'ipv4', tables: readonly string[] = MANAGED_TABLES): DiffEntry[] {
  return tables.flatMap((table) => {
    const l = chainsOf(live.get(table)?.lines ?? [])
    const w = chainsOf(want.get(table)?.lines ?? [])
    // An absent table is the same as one whose builtin chains are empty at ACCEPT.
    for (const [name, view] of w) if (!l.has(name) && view.declaration === PRISTINE(name) && !live.has(table)) l.set(name, { declaration: PRISTINE(name), rules: [] })
    const names = [...new Set([...w.keys(), ...l.keys()])]
    return names.flatMap((name) => diffChain(family, table, name, l.get(name), w.get(name)))
  })
}
