// The fault-injection matrix of the change transaction, against the lab's real hosts: for each
// step of apply and rollback, a failure of each kind that makes sense there (the command fails,
// the disk is full, the connection drops, fleet is killed, the reply is lost), then, once the host
// has settled (at most the confirm timeout and a margin), the promises:
//   - the live rulesets are exactly the old ones or exactly the new ones, never a mix, and the
//     host setting the change makes goes with them (an undo sets it back);
//   - the boot files (persist) hold what is live and confirmed;
//   - the host's history says what happened; the lock is free or expires;
//   - fleet's report and exit status say the same as the host.
// Cells run in parallel, one lab host each; the matrix (step x fault -> outcome) is printed.
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { fleet, fleetProcess } from '../helpers/cli.ts'
import { asConfiguration, LAB, labDown, labInventory, labRoles, labUp, onHost, ROOT, type Ran } from '../helpers/lab.ts'
import { FIRST_BOOT_TIMEOUT_MS, machineAddress, machineConnection, machineName, type MachineConnection } from '../helpers/machines.ts'

// Under sshd's MaxStartups (10) on router01, the jump host every slot goes through.
const SLOTS = 8
const CONFIRM_SEC = 4
// After fleet has ended: the timer's deadline, and its wait for an undo in progress.
const SETTLE_MS = (CONFIRM_SEC + 12) * 1000
const STATE = '/var/lib/fleet'

type Command = 'apply' | 'rollback' | 'apply --no-confirm'
type Injection = { fault: string } | { disk: 'state'; free: number; at: string } | { disk: 'boot'; at: string }
interface Cell {
  readonly command: Command
  readonly step: string
  readonly how: string
  readonly inject: Injection
}

const hook = (command: Command, step: string, kind: string): Cell => ({ command, step, how: kind, inject: { fault: `${step}:${kind}` } })
// Pages left free on a tiny tmpfs over /var/lib/fleet: none (the lock cannot be written); the lock,
// sequence and history entry but no saved ruleset; everything but the timer's files.
const stateFull = (command: Command, at: string, free: number): Cell => ({ command, step: at, how: 'disk full', inject: { disk: 'state', free, at } })
const bootFull = (command: Command): Cell => ({ command, step: 'persist', how: 'disk full', inject: { disk: 'boot', at: 'persist' } })

const CELLS: Cell[] = [
  ...['fail', 'drop', 'kill'].map((k) => hook('apply', 'read', k)),
  ...['fail', 'drop', 'kill'].map((k) => hook('apply', 'lock', k)),
  stateFull('apply', 'lock', 0),
  ...['fail', 'drop', 'kill'].map((k) => hook('apply', 'save', k)),
  stateFull('apply', 'save', 3),
  ...['fail', 'drop', 'kill'].map((k) => hook('apply', 'test', k)),
  ...['fail', 'drop', 'kill'].map((k) => hook('apply', 'arm', k)),
  stateFull('apply', 'arm', 7),
  ...['load-raw', 'load-mangle', 'load-nat', 'load-filter', 'load6'].map((s) => hook('apply', s, 'fail')),
  ...['drop', 'kill'].map((k) => hook('apply', 'load-raw', k)),
  hook('apply', 'settings', 'fail'),
  ...['fail', 'kill'].map((k) => hook('apply', 'verify', k)),
  ...['fail', 'drop', 'kill'].map((k) => hook('apply', 'confirm', k)),
  ...['lose-reply', 'drop', 'kill', 'cut'].map((k) => hook('apply', 'reply', k)),
  ...['fail', 'drop', 'kill'].map((k) => hook('apply', 'persist', k)),
  bootFull('apply'),
  ...['fail', 'kill'].map((k) => hook('apply', 'release', k)),
  hook('apply --no-confirm', 'load-filter', 'fail'),
  hook('apply --no-confirm', 'verify', 'fail'),
  hook('apply --no-confirm', 'persist', 'fail'),
  bootFull('apply --no-confirm'),
  hook('apply --no-confirm', 'reply', 'drop'),
  // fleet killed between the load and the finish (the timer undoes what it never verified), or
  // while the finish runs on the host (the finish stands).
  ...['load-raw', 'verify', 'persist'].map((s) => hook('apply --no-confirm', s, 'kill')),
  hook('rollback', 'lock', 'fail'),
  stateFull('rollback', 'save', 3),
  hook('rollback', 'load-filter', 'fail'),
  hook('rollback', 'load-raw', 'drop'),
  hook('rollback', 'verify', 'fail'),
  hook('rollback', 'confirm', 'fail'),
  hook('rollback', 'reply', 'lose-reply'),
  hook('rollback', 'reply', 'kill'),
  bootFull('rollback'),
]

