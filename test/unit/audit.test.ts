import { describe, expect, it } from 'vitest'
import { formatConntrack, parseConntrack } from '../../src/audit/conntrack.ts'
import { separateForeign } from '../../src/plan/foreign.ts'
import { parseSave } from '../../src/plan/normal-form.ts'

const LISTING = `tcp      6 114 TIME_WAIT src=198.18.0.11 dst=198.51.100.254 sport=54302 dport=80 src=198.51.100.254 dst=198.51.100.2 sport=80 dport=54302 [ASSURED] mark=0 use=1
tcp      6 110 FIN_WAIT src=198.51.100.2 dst=198.51.100.1 sport=22 dport=50336 [UNREPLIED] src=198.51.100.1 dst=198.51.100.2 sport=50336 dport=22 mark=0 use=1
tcp      6 114 TIME_WAIT src=198.18.0.12 dst=198.51.100.254 sport=41720 dport=80 src=198.51.100.254 dst=198.51.100.2 sport=80 dport=41720 [ASSURED] mark=0 use=1
ipv4     2 udp      17 26 src=198.18.0.11 dst=198.51.100.254 sport=36745 dport=53 src=198.51.100.254 dst=198.51.100.2 sport=53 dport=36745 mark=0 use=1
icmp     1 29 src=198.18.0.11 dst=198.51.100.254 type=8 code=0 id=7 src=198.51.100.254 dst=198.18.0.11 type=0 code=0 id=7 mark=0 use=1
tcp      6 431999 ESTABLISHED src=2001:db8:0:2::11 dst=2001:db8:0:1::254 sport=40000 dport=443 src=2001:db8:0:1::254 dst=2001:db8:0:2::11 sport=443 dport=40000 [ASSURED] mark=0 use=1
conntrack v1.4.7 (conntrack-tools): 5 flow entries have been shown.`

describe('conntrack summary', () => {
  it('groups flows by protocol, service port and origin', () => {
    expect(parseConntrack(LISTING, ['198.18.0.0/24', '2001:db8:0:2::/64'])).toEqual([
      { proto: 'tcp', port: 80, from: 'internal', count: 2 },
      { proto: 'icmp', from: 'internal', count: 1 },
      { proto: 'tcp', port: 22, from: 'outside', count: 1 },
      { proto: 'tcp', port: 443, from: 'internal', count: 1 },
      { proto: 'udp', port: 53, from: 'internal', count: 1 },
    ])
    expect(formatConntrack({ count: 5, max: 65536, flows: parseConntrack(LISTING, ['198.18.0.0/24']).slice(0, 2) })).toBe(
      'conntrack: 5 of 65536 entries; tcp/80 from internal 2, icmp from internal 1',
    )
  })
})

describe('foreign state', () => {
  const desired = parseSave('*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n-A INPUT -j DROP\nCOMMIT\n')
  it('separates chains no role owns, the jumps to them and unmanaged tables from the baseline', () => {
    const live = parseSave(
      '*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:DOCKER - [0:0]\n-A INPUT -j DROP\n-A FORWARD -o docker0 -j DOCKER\n-A FORWARD -j ACCEPT\n-A DOCKER -d 172.17.0.2/32 -j ACCEPT\nCOMMIT\n*security\n:INPUT ACCEPT [0:0]\nCOMMIT\n',
    )
    const { owned, foreign } = separateForeign(live, desired)
    expect(foreign.map((f) => f.line)).toEqual([
      ':DOCKER -',
      '-A FORWARD -o docker0 -j DOCKER',
      '-A DOCKER -d 172.17.0.2/32 -j ACCEPT',
      'table security (0 rules), not managed by fleet',
    ])
    expect(owned.get('filter')?.lines).toContain('-A FORWARD -j ACCEPT')
  })
})
