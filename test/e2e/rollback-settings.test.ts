// `fleet rollback` puts a host back as it was before the change, host settings included: the
// reviewer's case (the router role on a fresh router01 turns forwarding on; a rollback that only
// restored the rulesets left it on, with FORWARD accepting everything, so the internet reached the
// LAN through the router). Settings the role cannot undo are named as staying as they are.
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { fleet } from '../helpers/cli.ts'
import { LAB, labDown, labInventory, labRoles, labUp, onHost, rulesetOf } from '../helpers/lab.ts'
import { ROUTER_MARTIANS } from '../helpers/router-roles.ts'

type HostReport = { host: string; outcome: string; detail?: string; changeId?: string; settings?: string[] }
const report = (stdout: string) => (JSON.parse(stdout) as { hosts: HostReport[] }).hosts[0]!

const ROLES = { 'router-martians': ROUTER_MARTIANS }
const inventory = (routerRole: string) => labInventory('', { roles: labRoles('rollback-settings-roles', ROLES), routerRole })
const apply = async (routerRole: string) => report((await fleet(['apply', '-i', inventory(routerRole), '--limit', 'router01', '--json', '--confirm-timeout', '20'])).stdout)
const rollback = async (routerRole: string, more: string[] = [], env: NodeJS.ProcessEnv = { CI: 'true' }) => {
  const ran = await fleet(['rollback', '-i', inventory(routerRole), '--limit', 'router01', '--json', '--confirm-timeout', '5', ...more], env)
  return { code: ran.code, ...report(ran.stdout) }
}
const sysctl = (name: string) => onHost('router01', `sysctl -n ${name}`).stdout.trim()
const set = (name: string, value: string) => expect(onHost('router01', `sysctl -q -w ${name}=${value}`).code).toBe(0)
// The internet host (198.51.100.254) sending to web01 through router01, as an attacker would.
const internetReachesLan = () => onHost('internet', 'nc -z -w 2 198.18.0.11 80').code === 0
const history = async () => {
  const ran = await fleet(['history', '-i', inventory('router'), '--limit', 'router01', '--json'])
  return (JSON.parse(ran.stdout) as { hosts: { entries: { id: string; action: string; status: string; note: string }[] }[] }).hosts[0]!.entries
}
const FORWARD = 'set back: set net.ipv4.ip_forward = 1'
const EMPTY = ['*raw', ':PREROUTING ACCEPT', ':OUTPUT ACCEPT', 'COMMIT', '*mangle', ':PREROUTING ACCEPT', ':INPUT ACCEPT', ':FORWARD ACCEPT', ':OUTPUT ACCEPT', ':POSTROUTING ACCEPT', 'COMMIT',
  '*nat', ':PREROUTING ACCEPT', ':INPUT ACCEPT', ':OUTPUT ACCEPT', ':POSTROUTING ACCEPT', 'COMMIT', '*filter', ':INPUT ACCEPT', ':FORWARD ACCEPT', ':OUTPUT ACCEPT', 'COMMIT', ''].join('\\n')

beforeAll(() => {
  labUp()
  process.env.XDG_STATE_HOME = path.join(LAB, 'operator-state')
  expect(onHost('internet', 'ip route add 198.18.0.0/24 via 198.51.100.2').code).toBe(0)
}, 180_000)
afterAll(() => labDown())

