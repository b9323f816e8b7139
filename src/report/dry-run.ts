// --dry-run: per host, every command a real run would send to it, grouped and readable.
// Built from the same Step scripts the SSH transport sends; nothing here connects. Hosts are made
// and written one at a time, so a plan of 20,000 hosts never exists as one string.
import type { Change } from '../plan/change.ts'
import { changeStep, type ChangeSettings } from '../remote/change-script.ts'
import { factsStep } from '../remote/read-scripts.ts'
import { confirmStep, finishStep } from '../remote/settle-scripts.ts'
import { type Step } from '../remote/step.ts'
import { quote } from '../shell/quote.ts'
import type { ConnectSpec } from '../ssh/connect-spec.ts'
import { remoteCommand } from '../ssh/sudo.ts'
import { printableWrite } from './plain.ts'
import { jsonText } from './json-text.ts'

export interface DryRunHost {
  readonly host: string
  readonly role: string
  readonly ssh: string
  // The role's task titles, as the progress display shows them (an apply's).
  readonly tasks?: readonly string[]
  readonly steps: readonly Step[]
}

// The jump hosts, farthest first, as ssh's -J lists them.
function hops(spec: ConnectSpec): string[] {
  if (!spec.jump) return []
  const { user, address, port } = spec.jump
  return [...hops(spec.jump), `${user}@${address.includes(':') ? `[${address}]` : address}:${port}`]
}

// `sudoPassword`: the run is given one (-K, --sudo-pass-file); it goes on stdin before the script,
// so it is in no command line and in no dry run.
export function sshCommand(spec: ConnectSpec, sudoPassword = false, fresh = false): string {
  const jump = spec.jump ? `-J ${hops(spec).join(',')} ` : ''
  const remote = remoteCommand(spec.user === 'root' ? 'root' : sudoPassword ? 'password' : 'nopasswd', 120)
  return `ssh ${fresh ? '-o ControlPath=none ' : ''}${jump}-p ${spec.port} ${spec.user}@${spec.address} ${quote(remote)}`
}

// `first`: steps a command runs before the change's own (rollback reads the history).
export function* dryRunPlan(
  changes: Iterable<Change>,
  specs: ReadonlyMap<string, ConnectSpec>,
  settings: Omit<ChangeSettings, 'liveSum'>,
  first: readonly Step[] = [],
  sudoPassword = false,
): Generator<DryRunHost> {
  for (const change of changes) {
    const spec = specs.get(change.host.name)!
    const facts = factsStep(change)
    const apply = changeStep(change, { ...settings, liveSum: '<checksum read in step 1>' })
    const confirm = settings.confirmFresh ? confirmStep(settings.changeId, change) : finishStep(settings.changeId, change)
    const steps = [
      ...first,
      { ...facts, title: `${facts.title}  [${sshCommand(spec, sudoPassword)}]` },
      { ...apply, title: `${apply.title} (only when they differ)  [same connection]` },
      { ...confirm, title: `${confirm.title}  [${settings.confirmFresh ? sshCommand(spec, sudoPassword, true) : 'same connection'}]` },
    ]
    yield { host: change.host.name, role: change.host.role, ssh: sshCommand(spec, sudoPassword), tasks: change.tasks ?? [], steps }
  }
}

// The dry run as text for people, or with --json as one document (written in pieces, formatted
// exactly as JSON.stringify(document, null, 2) would). `write` ends each piece with a newline.
export function writeDryRun(write: (text: string) => void, command: string, changeId: string | undefined, plan: Iterable<DryRunHost>, json = false): void {
  if (json) return writeJson(write, command, changeId, plan)
  writeDryRunText(printableWrite(write), plan)
}

// No host is read for it, but it is text for a terminal like every other: shown, never obeyed.
function writeDryRunText(write: (text: string) => void, plan: Iterable<DryRunHost>): void {
  let count = 0
  for (const h of plan) {
    // The documents a script carries base64-encoded, shown once per host as they will be loaded.
    const shown = new Set<string>()
    const steps = h.steps.map((s, i) => {
      const documents = (s.documents ?? []).filter((d) => !shown.has(d.text) && shown.add(d.text))
      return [`# step ${i + 1}: ${s.title}`, s.script, ...documents.map((d) => `# the ${d.name} document above, decoded:\n${d.text.trimEnd()}`)].join('\n')
    })
    const rule = '='.repeat(Math.max(10, 72 - h.host.length - h.role.length - 12))
    const tasks = h.tasks?.length ? [[`# the tasks of role ${h.role} (checked in step 1, made together in step 2):`, ...h.tasks.map((t) => `#   ${t}`)].join('\n')] : []
    write([`=== ${h.host} (role ${h.role}) ${rule}`, ...tasks, ...steps].join('\n\n'))
    write('')
    count++
  }
  // No blank line after the summary.
  write(`dry run: ${count} host${count === 1 ? '' : 's'}, no connection opened, nothing changed`)
}

function writeJson(write: (text: string) => void, command: string, changeId: string | undefined, plan: Iterable<DryRunHost>): void {
  const head = jsonText({ command, dryRun: true, changeId, hosts: [] })
  let previous: DryRunHost | undefined
  const indented = (h: DryRunHost) => jsonText(h).replace(/^/gm, '    ')
  for (const h of plan) {
    if (previous === undefined) write(head.replace(/\[\]\n\}$/, '['))
    else write(`${indented(previous)},`)
    previous = h
  }
  if (previous === undefined) return write(head)
  write(`${indented(previous)}\n  ]\n}`)
}
