// fleet audit: read-only drift, foreign rules and conntrack, per host. Exit status tells a script
// what it found: 0 all in sync, 3 drift, 1 a host could not be audited. --dry-run prints the
// read-only scripts it would send, offline.
import { changeOf } from '../plan/change.ts'
import { auditHost } from '../audit/audit-host.ts'
import { auditDryRunPlan } from '../report/audit-dry-run.ts'
import { writeDryRun } from '../report/dry-run.ts'
import { connectSpecs } from '../ssh/connect-spec.ts'
import { EXIT } from './exit-codes.ts'
import { RunCredentials } from './credentials.ts'
import { workOnHosts, type ConnectionOptions } from './host-work.ts'
import { inquirerPrompts } from './inquirer-prompts.ts'
import { loadBaselines, readInventory } from './load.ts'
import type { Io } from './output.ts'
import { readOnlyExitCode } from './preview.ts'
import { chooseHosts, type SelectionOptions } from './selection.ts'

export interface AuditOptions extends ConnectionOptions, SelectionOptions {
  readonly inventory: string
}

export async function auditCommand(options: AuditOptions, io: Io): Promise<number> {
  const inventory = readInventory(options.inventory)
  const { hosts } = await chooseHosts(inventory, options, io, inquirerPrompts)
  const changes = new Map((await loadBaselines(inventory, hosts)).map((b) => [b.host.name, changeOf(b)]))
  const specs = connectSpecs(inventory)
  if (options.dryRun) {
    new RunCredentials(options, io).checkOffline([...changes.keys()].map((h) => specs.get(h)!))
    writeDryRun(io.out, 'audit', undefined, auditDryRunPlan(changes.values(), specs, Boolean(options.askSudoPass || options.sudoPassFile)), options.json)
    return EXIT.ok
  }
  const results = await workOnHosts('audit', specs, [...changes.keys()], options, io, (host, session, _open, emit) =>
    auditHost(session, changes.get(host)!, emit),
  )
  return readOnlyExitCode(results)
}
