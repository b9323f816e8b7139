// Which hosts a command acts on: --limit/--role, or on a terminal with neither (and no --yes), the
// interactive picker. Without a terminal, or with CI set, fleet never prompts: no selection means
// every host, so cron and CI runs work unchanged.
import type { HostSpec, Inventory } from '../inventory/types.ts'
import { selectHosts } from './load.ts'
import { interactive, type Io } from './output.ts'
import { pickHosts, type Prompts } from './picker.ts'

export interface SelectionOptions {
  readonly limit?: string[]
  readonly role?: string[]
  readonly yes?: boolean
  readonly json?: boolean
  readonly dryRun?: boolean
}

export function shouldPrompt(options: SelectionOptions, io: Io): boolean {
  const selected = (options.limit?.length ?? 0) + (options.role?.length ?? 0) > 0
  return interactive(io) && !selected && !options.yes && !options.json && !options.dryRun
}

export async function chooseHosts(
  inventory: Inventory,
  options: SelectionOptions,
  io: Io,
  prompts: () => Promise<Prompts>,
): Promise<{ hosts: HostSpec[]; prompts?: Prompts }> {
  const hosts = selectHosts(inventory, options.limit, options.role)
  if (!shouldPrompt(options, io)) return { hosts }
  const p = await prompts()
  return { hosts: await pickHosts(hosts, p), prompts: p }
}
