// Other firewalls, from outputs captured on Debian 12 (iptables 1.8.9, nftables 1.0.6) in scratch
// network namespaces: test/fixtures/other-firewalls/.
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { backendRules, bootFlushWarning, formatOther, nativeTables, otherBackend, refusal } from '../../src/plan/other-firewalls.ts'

const fixture = (name: string) => readFileSync(path.join(import.meta.dirname, '../fixtures/other-firewalls', name), 'utf8')

describe('the other iptables backend', () => {
  it('is legacy on an nf_tables host, nft on a legacy one, legacy for iptables older than 1.8', () => {
    expect(otherBackend('nf_tables')).toBe('legacy')
    expect(otherBackend('legacy')).toBe('nft')
    expect(otherBackend('unknown')).toBe('legacy')
  })

  it('reports nothing for empty tables and empty chains (what `iptables-legacy -L` and -N leave)', () => {
    expect(backendRules('iptables-legacy', fixture('legacy-empty-tables.v4'))).toEqual([])
    expect(backendRules('iptables-legacy', '')).toEqual([])
  })

  it('lists every rule, in every table', () => {
    expect(backendRules('iptables-legacy', fixture('legacy-rules.v4'))).toEqual([
      { source: 'iptables-legacy', table: 'raw', chain: 'PREROUTING', line: '-A PREROUTING -p udp -m udp --dport 53 -j NOTRACK' },
      { source: 'iptables-legacy', table: 'filter', chain: 'INPUT', line: '-A INPUT -s 198.51.100.66/32 -p tcp -m tcp --dport 22 -j DROP' },
    ])
  })

  it('counts a DROP policy without rules: it filters everything', () => {
    expect(backendRules('ip6tables-legacy', fixture('legacy-policy.v6'))).toEqual([
      { source: 'ip6tables-legacy', table: 'filter', chain: 'INPUT', line: '-P INPUT DROP' },
    ])
  })

  it("reports the base chains iptables-nft-save says it cannot print", () => {
    const saved = "# Table `filter' contains incompatible base-chains, use 'nft' tool to list them.\n*filter\n:INPUT ACCEPT [0:0]\nCOMMIT\n"
    expect(backendRules('iptables-nft', saved)).toEqual([
      { source: 'iptables-nft', table: 'filter', chain: '*', line: "Table `filter' contains incompatible base-chains, use 'nft' tool to list them." },
    ])
  })
})

describe('native nftables tables', () => {
  it('finds a base chain with policy drop or with rules, and leaves out the iptables-nft tables', () => {
    // inet filter (input: policy drop, 3 rules), inet empty (an accept-all base chain), ip lone (no
    // base chain), and iptables-nft's ip filter, ip raw and ip6 filter.
    const found = nativeTables(fixture('nft-mixed.json'))
    expect(found).toEqual({ found: [{ source: 'nftables', table: 'inet filter', chain: 'input', line: 'hook input priority 0, policy drop, 3 rules' }] })
    expect(formatOther((found as { found: never[] }).found[0]!)).toBe('nftables inet filter/input: hook input priority 0, policy drop, 3 rules')
  })

  it("finds nothing in Debian's stock /etc/nftables.conf (accept-all chains) or an empty ruleset", () => {
    expect(nativeTables(fixture('nft-debian-stock.json'))).toEqual({ found: [] })
    expect(nativeTables(fixture('nft-empty.json'))).toEqual({ found: [] })
  })

  it("finds a base chain that nft added to an iptables table, which iptables cannot show", () => {
    expect(nativeTables(fixture('nft-native-chain-in-iptables-table.json'))).toEqual({
      found: [{ source: 'nftables', table: 'ip filter', chain: 'weird', line: 'hook input priority 5, policy drop, 0 rules' }],
    })
  })

  it('says when the listing cannot be read, rather than reporting nothing', () => {
    expect(nativeTables('Error: JSON support not compiled-in')).toEqual({
      problem: expect.stringContaining('cannot read the nftables ruleset (`nft -j -t list ruleset`: '),
    })
  })
})

describe('refusal', () => {
  it('says what filters, where to see it and how to go on', () => {
    const found = [
      ...backendRules('iptables-legacy', fixture('legacy-rules.v4')),
      ...(nativeTables(fixture('nft-mixed.json')) as { found: never[] }).found,
    ]
    expect(refusal(found)).toBe(
      '2 rules in the other iptables backend (iptables-legacy) and nftables table inet filter also filter traffic on this host, ' +
        'outside the tables fleet manages; nothing changed. See them with `iptables-legacy-save`, `nft list table inet filter`; ' +
        'remove them where they come from, or set `otherFirewalls: proceed` for this host in the inventory to apply the baseline alongside them',
    )
  })

  it('says beforehand (apply --check, the preview) what apply would do, with the same reason and advice', () => {
    const found = backendRules('iptables-legacy', fixture('legacy-rules.v4'))
    expect(refusal(found, 'ahead')).toBe(
      '2 rules in the other iptables backend (iptables-legacy) also filter traffic on this host, outside the tables fleet manages; ' +
        'apply would leave this host unchanged and fail it. See them with `iptables-legacy-save`; ' +
        'remove them where they come from, or set `otherFirewalls: proceed` for this host in the inventory to apply the baseline alongside them',
    )
  })
})

describe('nftables.service next to netfilter-persistent', () => {
  const boot = (nft: string, persistent: string, flush: boolean) => `nftables=${nft}\nnetfilter-persistent=${persistent}\n${flush ? 'flush=yes\n' : ''}`
  it.each([
    ['both enabled, the config flushes everything', boot('enabled', 'enabled', true), true],
    ['nftables.service disabled', boot('disabled', 'enabled', true), false],
    ['no netfilter-persistent', boot('enabled', '', true), false],
    ['a config that flushes only its own tables', boot('enabled', 'enabled', false), false],
    ['no systemd', '', false],
  ])('%s', (_what, section, warns) => {
    expect(bootFlushWarning(section) !== undefined).toBe(warns)
  })
})
