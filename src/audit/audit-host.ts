// One host's audit: read-only. It reads the live ruleset, the baseline in the host's normal form,
// the host settings and conntrack; it never writes, never locks, never arms a timer.
import { families, gatherFacts, inProgressText, otherDifferences, othersReport } from '../apply/host-facts.ts'
import type { DiffEntry } from '../plan/diff.ts'
import type { Change } from '../plan/change.ts'
import { diffRulesets } from '../plan/diff.ts'
import { separateForeign, type ForeignItem } from '../plan/foreign.ts'
import { chainOf } from '../plan/preserve.ts'
import { newMarks, parseSections, section } from '../remote/sections.ts'
import type { ReadStep } from '../remote/step.ts'
import { HostError, type Session } from '../remote/transport.ts'
import type { HostDone, RunEvent } from '../apply/events.ts'
import { parseConntrack, type ConntrackReport } from './conntrack.ts'

export function conntrackStep(): ReadStep {
  const proc = '/proc/sys/net/netfilter'
  const marks = newMarks()
  return {
    title: 'read the conntrack table',
    script: [
      section(marks, 'count', `cat ${proc}/nf_conntrack_count 2>/dev/null || echo 0`),
      section(marks, 'max', `cat ${proc}/nf_conntrack_max 2>/dev/null || echo 0`),
      section(marks, 'entries', '{ conntrack -L && conntrack -L -f ipv6; } 2>/dev/null || cat /proc/net/nf_conntrack 2>/dev/null'),
    ].join('\n'),
    marks,
  }
}

export async function readConntrack(session: Session, internal: readonly string[]): Promise<ConntrackReport> {
  const step = conntrackStep()
  const result = await session.run(step.script)
  if (result.code !== 0) throw new HostError(`reading conntrack failed: ${result.stderr.trim()}`)
  const text = parseSections(result.stdout, step.marks).text
  return {
    count: Number(text.get('count')?.trim() || 0),
    max: Number(text.get('max')?.trim() || 0),
    flows: parseConntrack(text.get('entries') ?? '', internal),
  }
}

export async function auditHost(session: Session, change: Change, emit: (e: RunEvent) => void): Promise<HostDone> {
  const host = change.host.name
  emit({ kind: 'step', host, step: 'reading the live ruleset' })
  const facts = await gatherFacts(session, change)
  const diff: DiffEntry[] = []
  const foreign: ForeignItem[] = []
  for (const f of families(facts)) {
    const split = separateForeign(f.live, f.desired)
    const prefix = f.family === 'ipv6' ? 'ip6 ' : ''
    diff.push(...diffRulesets(split.owned, f.desired, f.family))
    // Preserved chains are foreign too: no role owns them, fleet only keeps them.
    const preserved = [...f.preserved].flatMap(([table, lines]) => lines.map((line) => ({ table, chain: chainOf(line), line })))
    foreign.push(...[...preserved, ...split.foreign].map((x) => ({ ...x, table: `${prefix}${x.table}` })))
  }
  const settings = otherDifferences(facts, change)
  emit({ kind: 'step', host, step: 'reading conntrack' })
  const { internal, internal6 } = change.host.network
  const conntrack = await readConntrack(session, [internal, internal6].filter((p): p is string => p !== undefined))
  // Other firewalls filter traffic the baseline says to let through: drift, unless the inventory
  // lets this host live with them (then they are listed, as foreign state is).
  const othersDrift = change.host.otherFirewalls === 'proceed' ? 0 : facts.others.length
  // A change in progress may yet be undone by its timer (or is still being made): what is live now
  // is no verdict, so the host is not called in sync. The drift shown is against what is live now.
  const pending = facts.inProgress && `${inProgressText(facts.inProgress)}: ${facts.inProgress.armed ? "unless it is confirmed, the host's timer restores the previous ruleset" : 'the ruleset may still change'}; audit again once it has settled`
  return {
    kind: 'host-done',
    host,
    outcome: pending || diff.length + settings.length + othersDrift > 0 ? 'drift' : 'in-sync',
    ...(pending && { detail: pending }),
    backend: facts.backend,
    diff,
    settings,
    foreign: foreign.map((f) => `${f.table}${f.chain ? `/${f.chain}` : ''}: ${f.line}`),
    conntrack,
    ...othersReport(facts),
  }
}
