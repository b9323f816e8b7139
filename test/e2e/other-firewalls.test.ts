// Rules that filter a host's traffic outside the tables fleet manages: the other iptables backend
// (iptables-legacy next to iptables-nft) and native nftables tables. The kernel evaluates them all,
// so fleet never reports such a host in sync, and apply leaves it alone unless told to proceed.
import { readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { fleet } from '../helpers/cli.ts'
import { FLEET_BIN, internalHost, LAB, labDown, labInventory, labUp, onHost, ROOT, rulesetOf } from '../helpers/lab.ts'
import { Terminal } from '../helpers/terminal.ts'

const LAB_INVENTORY = path.join(ROOT, 'inventory/lab.yaml')
interface Other {
  source: string
  table: string
  chain: string
  line: string
}
interface Report {
  hosts: { host: string; outcome: string; detail?: string; diff?: unknown[]; otherFirewalls?: Other[] }[]
}
const run = async (command: string, inventory: string, ...args: string[]) => {
  const result = await fleet([command, '-i', inventory, '--json', ...args])
  const report = JSON.parse(result.stdout) as Report
  return { code: result.code, hosts: Object.fromEntries(report.hosts.map((h) => [h.host, h])) }
}
const entries = (host: string) => onHost(host, 'ls /var/lib/fleet/history 2>/dev/null | wc -l').stdout.trim()
const LEGACY_RULE: Other = {
  source: 'iptables-legacy',
  table: 'filter',
  chain: 'INPUT',
  line: '-A INPUT -s 198.51.100.66/32 -p tcp -m tcp --dport 22 -j DROP',
}
// The lab's inventory, with every host allowed to live with other firewalls (a default).
const proceeding = () => {
  const file = labInventory(['web01', 'web02'].map((h, i) => internalHost(h, `198.18.0.1${i + 1}`)).join(''))
  writeFileSync(file, readFileSync(file, 'utf8').replace('defaults:\n', 'defaults:\n  otherFirewalls: proceed\n'))
  return file
}

beforeAll(async () => {
  labUp()
  process.env.XDG_STATE_HOME = path.join(LAB, 'operator-state')
  expect((await fleet(['apply', '-i', LAB_INVENTORY])).code).toBe(0)
})
afterAll(() => labDown())

describe('rules in the other iptables backend', () => {
  it('audit: a legacy rule is drift (exit 3, the rule listed); empty legacy tables, which only raise the warning, are not', async () => {
    onHost('web01', `iptables-legacy ${LEGACY_RULE.line.replace(' -m tcp', '')}`)
    onHost('web02', 'iptables-legacy -L >/dev/null && ip6tables-legacy -L >/dev/null')
    expect(onHost('web02', 'iptables-save >/dev/null').stderr).toContain('iptables-legacy tables present')
    const { code, hosts } = await run('audit', LAB_INVENTORY)
    expect(code).toBe(3)
    expect(hosts.web01).toMatchObject({ outcome: 'drift', diff: [], otherFirewalls: [LEGACY_RULE] })
    expect(hosts.web02).toMatchObject({ outcome: 'in-sync' })
    expect(hosts.web02!.otherFirewalls).toBeUndefined()
    const plain = await fleet(['audit', '-i', LAB_INVENTORY])
    expect(plain.stdout).toContain(`web01: drift\n    also filtering: iptables-legacy filter/INPUT: ${LEGACY_RULE.line}`)
    expect(plain.code).toBe(3)
  })

  it('apply: that host fails with what and how to go on, and is left exactly as it was; the others are applied', async () => {
    onHost('web01', 'iptables -D INPUT -p icmp -j ACCEPT')
    onHost('web02', 'iptables -D INPUT -p icmp -j ACCEPT')
    const before = rulesetOf('web01')
    const history = entries('web01')
    // --check says beforehand what apply will do with that host, and why.
    const why =
      '1 rule in the other iptables backend (iptables-legacy) also filters traffic on this host, outside the tables fleet manages; ' +
      'apply would leave this host unchanged and fail it. See them with `iptables-legacy-save`'
    const check = await run('apply', LAB_INVENTORY, '--check')
    expect(check.hosts.web01).toMatchObject({ outcome: 'failed', detail: expect.stringContaining(why), otherFirewalls: [LEGACY_RULE] })
    expect(check.hosts.web02!.outcome).toBe('drift')
    expect(check.code).toBe(1)
    const plainCheck = await fleet(['apply', '-i', LAB_INVENTORY, '--check'])
    expect(plainCheck.code).toBe(1)
    expect(plainCheck.stdout).toContain(`web01: failed: ${why}`)
    expect(plainCheck.stdout).toContain(`    also filtering: iptables-legacy filter/INPUT: ${LEGACY_RULE.line}`)
    expect(plainCheck.stdout).toMatch(/^checked 3 hosts: 1 failed, 1 in sync, 1 drift \(web01, web02\)$/m)
    // So does the preview before the last yes/no on a terminal.
    const terminal = Terminal.start(`node ${FLEET_BIN} apply -i ${LAB_INVENTORY}`, { XDG_STATE_HOME: process.env.XDG_STATE_HOME! })
    try {
      await terminal.waitFor('Which roles?')
      terminal.send('a', 'Enter')
      await terminal.waitFor('Which hosts?')
      terminal.send('Enter')
      const asked = await terminal.waitFor('Apply to 3 hosts?')
      // Long lines wrap on the terminal: compare without the whitespace.
      expect(asked.replace(/\s+/g, '')).toContain(`web01:${why}`.replace(/\s+/g, ''))
      expect(asked).toContain(`    also filtering: iptables-legacy filter/INPUT: ${LEGACY_RULE.line}`)
      expect(asked).toMatch(/^ {2}web02: 1 to add$/m)
      terminal.send('n', 'Enter')
      expect(await terminal.waitFor(/EXIT=\d+/)).toContain('EXIT=130')
    } finally {
      terminal.close()
    }
    const result = await fleet(['apply', '-i', LAB_INVENTORY])
    expect(result.code).toBe(1)
    expect(result.stdout).toContain(
      'web01: failed: 1 rule in the other iptables backend (iptables-legacy) also filters traffic on this host, outside the tables fleet manages; nothing changed. ' +
        'See them with `iptables-legacy-save`; remove them where they come from, or set `otherFirewalls: proceed` for this host in the inventory',
    )
    expect(result.stdout).toContain(`    also filtering: iptables-legacy filter/INPUT: ${LEGACY_RULE.line}`)
    expect(result.stdout).toMatch(/^web02: changed$/m)
    expect(rulesetOf('web01')).toBe(before)
    expect(entries('web01')).toBe(history)
  })

  it('with `otherFirewalls: proceed`, apply goes ahead and says what else filters; audit lists it without drift', async () => {
    const inventory = proceeding()
    const check = await run('apply', inventory, '--limit', 'web01', '--check')
    expect(check.hosts.web01).toMatchObject({ outcome: 'drift', otherFirewalls: [LEGACY_RULE] })
    expect(check.code).toBe(3)
    const applied = await run('apply', inventory, '--limit', 'web01')
    expect(applied.code).toBe(0)
    expect(applied.hosts.web01).toMatchObject({ outcome: 'changed', otherFirewalls: [LEGACY_RULE] })
    expect(rulesetOf('web01')).toContain('-A INPUT -p icmp -j ACCEPT')
    const audited = await run('audit', inventory, '--limit', 'web01')
    expect(audited.hosts.web01).toMatchObject({ outcome: 'in-sync', otherFirewalls: [LEGACY_RULE] })
    expect(audited.code).toBe(0)
    onHost('web01', 'iptables-legacy -F INPUT')
    expect((await run('audit', LAB_INVENTORY)).code).toBe(0)
  })
})

describe('native nftables tables', () => {
  // What administrators write in /etc/nftables.conf: an input chain that drops what it does not allow.
  const INET_FILTER = `table inet filter {
  chain input {
    type filter hook input priority 0; policy drop;
    ct state established,related accept
    iif lo accept
    tcp dport 22 accept
  }
}`

  it('an inet filter table with policy drop: audit drift, apply refuses, proceed applies', async () => {
    expect(onHost('web02', 'nft -f -', INET_FILTER).code).toBe(0)
    const native: Other = { source: 'nftables', table: 'inet filter', chain: 'input', line: 'hook input priority 0, policy drop, 3 rules' }
    const audited = await run('audit', LAB_INVENTORY)
    expect(audited.code).toBe(3)
    expect(audited.hosts.web02).toMatchObject({ outcome: 'drift', diff: [], otherFirewalls: [native] })
    expect(audited.hosts.web01).toMatchObject({ outcome: 'in-sync' })

    onHost('web02', 'iptables -D INPUT -p icmp -j ACCEPT')
    const before = rulesetOf('web02')
    const refused = await run('apply', LAB_INVENTORY, '--limit', 'web02')
    expect(refused.code).toBe(1)
    expect(refused.hosts.web02!.outcome).toBe('failed')
    expect(refused.hosts.web02!.detail).toContain('nftables table inet filter also filters traffic on this host')
    expect(refused.hosts.web02!.detail).toContain('`nft list table inet filter`')
    expect(rulesetOf('web02')).toBe(before)

    const applied = await run('apply', proceeding(), '--limit', 'web02')
    expect(applied.code).toBe(0)
    expect(applied.hosts.web02).toMatchObject({ outcome: 'changed', otherFirewalls: [native] })
    onHost('web02', 'nft delete table inet filter')
  })

  it('with proceed, a table that admits one new SSH connection and no more is still caught by the confirmation', async () => {
    onHost('router01', 'iptables -D INPUT -p icmp -j ACCEPT')
    const before = rulesetOf('router01')
    // An SSH rate limit as nftables.conf files have them: fleet's first connection gets in, the
    // fresh one that confirms does not.
    const limit = `table inet sshguard {
  chain input {
    type filter hook input priority -10; policy accept;
    tcp dport 22 tcp flags & (syn | ack) == syn limit rate 1/hour burst 1 packets accept
    tcp dport 22 tcp flags & (syn | ack) == syn drop
  }
}`
    expect(onHost('router01', 'nft -f -', limit).code).toBe(0)
    const result = await run('apply', proceeding(), '--limit', 'router01', '--confirm-timeout', '5')
    expect(result.hosts.router01!.outcome).toBe('rolled-back')
    expect(result.code).toBe(1)
    expect(rulesetOf('router01')).toBe(before)
    onHost('router01', 'nft delete table inet sshguard')
  })
})
