// host + role -> the host's baseline: its ruleset documents and the host settings it needs.
// The role's task bodies run against a recording `$` (recording-shell.ts): nothing is executed,
// iptables/ip6tables commands become ruleset lines, ensure() settings become checked commands.
import { InputError } from '../inventory/errors.ts'
import type { HostSpec } from '../inventory/types.ts'
import { buildRuleset, renderRestoreDocument, type Ruleset } from './ruleset.ts'
import { checkSpliceable, ShellSyntaxError } from '../shell/words.ts'
import { NETWORK_KEY_MEANING, roleContext, type BuiltContext } from '../roles/context.ts'
import { commandWords, oneLine, parseIptablesWords, PROGRAMS, RoleError } from '../roles/iptables-line.ts'
import type { LoadedRole } from '../roles/load.ts'
import { record, type Recorded } from '../roles/recording-shell.ts'
import { functionPlace, locate, placeText } from '../roles/role-place.ts'
import type { CommandTask, RoleTask, RulesetLine, Setting } from '../roles/types.ts'

export interface Baseline {
  readonly host: HostSpec
  // The role's task titles, in order: what the dry run and the progress display show.
  readonly tasks: readonly string[]
  readonly ruleset: Ruleset
  // The iptables-restore input for the whole ruleset: what apply loads in one transaction.
  readonly document: string
  // The ip6tables-restore input, when the role has IPv6 rules (otherwise ip6tables is left alone).
  readonly document6?: string
  readonly commands: readonly CommandTask[]
}

interface TaskResult {
  readonly lines: RulesetLine[]
  readonly commands: CommandTask[]
}

interface Evaluated {
  readonly titles: readonly string[]
  readonly lines: readonly RulesetLine[]
  readonly commands: readonly CommandTask[]
}

// A role is a function of its context: hosts with the same network values (and a role that does
// not look at ctx.host) get the same tasks, so 500 alike servers cost one evaluation.
const evaluated = new WeakMap<LoadedRole, Map<string, Evaluated>>()

async function evaluate(host: HostSpec, loaded: LoadedRole): Promise<Evaluated> {
  const key = JSON.stringify(host.network)
  const cache = evaluated.get(loaded) ?? new Map<string, Evaluated>()
  evaluated.set(loaded, cache)
  const known = cache.get(key)
  if (known) return known
  const built = roleContext(host, loaded.common)
  const titles: string[] = []
  const lines: RulesetLine[] = []
  const commands: CommandTask[] = []
  let failure: InputError | undefined
  try {
    for (const task of await roleTasks(built, loaded, host)) {
      titles.push(task.title)
      const result = await runTask(task, built, loaded, host)
      lines.push(...result.lines)
      commands.push(...result.commands)
    }
  } catch (error) {
    if (!(error instanceof InputError)) throw error
    failure = error
  }
  if (failure) throw failure
  if (built.missing.size > 0) {
    const list = [...built.missing].map((k) => `network.${k} (${NETWORK_KEY_MEANING[k]})`).join(', ')
    throw new InputError(
      `host ${host.name}: role ${host.role} needs ${list}; set it under hosts.${host.name}.network or defaults.network`,
      host.where,
    )
  }
  const result = { titles, lines, commands }
  if (!built.readsHost()) cache.set(key, result)
  return result
}

export async function baselineOf(host: HostSpec, loaded: LoadedRole): Promise<Baseline> {
  const { titles, lines, commands } = await evaluate(host, loaded)
  const lines6 = lines.filter((l) => l.family === 'ipv6')
  let ruleset, ruleset6
  try {
    ruleset = buildRuleset(lines.filter((l) => l.family === 'ipv4'))
    ruleset6 = lines6.length > 0 ? buildRuleset(lines6) : undefined
  } catch (error) {
    throw roleFailure(error, loaded.file, undefined, host)
  }
  const header = `fleet baseline for ${host.name} (role ${host.role})`
  return {
    host,
    tasks: titles,
    ruleset,
    document: renderRestoreDocument(ruleset, header),
    ...(ruleset6 && { document6: renderRestoreDocument(ruleset6, `${header}, IPv6`) }),
    commands,
  }
}

function isRoleTask(value: unknown): value is RoleTask {
  return typeof value === 'object' && value !== null && typeof (value as RoleTask).body === 'function' && (value as RoleTask).madeAt instanceof Error
}

