// The preview an operator reads before the last yes/no: the rule lines themselves, per host and
// chain, identical hosts together, long blocks folded with a count.
import { describe, expect, it } from 'vitest'
import { previewText } from '../../src/cli/preview-text.ts'
import { DiffEntry, type DiffKind } from '../../src/plan/diff.ts'
import type { HostDone } from '../../src/apply/events.ts'

const entry = (table: string, chain: string, kind: DiffKind, line: string, family: 'ipv4' | 'ipv6' = 'ipv4') =>
  new DiffEntry(family, table, chain, kind, line)

const changed = (host: string, diff: DiffEntry[], settings: string[] = []): HostDone => ({ kind: 'host-done', host, outcome: 'changed', diff, settings })

const serverDiff = [
  entry('filter', 'INPUT', 'missing', '-A INPUT -i lo -j ACCEPT'),
  entry('filter', 'INPUT', 'extra', '-A INPUT -p tcp -m tcp --dport 3333 -j ACCEPT'),
]

describe('the preview before the last yes/no', () => {
  it('shows each rule under its table and chain, in audit’s marks, with the host settings', () => {
    const text = previewText(
      [
        changed(
          'router01',
          [
            entry('nat', 'POSTROUTING', 'missing', '-A POSTROUTING -o eth0 -j MASQUERADE'),
            entry('filter', 'INPUT', 'policy', ':INPUT ACCEPT -> :INPUT DROP'),
            entry('filter', 'INPUT', 'out-of-order', '-A INPUT -p icmp -j ACCEPT'),
            entry('filter', 'INPUT', 'missing', '-A INPUT -j DROP', 'ipv6'),
          ],
          ['set net.ipv4.ip_forward = 1'],
        ),
      ],
      Infinity,
    )
    expect(text.lines).toEqual([
      '  router01: 2 to add, 2 to reorder or re-policy, set net.ipv4.ip_forward = 1',
      '    nat/POSTROUTING:',
      '      + missing -A POSTROUTING -o eth0 -j MASQUERADE',
      '    filter/INPUT:',
      '      ~ policy  :INPUT ACCEPT -> :INPUT DROP',
      '      ~ order   -A INPUT -p icmp -j ACCEPT',
      '    ip6 filter/INPUT:',
      '      + missing -A INPUT -j DROP',
      '    setting: set net.ipv4.ip_forward = 1',
    ])
    expect(text.folded).toBe(0)
  })

  it('groups hosts with the same changes, keeps the others apart, and says which have nothing to do or cannot be read', () => {
    const text = previewText(
      [
        changed('web01', serverDiff),
        { kind: 'host-done', host: 'db01', outcome: 'unchanged', diff: [], settings: [] },
        changed('web02', serverDiff),
        changed('web03', serverDiff.slice(0, 1)),
        { kind: 'host-done', host: 'db02', outcome: 'failed', detail: 'no SSH answer' },
        { kind: 'host-done', host: 'db03', outcome: 'unchanged', diff: [], settings: [] },
      ],
      Infinity,
    )
    expect(text.lines).toEqual([
      '  web01, web02: 1 to add, 1 to remove',
      '    filter/INPUT:',
      '      + missing -A INPUT -i lo -j ACCEPT',
      '      - extra   -A INPUT -p tcp -m tcp --dport 3333 -j ACCEPT',
      '  db01, db03: nothing to change',
      '  web03: 1 to add',
      '    filter/INPUT:',
      '      + missing -A INPUT -i lo -j ACCEPT',
      '  db02: cannot be read (no SSH answer); it would fail',
    ])
  })

  it('says which hosts apply would leave alone for their other firewalls, and lists those, never folded away', () => {
    const legacy = { source: 'iptables-legacy', table: 'filter', chain: 'INPUT', line: '-A INPUT -s 198.51.100.66/32 -j DROP' } as const
    const why = '1 rule in the other iptables backend (iptables-legacy) also filters traffic on this host, outside the tables fleet manages; apply would leave this host unchanged and fail it'
    const many = Array.from({ length: 3 }, (_, i) => entry('filter', 'INPUT', 'missing', `-A INPUT -p tcp -m tcp --dport ${1000 + i} -j ACCEPT`))
    const text = previewText(
      [
        { kind: 'host-done', host: 'web01', outcome: 'failed', detail: why, otherFirewalls: [legacy] },
        { ...changed('web02', many), otherFirewalls: [legacy], warnings: ['nftables.service is enabled next to netfilter-persistent'] },
      ],
      2,
    )
    expect(text.lines).toEqual([
      `  web01: ${why}`,
      '    also filtering: iptables-legacy filter/INPUT: -A INPUT -s 198.51.100.66/32 -j DROP',
      '  web02: 3 to add',
      '    filter/INPUT:',
      '      + missing -A INPUT -p tcp -m tcp --dport 1000 -j ACCEPT',
      '    … 2 more changes',
      '    also filtering: iptables-legacy filter/INPUT: -A INPUT -s 198.51.100.66/32 -j DROP',
      '    warning: nftables.service is enabled next to netfilter-persistent',
    ])
    expect(text.folded).toBe(2)
  })

  it('folds a long block to its first lines and counts the changes left out', () => {
    const many = Array.from({ length: 20 }, (_, i) => entry('filter', 'INPUT', 'missing', `-A INPUT -p tcp -m tcp --dport ${1000 + i} -j ACCEPT`))
    const text = previewText([changed('router01', many), changed('web01', serverDiff)], 5)
    expect(text.lines).toEqual([
      '  router01: 20 to add',
      '    filter/INPUT:',
      '      + missing -A INPUT -p tcp -m tcp --dport 1000 -j ACCEPT',
      '      + missing -A INPUT -p tcp -m tcp --dport 1001 -j ACCEPT',
      '      + missing -A INPUT -p tcp -m tcp --dport 1002 -j ACCEPT',
      '      + missing -A INPUT -p tcp -m tcp --dport 1003 -j ACCEPT',
      '    … 16 more changes',
      '  web01: 1 to add, 1 to remove',
      '    filter/INPUT:',
      '      + missing -A INPUT -i lo -j ACCEPT',
      '      - extra   -A INPUT -p tcp -m tcp --dport 3333 -j ACCEPT',
    ])
    expect(text.folded).toBe(16)
    expect(previewText([changed('router01', many)], Infinity).lines).toHaveLength(22)
  })
})
