// A host on the legacy iptables backend (switched with update-alternatives, as on older installs)
// gets exactly what a host on nf_tables gets: deb01 runs iptables-legacy, deb02 iptables-nft, and
// every step is done to both and must look the same on both.
import { readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { fleet } from '../helpers/cli.ts'
import { LAB, labDown, labUp } from '../helpers/lab.ts'
import { DEBIAN_INVENTORY, FIRST_BOOT_TIMEOUT_MS, machineTables, onMachineOk } from '../helpers/machines.ts'

const MACHINES = ['deb01', 'deb02'] as const
type HostReport = { host: string; outcome: string; detail?: string; changeId?: string; diff?: { table: string; chain: string; kind: string; line: string }[] }
const byHost = (stdout: string) => Object.fromEntries((JSON.parse(stdout) as { hosts: HostReport[] }).hosts.map((h) => [h.host, h]))
const rulesets = (name: string) => ({ v4: machineTables(name, 'ipv4'), v6: machineTables(name, 'ipv6') })
const both = (command: string) => MACHINES.forEach((m) => onMachineOk(m, command))
const run = async (...args: string[]) => {
  const result = await fleet([...args, '-i', DEBIAN_INVENTORY, '--limit', 'deb01,deb02', '--json'])
  return { code: result.code, hosts: byHost(result.stdout) }
}

beforeAll(() => {
  labUp('--debian', '2')
  process.env.XDG_STATE_HOME = path.join(LAB, 'operator-state')
  onMachineOk('deb01', 'update-alternatives --quiet --set iptables /usr/sbin/iptables-legacy && update-alternatives --quiet --set ip6tables /usr/sbin/ip6tables-legacy')
}, FIRST_BOOT_TIMEOUT_MS)
afterAll(() => labDown())

describe('iptables-legacy and iptables-nft hosts, side by side', () => {
  it('run the backends they were given', () => {
    expect(onMachineOk('deb01', 'iptables -V').trim()).toMatch(/\(legacy\)$/)
    expect(onMachineOk('deb02', 'iptables -V').trim()).toMatch(/\(nf_tables\)$/)
  })

  it('apply and confirm the same rulesets, in the backend each host uses', async () => {
    const applied = await run('apply')
    expect(applied.code).toBe(0)
    expect(applied.hosts.deb01?.outcome).toBe('changed')
    expect(applied.hosts.deb02?.outcome).toBe('changed')
    expect(rulesets('deb01')).toEqual(rulesets('deb02'))
    expect(rulesets('deb01').v4['*filter']).toContain('-A INPUT -j DROP')
    // The legacy host's rules really are in the legacy tables, and nf_tables holds none of them.
    expect(onMachineOk('deb01', 'iptables-legacy-save')).toContain('-A INPUT -j DROP')
    expect(onMachineOk('deb01', 'nft list tables').trim()).toBe('')
    const again = await run('apply')
    expect([again.hosts.deb01?.outcome, again.hosts.deb02?.outcome]).toEqual(['unchanged', 'unchanged'])
  })

  it('audit the same: in sync, then the same drift', async () => {
    expect((await run('audit')).code).toBe(0)
    both('iptables -I INPUT -p tcp --dport 7100 -j ACCEPT')
    const audit = await run('audit')
    expect(audit.code).toBe(3)
    expect(audit.hosts.deb01?.outcome).toBe('drift')
    expect(audit.hosts.deb01?.diff).toEqual(audit.hosts.deb02?.diff)
    expect(JSON.stringify(audit.hosts.deb01?.diff)).toContain('7100')
  })

  it('roll back the same, and keep the same history', async () => {
    const drifted = rulesets('deb01')
    expect(drifted).toEqual(rulesets('deb02'))
    const applied = await run('apply')
    expect([applied.hosts.deb01?.outcome, applied.hosts.deb02?.outcome]).toEqual(['changed', 'changed'])
    const back = await run('rollback')
    expect([back.hosts.deb01?.outcome, back.hosts.deb02?.outcome]).toEqual(['changed', 'changed'])
    expect(rulesets('deb01')).toEqual(drifted)
    expect(rulesets('deb02')).toEqual(drifted)
    const history = await run('history')
    const steps = (host: string) =>
      (history.hosts[host] as unknown as { entries: { action: string; status: string }[] }).entries.map((e) => `${e.action} ${e.status}`)
    expect(steps('deb01')).toEqual(steps('deb02'))
    expect(steps('deb01').slice(-2)).toEqual(['apply confirmed', 'rollback confirmed'])
  })

  it('are rolled back the same when a change locks the operator out', async () => {
    const before = rulesets('deb01')
    const inventory = path.join(LAB, 'debian-lockout.yaml')
    // Only 198.18.0.200/29 may open connections: router01, the jump host, is locked out.
    writeFileSync(inventory, readFileSync(DEBIAN_INVENTORY, 'utf8').replace(/(    role: internal-server\n)/g, '$1    network: { internal: 198.18.0.200/29 }\n'))
    const result = await fleet(['apply', '-i', inventory, '--limit', 'deb01,deb02', '--json', '--confirm-timeout', '5'])
    const hosts = byHost(result.stdout)
    expect([hosts.deb01?.outcome, hosts.deb02?.outcome]).toEqual(['rolled-back', 'rolled-back'])
    expect(rulesets('deb01')).toEqual(before)
    expect(rulesets('deb02')).toEqual(before)
  })
})