// The hosts the cells run on: namespace hosts (the whole matrix), and real Debian machines booting
// systemd (the cells where they differ: the timer is a transient systemd unit, stopped by
// systemctl; the boot files are netfilter-persistent's; and on `legacy` the iptables-legacy
// backend loads and restores).
type Kind = 'namespace' | 'systemd' | 'legacy'
const DEBIAN_KINDS = ['systemd', 'legacy'] as const
const DEBIAN_CELLS: Cell[] = [
  hook('apply', 'load-filter', 'fail'),
  hook('apply', 'confirm', 'kill'),
  hook('apply', 'reply', 'drop'),
  bootFull('apply'),
  hook('apply --no-confirm', 'verify', 'kill'),
]
// Debian machines of each kind (deb01 and up: the first ones systemd on nf_tables, then legacy).
const DEBIAN_PER_KIND = 1

interface KindCell extends Cell {
  readonly on: Kind
}
const cellName = (c: KindCell) => `${c.on === 'namespace' ? '' : `[${c.on}] `}${c.command} ${c.step} x ${c.how}`
const ALL: KindCell[] = [...CELLS.map((c) => ({ ...c, on: 'namespace' as Kind })), ...DEBIAN_KINDS.flatMap((on) => DEBIAN_CELLS.map((c) => ({ ...c, on })))]
// FAULT_CELLS=<regular expression>: only the cells whose name matches (while working on a few).
const chosen = ALL.filter((c) => new RegExp(process.env.FAULT_CELLS ?? '').test(cellName(c)))

interface Slot {
  readonly name: string
  readonly kind: Kind
  // A command as root on the host: nsenter into a namespace host; over SSH on a Debian machine
  // (nsenter would skip its container's capability limits).
  readonly run: (command: string, input?: string) => Promise<Ran>
}
const namespaceSlot = (i: number): Slot => {
  const name = `srv${String(i + 1).padStart(3, '0')}`
  return { name, kind: 'namespace', run: async (command, input) => onHost(name, command, input) }
}
// The test's own connections to the Debian machines, made in beforeAll.
const connections = new Map<string, MachineConnection>()
const debianSlot = (i: number, kind: Kind): Slot => {
  const name = machineName(i)
  return {
    name,
    kind,
    // Again when router01's sshd turned the connection away before it ran anything (MaxStartups:
    // the fleets of the other slots connect through it at the same time).
    run: async (command, input) => {
      for (let attempt = 1; ; attempt++) {
        const r = await connections.get(name)!.run(command, input)
        if (r.code !== 255 || attempt === 4 || !/kex_exchange_identification|Connection closed by|Connection reset/.test(r.stderr)) return r
        await sleep(300 * attempt)
      }
    },
  }
}
const SLOTS_OF: Record<Kind, Slot[]> = {
  namespace: Array.from({ length: SLOTS }, (_, i) => namespaceSlot(i)),
  systemd: Array.from({ length: DEBIAN_PER_KIND }, (_, i) => debianSlot(i + 1, 'systemd')),
  legacy: Array.from({ length: DEBIAN_PER_KIND }, (_, i) => debianSlot(DEBIAN_PER_KIND + i + 1, 'legacy')),
}
const slotsInUse = (Object.keys(SLOTS_OF) as Kind[]).filter((k) => chosen.some((c) => c.on === k))
const addressOf = (slot: Slot) => (slot.kind === 'namespace' ? `198.18.0.${19 + Number(slot.name.slice(3))}` : machineAddress(Number(slot.name.slice(3))))

