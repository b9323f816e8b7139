// A change to one host: the whole ruleset to load and the host settings to make. An apply makes
// one from the role's baseline, a rollback from a ruleset saved on the host.
import type { HostSpec } from '../inventory/types.ts'
import type { Baseline } from '../render/baseline.ts'
import type { CommandTask } from '../roles/types.ts'

export type ChangeAction = 'apply' | 'rollback'

export interface Change {
  readonly host: HostSpec
  readonly action: ChangeAction
  // The iptables-restore input: every managed table.
  readonly document: string
  // The ip6tables-restore input; absent: ip6tables is left as it is.
  readonly document6?: string
  readonly commands: readonly CommandTask[]
  // The role's task titles (an apply's): what the dry run and the progress display show.
  readonly tasks?: readonly string[]
  // For the history: what this change puts in place ("role router", "rollback to <id>").
  readonly note: string
}

export function changeOf(baseline: Baseline): Change {
  return {
    host: baseline.host,
    action: 'apply',
    document: baseline.document,
    ...(baseline.document6 !== undefined && { document6: baseline.document6 }),
    commands: baseline.commands,
    tasks: baseline.tasks,
    note: `role ${baseline.host.role}`,
  }
}
