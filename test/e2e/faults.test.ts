// The fault-injection matrix of the change transaction, against the lab's real hosts: for each
// step of apply and rollback, a failure of each kind that makes sense there (the command fails,
// the disk is full, the connection drops, fleet is killed, the reply is lost), then, once the host
// has settled (at most the confirm timeout and a margin), the promises:
//   - the live rulesets are exactly the old ones or exactly the new ones, never a mix;
//   - the boot files (persist) hold what is live and confirmed;
//   - the host's history says what happened; the lock is free or expires;
//   - fleet's report and exit status say the same as the host.
// Cells run in parallel, one lab host each; the matrix (step x fault -> outcome) is printed.
import { spawn } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { fleet } from '../helpers/cli.ts'
import { asConfiguration, FLEET_BIN, LAB, labDown, labInventory, labUp, onHost, ROOT } from '../helpers/lab.ts'

// Under sshd's MaxStartups (10) on router01, the jump host every slot goes through.
const SLOTS = 8
const CONFIRM_SEC = 3
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

const cellName = (c: Cell) => `${c.command} ${c.step} x ${c.how}`
// FAULT_CELLS=<regular expression>: only the cells whose name matches (while working on a few).
const chosen = CELLS.filter((c) => new RegExp(process.env.FAULT_CELLS ?? '').test(cellName(c)))

const server = (name: string, address: string, role: string, iface: string) =>
  `  ${name}:\n    address: ${address}\n    role: ${role}\n    ssh: { jump: router01 }\n    network: { interface: ${iface} }\n    persist: true\n`
const slot = (i: number) => `srv${String(i + 1).padStart(3, '0')}`
const slotAddress = (i: number) => `198.18.0.${20 + i}`
let inventoryA = ''
let inventoryB = ''
// The two rulesets every slot moves between (the role has nothing host-specific).
let A = { v4: '', v6: '' }
let B = { v4: '', v6: '' }

interface Live {
  readonly v4: string
  readonly v6: string
  readonly boot4: string
  readonly boot6: string
}
const live = (host: string): Live => ({
  v4: asConfiguration(onHost(host, 'iptables-save').stdout),
  v6: asConfiguration(onHost(host, 'ip6tables-save').stdout),
  boot4: asConfiguration(onHost(host, 'cat /etc/iptables/rules.v4').stdout),
  boot6: asConfiguration(onHost(host, 'cat /etc/iptables/rules.v6').stdout),
})
const sideOf = (l: Live): 'A' | 'B' | 'mix' => (l.v4 === A.v4 && l.v6 === A.v6 ? 'A' : l.v4 === B.v4 && l.v6 === B.v6 ? 'B' : 'mix')
const entries = (host: string) =>
  onHost(host, `for f in ${STATE}/history/*; do [ -f "$f" ] && { echo "$(sed -n 's/^id=//p' "$f") $(sed -n 's/^status=//p' "$f")"; }; done`)
    .stdout.trim()
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => l.split(' ') as [string, string])

// fleet as an operator runs it: its own process (a `kill` fault kills it), JSON on stdout.
function runFleet(args: string[], env: Record<string, string>): Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [FLEET_BIN, ...args], { env: { ...process.env, CI: 'true', ...env } })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()))
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }))
  })
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

async function applied(inventory: string, host: string): Promise<void> {
  let last = ''
  for (let attempt = 0; attempt < 3; attempt++) {
    const r = await fleet(['apply', '-i', inventory, '--limit', host, '--json', '--confirm-timeout', '10'])
    if (r.code === 0) return
    last = r.stdout
  }
  throw new Error(`preparing ${host} failed: ${last}`)
}

