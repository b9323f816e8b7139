// fleet apply --check against the lab: the hosts are read, what apply would change is printed rule
// by rule, and nothing is written (no ruleset, no lock, no history). Exit 0 nothing to do, 3
// changes pending.
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { fleet } from '../helpers/cli.ts'
import { LAB, labDown, labUp, onHost, ROOT, rulesetOf } from '../helpers/lab.ts'

const LAB_INVENTORY = path.join(ROOT, 'inventory/lab.yaml')
const HOSTS = ['router01', 'web01', 'web02']
const hostState = (h: string) => onHost(h, 'ls -R /var/lib/fleet 2>/dev/null').stdout
const snapshot = () => HOSTS.map((h) => [rulesetOf(h), rulesetOf(h, 'ipv6'), hostState(h), onHost(h, 'sysctl -n net.ipv4.ip_forward').stdout])

beforeAll(() => labUp())
afterAll(() => labDown())

describe('fleet apply --check', () => {
  it('on hosts never applied: every rule apply would add, per host and chain, exit 3, nothing written', async () => {
    const before = snapshot()
    const result = await fleet(['apply', '-i', LAB_INVENTORY, '--check'])
    expect(result.stderr).toBe('')
    expect(result.code).toBe(3)
    expect(result.stdout).toMatch(/^router01: drift: apply would change: \d+ to add, set net\.ipv4\.ip_forward = 1$/m)
    expect(result.stdout).toContain('    nat/POSTROUTING: + missing -A POSTROUTING -o eth0 -j MASQUERADE')
    expect(result.stdout).toContain('    raw/PREROUTING: + missing -A PREROUTING -s 198.18.0.0/24 -d 198.18.0.0/24 -j NOTRACK')
    expect(result.stdout).toContain('    ip6 filter/INPUT: + missing -A INPUT -j DROP')
    expect(result.stdout).toContain('    setting: set net.ipv4.ip_forward = 1')
    expect(result.stdout).toMatch(/checked 3 hosts: 3 drift \(router01, web01, web02\)$/)
    expect(snapshot()).toEqual(before)
  })

  it('after an apply: nothing to do, exit 0', async () => {
    expect((await fleet(['apply', '-i', LAB_INVENTORY])).code).toBe(0)
    const result = await fleet(['apply', '-i', LAB_INVENTORY, '--check'])
    expect(result.code).toBe(0)
    expect(result.stdout).toMatch(/^web01: in sync$/m)
    expect(result.stdout).toMatch(/checked 3 hosts: 3 in sync$/)
  })

  it('--json: the one rule a hand edit added on web01, as data, exit 3, and it stays', async () => {
    onHost('web01', 'iptables -I INPUT 2 -p tcp --dport 8443 -j ACCEPT')
    const before = snapshot()
    const result = await fleet(['apply', '-i', LAB_INVENTORY, '--check', '--json'])
    expect(result.code).toBe(3)
    const report = JSON.parse(result.stdout) as { command: string; hosts: { host: string; outcome: string; diff: unknown[] }[]; summary: Record<string, number> }
    expect(report.command).toBe('check')
    expect(Object.fromEntries(report.hosts.map((h) => [h.host, [h.outcome, h.diff]]))).toEqual({
      router01: ['in-sync', []],
      web01: ['drift', [{ family: 'ipv4', table: 'filter', chain: 'INPUT', kind: 'extra', line: '-A INPUT -p tcp -m tcp --dport 8443 -j ACCEPT' }]],
      web02: ['in-sync', []],
    })
    expect(report.summary).toMatchObject({ 'in-sync': 2, drift: 1 })
    expect(snapshot()).toEqual(before)
  })

  it('a host that cannot be read: exit 1, the others still checked', async () => {
    process.kill(Number(readFileSync(path.join(LAB, 'hosts/web02/sshd.pid'), 'utf8')))
    const result = await fleet(['apply', '-i', LAB_INVENTORY, '--check', '--limit', 'web02,router01'])
    expect(result.code).toBe(1)
    expect(result.stdout).toMatch(/^router01: in sync$/m)
    expect(result.stdout).toMatch(/^web02: failed: /m)
  })
})
