// Picks how a run talks: listr2 on a terminal, plain lines without one or under CI, JSON on request.
import type { Reporter } from '../apply/events.ts'
import { JsonReporter } from '../report/json.ts'
import { ListrReporter } from '../report/listr.ts'
import { DONE_VERB, PlainReporter, type Write } from '../report/plain.ts'

export interface Io {
  readonly out: Write
  readonly err: Write
  readonly isTTY: boolean
  readonly env: NodeJS.ProcessEnv
  // The terminal's height, when there is one.
  readonly rows?: number
}

export const processIo: Io = {
  out: (text) => process.stdout.write(text + '\n'),
  err: (text) => process.stderr.write(text + '\n'),
  isTTY: Boolean(process.stdout.isTTY),
  env: process.env,
  get rows() {
    return process.stdout.rows
  },
}

export function interactive(io: Io): boolean {
  return io.isTTY && !io.env.CI
}

export function reporterFor(
  io: Io,
  options: { json?: boolean; tasks?: ReadonlyMap<string, readonly string[]> },
  command: string,
  hosts: readonly string[],
): Reporter {
  if (options.json) return new JsonReporter(io.out, command)
  const verb = DONE_VERB[command] ?? command
  if (interactive(io)) {
    const display = hosts.map((name) => ({ name, tasks: options.tasks?.get(name) ?? [] }))
    return new ListrReporter(display, io.out, verb, { rows: io.rows ?? 24 })
  }
  return new PlainReporter(io.out, verb)
}