// Brings a slot to the cell's starting point: A live and persisted (rollback: then B, so the
// rollback goes from B back to A), and the host setting B makes not yet made.
// A is put in place by hand (fleet applied it once, in beforeAll): a fleet run per cell less.
async function prepare(host: string, command: Command): Promise<void> {
  // A link a `cut` fault took down comes back by itself; wait for it.
  for (let i = 0; i < 80 && onHost(host, 'cat /sys/class/net/eth0/operstate').stdout.trim() !== 'up'; i++) await sleep(500)
  onHost(host, `rm -rf ${STATE}; sysctl -q -w net.ipv4.conf.all.log_martians=0`)
  for (const [restore, save, document] of [['iptables-restore', 'iptables-save > /etc/iptables/rules.v4', A.v4], ['ip6tables-restore', 'ip6tables-save > /etc/iptables/rules.v6', A.v6]] as const) {
    const r = onHost(host, `${restore} && ${save}`, document)
    if (r.code !== 0) throw new Error(`preparing ${host}: ${restore} failed: ${r.stderr}`)
  }
  if (command === 'rollback') {
    await applied(inventoryB, host)
    onHost(host, 'sysctl -q -w net.ipv4.conf.all.log_martians=0')
  }
}

function injectDisk(host: string, inject: Injection): void {
  if ('fault' in inject) return
  onHost(host, `mkdir -p ${STATE}/history`)
  if (inject.disk === 'state') {
    // The state as it is, copied onto a tiny file system that then has `free` pages left.
    const r = onHost(
      host,
      `set -e; cp -a ${STATE} /tmp/state-copy; mount -t tmpfs -o size=256k,mode=0755 tmpfs ${STATE}; cp -a /tmp/state-copy/. ${STATE}/; rm -rf /tmp/state-copy
avail=$(df -B4096 --output=avail ${STATE} | tail -1); dd if=/dev/zero of=${STATE}/.fill bs=4096 count=$((avail - ${inject.free})) 2>/dev/null`,
    )
    expect(r.code, r.stderr).toBe(0)
  } else {
    const r = onHost(host, `set -e; cp /etc/iptables/rules.v? /tmp/; mount -t tmpfs -o size=16k,mode=0755 tmpfs /etc/iptables; cp /tmp/rules.v? /etc/iptables/; dd if=/dev/zero of=/etc/iptables/.fill bs=4096 2>/dev/null || true`)
    expect(r.code, r.stderr).toBe(0)
  }
}

// Only the tiny file systems injectDisk mounted (the lab's own /etc/iptables is a mount too).
function removeDisk(host: string): void {
  onHost(host, `umount ${STATE} 2>/dev/null; if grep -q ' /etc/iptables tmpfs .*size=16k' /proc/self/mounts; then umount /etc/iptables; fi; true`)
}

// Until nothing of the change is running or armed on the host, at most SETTLE_MS.
async function settled(host: string): Promise<boolean> {
  const deadline = Date.now() + SETTLE_MS
  while (Date.now() < deadline) {
    if (onHost(host, `ls ${STATE}/armed/* ${STATE}/busy.* 2>/dev/null | grep -q .`).code !== 0) return true
    await sleep(500)
  }
  return false
}

interface Result {
  readonly cell: Cell
  readonly outcome: string
  readonly problems: string[]
  // Seconds the cell took, preparation included.
  readonly seconds?: number
}

const EXIT_FOR: Record<string, number> = { changed: 0, unchanged: 0, failed: 1, 'rolled-back': 1, unknown: 4 }

