// Chains fleet does not own but must keep: Docker's DOCKER*, Kubernetes' KUBE-*, fail2ban's f2b-*.
// A full restore would wipe them, so before a change their chains, their rules and the jumps to
// them are taken from the live ruleset and put into the new one; comparisons leave them out.
// A chain the host's role declares is the role's, never preserved: "!NAME" entries say so.
import { InputError, InputErrors } from '../inventory/errors.ts'
import type { HostSpec } from '../inventory/types.ts'
import { BUILTIN_CHAINS, MANAGED_TABLES } from '../render/ruleset.ts'
import { globToRegExp } from '../shell/glob.ts'
import type { SavedRuleset, SavedTable } from './normal-form.ts'

export { DEFAULT_PRESERVE } from '../inventory/types.ts'

// The chain a save line belongs to: ":NAME POLICY" or "-A NAME ...".
export function chainOf(line: string): string {
  return line.startsWith(':') ? line.slice(1).split(' ')[0]! : line.split(' ')[1]!
}

function targetOf(line: string): string | undefined {
  return /\s-[jg] (\S+)/.exec(line)?.[1]
}

export interface Split {
  // The ruleset without the preserved chains, their rules and the jumps to them.
  readonly kept: SavedRuleset
  // Per table, the preserved lines in iptables-save order.
  readonly preserved: ReadonlyMap<string, readonly string[]>
}

// A chain is preserved when a pattern matches it and no "!" entry does.
function preservedBy(patterns: readonly string[]): (chain: string) => boolean {
  const yes = patterns.filter((p) => !p.startsWith('!')).map((p) => globToRegExp(p))
  const no = patterns.filter((p) => p.startsWith('!')).map((p) => globToRegExp(p.slice(1)))
  return (chain) => yes.some((re) => re.test(chain)) && !no.some((re) => re.test(chain))
}

export function splitPreserved(ruleset: SavedRuleset, patterns: readonly string[]): Split {
  const matches = preservedBy(patterns)
  const kept = new Map<string, SavedTable>()
  const preserved = new Map<string, string[]>()
  for (const [name, table] of ruleset) {
    const declared = new Set(table.lines.filter((l) => /^:\S+ - /.test(l + ' ')).map(chainOf))
    const isPreserved = (chain: string | undefined) => chain !== undefined && declared.has(chain) && matches(chain)
    const mine: string[] = []
    const theirs: string[] = []
    for (const line of table.lines) {
      const keep = isPreserved(chainOf(line)) || (line.startsWith('-A') && isPreserved(targetOf(line)))
      ;(keep ? theirs : mine).push(line)
    }
    kept.set(name, { name, lines: mine })
    if (theirs.length > 0) preserved.set(name, theirs)
  }
  return { kept, preserved }
}

// The restore document for `ruleset` with `preserved` added: their chain declarations after the
// others, the jumps to them first in their chains (where Docker and fail2ban put them), then the
// rules of the preserved chains.
export function renderWithPreserved(ruleset: SavedRuleset, preserved: ReadonlyMap<string, readonly string[]>, header: string): string {
  const out = [`# ${header}`]
  for (const name of MANAGED_TABLES) {
    // A table missing from the ruleset is one with its builtin chains empty at ACCEPT.
    const own = ruleset.get(name)?.lines ?? BUILTIN_CHAINS[name].map((c) => `:${c} ACCEPT`)
    const theirs = preserved.get(name) ?? []
    const declarations = (lines: readonly string[]) => lines.filter((l) => l.startsWith(':')).map((l) => `${l} [0:0]`)
    const theirChains = new Set(declarations(theirs).map(chainOf))
    const theirRules = theirs.filter((l) => l.startsWith('-A'))
    out.push(
      `*${name}`,
      ...declarations(own),
      ...declarations(theirs),
      ...theirRules.filter((l) => !theirChains.has(chainOf(l))), // the jumps into their chains, first
      ...own.filter((l) => l.startsWith('-A')),
      ...theirRules.filter((l) => theirChains.has(chainOf(l))),
      'COMMIT',
    )
  }
  return out.join('\n') + '\n'
}

// The chains a restore document declares with "-N" (":NAME - [0:0]").
export function declaredChains(document: string): string[] {
  return [...document.matchAll(/^:(\S+) - /gm)].map((m) => m[1]!)
}

// The host's preserve list once its role's chains are known: fleet's default patterns give way to
// the role ("!NAME" for each chain they would take); a pattern the inventory writes that takes one
// is a mistake, reported where it is written.
export function preserveWithRoleChains(host: HostSpec, roleChains: readonly string[]): readonly string[] {
  const matches = preservedBy(host.preserve)
  const taken = [...new Set(roleChains)].filter(matches)
  if (taken.length === 0) return host.preserve
  const from = host.preserveFrom
  if (from === undefined) return [...host.preserve, ...taken.map((c) => `!${c}`)]
  throw new InputErrors(
    host.preserve.flatMap((pattern, i) => {
      const chain = pattern.startsWith('!') ? undefined : taken.find((c) => globToRegExp(pattern).test(c))
      if (chain === undefined) return []
      const problem = `"${pattern}" matches ${chain}, a chain role ${host.role} declares; a role's own chains are never preserved: narrow the pattern or add "!${chain}"`
      return [new InputError(`${from.key}.${i}: ${problem}`, from.where[i])]
    }),
  )
}