const server = (slot: Slot, role: string, iface: string) =>
  `  ${slot.name}:\n    address: ${addressOf(slot)}\n    role: ${role}\n    ssh: { jump: router01 }\n    network: { interface: ${iface} }\n    persist: true\n`
let inventoryA = ''
let inventoryB = ''
// The two rulesets every slot moves between, per kind of host (the role has nothing host-specific;
// a backend or an iptables version may print them differently).
interface Rulesets {
  readonly v4: string
  readonly v6: string
}
const SIDES: Partial<Record<Kind, { A: Rulesets; B: Rulesets }>> = {}

// iptables-save text as configuration, its tables in one order (iptables-legacy-save prints them
// in the order the kernel made them).
function tables(saved: string): string {
  const blocks = asConfiguration(saved).split(/^(?=\*)/m).filter((b) => b.startsWith('*'))
  return blocks.map((b) => b.trim()).sort().join('\n')
}

// Everything the invariants look at, in one command (one SSH round trip on a Debian machine).
interface HostState extends Rulesets {
  readonly boot4: string
  readonly boot6: string
  // [id, status] of every history entry
  readonly entries: [string, string][]
  readonly lockExpires: string
  // fleet's systemd units still loaded (systemd hosts only)
  readonly units: string
  // the host setting B makes: 1 on B, 0 before
  readonly martians: string
}
async function stateOf(slot: Slot): Promise<HostState> {
  const r = await slot.run(`echo @@v4; iptables-save; echo @@v6; ip6tables-save; echo @@boot4; cat /etc/iptables/rules.v4; echo @@boot6; cat /etc/iptables/rules.v6
echo @@entries; for f in ${STATE}/history/*; do [ -f "$f" ] && echo "$(sed -n 's/^id=//p' "$f") $(sed -n 's/^status=//p' "$f")"; done
echo @@lock; sed -n 's/^expires=//p' ${STATE}/lock/owner 2>/dev/null
echo @@units; [ ! -d /run/systemd/system ] || systemctl list-units --all --plain --no-legend 'fleet-*'
echo @@martians; sysctl -n net.ipv4.conf.all.log_martians; true`)
  const part = (name: string) => new RegExp(`^@@${name}\\n([\\s\\S]*?)(?=^@@|(?![\\s\\S]))`, 'm').exec(r.stdout)?.[1] ?? ''
  return {
    v4: tables(part('v4')),
    v6: tables(part('v6')),
    boot4: tables(part('boot4')),
    boot6: tables(part('boot6')),
    entries: part('entries').trim().split('\n').filter((l) => l !== '').map((l) => l.split(' ') as [string, string]),
    lockExpires: part('lock').trim(),
    units: part('units').trim(),
    martians: part('martians').trim(),
  }
}
const sideOf = (kind: Kind, l: Rulesets): 'A' | 'B' | 'mix' => {
  const { A, B } = SIDES[kind]!
  return l.v4 === A.v4 && l.v6 === A.v6 ? 'A' : l.v4 === B.v4 && l.v6 === B.v6 ? 'B' : 'mix'
}

// fleet as an operator runs it: its own process (a `kill` fault kills it), JSON on stdout.
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

async function applied(inventory: string, hosts: string): Promise<void> {
  let last = ''
  for (let attempt = 0; attempt < 3; attempt++) {
    const r = await fleet(['apply', '-i', inventory, '--limit', hosts, '--json', '--confirm-timeout', '10'])
    if (r.code === 0) return
    last = r.stdout
  }
  throw new Error(`preparing ${hosts} failed: ${last}`)
}

async function ok(slot: Slot, command: string, input?: string): Promise<string> {
  const r = await slot.run(command, input)
  if (r.code !== 0) throw new Error(`${slot.name}: \`${command.slice(0, 80)}\` exited ${r.code}: ${r.stderr}`)
  return r.stdout
}

