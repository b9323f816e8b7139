// The interactive picker: on a terminal, with no selection given, ask which roles and hosts to act
// on. Prompts sit behind a small interface so the flow does not depend on inquirer.
import type { HostSpec } from '../inventory/types.ts'

export interface Choice<T> {
  readonly name: string
  readonly value: T
  readonly checked?: boolean
}

export interface Prompts {
  checkbox<T>(config: { message: string; choices: readonly Choice<T>[]; required?: boolean }): Promise<T[]>
  confirm(config: { message: string; default?: boolean }): Promise<boolean>
  // One answer per key (a lower-case letter), typed then Enter; `default` is a key.
  expand<T>(config: { message: string; default: string; choices: readonly { key: string; name: string; value: T }[] }): Promise<T>
}

// Ctrl-C or Esc at a prompt: the run ends cleanly with status 130, nothing done.
export class Cancelled extends Error {
  constructor(message = 'cancelled; nothing was changed') {
    super(message)
    this.name = 'Cancelled'
  }
}

export async function pickHosts(hosts: readonly HostSpec[], prompts: Prompts): Promise<HostSpec[]> {
  const counts = new Map<string, number>()
  for (const h of hosts) counts.set(h.role, (counts.get(h.role) ?? 0) + 1)
  const roles = await prompts.checkbox({
    message: 'Which roles? (space to pick, enter to go on)',
    choices: [...counts].map(([role, n]) => ({ name: `${role} (${n} host${n === 1 ? '' : 's'})`, value: role })),
    required: true,
  })
  const candidates = hosts.filter((h) => roles.includes(h.role))
  const names = await prompts.checkbox({
    message: 'Which hosts?',
    choices: candidates.map((h) => ({ name: `${h.name}${h.address ? `  ${h.address}` : ''}  (${h.role})`, value: h.name, checked: true })),
    required: true,
  })
  return candidates.filter((h) => names.includes(h.name))
}
