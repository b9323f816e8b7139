// IPv6 baselines, chains that other software owns, and rules persisted for boot, in the lab.
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { fleet } from '../helpers/cli.ts'
import { asConfiguration, internalHost, LAB, labDown, labInventory, labRoles, labUp, onHost, ROOT, rulesetOf } from '../helpers/lab.ts'

const LAB_INVENTORY = path.join(ROOT, 'inventory/lab.yaml')
const save6 = (host: string) => rulesetOf(host, 'ipv6')
type Report = { hosts: { host: string; outcome: string; changeId?: string; foreign?: string[]; diff?: unknown[] }[] }
const parse = (stdout: string) => JSON.parse(stdout) as Report

beforeAll(() => {
  labUp()
  process.env.XDG_STATE_HOME = path.join(LAB, 'operator-state')
})
afterAll(() => labDown())

describe('IPv6', () => {
  it('serves the role\'s ports over IPv6, drops the others, and neighbour discovery still works', async () => {
    // Before: nothing listens on router01:8080, so the kernel refuses (curl exit 7).
    expect(onHost('internet', 'curl -6 -s -m 2 "http://[2001:db8:0:1::2]:8080/"').code).toBe(7)
    const result = await fleet(['apply', '-i', LAB_INVENTORY, '--json'])
    expect(result.code).toBe(0)
    expect(save6('router01')).toContain('-A INPUT -j DROP')
    expect(save6('web01')).toContain('-A INPUT -s 2001:db8:0:2::/64 -j ACCEPT')
    // Forget every neighbour, so the next packets need neighbour discovery again.
    for (const h of ['internet', 'router01', 'web01']) onHost(h, 'ip -6 neigh flush all')
    expect(onHost('internet', 'curl -6 -s -m 3 "http://[2001:db8:0:1::2]:80/"').stdout).toContain('router01:80')
    // After: dropped, not refused (curl exit 28 is a timeout).
    expect(onHost('internet', 'curl -6 -s -m 2 "http://[2001:db8:0:1::2]:8080/"').code).toBe(28)
    expect(onHost('internet', 'curl -6 -s -m 2 "http://[2001:db8:0:1::2]:25/"').code).toBe(28)
    expect(onHost('router01', 'curl -6 -s -m 3 "http://[2001:db8:0:2::11]:80/"').stdout).toContain('web01:80')
    expect(onHost('router01', 'ip -6 neigh show dev eth1').stdout).toMatch(/2001:db8:0:2::11 .*(REACHABLE|STALE|DELAY)/)
  })

  it('is saved, rolled back and audited with IPv4, as one change', async () => {
    onHost('web01', 'ip6tables -I INPUT -p tcp --dport 9999 -j ACCEPT')
    const before6 = save6('web01')
    const applied = parse((await fleet(['apply', '-i', LAB_INVENTORY, '--limit', 'web01', '--json'])).stdout).hosts[0]!
    expect(applied.outcome).toBe('changed')
    expect(JSON.stringify(applied.diff)).toContain('"family":"ipv6"')
    expect(save6('web01')).not.toContain('9999')
    expect(onHost('web01', `ls /var/lib/fleet/saved/${applied.changeId}.v6`).code).toBe(0)
    const audit = parse((await fleet(['audit', '-i', LAB_INVENTORY, '--limit', 'web01', '--json'])).stdout).hosts[0]!
    expect(audit.outcome).toBe('in-sync')
    const back = await fleet(['rollback', '-i', LAB_INVENTORY, '--limit', 'web01', '--json'])
    expect(parse(back.stdout).hosts[0]?.outcome).toBe('changed')
    expect(save6('web01')).toBe(before6)
    const drift = parse((await fleet(['audit', '-i', LAB_INVENTORY, '--limit', 'web01', '--json'])).stdout).hosts[0]!
    expect(drift.outcome).toBe('drift')
    expect(JSON.stringify(drift.diff)).toContain('"family":"ipv6","table":"filter","chain":"INPUT","kind":"extra","line":"-A INPUT -p tcp -m tcp --dport 9999 -j ACCEPT"')
  })
})

