// fleet apply: inventory -> baselines -> (dry-run printer | changes over SSH) -> reporter.
import { changeHost } from '../apply/apply-host.ts'
import { changeOf } from '../plan/change.ts'
import { dryRunPlan, writeDryRun } from '../report/dry-run.ts'
import { connectSpecs } from '../ssh/connect-spec.ts'
import { newChangeId } from './change-id.ts'
import { EXIT } from './exit-codes.ts'
import { RunCredentials } from './credentials.ts'
import { changeExitCode, changeSettings, hostRun, workOnHosts, type ChangeOptions } from './host-work.ts'
import { inquirerPrompts } from './inquirer-prompts.ts'
import { loadBaselines, readInventory } from './load.ts'
import type { Io } from './output.ts'
import { checkHosts, confirmPreview, preview } from './preview.ts'
import { chooseHosts, type SelectionOptions } from './selection.ts'

export interface ApplyOptions extends ChangeOptions, SelectionOptions {
  readonly inventory: string
  // Connected and read-only: what apply would change, exit 3 if anything.
  readonly check?: boolean
}

export async function applyCommand(options: ApplyOptions, io: Io): Promise<number> {
  const inventory = readInventory(options.inventory)
  const { hosts, prompts } = await chooseHosts(inventory, options, io, inquirerPrompts)
  const baselines = await loadBaselines(inventory, hosts)
  const specs = connectSpecs(inventory)
  const settings = changeSettings(options, newChangeId(), io.env)
  const changes = new Map(baselines.map((b) => [b.host.name, changeOf(b)]))
  const run = { ...options, credentials: new RunCredentials(options, io) }

  if (options.dryRun) {
    run.credentials.checkOffline([...changes.keys()].map((h) => specs.get(h)!))
    const sudoPassword = Boolean(options.askSudoPass || options.sudoPassFile)
    writeDryRun(io.out, 'apply', settings.changeId, dryRunPlan(changes.values(), specs, settings, [], sudoPassword), options.json)
    return EXIT.ok
  }

  if (options.check) return checkHosts(specs, changes, options, io)

  if (prompts) {
    const previewed = await preview(specs, [...changes.keys()], run, io, async (host) => changes.get(host)!)
    await confirmPreview(prompts, io, previewed, 'What will change:', 'Apply to')
  }

  const tasks = new Map([...changes].map(([host, change]) => [host, change.tasks ?? []]))
  const results = await workOnHosts('apply', specs, [...changes.keys()], { ...run, tasks }, io, (host, session, open, emit) =>
    changeHost(hostRun(session, open, settings, emit, host), changes.get(host)!),
  )
  return changeExitCode(results)
}