describe('fleet rollback, on a router whose change turned forwarding on', () => {
  it('sets forwarding back off with the rulesets, and names the setting the role cannot undo', async () => {
    // A fresh router: every table empty, nothing filtered, no forwarding.
    expect(onHost('router01', `printf '${EMPTY}' | iptables-restore`).code).toBe(0)
    set('net.ipv4.ip_forward', '0')
    set('net.ipv4.conf.all.log_martians', '0')
    const before = rulesetOf('router01')
    expect(internetReachesLan()).toBe(false)

    const applied = await apply('router-martians')
    expect(applied.outcome).toBe('changed')
    expect(sysctl('net.ipv4.ip_forward')).toBe('1')
    expect(sysctl('net.ipv4.conf.all.log_martians')).toBe('1')

    const back = await rollback('router-martians')
    expect(back.code).toBe(0)
    expect(back.outcome).toBe('changed')
    expect(back.settings).toEqual([FORWARD])
    expect(back.detail).toMatch(/log martians/)
    expect(back.detail).toMatch(/stays? as (it is|they are)/)
    expect(sysctl('net.ipv4.ip_forward')).toBe('0')
    expect(sysctl('net.ipv4.conf.all.log_martians')).toBe('1')
    expect(rulesetOf('router01')).toBe(before)
    expect(internetReachesLan()).toBe(false)

    const newest = (await history()).at(-1)!
    expect(newest).toMatchObject({ id: back.changeId, action: 'rollback', status: 'confirmed' })
    expect(newest.note).toContain(`rollback to before ${applied.changeId}`)
    // The rollback kept what it changed, so it can be undone in turn.
    expect(onHost('router01', `cat /var/lib/fleet/saved/${back.changeId}.setting-*`).stdout).toBe('1\n')
    set('net.ipv4.conf.all.log_martians', '0')
  }, 120_000)

  it('undone in turn (a second rollback), turns forwarding on again; unconfirmed, it leaves it on', async () => {
    const back = await rollback('router')
    expect(back.outcome).toBe('changed')
    expect(back.settings).toEqual([FORWARD])
    expect(sysctl('net.ipv4.ip_forward')).toBe('1')
    const routed = rulesetOf('router01')
    expect(routed).toContain('-A FORWARD -j DROP')

    // The rollback's own confirmation fails: its undo sets forwarding back as it found it.
    const unconfirmed = await rollback('router', [], { CI: 'true', FLEET_FAULT: 'confirm:fail' })
    expect(unconfirmed.outcome).toBe('rolled-back')
    expect(sysctl('net.ipv4.ip_forward')).toBe('1')
    expect(rulesetOf('router01')).toBe(routed)
  }, 120_000)

  it('says unchanged when the host already is as it was before the change', async () => {
    set('net.ipv4.ip_forward', '0')
    const applied = await apply('router')
    expect(applied.outcome).toBe('changed')
    // By hand, the host is put back as it was: the saved rulesets, forwarding off.
    expect(onHost('router01', `iptables-restore < /var/lib/fleet/saved/${applied.changeId}.v4 && sysctl -q -w net.ipv4.ip_forward=0`).code).toBe(0)
    const entries = (await history()).length

    const back = await rollback('router')
    expect(back.outcome).toBe('unchanged')
    expect(back.changeId).toBeUndefined()
    expect(await history()).toHaveLength(entries)
  }, 120_000)

  it('names a recorded setting the role no longer has, and leaves it', async () => {
    set('net.ipv4.conf.all.log_martians', '0')
    expect((await apply('router-martians')).outcome).toBe('changed')
    expect(sysctl('net.ipv4.conf.all.log_martians')).toBe('1')
    // The inventory's role for router01 is now the plain router: it has no such setting.
    const back = await rollback('router')
    expect(back.outcome).toBe('changed')
    expect(back.detail).toMatch(/the role no longer has.*\/var\/lib\/fleet\/saved\/\S+\.setting-[0-9a-f]{16}/)
    expect(sysctl('net.ipv4.conf.all.log_martians')).toBe('1')
    set('net.ipv4.conf.all.log_martians', '0')
  }, 120_000)

  it('a dry run shows which settings may be set back, and that their values are read on the host', async () => {
    const ran = await fleet(['rollback', '-i', inventory('router-martians'), '--limit', 'router01', '--dry-run'])
    expect(ran.code).toBe(0)
    expect(ran.stdout).toContain(FORWARD)
    expect(ran.stdout).toMatch(/value .*recorded on router01.*read there/)
    expect(ran.stdout).toMatch(/log martians.*undo: 'keep'/)
  })
})
