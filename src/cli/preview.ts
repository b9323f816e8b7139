// Before the final confirmation on a terminal: what would change on each picked host, read from
// the hosts themselves (read-only, like an audit), in one line each.
import { factsDiff, gatherFacts, rulesetsEqual } from '../apply/host-facts.ts'
import type { Change } from '../apply/change.ts'
import type { Session } from '../remote/transport.ts'
import type { HostDone } from '../report/events.ts'
import type { ConnectSpec } from '../ssh/connect-spec.ts'
import { workOnHosts, type ConnectionOptions } from './host-work.ts'
import type { Io } from './output.ts'
import { Cancelled, type Prompts } from './picker.ts'

export function previewLine(done: HostDone): string {
  if (done.outcome === 'failed') return `  ${done.host}: cannot be read (${done.detail}); it would fail`
  if (done.outcome === 'unchanged') return `  ${done.host}: nothing to change`
  const count = (kind: string) => done.diff?.filter((d) => d.kind === kind).length ?? 0
  const parts = [
    [count('missing') + count('chain-missing'), 'to add'],
    [count('extra') + count('chain-extra'), 'to remove'],
    [count('out-of-order') + count('policy'), 'to reorder or re-policy'],
  ]
    .filter(([n]) => (n as number) > 0)
    .map(([n, what]) => `${n} ${what}`)
  return `  ${done.host}: ${[...parts, ...(done.settings ?? [])].join(', ')}`
}

export async function preview(
  specs: ReadonlyMap<string, ConnectSpec>,
  hosts: readonly string[],
  options: ConnectionOptions,
  io: Io,
  changeFor: (host: string, session: Session) => Promise<Change>,
): Promise<HostDone[]> {
  return workOnHosts('preview', specs, hosts, { ...options, quiet: true, json: false }, io, async (host, session) => {
    const change = await changeFor(host, session)
    const facts = await gatherFacts(session, change)
    const same = rulesetsEqual(facts)
    const settings = facts.settingsToChange.map((i) => change.commands[i]!.title)
    return {
      kind: 'host-done',
      host,
      outcome: same && settings.length === 0 ? 'unchanged' : 'changed',
      diff: same ? [] : factsDiff(facts),
      settings,
    }
  })
}

// Shows the preview, then asks the last yes/no; anything but yes ends the run with nothing done.
export async function confirmPreview(prompts: Prompts, io: Io, previewed: readonly HostDone[], heading: string, verb: string): Promise<void> {
  io.out(heading)
  previewed.forEach((done) => io.out(previewLine(done)))
  const n = previewed.length
  if (!(await prompts.confirm({ message: `${verb} ${n} host${n === 1 ? '' : 's'}?`, default: false }))) throw new Cancelled()
}
