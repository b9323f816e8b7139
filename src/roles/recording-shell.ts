// zx's own `$`, made to record instead of run. A role's task bodies are zx scripts; fleet runs
// them with zx's `spawn` option replaced by one that writes the command down and answers like a
// process that exited 0 with no output, so nothing a role writes ever runs on the operator's
// machine. The commands are quoted by fleet's POSIX quote (zx's default emits bash-only $'...'
// that dash, Debian's /bin/sh, reads differently), and zx's `kill`, which signals local process
// groups, is replaced too.
import { EventEmitter } from 'node:events'
import { PassThrough } from 'node:stream'
import { $, within, type Options, type ProcessPromise, type Shell } from 'zx/core'
import type { RoleShell } from './types.ts'
import { quote } from '../shell/quote.ts'
import { RoleError } from './iptables-line.ts'

export interface Recorded {
  // The command exactly as zx built it: literal text plus quoted values.
  readonly text: string
  // zx passes a command's AbortSignal to spawn; it is how ensure() finds its two commands.
  readonly signal: AbortSignal | undefined
}

// Above Linux's PID_MAX_LIMIT (2^22): no process can have it, whatever happens to it.
const NO_SUCH_PID = 2 ** 22 + 1

// What zx needs from a ChildProcess: the three streams, a pid, and exit/close (error never comes).
class RecordedProcess extends EventEmitter {
  readonly stdin = new PassThrough()
  readonly stdout = new PassThrough()
  readonly stderr = new PassThrough()
  readonly pid = NO_SUCH_PID
  exitCode: number | null = null
  readonly killed = false

  constructor() {
    super()
    // After zx has attached its listeners (it does so right after spawn returns).
    setImmediate(() => {
      this.stdout.end()
      this.stderr.end()
      this.exitCode = 0
      this.emit('exit', 0, null)
      this.emit('close', 0, null)
    })
  }

  kill(): boolean {
    return false
  }
}

// Options a task may set per command: they change nothing about what is recorded.
const HARMLESS = new Set(['nothrow', 'quiet', 'verbose'])

export interface Recorder {
  readonly commands: Recorded[]
  // Every command a body started, to wait for before reading `commands`.
  readonly started: ProcessPromise[]
  // A misuse noticed where it cannot be thrown into the role's code (e.g. inside zx).
  problem?: RoleError
}

function options(recorder: Recorder): Partial<Options> {
  return {
    spawn: ((cmd: string, _args: unknown, opts: { signal?: AbortSignal }) => {
      recorder.commands.push({ text: cmd, signal: opts.signal })
      return new RecordedProcess()
    }) as unknown as Options['spawn'],
    spawnSync: (() => {
      throw new RoleError("zx's sync mode ($.sync) needs the command's output now, which only a live host has")
    }) as unknown as Options['spawnSync'],
    kill: async () => {
      recorder.problem ??= new RoleError("a role cannot kill a command: its commands describe the host, they are not running")
    },
    quote,
    // The commands are placed into fleet's own scripts, run by the host's /bin/sh (dash on
    // Debian): no bash-only prefix such as zx's default `set -euo pipefail;`.
    prefix: '',
    postfix: '',
    shell: '/bin/sh',
    detached: false,
    verbose: false,
    quiet: true,
    log: () => {},
    preferLocal: false,
    halt: false,
  }
}

function isTemplate(value: unknown): value is TemplateStringsArray {
  return Array.isArray(value) && 'raw' in value
}

// The `$` a task body receives: zx's `$` bound to the recording options. `$({ nothrow: true })`
// and the like work; options that would change where or how a command runs are role errors.
function guard(bound: Shell, recorder: Recorder, fixed: Partial<Options>): Shell {
  return new Proxy(bound, {
    apply(target, thisArg, args: unknown[]) {
      const [first] = args
      if (isTemplate(first)) {
        const started = Reflect.apply(target, thisArg, args) as ProcessPromise
        recorder.started.push(started)
        return started
      }
      const refused = Object.keys(first ?? {}).filter((k) => !HARMLESS.has(k))
      if (refused.length > 0) {
        throw new RoleError(`zx option ${refused.join(', ')} cannot be used in a role (its commands are run on the host by fleet; allowed: ${[...HARMLESS].join(', ')})`)
      }
      return guard(Reflect.apply(target, thisArg, args) as Shell, recorder, fixed)
    },
    get(target, key) {
      if (key === 'sync') throw new RoleError("zx's sync mode ($.sync) needs the command's output now, which only a live host has")
      if (typeof key === 'string' && key in fixed) return fixed[key as keyof Options]
      return Reflect.get(target, key)
    },
    set(_target, key) {
      throw new RoleError(`a role cannot set zx's $.${String(key)}: fleet sets how its commands are quoted and run`)
    },
  })
}

// Runs `body` with a recording `$`, inside zx's own context so that anything zx looks up at run
// time (its `kill` among them) is fleet's too.
export async function record(body: ($: RoleShell) => Promise<void> | void): Promise<Recorder> {
  const recorder: Recorder = { commands: [], started: [] }
  const fixed = options(recorder)
  await within(async () => {
    Object.assign($, fixed)
    await body(guard($(fixed) as unknown as Shell, recorder, fixed) as unknown as RoleShell)
    await Promise.allSettled(recorder.started)
  })
  if (recorder.problem) throw recorder.problem
  return recorder
}
