// --dry-run: per host, every command a real run would send to it, grouped and readable.
// Built from the same Step scripts the SSH transport sends; nothing here connects.
import type { Change } from '../apply/change.ts'
import { changeStep, confirmStep, factsStep, type ChangeSettings, type Step } from '../remote/scripts.ts'
import { quote } from '../shell/quote.ts'
import type { ConnectSpec } from '../ssh/connect-spec.ts'

export interface DryRunHost {
  readonly host: string
  readonly role: string
  readonly ssh: string
  readonly steps: readonly Step[]
}

function sshCommand(spec: ConnectSpec, fresh = false): string {
  const jump = spec.jump ? `-J ${spec.jump.user}@${spec.jump.address}:${spec.jump.port} ` : ''
  const remote = spec.user === 'root' ? 'timeout 120 sh -s' : 'sudo -n timeout 120 sh -s'
  return `ssh ${fresh ? '-o ControlPath=none ' : ''}${jump}-p ${spec.port} ${spec.user}@${spec.address} ${quote(remote)}`
}

export function dryRunPlan(changes: readonly Change[], specs: ReadonlyMap<string, ConnectSpec>, settings: Omit<ChangeSettings, 'liveSum'>): DryRunHost[] {
  return changes.map((change) => {
    const spec = specs.get(change.host.name)!
    const facts = factsStep(change)
    const apply = changeStep(change, { ...settings, liveSum: '<checksum read in step 1>' })
    const confirm = confirmStep(settings.changeId, change)
    const steps = [
      { ...facts, title: `${facts.title}  [${sshCommand(spec)}]` },
      { ...apply, title: `${apply.title} (only when they differ)  [same connection]` },
      ...(settings.confirmSec !== null ? [{ ...confirm, title: `${confirm.title}  [${sshCommand(spec, true)}]` }] : []),
    ]
    return { host: change.host.name, role: change.host.role, ssh: sshCommand(spec), steps }
  })
}

// The dry run as text for people, or with --json as one document.
export function formatDryRun(command: string, changeId: string, plan: readonly DryRunHost[], json = false): string {
  if (json) return JSON.stringify({ command, dryRun: true, changeId, hosts: plan }, null, 2)
  const blocks = plan.map((h) => {
    const steps = h.steps.map((s, i) => [`# step ${i + 1}: ${s.title}`, s.script].join('\n'))
    const rule = '='.repeat(Math.max(10, 72 - h.host.length - h.role.length - 12))
    return [`=== ${h.host} (role ${h.role}) ${rule}`, ...steps].join('\n\n')
  })
  // io.out ends the line; no blank line after the summary.
  return `${blocks.join('\n\n')}\n\ndry run: ${plan.length} host${plan.length === 1 ? '' : 's'}, no connection opened, nothing changed`
}
