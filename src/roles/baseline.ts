// host + role -> the host's baseline: its ruleset document and the other tasks it needs.
// Pure: the role module is already loaded.
import { InputError } from '../inventory/errors.ts'
import type { HostSpec } from '../inventory/types.ts'
import { buildRuleset, renderRestoreDocument, type Ruleset } from '../render/ruleset.ts'
import { NETWORK_KEY_MEANING, roleContext } from './context.ts'
import { RoleError } from './iptables-line.ts'
import type { CommandTask, Role, RulesetTask } from './types.ts'

export interface Baseline {
  readonly host: HostSpec
  readonly ruleTasks: readonly RulesetTask[]
  readonly ruleset: Ruleset
  // The iptables-restore input for the whole ruleset: what apply loads in one transaction.
  readonly document: string
  // The ip6tables-restore input, when the role has IPv6 rules (otherwise ip6tables is left alone).
  readonly document6?: string
  readonly commands: readonly CommandTask[]
}

export function baselineOf(host: HostSpec, role: Role): Baseline {
  const { ctx, missing } = roleContext(host)
  let tasks
  try {
    tasks = role.tasks(ctx)
  } catch (error) {
    throw asInputError(error, host)
  }
  if (missing.size > 0) {
    const list = [...missing].map((k) => `network.${k} (${NETWORK_KEY_MEANING[k]})`).join(', ')
    throw new InputError(
      `host ${host.name}: role ${host.role} needs ${list}; set it under hosts.${host.name}.network or defaults.network`,
      host.where,
    )
  }
  const ruleTasks = tasks.filter((t): t is RulesetTask => t.kind === 'ruleset')
  const lines = ruleTasks.flatMap((t) => t.lines)
  const lines6 = lines.filter((l) => l.family === 'ipv6')
  let ruleset, ruleset6
  try {
    ruleset = buildRuleset(lines.filter((l) => l.family === 'ipv4'))
    ruleset6 = lines6.length > 0 ? buildRuleset(lines6) : undefined
  } catch (error) {
    throw asInputError(error, host)
  }
  const header = `fleet baseline for ${host.name} (role ${host.role})`
  return {
    host,
    ruleTasks,
    ruleset,
    document: renderRestoreDocument(ruleset, header),
    ...(ruleset6 && { document6: renderRestoreDocument(ruleset6, `${header}, IPv6`) }),
    commands: tasks.filter((t): t is CommandTask => t.kind === 'command'),
  }
}

function asInputError(error: unknown, host: HostSpec): Error {
  if (error instanceof RoleError) return new InputError(`role ${host.role} for host ${host.name}: ${error.message}`, host.roleWhere)
  return error as Error
}
