// Picks how a run talks: listr2 on a terminal, plain lines without one or under CI, JSON on request.
import type { Reporter } from '../report/events.ts'
import { JsonReporter } from '../report/json.ts'
import { ListrReporter } from '../report/listr.ts'
import { DONE_VERB, PlainReporter, type Write } from '../report/plain.ts'

export interface Io {
  readonly out: Write
  readonly err: Write
  readonly isTTY: boolean
  readonly env: NodeJS.ProcessEnv
}

export const processIo: Io = {
  out: (text) => process.stdout.write(text + '\n'),
  err: (text) => process.stderr.write(text + '\n'),
  isTTY: Boolean(process.stdout.isTTY),
  env: process.env,
}

export function interactive(io: Io): boolean {
  return io.isTTY && !io.env.CI
}

export function reporterFor(io: Io, options: { json?: boolean }, command: string, hosts: readonly string[]): Reporter {
  if (options.json) return new JsonReporter(io.out, command)
  const verb = DONE_VERB[command] ?? command
  if (interactive(io)) return new ListrReporter(hosts, io.out, verb)
  return new PlainReporter(io.out, verb)
}
