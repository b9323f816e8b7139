import type { ConntrackReport } from '../audit/conntrack.ts'
import type { DiffEntry } from '../plan/diff.ts'
import type { OtherFirewall } from '../plan/other-firewalls.ts'

// What a run tells the operator, as data. One formatter per output mode (terminal, plain lines,
// JSON) turns these into text; the run itself never prints.

// unknown: fleet lost the host's answer and could not learn afterwards what the host did.
export type Outcome = 'changed' | 'unchanged' | 'failed' | 'rolled-back' | 'unknown' | 'in-sync' | 'drift'

export type RunEvent =
  | { readonly kind: 'host-start'; readonly host: string }
  | { readonly kind: 'step'; readonly host: string; readonly step: string }
  | {
      readonly kind: 'host-done'
      readonly host: string
      readonly outcome: Outcome
      // For people: why it failed, or what changed.
      readonly detail?: string
      // What differs (apply: what was changed; audit: the drift), per table and chain.
      readonly diff?: readonly DiffEntry[]
      // Host settings outside netfilter that differ (e.g. "set net.ipv4.ip_forward = 1").
      readonly settings?: readonly string[]
      readonly backend?: string
      // The id under which the host saved its previous ruleset (for rollback --to).
      readonly changeId?: string
      // Audit: chains and rules no role owns, and the conntrack table.
      readonly foreign?: readonly string[]
      readonly conntrack?: ConntrackReport
      // Rules outside the tables fleet manages that also filter traffic (other backend, nftables).
      readonly otherFirewalls?: readonly OtherFirewall[]
      // What the operator should know about the host, whatever the outcome.
      readonly warnings?: readonly string[]
    }

export type HostDone = Extract<RunEvent, { kind: 'host-done' }>

export interface Reporter {
  event(e: RunEvent): void
  // Called once, after every host is done.
  finish(results: readonly HostDone[]): Promise<void> | void
}

export function summarize(results: readonly HostDone[]): Record<Outcome, number> {
  const counts: Record<Outcome, number> = { changed: 0, unchanged: 0, failed: 0, 'rolled-back': 0, unknown: 0, 'in-sync': 0, drift: 0 }
  for (const r of results) counts[r.outcome]++
  return counts
}
