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

  it('on a host without ip6tables, apply, --check and audit say it is missing and what to do; a role without IPv6 rules applies', async () => {
    // web02's ip6tables, ip6tables-save and ip6tables-restore gone, in its own mount namespace only:
    // a tmpfs over its /etc/alternatives holding the machine's entries but those.
    const hide = onHost(
      'web02',
      'set -e; mkdir /run/alternatives; cp -a /etc/alternatives/. /run/alternatives/; rm /run/alternatives/ip6tables*; ' +
        'mount -t tmpfs fleet-test /etc/alternatives; cp -a /run/alternatives/. /etc/alternatives/; rm -r /run/alternatives; ! command -v ip6tables-restore',
    )
    expect(hide.code).toBe(0)
    try {
      onHost('web02', 'iptables -A INPUT -p tcp --dport 4343 -j ACCEPT')
      const before = rulesetOf('web02')
      const missing =
        'IPv6 is up (/proc/net/if_inet6 exists) but ip6tables-save and ip6tables-restore are not installed on this host (not found on its PATH), ' +
        'which fleet needs to compare and load its IPv6 ruleset; nothing changed. Install ip6tables on the host (Debian, Ubuntu: apt install iptables, which carries both; ' +
        'Alpine: apk add ip6tables), or give the host a role of your own without ip6tables lines: fleet then manages its IPv4 ruleset only and leaves IPv6 unfiltered'
      const applied = await fleet(['apply', '-i', LAB_INVENTORY, '--limit', 'web02'])
      expect(applied.code).toBe(1)
      expect(applied.stdout).toContain(`web02: failed: ${missing}`)
      for (const args of [['apply', '--check'], ['audit']]) {
        const result = await fleet([...args, '-i', LAB_INVENTORY, '--limit', 'web02', '--json'])
        expect(result.code).toBe(1)
        expect(parse(result.stdout).hosts[0]).toMatchObject({ host: 'web02', outcome: 'failed', detail: missing })
      }
      expect(rulesetOf('web02')).toBe(before)

      // What the message offers instead: a role of one's own without ip6tables lines.
      const roles = labRoles('ipv4-only-roles', {
        'server-ipv4-only': `export default {
  description: 'internal server, IPv4 only',
  tasks: ({ task, need, common }) => [common.inputAllow(need('interface')), task('drop', async ($) => { await $\`iptables -A INPUT -j DROP\` })],
}\n`,
      })
      const ipv4Only = labInventory(internalHost('web02', '198.18.0.12').replace('role: internal-server', 'role: server-ipv4-only'), { roles })
      const result = await fleet(['apply', '-i', ipv4Only, '--limit', 'web02', '--json'])
      expect(parse(result.stdout).hosts[0]?.outcome).toBe('changed')
      expect(rulesetOf('web02')).not.toContain('4343')
    } finally {
      onHost('web02', 'umount /etc/alternatives')
    }
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

  it('are put right when they hold another ruleset: audit says so, apply persists the baseline again', async () => {
    const persisted = labInventory(internalHost('web01', '198.18.0.11').replace('    role: internal-server\n', '    role: internal-server\n    persist: true\n'), { roles })
    expect(parse((await fleet(['apply', '-i', persisted, '--limit', 'web01', '--json'])).stdout).hosts[0]?.outcome).toMatch(/^(changed|unchanged)$/)
    const good = files('web01')
    // The live rulesets are the baseline; the boot file is not (edited by hand, or left behind).
    expect(onHost('web01', "sed -i '/-j DROP/d' /etc/iptables/rules.v4").code).toBe(0)
    const stale = 'boot file /etc/iptables/rules.v4: holds another ruleset than the baseline (a reboot would load it)'
    const audited = await fleet(['audit', '-i', persisted, '--limit', 'web01', '--json'])
    expect(audited.code).toBe(3)
    expect(parse(audited.stdout).hosts[0]).toMatchObject({ outcome: 'drift', settings: [stale], diff: [] })
    const applied = await fleet(['apply', '-i', persisted, '--limit', 'web01', '--json'])
    expect(parse(applied.stdout).hosts[0]).toMatchObject({ outcome: 'changed', settings: [stale] })
    const now = files('web01')
    expect([asConfiguration(now.v4), asConfiguration(now.v6)]).toEqual([asConfiguration(good.v4), asConfiguration(good.v6)])
    expect((await fleet(['audit', '-i', persisted, '--limit', 'web01', '--json'])).code).toBe(0)
    expect(parse((await fleet(['apply', '-i', persisted, '--limit', 'web01', '--json'])).stdout).hosts[0]?.outcome).toBe('unchanged')
  })

  it('on a router, keep forwarding on at boot with its rules, and take it away with an undone change', async () => {
    const file = '/etc/sysctl.d/90-fleet-router.conf'
    onHost('router01', `rm -f ${file}`)
    const persisted = labInventory('', { routerPersist: true })
    const applied = await fleet(['apply', '-i', persisted, '--limit', 'router01', '--json'])
    expect(parse(applied.stdout).hosts[0]?.outcome).toBe('changed')
    expect(onHost('router01', `cat ${file}`).stdout).toBe('net.ipv4.ip_forward = 1\n')
    // What systemd-sysctl does at boot, on a kernel that starts with forwarding off.
    expect(onHost('router01', `sysctl -q -w net.ipv4.ip_forward=0 && sysctl -q -p ${file} && sysctl -n net.ipv4.ip_forward`).stdout.trim()).toBe('1')
    expect((await fleet(['audit', '-i', persisted, '--limit', 'router01', '--json'])).code).toBe(0)
    // Without persist the role writes no boot configuration.
    onHost('router01', `rm -f ${file}`)
    expect(parse((await fleet(['apply', '-i', labInventory(''), '--limit', 'router01', '--json'])).stdout).hosts[0]?.outcome).toBe('unchanged')
    expect(onHost('router01', `test -e ${file}`).code).not.toBe(0)
    // An undone change takes the boot line away again.
    const undone = await fleet(['apply', '-i', persisted, '--limit', 'router01', '--json'], { CI: 'true', FLEET_FAULT: 'confirm:fail' })
    expect(parse(undone.stdout).hosts[0]?.outcome).toBe('rolled-back')
    expect(onHost('router01', `cat ${file} 2>/dev/null`).stdout.trim()).toBe('')
  })
})
