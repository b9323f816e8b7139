// Netfilter state that filters traffic next to the tables fleet manages, where fleet's iptables
// (one backend) neither shows nor replaces it: rules in the other iptables backend's tables
// (iptables-legacy on an nf_tables host, iptables-nft on a legacy one) and native nftables tables
// (/etc/nftables.conf, firewalld). The kernel evaluates all of them; a packet must pass each, so
// a host "in sync" with its baseline may still drop what the baseline accepts.
//
// Decided from what these tools print, never from iptables-nft-save's "legacy tables present"
// warning: any empty legacy table raises it, and `iptables-legacy -L` creates one.
import { parseSave } from './normal-form.ts'

export type OtherSource = 'iptables-legacy' | 'ip6tables-legacy' | 'iptables-nft' | 'ip6tables-nft' | 'nftables'

export interface OtherFirewall {
  readonly source: OtherSource
  // "filter"; for nftables with its family, "inet filter".
  readonly table: string
  readonly chain: string
  // The rule or policy as the tool prints it; for nftables a summary of the base chain.
  readonly line: string
}

export type Backend = 'legacy' | 'nft'

// The backend fleet's iptables does not use, from `iptables -V`'s "(legacy)" / "(nf_tables)".
// iptables before 1.8 says neither and is legacy-only: there is no other backend to read.
export function otherBackend(backend: string): Backend {
  return backend === 'legacy' ? 'nft' : 'legacy'
}

// Rules and non-ACCEPT policies of builtin chains in an iptables-save document: what filters
// traffic. Empty tables and empty chains do not, so they are not reported.
export function backendRules(source: OtherSource, saved: string): OtherFirewall[] {
  const found: OtherFirewall[] = []
  for (const line of saved.split('\n')) {
    // iptables-nft-save cannot print base chains that nft wrote into its tables; it says so.
    const incompatible = /^# Table `(\S+)' (?:contains incompatible base-chains|is incompatible)/.exec(line)
    if (incompatible) found.push({ source, table: incompatible[1]!, chain: '*', line: line.slice(2) })
  }
  for (const table of parseSave(saved).values()) {
    for (const line of table.lines) {
      const policy = /^:(\S+) (\S+)$/.exec(line)
      if (policy && policy[2] !== 'ACCEPT' && policy[2] !== '-') {
        found.push({ source, table: table.name, chain: policy[1]!, line: `-P ${policy[1]} ${policy[2]}` })
      } else if (line.startsWith('-A ')) {
        found.push({ source, table: table.name, chain: line.split(' ')[1]!, line })
      }
    }
  }
  return found
}

// The tables iptables-nft keeps in nftables: both backends' iptables tables are read through
// iptables-*-save above, so they are left out of the native listing. A base chain that nft added
// to one of them (not one of iptables' builtin chains) is native all the same.
const IPTABLES_TABLES = new Set(['filter', 'nat', 'mangle', 'raw', 'security'])
const IPTABLES_CHAINS = new Set(['PREROUTING', 'INPUT', 'FORWARD', 'OUTPUT', 'POSTROUTING'])

interface NftChain {
  family: string
  table: string
  name: string
  type?: string
  hook?: string
  prio?: number
  policy?: string
}

