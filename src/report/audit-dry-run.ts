// `fleet audit --dry-run`: the read-only scripts an audit sends to each host, printed like apply's
// dry run; nothing connects.
import type { Change } from '../plan/change.ts'
import { conntrackStep } from '../audit/audit-host.ts'
import { factsStep } from '../remote/read-scripts.ts'
import type { ConnectSpec } from '../ssh/connect-spec.ts'
import { sshCommand, type DryRunHost } from './dry-run.ts'

export function* auditDryRunPlan(changes: Iterable<Change>, specs: ReadonlyMap<string, ConnectSpec>, sudoPassword = false): Generator<DryRunHost> {
  for (const change of changes) {
    const spec = specs.get(change.host.name)!
    const facts = factsStep(change)
    const conntrack = conntrackStep()
    const steps = [
      { ...facts, title: `${facts.title}  [${sshCommand(spec, sudoPassword)}]` },
      { ...conntrack, title: `${conntrack.title}  [same connection]` },
    ]
    yield { host: change.host.name, role: change.host.role, ssh: sshCommand(spec, sudoPassword), steps }
  }
}
