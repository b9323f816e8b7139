// Rules persisted for boot (`persist: true`), through real reboots of a systemd host: what
// netfilter-persistent loads at boot is exactly what was last confirmed, never a change that was
// rolled back.
import { readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { fleet } from '../helpers/cli.ts'
import { LAB, labDown, labUp } from '../helpers/lab.ts'
import { DEBIAN_INVENTORY, FIRST_BOOT_TIMEOUT_MS, machineRuleset, onMachineOk, rebootMachine } from '../helpers/machines.ts'

type Report = { hosts: { host: string; outcome: string; detail?: string }[] }
const outcomeOf = (stdout: string, host: string) => (JSON.parse(stdout) as Report).hosts.find((h) => h.host === host)?.outcome
const rulesets = (name: string) => ({ v4: machineRuleset(name, 'ipv4'), v6: machineRuleset(name, 'ipv6') })

// The lab's Debian inventory with every machine persisting its rules, plus deb01's own values.
function persistingInventory(name: string, deb01 = ''): string {
  const file = path.join(LAB, `${name}.yaml`)
  let text = readFileSync(DEBIAN_INVENTORY, 'utf8').replace(/(    role: internal-server\n)/g, '$1    persist: true\n')
  if (deb01) text = text.replace(/(  deb01:\n)/, `$1${deb01}`)
  writeFileSync(file, text)
  return file
}

beforeAll(() => {
  labUp('--debian', '1')
  process.env.XDG_STATE_HOME = path.join(LAB, 'operator-state')
}, FIRST_BOOT_TIMEOUT_MS)
afterAll(() => labDown())

describe('persist: true on a systemd host that reboots', () => {
  let confirmed: { v4: string; v6: string }

  it('after a confirmed apply, boots into exactly the confirmed rulesets', async () => {
    const before = rulesets('deb01')
    const result = await fleet(['apply', '-i', persistingInventory('persist'), '--limit', 'deb01', '--json'])
    expect(outcomeOf(result.stdout, 'deb01')).toBe('changed')
    confirmed = rulesets('deb01')
    expect(confirmed).not.toEqual(before)
    expect(confirmed.v4).toContain('-A INPUT -j DROP')
    expect(confirmed.v6).toContain('-A INPUT -j DROP')
    rebootMachine('deb01')
    expect(onMachineOk('deb01', 'systemctl is-active netfilter-persistent').trim()).toBe('active')
    expect(rulesets('deb01')).toEqual(confirmed)
  })

  it('after a rolled-back apply, boots into the rulesets from before it', async () => {
    // Only 198.18.0.200/29 may open connections: router01, the jump host, is locked out.
    const lockout = persistingInventory('persist-lockout', '    network: { internal: 198.18.0.200/29 }\n')
    const result = await fleet(['apply', '-i', lockout, '--limit', 'deb01', '--json', '--confirm-timeout', '6'])
    expect(outcomeOf(result.stdout, 'deb01')).toBe('rolled-back')
    expect(rulesets('deb01')).toEqual(confirmed)
    rebootMachine('deb01')
    expect(rulesets('deb01')).toEqual(confirmed)
  })

  it('a reboot is a real one: a rule added by hand since, and not persisted, is gone', async () => {
    onMachineOk('deb01', 'iptables -I INPUT -p tcp --dport 7779 -j ACCEPT')
    rebootMachine('deb01')
    expect(rulesets('deb01')).toEqual(confirmed)
  })
})
