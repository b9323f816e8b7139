// What fleet reads from a host before it decides anything: both rulesets, as they are and as the
// change wants them (both in the host's own normal form), minus the chains it preserves, and the
// host settings. Read-only; shared by apply, rollback, audit and the picker's preview.
import { diffRulesets, type DiffEntry } from '../plan/diff.ts'
import { chainCounts, managedTablesEqual, parseSave, UnreadableSave, type SavedRuleset } from '../plan/normal-form.ts'
import { backendRules, bootFlushWarning, nativeTables, otherBackend, refusal, type OtherFirewall, type Telling } from '../plan/other-firewalls.ts'
import { splitPreserved } from '../plan/preserve.ts'
import type { Fault } from '../remote/fault.ts'
import { factsStep, ruleCountStep } from '../remote/read-scripts.ts'
import { parseSections, type Sections } from '../remote/sections.ts'
import { HostError, type Session } from '../remote/transport.ts'
import type { Family } from '../roles/types.ts'
import type { Change } from '../plan/change.ts'

export interface FamilyFacts {
  readonly family: Family
  // Both without the preserved chains, their rules and the jumps to them.
  readonly live: SavedRuleset
  readonly desired: SavedRuleset
  // The preserved lines of the live ruleset, per table: kept as they are by any change.
  readonly preserved: ReadonlyMap<string, readonly string[]>
}

export interface HostFacts {
  readonly backend: string
  readonly liveSum: string
  readonly v4: FamilyFacts
  // Present when the change manages IPv6 and the host has it.
  readonly v6?: FamilyFacts
  // Indexes of the change's host settings that differ from what it wants.
  readonly settingsToChange: readonly number[]
  // With persist: the boot files that would not load the change's rulesets at boot (missing,
  // unreadable, or another ruleset: edited by hand, or left by a change that never finished).
  readonly bootStale: readonly string[]
  // Rules outside the tables fleet manages that also filter traffic (the other iptables backend,
  // native nftables), and what the operator should know about the host.
  readonly others: readonly OtherFirewall[]
  readonly warnings: readonly string[]
  // A change another run has in progress on the host: what is live may not stay.
  readonly inProgress?: ChangeInProgress
}

export interface ChangeInProgress {
  // Empty for a lock whose owner is still being written.
  readonly id: string
  readonly by: string
  // Since when the lock holds and when it expires (ISO), if it says.
  readonly since?: string
  readonly until?: string
  // Its timer runs: unless the change is confirmed, the host restores the previous ruleset.
  readonly armed: boolean
}

// iptables-restore's complaint on one line, with the offending line of the document quoted.
export function restoreError(output: string, document: string): string {
  const lines = output.split('\n').map((l) => l.trim()).filter((l) => l !== '' && !/^Try `ip6?tables-restore/.test(l))
  return lines
    .map((l) => {
      const at = /^Error occurred at line: (\d+)$/.exec(l)
      return at ? `at line ${at[1]}: ${document.split('\n')[Number(at[1]) - 1] ?? '?'}` : l
    })
    .join('; ')
}

// Host text that is not what iptables-save writes (a rule comment can hold any text) fails the
// host: fleet compares, and reports in sync, only what it could read.
export function readable<T>(what: string, read: () => T): T {
  try {
    return read()
  } catch (error) {
    if (error instanceof UnreadableSave) throw new HostError(`the host's ruleset could not be read: ${what}, ${error.message}`)
    throw error
  }
}

export function readSave(what: string, text: string): SavedRuleset {
  return readable(what, () => parseSave(text))
}

function familyFacts(family: Family, live: string, desired: string, patterns: readonly string[]): FamilyFacts {
  const tool = family === 'ipv6' ? 'ip6tables-save' : 'iptables-save'
  const split = splitPreserved(readSave(`the live ruleset (${tool})`, live), patterns)
  const normal = readSave(`the new ruleset as the host's ${tool} prints it`, desired)
  return { family, live: split.kept, desired: splitPreserved(normal, patterns).kept, preserved: split.preserved }
}

// The tools of `tools` that the shell of these sections could not find: exit 127 and its
// "not found" (dash, busybox) or "command not found" (bash).
function missingTools(sections: Sections, names: readonly string[], tools: readonly string[]): string[] {
  const said = names.filter((n) => sections.status.get(n) === 127).map((n) => sections.text.get(n) ?? '')
  return tools.filter((t) => said.some((text) => new RegExp(`\\b${t}: (command )?not found`).test(text)))
}

const notInstalled = (tools: readonly string[]) => `${tools.join(' and ')} ${tools.length > 1 ? 'are' : 'is'} not installed on this host (not found on its PATH)`

// The role has IPv6 rules and the host speaks IPv6, so skipping them would leave the host open
// around its baseline: the host fails, saying what to install or how to leave IPv6 out.
export function missingIp6tables(tools: readonly string[]): string {
  return (
    `IPv6 is up (/proc/net/if_inet6 exists) but ${notInstalled(tools)}, which fleet needs to compare and load its IPv6 ruleset; nothing changed. ` +
    'Install ip6tables on the host (Debian, Ubuntu: apt install iptables, which carries both; Alpine: apk add ip6tables), ' +
    'or give the host a role of your own without ip6tables lines: fleet then manages its IPv4 ruleset only and leaves IPv6 unfiltered'
  )
}

