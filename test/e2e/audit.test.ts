// fleet audit against the lab: read-only drift, foreign chains and conntrack.
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { fleet } from '../helpers/cli.ts'
import { labDown, labUp, onHost, ROOT, rulesetOf } from '../helpers/lab.ts'

const LAB_INVENTORY = path.join(ROOT, 'inventory/lab.yaml')
const HOSTS = ['router01', 'web01', 'web02']
interface AuditReport {
  hosts: { host: string; outcome: string; diff?: { family: string; table: string; chain: string; kind: string; line: string }[]; foreign?: string[]; conntrack?: { count: number; max: number; flows: { proto: string; port?: number; from: string; count: number }[] } }[]
}
const audit = async (...args: string[]) => {
  const result = await fleet(['audit', '-i', LAB_INVENTORY, '--json', ...args])
  return { code: result.code, report: JSON.parse(result.stdout) as AuditReport, stderr: result.stderr }
}
const hostState = (h: string) => onHost(h, 'ls -R /var/lib/fleet').stdout

beforeAll(async () => {
  labUp()
  expect((await fleet(['apply', '-i', LAB_INVENTORY])).code).toBe(0)
})
afterAll(() => labDown())

describe('fleet audit', () => {
  it('right after an apply: every host in sync, exit 0', async () => {
    const { code, report } = await audit()
    expect(report.hosts.map((h) => [h.host, h.outcome, h.diff])).toEqual(HOSTS.map((h) => [h, 'in-sync', []]))
    expect(code).toBe(0)
    const plain = await fleet(['audit', '-i', LAB_INVENTORY])
    expect(plain.stdout).toMatch(/^web01: in sync$/m)
    expect(plain.stdout).toMatch(/audited 3 hosts: 3 in sync/)
  })

  it('names exactly the rule added on web01 and the one deleted on router01, exit 3, and changes nothing', async () => {
    onHost('web01', 'iptables -I INPUT 2 -p tcp --dport 8443 -j ACCEPT')
    onHost('router01', 'iptables -D INPUT -p icmp -j ACCEPT')
    const rulesets = HOSTS.map((h) => rulesetOf(h))
    const state = HOSTS.map(hostState)
    const { code, report } = await audit()
    expect(code).toBe(3)
    expect(Object.fromEntries(report.hosts.map((h) => [h.host, h.diff]))).toEqual({
      router01: [{ family: 'ipv4', table: 'filter', chain: 'INPUT', kind: 'missing', line: '-A INPUT -p icmp -j ACCEPT' }],
      web01: [{ family: 'ipv4', table: 'filter', chain: 'INPUT', kind: 'extra', line: '-A INPUT -p tcp -m tcp --dport 8443 -j ACCEPT' }],
      web02: [],
    })
    expect(HOSTS.map((h) => rulesetOf(h))).toEqual(rulesets)
    expect(HOSTS.map(hostState)).toEqual(state)
    const plain = await fleet(['audit', '-i', LAB_INVENTORY])
    expect(plain.stdout).toContain('router01: drift\n    filter/INPUT: + missing -A INPUT -p icmp -j ACCEPT')
    expect(plain.stdout).toMatch(/audited 3 hosts: 1 in sync, 2 drift \(router01, web01\)/)
    expect(plain.code).toBe(3)
  })

  it('lists chains no role owns as foreign, not as drift', async () => {
    onHost('web02', 'iptables -N f2b-sshd && iptables -A f2b-sshd -s 198.51.100.66 -j DROP && iptables -I INPUT -j f2b-sshd')
    const web02 = (await audit('--limit', 'web02')).report.hosts[0]!
    expect(web02.outcome).toBe('in-sync')
    expect(web02.foreign).toEqual([
      'filter/f2b-sshd: :f2b-sshd -',
      'filter/INPUT: -A INPUT -j f2b-sshd',
      'filter/f2b-sshd: -A f2b-sshd -s 198.51.100.66/32 -j DROP',
    ])
  })

  it('shows a rule comment holding escape sequences written out, never raw; --json keeps it exact', async () => {
    // Anyone with CAP_NET_ADMIN on a host can write this comment: a clear screen and a C1 CSI.
    onHost('web02', `iptables -A INPUT -m comment --comment "$(printf 'x\\033[2Jy\\302\\233')" -j ACCEPT`)
    try {
      const plain = await fleet(['audit', '-i', LAB_INVENTORY, '--limit', 'web02'])
      expect(plain.stdout).toContain('--comment "x\\x1b[2Jy\\x9b"')
      expect(plain.stdout).not.toMatch(/[\x00-\x08\x0b-\x1f\x7f-\x9f]/)
      const web02 = (await audit('--limit', 'web02')).report.hosts[0]!
      expect(web02.diff?.map((d) => d.line)).toContain('-A INPUT -m comment --comment "x\x1b[2Jy\x9b" -j ACCEPT')
    } finally {
      onHost('web02', `iptables -D INPUT -m comment --comment "$(printf 'x\\033[2Jy\\302\\233')" -j ACCEPT`)
    }
  })

  it("shows the LAN's egress in router01's conntrack and none of the untracked inbound web traffic", async () => {
    onHost('router01', 'conntrack -F')
    expect(onHost('internet', 'for i in $(seq 1 50); do curl -s -m 2 -o /dev/null http://198.51.100.2:80/ || echo fail; done').stdout).toBe('')
    expect(onHost('web01', 'curl -s -m 3 http://198.51.100.254:80/ && curl -s -m 3 http://198.51.100.254:443/ && echo q | nc -u -w 1 198.51.100.254 53').stdout).toContain('internet:53')
    const router = (await audit('--limit', 'router01')).report.hosts[0]!
    const flows = router.conntrack!.flows
    expect(router.conntrack!.max).toBeGreaterThan(0)
    expect(flows).toEqual(
      expect.arrayContaining([
        { proto: 'tcp', port: 80, from: 'internal', count: 1 },
        { proto: 'tcp', port: 443, from: 'internal', count: 1 },
        { proto: 'udp', port: 53, from: 'internal', count: 1 },
      ]),
    )
    expect(flows.filter((f) => f.port === 80 && f.from === 'outside')).toEqual([])
  })
})
