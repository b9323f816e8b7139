// The preview before the last yes/no, as text: per host, what the change would do, rule by rule,
// per table and chain, in audit's +/-/~ form. Hosts with the same changes share one block (a
// hundred identical servers read as one); a long block is folded to its first lines and the count
// of the rest. Pure: the prompt decides whether to show it folded.
import { diffMark } from '../plan/diff.ts'
import { formatOther } from '../plan/other-firewalls.ts'
import type { HostDone } from '../apply/events.ts'
import { printable } from '../report/printable.ts'

export interface PreviewText {
  readonly lines: readonly string[]
  // Changes left out by folding (0: everything is shown).
  readonly folded: number
}

type BodyLine = { readonly text: string; readonly change: boolean }

// "6 to add, 1 to remove, set net.ipv4.ip_forward = 1"
export function changeSummary(done: HostDone): string {
  // Held back for its other firewalls: the detail says that apply would fail it, and why.
  if (done.outcome === 'failed' && done.otherFirewalls) return done.detail ?? 'it would fail'
  if (done.outcome === 'failed') return `cannot be read (${done.detail}); it would fail`
  const count = (...kinds: string[]) => done.diff?.filter((d) => kinds.includes(d.kind)).length ?? 0
  const parts = [
    [count('missing', 'chain-missing'), 'to add'],
    [count('extra', 'chain-extra'), 'to remove'],
    [count('out-of-order', 'policy'), 'to reorder or re-policy'],
  ] as const
  const all = [...parts.filter(([n]) => n > 0).map(([n, what]) => `${n} ${what}`), ...(done.settings ?? [])]
  return all.length > 0 ? all.join(', ') : 'nothing to change'
}

// Each chain's changes under its name, then the host settings.
function body(done: HostDone): BodyLine[] {
  const lines: BodyLine[] = []
  let where = ''
  for (const d of done.diff ?? []) {
    if (d.where !== where) lines.push({ text: `    ${(where = d.where)}:`, change: false })
    lines.push({ text: `      ${diffMark(d.kind)} ${d.line}`, change: true })
  }
  return [...lines, ...(done.settings ?? []).map((s) => ({ text: `    setting: ${s}`, change: true }))]
}

// What else filters the host's traffic, and warnings: never folded, they are what the operator
// must weigh before saying yes.
function notes(done: HostDone): string[] {
  return [...(done.otherFirewalls ?? []).map((o) => `    also filtering: ${formatOther(o)}`), ...(done.warnings ?? []).map((w) => `    warning: ${w}`)]
}

// `limit`: the most lines shown per block; Infinity shows everything.
export function previewText(previewed: readonly HostDone[], limit: number): PreviewText {
  const groups = new Map<string, { hosts: string[]; head: string; body: BodyLine[]; notes: string[] }>()
  for (const done of previewed) {
    const head = changeSummary(done)
    const lines = done.outcome === 'failed' ? [] : body(done)
    const after = notes(done)
    const key = JSON.stringify([head, lines, after])
    const group = groups.get(key) ?? groups.set(key, { hosts: [], head, body: lines, notes: after }).get(key)!
    group.hosts.push(done.host)
  }
  const lines: string[] = []
  let folded = 0
  for (const { hosts, head, body, notes } of groups.values()) {
    lines.push(`  ${hosts.join(', ')}: ${head}`)
    const shown = body.length > limit ? body.slice(0, limit) : body
    const hidden = body.filter((l) => l.change).length - shown.filter((l) => l.change).length
    lines.push(...shown.map((l) => l.text))
    if (hidden > 0) lines.push(`    … ${hidden} more change${hidden === 1 ? '' : 's'}`)
    lines.push(...notes)
    folded += hidden
  }
  // Rule lines and reasons are host text.
  return { lines: lines.map(printable), folded }
}