export function readFacts(change: Change, sections: Sections): HostFacts {
  const text = (name: string) => sections.text.get(name) ?? ''
  const missing4 = missingTools(sections, ['live', 'desired'], ['iptables-save', 'iptables-restore'])
  if (missing4.length > 0) {
    throw new HostError(`${notInstalled(missing4)}, which fleet needs to read, compare and load its ruleset; nothing changed. Install iptables on the host (Debian, Ubuntu: apt install iptables; Alpine: apk add iptables)`)
  }
  if (sections.status.get('live') !== 0) throw new HostError(`iptables-save failed: ${text('live').trim() || 'is iptables installed?'}`)
  if (/^unshare: /m.test(text('desired'))) {
    throw new HostError(
      `cannot make a scratch network namespace on the host (${text('desired').trim()}); fleet loads the new ruleset there to compare it in the kernel's normal form, and needs root with CAP_SYS_ADMIN`,
    )
  }
  if (sections.status.get('desired') !== 0) {
    throw new HostError(`the host's iptables rejects the new ruleset, nothing changed: ${restoreError(text('desired'), change.document)}`)
  }
  const v6 = change.document6 !== undefined && text('ipv6').trim() === 'yes'
  const missing = v6 ? missingTools(sections, ['live6', 'desired6'], ['ip6tables-save', 'ip6tables-restore']) : []
  if (missing.length > 0) throw new HostError(missingIp6tables(missing))
  if (v6 && sections.status.get('desired6') !== 0) {
    throw new HostError(`the host's ip6tables rejects the new IPv6 ruleset, nothing changed: ${restoreError(text('desired6'), change.document6!)}`)
  }
  const patterns = change.host.preserve
  const backend = /\((nf_tables|legacy)\)/.exec(text('backend'))?.[1] ?? 'unknown'
  const v4Facts = familyFacts('ipv4', text('live'), text('desired'), patterns)
  const v6Facts = v6 ? familyFacts('ipv6', text('live6'), text('desired6'), patterns) : undefined
  return {
    backend,
    liveSum: text('live-sum').trim(),
    v4: v4Facts,
    ...(v6Facts && { v6: v6Facts }),
    settingsToChange: change.commands.flatMap((c, i) => (settingHolds(text(`check-${i}`), c.want) ? [] : [i])),
    bootStale: change.host.persist ? staleBootFiles(sections, patterns, v6Facts ? [v4Facts, v6Facts] : [v4Facts]) : [],
    ...otherFirewalls(backend, change.host.persist, sections),
    ...inProgress(text('pending')),
  }
}

// The boot files that do not hold the change's rulesets in the tables fleet manages (preserved
// chains are whatever they were when last persisted).
function staleBootFiles(sections: Sections, patterns: readonly string[], families: readonly { family: Family; desired: SavedRuleset }[]): string[] {
  return families.flatMap(({ family, desired }) => {
    const [name, file] = family === 'ipv4' ? ['boot4', '/etc/iptables/rules.v4'] : ['boot6', '/etc/iptables/rules.v6']
    if (sections.status.get(name) !== 0) return [file]
    let boot: SavedRuleset
    try {
      boot = parseSave(sections.text.get(name) ?? '')
    } catch (error) {
      if (error instanceof UnreadableSave) return [file]
      throw error
    }
    return managedTablesEqual(splitPreserved(boot, patterns).kept, desired) ? [] : [file]
  })
}

// What differs outside the live rulesets, for people: each host setting by its title, each boot
// file that a reboot would load another ruleset from.
export function otherDifferences(facts: HostFacts, change: Change): string[] {
  return [
    ...facts.settingsToChange.map((i) => change.commands[i]!.title),
    ...facts.bootStale.map((file) => `boot file ${file}: holds another ruleset than the baseline (a reboot would load it)`),
  ]
}

// Whether a setting's check printed `want`: as the change script compares it (trailing newlines
// dropped; a rollback's want is a value read from the host, with any blanks it had), or trimmed.
export const settingHolds = (printed: string, want: string) => printed.replace(/\n+$/, '') === want || printed.trim() === want

