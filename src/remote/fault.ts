// FLEET_FAULT: a test-only hook that makes one step of a change fail in a chosen way, so the
// fault-injection tests can stop the transaction at an exact point on real hosts. Inert unless the
// variable is set; never set it against hosts you care about.
//
//   FLEET_FAULT=<step>:<kind>
//   steps: read lock save test arm load-raw load-mangle load-nat load-filter load6 settings verify
//          confirm reply persist release restore
//   kinds: fail        the step's command fails (load-<table>: that table of the loaded document
//                      jumps to a chain that does not exist, so iptables-restore really fails there
//                      after committing the tables before it; confirm: no fresh connection)
//          drop        the host cuts the SSH connection running the step (kills its sshd session)
//          kill        fleet is killed (SIGKILL) while the host is at the step
//          lose-reply  (reply) the host confirms, fleet never hears the answer
//          cut         (reply) the host confirms, then its network goes down for a while
import { InputError } from '../inventory/errors.ts'

export const FAULT_STEPS = [
  'read', 'lock', 'save', 'test', 'arm', 'load-raw', 'load-mangle', 'load-nat', 'load-filter', 'load6', 'settings',
  'verify', 'confirm', 'reply', 'persist', 'release', 'restore',
] as const
export const FAULT_KINDS = ['fail', 'drop', 'kill', 'lose-reply', 'cut'] as const
export type FaultStep = (typeof FAULT_STEPS)[number]
export type FaultKind = (typeof FAULT_KINDS)[number]

export interface Fault {
  readonly step: FaultStep
  readonly kind: FaultKind
}

export function faultFrom(env: NodeJS.ProcessEnv): Fault | undefined {
  const value = env.FLEET_FAULT
  if (value === undefined || value === '') return undefined
  const [step, kind] = value.split(':')
  if (!FAULT_STEPS.includes(step as FaultStep) || !FAULT_KINDS.includes(kind as FaultKind)) {
    throw new InputError(`FLEET_FAULT=${value}: expected <step>:<kind>, step one of ${FAULT_STEPS.join(', ')}, kind one of ${FAULT_KINDS.join(', ')}`)
  }
  return { step: step as FaultStep, kind: kind as FaultKind }
}

export const faultIs = (fault: Fault | undefined, step: FaultStep, kind: FaultKind) => fault?.step === step && fault.kind === kind

// How long the host waits at a `kill` step, for fleet to die meanwhile.
export const KILL_PAUSE_SEC = 3
export const CUT_SEC_BEYOND_CONFIRM = 20

// Shell run on the host just before `step`; empty unless the fault is there.
export function hostHook(fault: Fault | undefined, step: FaultStep, confirmSec: number | null = null): string {
  if (fault?.step !== step) return ''
  switch (fault.kind) {
    case 'drop':
      // Every sshd process of this session (not the listener, whose parent is not sshd).
      return `p=$$; while [ "$p" -gt 1 ]; do pp=$(awk '{print $4}' /proc/$p/stat); case "$(cat /proc/$p/comm) $(cat /proc/$pp/comm)" in sshd*' 'sshd*) kill -9 $p ;; esac; p=$pp; done; sleep 1`
    case 'kill':
      return `sleep ${KILL_PAUSE_SEC}`
    case 'cut':
      return `for l in $(ls /sys/class/net); do [ "$l" = lo ] || ip link set dev "$l" down; done; (sleep ${(confirmSec ?? 0) + CUT_SEC_BEYOND_CONFIRM}; for l in $(ls /sys/class/net); do ip link set dev "$l" up; done) </dev/null >/dev/null 2>&1 &`
    default:
      return ''
  }
}

// The command of `step`, or one that fails when the fault says so.
export function orFail(fault: Fault | undefined, step: FaultStep, command: string): string {
  return faultIs(fault, step, 'fail') ? `false FLEET_FAULT ${step}` : command
}

// A table of an iptables-restore document that jumps to a chain that does not exist: `--test`
// passes it, the real load rejects that table after committing the ones before it.
export function breakTable(document: string, table: string): string {
  const lines = document.split('\n')
  const start = lines.indexOf(`*${table}`)
  const commit = lines.indexOf('COMMIT', start)
  if (start < 0 || commit < 0) return document
  const chain = /^:(\S+)/.exec(lines[start + 1] ?? '')?.[1] ?? 'INPUT'
  lines.splice(commit, 0, `-A ${chain} -j FLEET_FAULT_MISSING_CHAIN`)
  return lines.join('\n')
}

// A `kill` fault at a step of the script about to run: fleet dies while the host is there.
export function killDuring(fault: Fault | undefined, steps: readonly FaultStep[]): void {
  if (fault?.kind === 'kill' && steps.includes(fault.step)) setTimeout(() => process.kill(process.pid, 'SIGKILL'), 1000).unref()
}

// A `kill` fault at a step fleet itself runs (verify, reply): fleet dies there, now.
export function killNow(fault: Fault | undefined, step: FaultStep): void {
  if (faultIs(fault, step, 'kill')) process.kill(process.pid, 'SIGKILL')
}
