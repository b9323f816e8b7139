// Never locked out, on a real systemd host: the timer is a transient systemd unit, and it puts the
// previous ruleset back after the SSH session that armed it (and its logind session) is gone.
// deb01's logind kills whatever a session leaves behind (KillUserProcesses=yes), so a timer that
// merely detached from the session would die with it.
import { readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { fleet, fleetKilledAt } from '../helpers/cli.ts'
import { LAB, labDown, labUp } from '../helpers/lab.ts'
import { DEBIAN_INVENTORY, FIRST_BOOT_TIMEOUT_MS, machineRuleset, onMachine, onMachineOk } from '../helpers/machines.ts'

type Report = { hosts: { host: string; outcome: string; detail?: string; changeId?: string }[] }
const parse = (stdout: string) => JSON.parse(stdout) as Report
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const fleetUnits = () => onMachineOk('deb01', "systemctl list-units --all --plain --no-legend 'fleet-*'").trim()
const sessions = () => onMachineOk('deb01', 'loginctl list-sessions --no-legend').trim().split('\n').filter(Boolean)
type Entry = { id: string; status: string }
const historyOf = async (inventory: string) =>
  (JSON.parse((await fleet(['history', '-i', inventory, '--limit', 'deb01', '--json'])).stdout).hosts[0].entries ?? []) as Entry[]

async function until(what: string, check: () => boolean, seconds: number): Promise<void> {
  const deadline = Date.now() + seconds * 1000
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`not within ${seconds}s: ${what}`)
    await sleep(250)
  }
}

// The Debian inventory with deb01's network values changed (beside it: its key paths are relative).
function debianInventoryWith(network: string): string {
  const file = path.join(LAB, `debian-${network.replace(/\W+/g, '-')}.yaml`)
  const text = readFileSync(DEBIAN_INVENTORY, 'utf8').replace(
    /(  deb01:\n    address: 198\.18\.0\.201\n)/,
    `$1    network: { ${network} }\n`,
  )
  writeFileSync(file, text)
  return file
}

beforeAll(() => {
  labUp('--debian', '1')
  process.env.XDG_STATE_HOME = path.join(LAB, 'operator-state')
  onMachineOk('deb01', 'mkdir -p /etc/systemd/logind.conf.d && printf "[Login]\\nKillUserProcesses=yes\\n" > /etc/systemd/logind.conf.d/kill.conf && systemctl restart systemd-logind')
}, FIRST_BOOT_TIMEOUT_MS)
afterAll(() => labDown())

describe('a confirmed change on a systemd host', () => {
  it('is applied and confirmed, and leaves no unit behind', async () => {
    const result = await fleet(['apply', '-i', DEBIAN_INVENTORY, '--limit', 'deb01', '--json'])
    expect(parse(result.stdout).hosts[0]).toMatchObject({ host: 'deb01', outcome: 'changed' })
    expect(result.code).toBe(0)
    expect(machineRuleset('deb01')).toContain('-A INPUT -j DROP')
    expect(fleetUnits()).toBe('')
    expect((await historyOf(DEBIAN_INVENTORY)).at(-1)?.status).toBe('confirmed')
  })
})

describe('fleet killed (SIGKILL) while it confirms', () => {
  it('the transient unit outlives the SSH and logind sessions and restores the previous ruleset', async () => {
    onMachineOk('deb01', 'iptables -I INPUT -p tcp --dport 7777 -j ACCEPT')
    const before = machineRuleset('deb01')
    const output = await fleetKilledAt(['apply', '-i', DEBIAN_INVENTORY, '--limit', 'deb01', '--confirm-timeout', '12'], 'confirming over a fresh SSH connection')
    expect(output).toContain('confirming over a fresh SSH connection')
    expect(machineRuleset('deb01')).not.toContain('7777')
    // fleet's session ends; only the one asking remains, and the timer is still there, waiting.
    await until('fleet\'s logind session is closed', () => sessions().length === 1, 8)
    expect(fleetUnits()).toMatch(/^fleet-\S+\.service +loaded +active +running/)
    await until('the timer restores the previous ruleset', () => machineRuleset('deb01') === before, 20)
    await until('the timer unit is gone', () => fleetUnits() === '', 5)
    expect((await historyOf(DEBIAN_INVENTORY)).at(-1)?.status).toBe('rolled-back')
  })
})

describe('a change that locks the operator out of a systemd host', () => {
  it('is rolled back at once over the first session, reported, and SSH works again', async () => {
    const before = machineRuleset('deb01')
    // Only 198.18.0.200/29 may open connections: router01 (198.18.0.1), the jump host, may not.
    const inventory = debianInventoryWith('internal: 198.18.0.200/29')
    const result = await fleet(['apply', '-i', inventory, '--limit', 'deb01', '--json', '--confirm-timeout', '6'])
    expect(result.code).toBe(1)
    expect(parse(result.stdout).hosts[0]).toMatchObject({ host: 'deb01', outcome: 'rolled-back' })
    expect(parse(result.stdout).hosts[0]?.detail).toMatch(/no fresh SSH connection could be made with the new ruleset/)
    expect(machineRuleset('deb01')).toBe(before)
    expect(onMachine('deb01', 'hostname').stdout.trim()).toBe('deb01')
    await until('no unit left', () => fleetUnits() === '', 5)
  })
})

describe('a change that drops the connection that made it', () => {
  it('is undone by the host on its own once the timer runs out', async () => {
    onMachineOk('deb01', 'iptables -I INPUT -p tcp --dport 7778 -j ACCEPT')
    const before = machineRuleset('deb01')
    // Replies are accepted only on eth9, and new connections only from 198.18.0.200/29: loading
    // this cuts the session that loads it.
    const inventory = debianInventoryWith('internal: 198.18.0.200/29, interface: eth9')
    const started = Date.now()
    const result = await fleet(['apply', '-i', inventory, '--limit', 'deb01', '--json', '--confirm-timeout', '8'])
    expect(result.code).not.toBe(0)
    expect(parse(result.stdout).hosts[0]?.outcome).not.toBe('changed')
    await until('the host restores the previous ruleset', () => onMachine('deb01', 'iptables-save').code === 0, 30)
    expect(machineRuleset('deb01')).toBe(before)
    expect(Date.now() - started).toBeGreaterThan(8000)
    await until('no unit left', () => fleetUnits() === '', 5)
    expect((await historyOf(DEBIAN_INVENTORY)).at(-1)?.status).toBe('rolled-back')
  }, 120_000)
})