async function roleTasks(built: BuiltContext, loaded: LoadedRole, host: HostSpec): Promise<RoleTask[]> {
  let tasks: unknown
  try {
    tasks = loaded.role.tasks(built.ctx)
  } catch (error) {
    // A fault of the role's code, or of how it called the context, at the role's line.
    throw roleFailure(error, locate(error, loaded.file), undefined, host)
  }
  const flat = Array.isArray(tasks) ? (tasks.flat() as unknown[]) : undefined
  const odd = flat === undefined ? tasks : flat.find((t) => !isRoleTask(t))
  if (flat === undefined || odd !== undefined) {
    const expected = flat === undefined ? 'tasks(ctx) returns a list of ctx.task(title, async ($) => { ... })' : 'tasks made with ctx.task(title, async ($) => { ... })'
    // Nothing threw: the place to show is where tasks() is written.
    const where = placeText(await functionPlace(loaded.role.tasks, loaded.file)) ?? loaded.file
    throw roleFailure(new RoleError(`returned something fleet cannot use (${expected}, got ${describe(odd)})`), where, undefined, host)
  }
  return flat as RoleTask[]
}

async function runTask(task: RoleTask, built: BuiltContext, loaded: LoadedRole, host: HostSpec): Promise<TaskResult> {
  built.running.settings = []
  try {
    const recorder = await record(task.body)
    return placeCommands(recorder.commands, built.running.settings, task.title)
  } catch (error) {
    const where = error instanceof RoleError ? locate(task.madeAt, loaded.file) : locate(error, loaded.file, locate(task.madeAt, loaded.file))
    throw roleFailure(error, where, task.title, host)
  } finally {
    built.running.settings = null
  }
}

// Each recorded command is either one of an ensure()'s two commands or an iptables line.
function placeCommands(recorded: readonly Recorded[], settings: readonly Setting[], title: string): TaskResult {
  const claimed = new Set<Recorded>()
  const commands = settings.map((setting): CommandTask => {
    const [check, run] = [commandOf(setting.check, 'check', recorded), commandOf(setting.run, 'run', recorded)]
    if (setting.undo === undefined) {
      throw new RoleError(`ensure({ undo }) is missing: a command that sets the value back when the change is undone or rolled back (it reads the value check printed before on its stdin, e.g. undo: $\`tee /proc/sys/net/ipv4/ip_forward\`), or undo: 'keep' to leave the setting as run made it`)
    }
    const undo = setting.undo === 'keep' ? undefined : commandOf(setting.undo, 'undo', recorded)
    claimed.add(check).add(run)
    if (undo) claimed.add(undo)
    return { kind: 'command', title: setting.title ?? title, check: check.text, want: wantOf(setting.want), run: run.text, ...(undo && { undo: undo.text }) }
  })
  const lines = recorded
    .filter((r) => !claimed.has(r))
    .map((r) => {
      const program = /^(\S+)/.exec(r.text)?.[1] ?? ''
      const family = PROGRAMS[program]
      if (family === undefined) {
        throw new RoleError(
          `"${oneLine(r.text)}" is neither an iptables/ip6tables line nor a host setting; a setting is ensure({ check: $\`...\`, want, run: $\`...\`, undo: $\`...\` }) (fleet runs nothing a role writes on this machine)`,
        )
      }
      return parseIptablesWords(commandWords(r.text).slice(1), family, r.text)
    })
  return { lines, commands }
}

function commandOf(value: unknown, name: 'check' | 'run' | 'undo', recorded: readonly Recorded[]): Recorded {
  const signal = (value as { signal?: unknown } | null)?.signal
  const found = signal !== undefined ? recorded.find((r) => r.signal === signal) : undefined
  if (found === undefined) throw new RoleError(`ensure({ ${name} }) takes a command written with this task's $: ${name}: $\`...\``)
  try {
    checkSpliceable(found.text)
  } catch (error) {
    if (error instanceof ShellSyntaxError) throw new RoleError(`ensure({ ${name} }): ${error.message} in: ${oneLine(found.text)}`)
    throw error
  }
  return found
}

function wantOf(want: unknown): string {
  const text = typeof want === 'number' ? String(want) : want
  if (typeof text !== 'string' || text !== text.trim() || text.includes('\n') || text === '') {
    throw new RoleError(`ensure({ want }) is the value check prints, one line without surrounding blanks; got ${JSON.stringify(want)}`)
  }
  return text
}

function describe(value: unknown): string {
  const text = JSON.stringify(value)
  return text === undefined ? String(value) : text.length > 60 ? `${text.slice(0, 60)}...` : text
}

// One line: where (the role file, and the line when the trace says), the role and host, the task,
// and what went wrong: a fault of the role's own code, or something fleet cannot place.
function roleFailure(error: unknown, where: string, task: string | undefined, host: HostSpec): Error {
  if (error instanceof InputError) return error
  const about = `role ${host.role} for host ${host.name}: ${task !== undefined ? `task "${task}"` : ''}`
  if (error instanceof RoleError) return new InputError(`${about}${task !== undefined ? ': ' : ''}${error.message}`, where)
  const what = error instanceof Error ? `${error.name}: ${error.message.split('\n')[0]}` : (JSON.stringify(error) ?? String(error))
  return new InputError(`${about}${task !== undefined ? ' ' : ''}threw ${what}`, where)
}
