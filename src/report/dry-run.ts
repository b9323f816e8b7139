// --dry-run: per host, every command a real apply would run on it, grouped and readable.
// Built from the same Step scripts the SSH transport sends; nothing here connects.
import type { Baseline } from '../roles/baseline.ts'
import { applyStep, factsStep, type Step } from '../remote/scripts.ts'
import { quote } from '../shell/quote.ts'
import type { ConnectSpec } from '../ssh/connect-spec.ts'

export interface DryRunHost {
  readonly host: string
  readonly role: string
  readonly ssh: string
  readonly steps: readonly Step[]
}

function sshCommand(spec: ConnectSpec): string {
  const jump = spec.jump ? `-J ${spec.jump.user}@${spec.jump.address}:${spec.jump.port} ` : ''
  const remote = spec.user === 'root' ? 'timeout 120 sh -s' : 'sudo -n timeout 120 sh -s'
  return `ssh ${jump}-p ${spec.port} ${spec.user}@${spec.address} ${quote(remote)}`
}

export function dryRunPlan(baselines: readonly Baseline[], specs: ReadonlyMap<string, ConnectSpec>, changeId: string): DryRunHost[] {
  return baselines.map((b) => ({
    host: b.host.name,
    role: b.host.role,
    ssh: sshCommand(specs.get(b.host.name)!),
    steps: [factsStep(b), { ...applyStep(b, changeId), title: `${applyStep(b, changeId).title} (only when they differ)` }],
  }))
}

export function formatDryRun(plan: readonly DryRunHost[]): string {
  const blocks = plan.map((h) => {
    const steps = h.steps.map((s, i) => [`# step ${i + 1}: ${s.title}`, `# $ ${h.ssh} <<script`, s.script].join('\n'))
    const rule = '='.repeat(Math.max(10, 72 - h.host.length - h.role.length - 12))
    return [`=== ${h.host} (role ${h.role}) ${rule}`, ...steps].join('\n\n')
  })
  return `${blocks.join('\n\n')}\n\ndry run: ${plan.length} host${plan.length === 1 ? '' : 's'}, no connection opened, nothing changed\n`
}
