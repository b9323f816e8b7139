// What a change would do on each host, read from the hosts themselves (read-only, like an audit):
// before the last yes/no on a terminal (the preview), and as `fleet apply --check`.
import { busy, factsDiff, gatherFacts, heldBack, otherDifferences, othersReport, rulesetsEqual } from '../apply/host-facts.ts'
import type { Change } from '../plan/change.ts'
import { HostError, type Session } from '../remote/transport.ts'
import type { HostDone } from '../apply/events.ts'
import type { ConnectSpec } from '../ssh/connect-spec.ts'
import { EXIT } from './exit-codes.ts'
import { workOnHosts, type ConnectionOptions } from './host-work.ts'
import type { Io } from './output.ts'
import { Cancelled, type Prompts } from './picker.ts'
import { changeSummary, previewText } from './preview-text.ts'

// What `change` would do on the host, as a host-done event with apply's outcome: `changed` when
// it would change something, `unchanged` otherwise, `failed` when apply would hold the host back
// for its other firewalls. Like apply's, it carries the backend and the other firewalls found.
// Nothing is written.
export async function pendingChange(session: Session, change: Change): Promise<HostDone> {
  const facts = await gatherFacts(session, change)
  const inProgress = busy(facts)
  if (inProgress !== undefined) throw new HostError(inProgress)
  const known = { kind: 'host-done', host: change.host.name, backend: facts.backend, ...othersReport(facts) } as const
  // Apply would leave the host unchanged and fail it: say so and why, not what it would change.
  const held = heldBack(change, facts, 'ahead')
  if (held !== undefined) return { ...known, outcome: 'failed', detail: held }
  const same = rulesetsEqual(facts)
  const settings = otherDifferences(facts, change)
  return { ...known, outcome: same && settings.length === 0 ? 'unchanged' : 'changed', diff: same ? [] : factsDiff(facts), settings }
}

export async function preview(
  specs: ReadonlyMap<string, ConnectSpec>,
  hosts: readonly string[],
  options: ConnectionOptions,
  io: Io,
  changeFor: (host: string, session: Session) => Promise<Change>,
): Promise<HostDone[]> {
  return workOnHosts('preview', specs, hosts, { ...options, quiet: true, json: false }, io, async (host, session) =>
    pendingChange(session, await changeFor(host, session)),
  )
}

// `fleet apply --check`: every host read, what apply would change printed rule by rule, nothing
// written. Reported with audit's words and exit statuses: in sync (0), drift (3), failed (1): a
// host that cannot be read, or that apply would hold back and fail.
export async function checkHosts(
  specs: ReadonlyMap<string, ConnectSpec>,
  changes: ReadonlyMap<string, Change>,
  options: ConnectionOptions,
  io: Io,
): Promise<number> {
  const results = await workOnHosts('check', specs, [...changes.keys()], options, io, async (host, session, _open, emit) => {
    emit({ kind: 'step', host, step: 'reading the live ruleset' })
    const pending = await pendingChange(session, changes.get(host)!)
    if (pending.outcome === 'unchanged') return { ...pending, outcome: 'in-sync' }
    if (pending.outcome === 'failed') return pending
    return { ...pending, outcome: 'drift', detail: `apply would change: ${changeSummary(pending)}` }
  })
  return readOnlyExitCode(results)
}

// audit's and --check's exit status: a host that could not be read wins over drift.
export function readOnlyExitCode(results: readonly HostDone[]): number {
  if (results.some((r) => r.outcome === 'failed')) return EXIT.hostFailed
  return results.some((r) => r.outcome === 'drift') ? EXIT.drift : EXIT.ok
}

// Blocks longer than this are folded; the prompt then offers a key to see them whole.
const FOLD_AT = 12

// Shows the preview, then asks the last yes/no; anything but yes ends the run with nothing done.
export async function confirmPreview(prompts: Prompts, io: Io, previewed: readonly HostDone[], heading: string, verb: string): Promise<void> {
  const show = (limit: number) => {
    const text = previewText(previewed, limit)
    io.out(heading)
    text.lines.forEach((line) => io.out(line))
    return text.folded
  }
  const n = previewed.length
  const message = `${verb} ${n} host${n === 1 ? '' : 's'}?`
  const folded = show(FOLD_AT)
  if (folded > 0) {
    const answer = await prompts.expand({
      message: `${message} (d: show the ${folded} folded change${folded === 1 ? '' : 's'})`,
      default: 'n',
      choices: [
        { key: 'y', name: `${verb}`, value: 'yes' },
        { key: 'n', name: 'stop here, change nothing', value: 'no' },
        { key: 'd', name: 'show every change, then ask again', value: 'all' },
      ],
    })
    if (answer === 'yes') return
    if (answer === 'no') throw new Cancelled()
    show(Infinity)
  }
  if (!(await prompts.confirm({ message, default: false }))) throw new Cancelled()
}
