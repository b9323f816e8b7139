// How a run that did not get to report its hosts ends: bad input, an interruption, or a bug in
// fleet. Each is one line on stderr (a stack trace only for a bug, and only with FLEET_DEBUG=1),
// its own exit status, and under --json one document on stdout, so a machine always gets one.
import { CommanderError } from 'commander'
import { InputError, InputErrors } from '../inventory/errors.ts'
import { EXIT } from './exit-codes.ts'
import { printable } from '../report/printable.ts'
import type { Io } from './output.ts'
import { Cancelled } from './picker.ts'
import { jsonText } from '../report/json-text.ts'

type Kind = 'bad-input' | 'interrupted' | 'internal'

interface Problem {
  readonly where?: string
  readonly message: string
}

interface Failure {
  readonly kind: Kind
  readonly status: number
  readonly problems: readonly Problem[]
}

function problemOf(error: InputError): Problem {
  return { ...(error.where !== undefined && { where: error.where }), message: error.message }
}

function firstLine(text: string): string {
  return text.split('\n')[0]!.trim()
}

function classify(error: unknown): Failure {
  if (error instanceof CommanderError) {
    // commander has already printed its message; strip its "error: " prefix for the document.
    return { kind: 'bad-input', status: EXIT.badInput, problems: [{ message: firstLine(error.message).replace(/^error: /, '') }] }
  }
  if (error instanceof Cancelled) return { kind: 'interrupted', status: EXIT.interrupted, problems: [{ message: error.message }] }
  if (error instanceof InputErrors) return { kind: 'bad-input', status: EXIT.badInput, problems: error.errors.map(problemOf) }
  if (error instanceof InputError) return { kind: 'bad-input', status: EXIT.badInput, problems: [problemOf(error)] }
  const message = error instanceof Error ? `${error.name}: ${firstLine(error.message)}` : firstLine(String(error))
  return { kind: 'internal', status: EXIT.internal, problems: [{ message }] }
}

export function reportFailure(error: unknown, io: Io, run: { readonly command: string; readonly json: boolean }): number {
  const failure = classify(error)
  if (run.json) io.out(jsonText({ command: run.command, error: failure }))
  if (error instanceof CommanderError) return failure.status
  if (failure.kind === 'internal') {
    const debug = io.env.FLEET_DEBUG === '1' && error instanceof Error && error.stack ? `\n${error.stack}` : ''
    const hint = debug ? '' : '; run again with FLEET_DEBUG=1 for the stack trace and report it'
    io.err(printable(`fleet: internal error (a bug in fleet, not in your input): ${failure.problems[0]!.message}${hint}${debug}`))
    return failure.status
  }
  for (const p of failure.problems) io.err(printable(`fleet: ${p.where !== undefined ? `${p.where}: ` : ''}${p.message}`))
  return failure.status
}
