// fleet rollback: put back a ruleset saved on each host, as a change like any other (locked,
// saved first so it can be undone, tested, loaded atomically, confirmed).
import { changeHost } from '../apply/apply-host.ts'
import type { Change } from '../plan/change.ts'
import { parseHistory, rollbackTarget } from '../history/entries.ts'
import { historyStep, readSavedStep } from '../remote/scripts.ts'
import { parseSections } from '../remote/sections.ts'
import { InputError } from '../inventory/errors.ts'
import { HostError, type Session } from '../remote/transport.ts'
import { dryRunPlan, writeDryRun } from '../report/dry-run.ts'
import type { HostSpec } from '../inventory/types.ts'
import { connectSpecs } from '../ssh/connect-spec.ts'
import { CHANGE_ID, newChangeId } from './change-id.ts'
import { EXIT } from './exit-codes.ts'
import { RunCredentials } from './credentials.ts'
import { changeExitCode, changeSettings, hostRun, workOnHosts, type ChangeOptions } from './host-work.ts'
import { inquirerPrompts } from './inquirer-prompts.ts'
import { readInventory } from './load.ts'
import type { Io } from './output.ts'
import { confirmPreview, preview } from './preview.ts'
import { chooseHosts, type SelectionOptions } from './selection.ts'

export interface RollbackOptions extends ChangeOptions, SelectionOptions {
  readonly inventory: string
  readonly to?: string
}

async function rollbackChange(session: Session, host: HostSpec, to: string | undefined): Promise<Change> {
  const history = await session.run(historyStep().script)
  const target = rollbackTarget(parseHistory(history.stdout), to)
  if (!target.ok) throw new HostError(target.why)
  const step = readSavedStep(target.entry.id)
  const result = await session.run(step.script)
  const saved = parseSections(result.stdout, step.marks)
  if (result.code !== 0 || saved.status.get('saved') !== 0) {
    throw new HostError(`cannot read the ruleset saved before ${target.entry.id}: ${result.stderr.trim() || saved.text.get('saved')}`)
  }
  const document6 = saved.status.get('saved6') === 0 ? saved.text.get('saved6') : undefined
  return {
    host,
    action: 'rollback',
    document: saved.text.get('saved') ?? '',
    ...(document6 !== undefined && { document6 }),
    commands: [],
    note: `rollback to before ${target.entry.id} (${target.entry.note})`,
  }
}

export async function rollbackCommand(options: RollbackOptions, io: Io): Promise<number> {
  if (options.to !== undefined && !CHANGE_ID.test(options.to)) {
    throw new InputError(`--to ${options.to}: expected a change id like 20261126T013000.123Z-9f3a (see fleet history)`)
  }
  const inventory = readInventory(options.inventory)
  const { hosts, prompts } = await chooseHosts(inventory, options, io, inquirerPrompts)
  const specs = connectSpecs(inventory)
  const settings = changeSettings(options, newChangeId(), io.env)
  const byName = new Map(hosts.map((h) => [h.name, h]))
  const run = { ...options, credentials: new RunCredentials(options, io) }

  if (options.dryRun) {
    run.credentials.checkOffline([...byName.keys()].map((h) => specs.get(h)!))
    // What is restored is only known on the host; the dry run shows the steps around it.
    const placeholder = (host: HostSpec): Change => ({
      host, action: 'rollback', commands: [], note: 'rollback',
      document: `# the ruleset saved on ${host.name} before ${options.to ?? 'its newest change that took effect'}\n`,
    })
    const sudoPassword = Boolean(options.askSudoPass || options.sudoPassFile)
    writeDryRun(io.out, 'rollback', settings.changeId, dryRunPlan(hosts.map(placeholder), specs, settings, [historyStep()], sudoPassword), options.json)
    return EXIT.ok
  }

  if (prompts) {
    const previewed = await preview(specs, [...byName.keys()], run, io, (host, session) => rollbackChange(session, byName.get(host)!, options.to))
    await confirmPreview(prompts, io, previewed, 'What a rollback will change:', 'Roll back')
  }

  const results = await workOnHosts('rollback', specs, [...byName.keys()], run, io, async (host, session, open, emit) => {
    emit({ kind: 'step', host, step: 'reading the history' })
    const change = await rollbackChange(session, byName.get(host)!, options.to)
    return changeHost(hostRun(session, open, settings, emit, host), change)
  })
  return changeExitCode(results)
}
