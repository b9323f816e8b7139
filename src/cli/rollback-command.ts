// fleet rollback: put back a ruleset saved on each host, and the host settings as they were before
// the changes it undoes, as a change like any other (locked, saved first so it can be undone,
// tested, loaded atomically, confirmed).
import { changeHost } from '../apply/apply-host.ts'
import type { Change } from '../plan/change.ts'
import { parseHistory, rollbackTarget } from '../history/entries.ts'
import { leftAsTheyAre, setBack, setBackTask, undoneChanges, valuesBefore } from '../history/set-back.ts'
import { settingKey } from '../remote/host-state.ts'
import { parseSettingRecords, settingRecordsStep } from '../remote/setting-records.ts'
import type { CommandTask } from '../roles/types.ts'
import { historyStep, readSavedStep } from '../remote/read-scripts.ts'
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
import { loadBaselines, readInventory } from './load.ts'
import type { Io } from './output.ts'
import { confirmPreview, preview } from './preview.ts'
import { chooseHosts, type SelectionOptions } from './selection.ts'

export interface RollbackOptions extends ChangeOptions, SelectionOptions {
  readonly inventory: string
  readonly to?: string
}

interface Rollback {
  readonly change: Change
  // The recorded host settings it leaves as they are, for the outcome's detail ('' when none).
  readonly left: string
}

// `role`: the host settings of the host's role: those with an undo are set back.
async function rollbackChange(session: Session, host: HostSpec, to: string | undefined, role: readonly CommandTask[]): Promise<Rollback> {
  const history = await session.run(historyStep().script)
  const entries = parseHistory(history.stdout)
  const target = rollbackTarget(entries, to)
  if (!target.ok) throw new HostError(target.why)
  const step = readSavedStep(target.entry.id)
  const result = await session.run(step.script)
  const saved = parseSections(result.stdout, step.marks)
  if (result.code !== 0 || saved.status.get('saved') !== 0) {
    throw new HostError(`cannot read the ruleset saved before ${target.entry.id}: ${result.stderr.trim() || saved.text.get('saved')}`)
  }
  const ids = undoneChanges(entries, target.entry)
  const recordsStep = settingRecordsStep(ids)
  const records = await session.run(recordsStep.script)
  if (records.code !== 0) throw new HostError(`cannot read the host settings recorded before ${target.entry.id}: ${records.stderr.trim()}`)
  const settings = setBack(valuesBefore(parseSettingRecords(records.stdout, recordsStep, ids), ids), role, settingKey)
  const document6 = saved.status.get('saved6') === 0 ? saved.text.get('saved6') : undefined
  const change: Change = {
    host,
    action: 'rollback',
    document: saved.text.get('saved') ?? '',
    ...(document6 !== undefined && { document6 }),
    commands: settings.commands,
    note: `rollback to before ${target.entry.id} (${target.entry.note})`,
  }
  return { change, left: leftAsTheyAre(settings) }
}

// The dry run's stand-in: what is restored is only known on the host, so the documents and the
// settings' old values are named, not shown.
function placeholder(host: HostSpec, to: string | undefined, role: readonly CommandTask[]): Change {
  const before = `before ${to ?? 'its newest change that took effect'}`
  const value = `<the value ${host.name} recorded ${before}, read there>`
  const undoable = role.flatMap((c) => (c.undo === undefined ? [] : [{ ...c, undo: c.undo }]))
  return {
    host, action: 'rollback', note: 'rollback',
    document: `# the ruleset saved on ${host.name} ${before}\n`,
    commands: undoable.map((c) => setBackTask(c, value)),
    tasks: [
      ...undoable.map((c) => `set back: ${c.title} (to the value recorded on ${host.name} ${before}, read there; only if it recorded one and it differs)`),
      ...role.filter((c) => c.undo === undefined).map((c) => `${c.title}: the role keeps it as changed (undo: 'keep'), so it stays as it is`),
    ],
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
  // The roles say how each host setting is set back (its undo); a role at fault is bad input.
  const roles = new Map((await loadBaselines(inventory, hosts)).map((b) => [b.host.name, b.commands]))
  const role = (host: string) => roles.get(host) ?? []

  if (options.dryRun) {
    run.credentials.checkOffline([...byName.keys()].map((h) => specs.get(h)!))
    const sudoPassword = Boolean(options.askSudoPass || options.sudoPassFile)
    writeDryRun(io.out, 'rollback', settings.changeId, dryRunPlan(hosts.map((h) => placeholder(h, options.to, role(h.name))), specs, settings, [historyStep()], sudoPassword), options.json)
    return EXIT.ok
  }

  if (prompts) {
    const previewed = await preview(specs, [...byName.keys()], run, io, async (host, session) => (await rollbackChange(session, byName.get(host)!, options.to, role(host))).change)
    await confirmPreview(prompts, io, previewed, 'What a rollback will change:', 'Roll back')
  }

  const results = await workOnHosts('rollback', specs, [...byName.keys()], run, io, async (host, session, open, emit) => {
    emit({ kind: 'step', host, step: 'reading the history' })
    const { change, left } = await rollbackChange(session, byName.get(host)!, options.to, role(host))
    const done = await changeHost(hostRun(session, open, settings, emit, host), change)
    return left === '' ? done : { ...done, detail: [done.detail, left].filter(Boolean).join('; ') }
  })
  return changeExitCode(results)
}