// Brings a slot to the cell's starting point: A live and persisted (rollback: then B, so the
// rollback goes from B back to A), and the host setting B makes not yet made. A is put in place
// by hand (fleet applied it once, in beforeAll): a fleet run per cell less.
async function prepare(slot: Slot, command: Command): Promise<void> {
  // A link a `cut` fault took down comes back by itself; wait for it.
  for (let i = 0; i < 80 && (await slot.run('cat /sys/class/net/eth0/operstate')).stdout.trim() !== 'up'; i++) await sleep(500)
  const { A } = SIDES[slot.kind]!
  await ok(slot, `rm -rf ${STATE}; sysctl -q -w net.ipv4.conf.all.log_martians=0`)
  // (iptables-legacy-restore rejects a last line without its newline)
  await ok(slot, 'iptables-restore && iptables-save > /etc/iptables/rules.v4', `${A.v4}\n`)
  await ok(slot, 'ip6tables-restore && ip6tables-save > /etc/iptables/rules.v6', `${A.v6}\n`)
  if (command === 'rollback') {
    await applied(inventoryB, slot.name)
    await ok(slot, 'sysctl -q -w net.ipv4.conf.all.log_martians=0')
  }
}

async function injectDisk(slot: Slot, inject: Injection): Promise<void> {
  if ('fault' in inject) return
  await ok(slot, `mkdir -p ${STATE}/history`)
  if (inject.disk === 'state') {
    // The state as it is, copied onto a tiny file system that then has `free` pages left.
    await ok(
      slot,
      `set -e; cp -a ${STATE} /tmp/state-copy; mount -t tmpfs -o size=256k,mode=0755 tmpfs ${STATE}; cp -a /tmp/state-copy/. ${STATE}/; rm -rf /tmp/state-copy
avail=$(df -B4096 --output=avail ${STATE} | tail -1); dd if=/dev/zero of=${STATE}/.fill bs=4096 count=$((avail - ${inject.free})) 2>/dev/null`,
    )
  } else {
    await ok(slot, `set -e; cp /etc/iptables/rules.v? /tmp/; mount -t tmpfs -o size=16k,mode=0755 tmpfs /etc/iptables; cp /tmp/rules.v? /etc/iptables/; dd if=/dev/zero of=/etc/iptables/.fill bs=4096 2>/dev/null || true`)
  }
}

// Only the tiny file systems injectDisk mounted (the lab's own /etc/iptables is a mount too).
async function removeDisk(slot: Slot): Promise<void> {
  await slot.run(`umount ${STATE} 2>/dev/null; if grep -q ' /etc/iptables tmpfs .*size=16k' /proc/self/mounts; then umount /etc/iptables; fi; true`)
}

// Until nothing of the change is running or armed on the host, at most SETTLE_MS.
async function settled(slot: Slot): Promise<boolean> {
  const deadline = Date.now() + SETTLE_MS
  while (Date.now() < deadline) {
    if ((await slot.run(`ls ${STATE}/armed/* ${STATE}/busy.* 2>/dev/null | grep -q . && echo busy || echo idle`)).stdout.trim() === 'idle') return true
    await sleep(500)
  }
  return false
}

interface Result {
  readonly cell: KindCell
  readonly outcome: string
  readonly problems: string[]
  // Seconds the cell took, preparation included.
  readonly seconds?: number
}

const EXIT_FOR: Record<string, number> = { changed: 0, unchanged: 0, failed: 1, 'rolled-back': 1, unknown: 4 }

