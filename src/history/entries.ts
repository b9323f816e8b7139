// The change history kept on each host (/var/lib/fleet/history), parsed, and the choice of what a
// rollback restores. Pure.

export type EntryStatus = 'pending' | 'confirmed' | 'applied' | 'rolled-back' | 'failed'

// A change id as fleet makes them (the operator's clock, to the millisecond, and a random tag):
// 20261126T013000.123Z-9f3a. An entry whose id is anything else is not fleet's, and never used.
export const CHANGE_ID = /^\d{8}T\d{6}\.\d{3}Z-[0-9a-f]{4}$/

export interface HistoryEntry {
  readonly id: string
  // The host's own order of its changes (absent in entries from before it was kept).
  readonly seq?: number
  readonly time: string
  readonly action: string
  readonly status: EntryStatus | string
  readonly note: string
  readonly by: string
  readonly reason?: string
  // Whether the ruleset saved before this change is still on the host.
  readonly hasSaved: boolean
}

export function parseHistory(stdout: string): HistoryEntry[] {
  return stdout
    .split('@@fleet entry\n')
    .slice(1)
    .map((block) => {
      const fields = new Map<string, string>()
      for (const line of block.split('\n')) {
        const eq = line.indexOf('=')
        if (eq > 0 && !line.startsWith('@@')) fields.set(line.slice(0, eq), line.slice(eq + 1))
      }
      const get = (k: string) => fields.get(k) ?? ''
      return {
        id: get('id'),
        ...(/^\d+$/.test(get('seq')) && { seq: Number(get('seq')) }),
        time: get('time'),
        action: get('action'),
        status: get('status'),
        note: get('note'),
        by: get('by'),
        ...(fields.has('reason') && { reason: get('reason') }),
        hasSaved: get('has_saved') === 'yes',
      }
    })
    .filter((e) => CHANGE_ID.test(e.id))
    // The host's order, not the ids': they come from operators' clocks, which disagree.
    .sort((a, b) => (a.seq ?? 0) - (b.seq ?? 0) || a.id.localeCompare(b.id))
}

export type RollbackTarget = { readonly ok: true; readonly entry: HistoryEntry } | { readonly ok: false; readonly why: string }

// Without --to: undo the newest change that took effect (confirmed, or applied without
// confirmation); changes that were rolled back or failed never took effect. Rolling back a
// rollback is an undo, since a rollback is a change like any other.
export function rollbackTarget(entries: readonly HistoryEntry[], to?: string): RollbackTarget {
  if (to !== undefined) {
    const entry = entries.find((e) => e.id === to)
    if (!entry) return { ok: false, why: `no change ${to} in this host's history (${entries.map((e) => e.id).join(', ') || 'empty'})` }
    if (!entry.hasSaved) return { ok: false, why: `the ruleset saved before ${to} was pruned` }
    return { ok: true, entry }
  }
  const effective = [...entries].reverse().find((e) => (e.status === 'confirmed' || e.status === 'applied') && e.hasSaved)
  return effective ? { ok: true, entry: effective } : { ok: false, why: 'nothing to roll back to: no change in this host\'s history took effect' }
}