// The facts step's `pending` section: id=, by=, since=, expires= of a lock that holds; armed=<id> for
// every change whose timer runs.
function inProgress(text: string): Pick<HostFacts, 'inProgress'> {
  const values = (key: string) => [...text.matchAll(new RegExp(`^${key}=(.*)$`, 'gm'))].map((m) => m[1]!)
  const armed = values('armed')
  const [id = armed[0]] = values('id')
  if (id === undefined) return {}
  const time = (key: string) => {
    const epoch = Number(values(key)[0])
    return epoch > 0 ? new Date(epoch * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z') : undefined
  }
  const [since, until] = [time('since'), time('expires')]
  return {
    inProgress: {
      id,
      by: values('by')[0] ?? '',
      ...(since && { since }),
      ...(until && { until }),
      armed: armed.includes(id),
    },
  }
}

// What a run in progress is doing, for people: "change X by Y waits for confirmation until T at the
// latest" (when its lock expires: the timer acts before).
export function inProgressText(p: ChangeInProgress): string {
  if (p.id === '') return 'another run is taking the lock'
  // Without an expiry to come (the lock is past it), the lock holds while the change is at work.
  const until = p.until ? ` until ${p.until} at the latest` : p.armed ? '' : ' for as long as its change is at work there (its timer or a script of it runs)'
  // Without a timer, as the lock's own busy refusal says it.
  const what = p.armed ? 'waits for confirmation' : `holds this host${p.since ? ` since ${p.since},` : ''}`
  return `change ${p.id}${p.by ? ` by ${p.by}` : ''} ${what}${until}`
}

// Why apply (and --check, the preview) leaves this host alone: another run's change is in progress,
// and what is live may yet be undone by its timer. Said as the lock's busy refusal says it.
export function busy(facts: HostFacts): string | undefined {
  return facts.inProgress ? `busy: ${inProgressText(facts.inProgress)}; nothing changed` : undefined
}

function otherFirewalls(backend: string, persist: boolean, sections: Sections): Pick<HostFacts, 'others' | 'warnings'> {
  const text = (name: string) => sections.text.get(name) ?? ''
  const other = otherBackend(backend)
  // nft absent prints nothing and succeeds: no native tables to read.
  const nft = text('nft').trim() === '' && sections.status.get('nft') === 0 ? { found: [] } : nativeTables(text('nft'))
  const boot = persist ? bootFlushWarning(text('boot')) : undefined
  return {
    others: [
      ...readable(`iptables-${other}-save`, () => backendRules(`iptables-${other}`, text('other4'))),
      ...readable(`ip6tables-${other}-save`, () => backendRules(`ip6tables-${other}`, text('other6'))),
      ...('found' in nft ? nft.found : []),
    ],
    warnings: [...('problem' in nft ? [nft.problem] : []), ...(boot ? [boot] : [])],
  }
}

export async function gatherFacts(session: Session, change: Change, fault?: Fault): Promise<HostFacts> {
  const step = factsStep(change, fault)
  const result = await session.run(step.script)
  if (result.code !== 0) throw new HostError(`reading facts failed (exit ${result.code}): ${result.stderr.trim()}`)
  const sections = parseSections(result.stdout, step.marks)
  const facts = readFacts(change, sections)
  await checkCounts(session, 'iptables', sections.text.get('live') ?? '')
  if (facts.v6) await checkCounts(session, 'ip6tables', sections.text.get('live6') ?? '')
  return facts
}

// Where a live rule spans lines, the kernel's count of each chain's rules must be the one fleet
// read (chainCounts says why): one more round trip, on such hosts only.
export async function checkCounts(session: Session, tool: 'iptables' | 'ip6tables', live: string): Promise<void> {
  const counts = chainCounts(parseSave(live))
  if (counts === undefined) return
  const result = await session.run(ruleCountStep(tool, counts).script)
  const differ = result.stdout.split('\n').filter((l) => l !== '')
  if (result.code !== 0 || differ.length > 0) {
    throw new HostError(
      `the host's ruleset could not be read: the live ruleset (${tool}-save) has rules that span lines, and the kernel holds another number of rules in ${differ.join(', ') || `some chain (exit ${result.code})`} than fleet read; a name with a space and a double quote in it can make iptables-save's text ambiguous`,
    )
  }
}

// The other firewalls and warnings as a host's report carries them (absent when there are none).
export function othersReport(facts: HostFacts): { otherFirewalls?: HostFacts['others']; warnings?: HostFacts['warnings'] } {
  return { ...(facts.others.length > 0 && { otherFirewalls: facts.others }), ...(facts.warnings.length > 0 && { warnings: facts.warnings }) }
}

// Why apply leaves this host unchanged: other rules still filter its traffic and the inventory
// does not say to go ahead. A rollback goes back to what was, so it is never held back. Apply,
// --check and the preview all decide here, so what they predict is what apply does.
export function heldBack(change: Change, facts: HostFacts, when: Telling = 'done'): string | undefined {
  if (facts.others.length === 0 || change.action !== 'apply' || change.host.otherFirewalls === 'proceed') return undefined
  return refusal(facts.others, when)
}

export function families(facts: HostFacts): FamilyFacts[] {
  return facts.v6 ? [facts.v4, facts.v6] : [facts.v4]
}

// What differs between the live rulesets and the change's, both families.
export function factsDiff(facts: HostFacts): DiffEntry[] {
  return families(facts).flatMap((f) => diffRulesets(f.live, f.desired, f.family))
}

export function rulesetsEqual(facts: HostFacts): boolean {
  return families(facts).every((f) => managedTablesEqual(f.live, f.desired))
}