async function runCell(cell: Cell, host: string): Promise<Result> {
  await prepare(host, cell.command)
  const [oldSide, newSide] = cell.command === 'rollback' ? (['B', 'A'] as const) : (['A', 'B'] as const)
  const before = new Set(entries(host).map(([id]) => id))
  injectDisk(host, cell.inject)
  const [command, ...more] = cell.command.split(' ')
  const args = [command!, '-i', cell.command === 'rollback' ? inventoryA : inventoryB, '--limit', host, '--json', '--confirm-timeout', String(CONFIRM_SEC), ...more]
  const ran = await runFleet(args, 'fault' in cell.inject ? { FLEET_FAULT: cell.inject.fault } : {})
  const problems: string[] = []
  if (!(await settled(host))) problems.push('the host had not settled in time')
  // A link cut by the fault comes back on its own; the state is read without the network.
  const now = live(host)
  const side = sideOf(now)
  const fresh = entries(host).filter(([id]) => !before.has(id))
  const status = fresh[0]?.[1]
  const lock = onHost(host, `sed -n 's/^expires=//p' ${STATE}/lock/owner 2>/dev/null`).stdout.trim()
  removeDisk(host)

  if (side === 'mix') problems.push(`live rulesets are a mix:\n${now.v4}\n${now.v6}`)
  if (now.boot4 !== now.v4 || now.boot6 !== now.v6) problems.push('the boot files differ from the live rulesets')
  if (fresh.length > 1) problems.push(`${fresh.length} history entries for one run`)
  if (status === 'pending') problems.push('the history still says pending')
  const tookEffect = status === 'confirmed' || status === 'applied'
  if (fresh.length === 1 && tookEffect !== (side === newSide)) problems.push(`history says ${status}, the host holds the ${side === newSide ? 'new' : 'old'} rulesets`)
  if (fresh.length === 0 && side !== oldSide) problems.push('no history entry, yet the host holds the new rulesets')
  if (lock !== '' && Number(lock) > Date.now() / 1000 + 200) problems.push(`the lock does not expire soon (expires ${lock})`)

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
  labUp('--servers', String(SLOTS))
  process.env.XDG_STATE_HOME = path.join(LAB, 'operator-state')
  const roles = path.join(LAB, 'fault-roles')
  mkdirSync(roles, { recursive: true })
  // B: the internal server's baseline on another interface, plus a host setting (so the settings
  // step exists).
  writeFileSync(
    path.join(roles, 'server-b.ts'),
    `import internalServer from '${ROOT}/roles/internal-server.ts'
export default {
  description: 'an internal server that also logs martians',
  tasks: (ctx) => [
    ...internalServer.tasks(ctx),
    ctx.task('log martians', async ($) => {
      await ctx.ensure({ check: $\`sysctl -n net.ipv4.conf.all.log_martians\`, want: '1', run: $\`sysctl -q -w net.ipv4.conf.all.log_martians=1\` })
    }),
  ],
}\n`,
  )
  const hosts = (role: string, iface: string) => Array.from({ length: SLOTS }, (_, i) => server(slot(i), slotAddress(i), role, iface)).join('')
  inventoryA = labInventory(hosts('internal-server', 'eth0'))
  inventoryB = labInventory(hosts('server-b', 'eth9'), { roles })
  const first = slot(0)
  const toA = await fleet(['apply', '-i', inventoryA, '--limit', first, '--json'])
  expect(toA.code, toA.stdout + toA.stderr).toBe(0)
  A = { v4: live(first).v4, v6: live(first).v6 }
  const toB = await fleet(['apply', '-i', inventoryB, '--limit', first, '--json'])
  expect(toB.code, toB.stdout + toB.stderr).toBe(0)
  B = { v4: live(first).v4, v6: live(first).v6 }
  expect(A.v4).not.toBe(B.v4)
}, 240_000)
afterAll(() => labDown())

describe('the change transaction under faults', () => {
  it(
    'keeps every promise at every step',
    async () => {
      const started = Date.now()
      // The longest cells first, so that none of them is left to run alone at the end.
      const longest = [...chosen].sort((a, b) => Number(b.how === 'cut') - Number(a.how === 'cut'))
      const unordered = await pool(longest, SLOTS, async (cell, i) => {
        const t = Date.now()
        try {
          return { ...(await runCell(cell, slot(i))), seconds: (Date.now() - t) / 1000 }
        } catch (error) {
          removeDisk(slot(i))
          return { cell, outcome: 'harness error', problems: [(error as Error).message], seconds: (Date.now() - t) / 1000 }
        }
      })
      const took = (Date.now() - started) / 1000
      const results = chosen.map((c) => unordered[longest.indexOf(c)]!)
      const width = Math.max(...results.map((r) => cellName(r.cell).length))
      const lines = results.map((r) => `${cellName(r.cell).padEnd(width)} ${`${Math.round(r.seconds ?? 0)}s`.padStart(4)} -> ${r.outcome}${r.problems.length ? `\n    BROKEN: ${r.problems.join('\n    BROKEN: ')}` : ''}`)
      console.log(`fault matrix, ${results.length} cells in ${Math.round(took)}s (step x fault, seconds -> live rulesets, host history, fleet's report):\n${lines.join('\n')}`)
      expect(results.filter((r) => r.problems.length > 0).map((r) => `${cellName(r.cell)}: ${r.problems.join('; ')}`)).toEqual([])
    },
    300_000,
  )
})