async function runCell(cell: KindCell, slot: Slot): Promise<Result> {
  await prepare(slot, cell.command)
  const [oldSide, newSide] = cell.command === 'rollback' ? (['B', 'A'] as const) : (['A', 'B'] as const)
  const before = new Set((await stateOf(slot)).entries.map(([id]) => id))
  await injectDisk(slot, cell.inject)
  const [command, ...more] = cell.command.split(' ')
  const args = [command!, '-i', cell.command === 'rollback' ? inventoryA : inventoryB, '--limit', slot.name, '--json', '--confirm-timeout', String(CONFIRM_SEC), ...more]
  const ran = await fleetProcess(args, 'fault' in cell.inject ? { FLEET_FAULT: cell.inject.fault } : {})
  const problems: string[] = []
  if (!(await settled(slot))) problems.push('the host had not settled in time')
  // A link cut by the fault comes back on its own; the state is read without the network.
  const now = await stateOf(slot)
  const side = sideOf(slot.kind, now)
  const fresh = now.entries.filter(([id]) => !before.has(id))
  const status = fresh[0]?.[1]
  const lock = now.lockExpires
  await removeDisk(slot)

  if (side === 'mix') problems.push(`live rulesets are a mix:\n${now.v4}\n${now.v6}`)
  if (now.boot4 !== now.v4 || now.boot6 !== now.v6) problems.push('the boot files differ from the live rulesets')
  if (fresh.length > 1) problems.push(`${fresh.length} history entries for one run`)
  if (status === 'pending') problems.push('the history still says pending')
  const tookEffect = status === 'confirmed' || status === 'applied'
  if (fresh.length === 1 && tookEffect !== (side === newSide)) problems.push(`history says ${status}, the host holds the ${side === newSide ? 'new' : 'old'} rulesets`)
  if (fresh.length === 0 && side !== oldSide) problems.push('no history entry, yet the host holds the new rulesets')
  if (lock !== '' && Number(lock) > Date.now() / 1000 + 200) problems.push(`the lock does not expire soon (expires ${lock})`)
  if (now.units !== '') problems.push(`systemd units of fleet left behind: ${now.units}`)
  // A rollback (to A, whose role has no such setting) leaves it; an apply's undo sets it back too.
  const martians = cell.command === 'rollback' || side === oldSide ? '0' : '1'
  if (side !== 'mix' && now.martians !== martians) problems.push(`the host holds the ${side === newSide ? 'new' : 'old'} rulesets, but log_martians=${now.martians}`)

  let reported = 'killed'
  if (ran.signal === null) {
    let host0: { outcome: string; detail?: string } | undefined
    try {
      host0 = JSON.parse(ran.stdout).hosts[0]
    } catch {
      problems.push(`no report (exit ${ran.code}): ${ran.stdout.slice(0, 300)} ${ran.stderr.slice(0, 500)}`)
    }
    if (host0) {
      reported = host0.outcome
      if (ran.code !== EXIT_FOR[host0.outcome]) problems.push(`exit status ${ran.code} for outcome ${host0.outcome}`)
      if (host0.outcome === 'changed' && side !== newSide) problems.push(`reported changed, the host holds the old rulesets (${host0.detail ?? ''})`)
      if ((host0.outcome === 'failed' || host0.outcome === 'rolled-back') && side !== oldSide) problems.push(`reported ${host0.outcome}, the host holds the new rulesets (${host0.detail ?? ''})`)
      if (host0.outcome === 'unknown' && !/fleet history/.test(host0.detail ?? '')) problems.push('unknown without pointing to fleet history')
      if (host0.detail) reported += ` (${host0.detail.replace(/\s+/g, ' ').slice(0, 70)})`
    }
  } else if (ran.signal !== 'SIGKILL') {
    problems.push(`fleet ended by ${ran.signal}`)
  }
  return { cell, outcome: `${side === newSide ? 'new' : side === oldSide ? 'old' : 'MIX'}, history ${status ?? 'none'}, fleet: ${reported}`, problems }
}

async function pool<T, R>(items: readonly T[], size: number, work: (item: T, slot: number) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length)
  let next = 0
  await Promise.all(
    Array.from({ length: size }, async (_, slotIndex) => {
      while (next < items.length) {
        const i = next++
        results[i] = await work(items[i]!, slotIndex)
      }
    }),
  )
  return results
}