describe("chains fleet does not own", () => {
  const theirs = [
    ':DOCKER -',
    ':f2b-sshd -',
    '-A INPUT -j f2b-sshd',
    '-A FORWARD -o docker0 -j DOCKER',
    '-A DOCKER -d 198.18.0.99/32 ! -i docker0 -o docker0 -p tcp -m tcp --dport 80 -j ACCEPT',
    '-A f2b-sshd -s 198.51.100.66/32 -j REJECT --reject-with icmp-port-unreachable',
  ]
  const present = () => {
    const live = rulesetOf('web02')
    return theirs.filter((line) => live.split('\n').includes(line))
  }

  it('keeps DOCKER and f2b-sshd, with their jumps, through apply, rollback and a second apply; audit lists them as foreign', async () => {
    onHost(
      'web02',
      [
        'iptables -N DOCKER',
        'iptables -A DOCKER -d 198.18.0.99 ! -i docker0 -o docker0 -p tcp --dport 80 -j ACCEPT',
        'iptables -I FORWARD -o docker0 -j DOCKER',
        'iptables -N f2b-sshd',
        'iptables -A f2b-sshd -s 198.51.100.66 -j REJECT',
        'iptables -I INPUT -j f2b-sshd',
        'iptables -A INPUT -p tcp --dport 5555 -j ACCEPT',
      ].join(' && '),
    )
    expect(present()).toEqual(theirs)
    const first = parse((await fleet(['apply', '-i', LAB_INVENTORY, '--limit', 'web02', '--json'])).stdout).hosts[0]!
    expect(first.outcome).toBe('changed')
    expect(rulesetOf('web02')).not.toContain('5555')
    expect(present()).toEqual(theirs)

    const back = parse((await fleet(['rollback', '-i', LAB_INVENTORY, '--limit', 'web02', '--json'])).stdout).hosts[0]!
    expect(back.outcome).toBe('changed')
    expect(rulesetOf('web02')).toContain('5555')
    expect(present()).toEqual(theirs)

    const second = parse((await fleet(['apply', '-i', LAB_INVENTORY, '--limit', 'web02', '--json'])).stdout).hosts[0]!
    expect(second.outcome).toBe('changed')
    expect(present()).toEqual(theirs)
    const again = parse((await fleet(['apply', '-i', LAB_INVENTORY, '--limit', 'web02', '--json'])).stdout).hosts[0]!
    expect(again.outcome).toBe('unchanged')

    const audit = parse((await fleet(['audit', '-i', LAB_INVENTORY, '--limit', 'web02', '--json'])).stdout).hosts[0]!
    expect(audit.outcome).toBe('in-sync')
    expect(audit.foreign).toEqual(expect.arrayContaining(['filter/DOCKER: :DOCKER -', 'filter/INPUT: -A INPUT -j f2b-sshd', 'filter/FORWARD: -A FORWARD -o docker0 -j DOCKER']))
  })
})

describe('rules that survive a reboot', () => {
  let roles = ''
  const files = (host: string) => ({
    v4: onHost(host, 'cat /etc/iptables/rules.v4').stdout,
    v6: onHost(host, 'cat /etc/iptables/rules.v6').stdout,
  })

  beforeAll(() => {
    // web01 without the rule that accepts the internal network: its SSH (through router01) is cut.
    roles = labRoles('persist-roles', {
      'server-without-ssh': `export default {
  description: 'locks the operator out',
  tasks: ({ task }) => [task('drop', async ($) => { await $\`iptables -A INPUT -i lo -j ACCEPT\`; await $\`iptables -A INPUT -j DROP\`; await $\`ip6tables -A INPUT -j DROP\` })],
}\n`,
    })
  })

  it('writes exactly the confirmed rulesets, and keeps them when an apply is rolled back', async () => {
    onHost('web01', 'rm -f /etc/iptables/rules.v4 /etc/iptables/rules.v6; iptables -A INPUT -p tcp --dport 4242 -j ACCEPT')
    const persisted = labInventory(internalHost('web01', '198.18.0.11').replace('    role: internal-server\n', '    role: internal-server\n    persist: true\n'), { roles })
    const applied = await fleet(['apply', '-i', persisted, '--limit', 'web01', '--json'])
    expect(parse(applied.stdout).hosts[0]?.outcome).toBe('changed')
    const confirmed = files('web01')
    expect(asConfiguration(confirmed.v4)).toBe(rulesetOf('web01'))
    expect(asConfiguration(confirmed.v6)).toBe(save6('web01'))

    const lockout = labInventory(
      internalHost('web01', '198.18.0.11').replace('    role: internal-server\n', '    role: server-without-ssh\n    persist: true\n'),
      { roles },
    )
    const rolledBack = await fleet(['apply', '-i', lockout, '--limit', 'web01', '--json', '--confirm-timeout', '4'])
    expect(parse(rolledBack.stdout).hosts[0]?.outcome).toBe('rolled-back')
    // Past the timer, whichever way the host was restored, the boot files never saw the lockout.
    await new Promise((r) => setTimeout(r, 5000))
    expect(rulesetOf('web01')).toContain('-A INPUT -s 198.18.0.0/24 -j ACCEPT')
    expect(files('web01')).toEqual(confirmed)
  })
})