// `nft -j -t list ruleset` (terse: without the elements of sets): every base chain outside iptables' own that has rules or a policy other
// than accept. A table without base chains, or whose base chains accept everything, filters nothing.
export function nativeTables(json: string): { found: OtherFirewall[] } | { problem: string } {
  let objects: Record<string, unknown>[]
  try {
    const parsed = JSON.parse(json) as { nftables?: unknown }
    if (!Array.isArray(parsed.nftables)) throw new Error('no "nftables" list')
    objects = parsed.nftables as Record<string, unknown>[]
  } catch (error) {
    return { problem: `cannot read the nftables ruleset (\`nft -j -t list ruleset\`: ${(error as Error).message}); native nftables tables were not checked` }
  }
  const chains = objects.flatMap((o) => (o.chain ? [o.chain as NftChain] : []))
  const rules = objects.flatMap((o) => (o.rule ? [o.rule as { family: string; table: string; chain: string }] : []))
  const native = (c: NftChain) => !((c.family === 'ip' || c.family === 'ip6') && IPTABLES_TABLES.has(c.table) && IPTABLES_CHAINS.has(c.name))
  const found = chains
    .filter((c) => c.hook !== undefined && native(c))
    .map((c) => ({ chain: c, rules: rules.filter((r) => r.family === c.family && r.table === c.table && r.chain === c.name).length }))
    .filter(({ chain, rules }) => rules > 0 || (chain.policy ?? 'accept') !== 'accept')
    .map(({ chain: c, rules: n }) => ({
      source: 'nftables' as const,
      table: `${c.family} ${c.table}`,
      chain: c.name,
      line: `${c.type && c.type !== 'filter' ? `${c.type} ` : ''}hook ${c.hook} priority ${c.prio ?? 0}, policy ${c.policy ?? 'accept'}, ${n} rule${n === 1 ? '' : 's'}`,
    }))
  return { found }
}

export function formatOther(o: OtherFirewall): string {
  return `${o.source} ${o.table}/${o.chain}: ${o.line}`
}

// Where each kind is seen in full, for the operator who has to decide.
function howToSee(found: readonly OtherFirewall[]): string[] {
  const sources = new Set(found.map((o) => o.source))
  const tools = [...sources].filter((s) => s !== 'nftables').map((s) => `${s}-save`)
  const tables = [...new Set(found.filter((o) => o.source === 'nftables').map((o) => `nft list table ${o.table}`))]
  return [...tools, ...tables]
}

// When the refusal is told: `done` once apply has left the host alone, `ahead` when apply --check
// and the preview say beforehand what apply would do.
export type Telling = 'done' | 'ahead'

// Why apply leaves a host alone, and how to go on: one line for people.
export function refusal(found: readonly OtherFirewall[], when: Telling = 'done'): string {
  const rules = found.filter((o) => o.source !== 'nftables')
  const tables = [...new Set(found.filter((o) => o.source === 'nftables').map((o) => o.table))]
  const parts = [
    ...(rules.length > 0 ? [`${rules.length} rule${rules.length === 1 ? '' : 's'} in the other iptables backend (${[...new Set(rules.map((o) => o.source))].join(', ')})`] : []),
    ...(tables.length > 0 ? [`nftables table${tables.length === 1 ? '' : 's'} ${tables.join(', ')}`] : []),
  ]
  const verb = found.length === 1 ? 'filters' : 'filter'
  return (
    `${parts.join(' and ')} also ${verb} traffic on this host, outside the tables fleet manages; ` +
    `${when === 'done' ? 'nothing changed' : 'apply would leave this host unchanged and fail it'}. ` +
    `See them with ${howToSee(found).map((c) => `\`${c}\``).join(', ')}; remove them where they come from, ` +
    'or set `otherFirewalls: proceed` for this host in the inventory to apply the baseline alongside them'
  )
}

// Debian's stock /etc/nftables.conf starts with `flush ruleset`, which also erases iptables-nft's
// tables: with nftables.service enabled next to netfilter-persistent, the rulesets fleet persists
// may be gone after a boot, depending on which of the two runs last. `boot` is the facts section:
// "nftables=<is-enabled>", "netfilter-persistent=<is-enabled>", "flush=yes" lines.
export function bootFlushWarning(boot: string): string | undefined {
  const state = new Map(boot.split('\n').flatMap((l) => {
    const m = /^([\w-]+)=(.*)$/.exec(l.trim())
    return m ? [[m[1]!, m[2]!] as const] : []
  }))
  if (state.get('nftables') !== 'enabled' || state.get('netfilter-persistent') !== 'enabled' || state.get('flush') !== 'yes') return undefined
  return (
    'nftables.service is enabled next to netfilter-persistent and /etc/nftables.conf flushes the whole ruleset: ' +
    'at boot it can erase the rulesets netfilter-persistent restores from /etc/iptables. ' +
    'Disable one of them (`systemctl disable nftables`), or replace `flush ruleset` with flushing only its own tables'
  )
}