beforeAll(async () => {
  const debian = slotsInUse.some((k) => k !== 'namespace')
  labUp('--servers', String(SLOTS), ...(debian ? ['--debian', String(2 * DEBIAN_PER_KIND)] : []))
  process.env.XDG_STATE_HOME = path.join(LAB, 'operator-state')
  if (debian) {
    for (const s of [...SLOTS_OF.systemd, ...SLOTS_OF.legacy]) connections.set(s.name, machineConnection(s.name))
    await Promise.all(
      SLOTS_OF.legacy.map((s) => ok(s, 'update-alternatives --quiet --set iptables /usr/sbin/iptables-legacy && update-alternatives --quiet --set ip6tables /usr/sbin/ip6tables-legacy')),
    )
  }
  // B: the internal server's baseline on another interface, plus a host setting (so the settings
  // step exists) that an undo sets back.
  const roles = labRoles('fault-roles', {
    'server-b': `import internalServer from '${ROOT}/roles/internal-server.ts'
export default {
  description: 'an internal server that also logs martians',
  tasks: (ctx) => [
    ...internalServer.tasks(ctx),
    ctx.task('log martians', async ($) => {
      await ctx.ensure({
        check: $\`sysctl -n net.ipv4.conf.all.log_martians\`,
        want: '1',
        run: $\`sysctl -q -w net.ipv4.conf.all.log_martians=1\`,
        undo: $\`tee /proc/sys/net/ipv4/conf/all/log_martians\`,
      })
    }),
  ],
}\n`,
  })
  const slots = slotsInUse.flatMap((k) => SLOTS_OF[k])
  inventoryA = labInventory(slots.map((s) => server(s, 'internal-server', 'eth0')).join(''))
  inventoryB = labInventory(slots.map((s) => server(s, 'server-b', 'eth9')).join(''), { roles })
  // The sides, read from the first host of each kind once fleet has applied them there.
  const firsts = slotsInUse.map((k) => SLOTS_OF[k][0]!)
  const limit = firsts.map((s) => s.name).join(',')
  const sides: Partial<Record<Kind, Rulesets>>[] = []
  for (const inventory of [inventoryA, inventoryB]) {
    const r = await fleet(['apply', '-i', inventory, '--limit', limit, '--json'])
    expect(r.code, r.stdout + r.stderr).toBe(0)
    sides.push(Object.fromEntries(await Promise.all(firsts.map(async (s) => [s.kind, await stateOf(s)] as const))))
  }
  for (const k of slotsInUse) {
    SIDES[k] = { A: sides[0]![k]!, B: sides[1]![k]! }
    expect(SIDES[k].A.v4).not.toBe(SIDES[k].B.v4)
  }
}, FIRST_BOOT_TIMEOUT_MS)
afterAll(() => {
  for (const c of connections.values()) c.stop()
  labDown()
})

describe('the change transaction under faults', () => {
  it(
    'keeps every promise at every step',
    async () => {
      const started = Date.now()
      // The longest cells first, so that none of them is left to run alone at the end.
      const longest = [...chosen].sort((a, b) => Number(b.how === 'cut') - Number(a.how === 'cut'))
      const finished = new Map<KindCell, Result>()
      await Promise.all(
        slotsInUse.map((kind) =>
          pool(
            longest.filter((c) => c.on === kind),
            SLOTS_OF[kind].length,
            async (cell, i) => {
              const slot = SLOTS_OF[kind][i]!
              const t = Date.now()
              try {
                finished.set(cell, { ...(await runCell(cell, slot)), seconds: (Date.now() - t) / 1000 })
              } catch (error) {
                await removeDisk(slot)
                finished.set(cell, { cell, outcome: 'harness error', problems: [(error as Error).message], seconds: (Date.now() - t) / 1000 })
              }
            },
          ),
        ),
      )
      const took = (Date.now() - started) / 1000
      const results = chosen.map((c) => finished.get(c)!)
      const width = Math.max(...results.map((r) => cellName(r.cell).length))
      const lines = results.map((r) => `${cellName(r.cell).padEnd(width)} ${`${Math.round(r.seconds ?? 0)}s`.padStart(4)} -> ${r.outcome}${r.problems.length ? `\n    BROKEN: ${r.problems.join('\n    BROKEN: ')}` : ''}`)
      console.log(`fault matrix, ${results.length} cells in ${Math.round(took)}s (step x fault, seconds -> live rulesets, host history, fleet's report):\n${lines.join('\n')}`)
      expect(results.filter((r) => r.problems.length > 0).map((r) => `${cellName(r.cell)}: ${r.problems.join('; ')}`)).toEqual([])
    },
    300_000,
  )
})
