import { describe, expect, it } from 'vitest'
import { iptables, parseIptables, RoleError } from '../../src/roles/iptables-line.ts'
import { buildRuleset, renderRestoreDocument } from '../../src/render/ruleset.ts'

describe('the iptables tagged template', () => {
  it('reads the seed vocabulary into table, chain and rule', () => {
    expect(iptables`-t raw -A PREROUTING -d ${'203.0.113.10'} -p tcp --dport ${80} -j NOTRACK`).toEqual({
      family: 'ipv4',
      kind: 'rule',
      table: 'raw',
      chain: 'PREROUTING',
      spec: ['-d', '203.0.113.10', '-p', 'tcp', '--dport', '80', '-j', 'NOTRACK'],
    })
  })

  it('joins port lists for multiport', () => {
    const line = iptables`-A INPUT -p tcp -m multiport --dports ${[22, 80, 443]} -j ACCEPT`
    expect(line.kind === 'rule' && line.spec.join(' ')).toBe('-p tcp -m multiport --dports 22,80,443 -j ACCEPT')
  })

  it.each([
    ['a value with a space', () => iptables`-A INPUT -i ${'eth0 -j ACCEPT'} -j DROP`, /unsafe value/],
    ['a value with a quote', () => iptables`-A INPUT -m comment --comment ${'a"b'} -j DROP`, /unsafe value/],
    ['an empty port list', () => iptables`-A INPUT -p tcp -m multiport --dports ${[]} -j ACCEPT`, /empty port list/],
    ['16 ports', () => iptables`-A INPUT -p tcp -m multiport --dports ${Array.from({ length: 16 }, (_, i) => i + 1)} -j ACCEPT`, /at most 15/],
    ['an insert', () => parseIptables('-I INPUT 1 -j ACCEPT'), /got "-I"/],
    ['an unmanaged table', () => parseIptables('-t security -A INPUT -j ACCEPT'), /not "security"/],
    ['a bad policy', () => parseIptables('-P INPUT REJECT'), /ACCEPT or DROP/],
  ])('refuses %s', (_name, build, message) => {
    expect(build).toThrow(RoleError)
    expect(build).toThrow(message)
  })
})

describe('ruleset rendering', () => {
  it('writes every managed table, even empty ones, with policies and user chains', () => {
    const doc = renderRestoreDocument(
      buildRuleset([
        parseIptables('-P INPUT DROP'),
        parseIptables('-N LOGDROP'),
        parseIptables('-A LOGDROP -m comment --comment "dropped here" -j DROP'),
        parseIptables('-A INPUT -j LOGDROP'),
      ]),
      'test',
    )
    expect(doc).toBe(
      [
        '# test',
        '*raw', ':PREROUTING ACCEPT [0:0]', ':OUTPUT ACCEPT [0:0]', 'COMMIT',
        '*mangle', ':PREROUTING ACCEPT [0:0]', ':INPUT ACCEPT [0:0]', ':FORWARD ACCEPT [0:0]', ':OUTPUT ACCEPT [0:0]', ':POSTROUTING ACCEPT [0:0]', 'COMMIT',
        '*nat', ':PREROUTING ACCEPT [0:0]', ':INPUT ACCEPT [0:0]', ':OUTPUT ACCEPT [0:0]', ':POSTROUTING ACCEPT [0:0]', 'COMMIT',
        '*filter', ':INPUT DROP [0:0]', ':FORWARD ACCEPT [0:0]', ':OUTPUT ACCEPT [0:0]', ':LOGDROP - [0:0]',
        '-A INPUT -j LOGDROP', '-A LOGDROP -m comment --comment "dropped here" -j DROP', 'COMMIT',
        '',
      ].join('\n'),
    )
  })

  it('refuses a rule in a chain nobody declared', () => {
    expect(() => buildRuleset([parseIptables('-A NOCHAIN -j DROP')])).toThrow(/neither has nor declares/)
  })
})
