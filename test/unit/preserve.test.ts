import { describe, expect, it } from 'vitest'
import { parseSave } from '../../src/plan/normal-form.ts'
import { DEFAULT_PRESERVE, renderWithPreserved, splitPreserved } from '../../src/plan/preserve.ts'

const LIVE = parseSave(`*filter
:INPUT ACCEPT [10:100]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
:DOCKER - [0:0]
:DOCKER-USER - [0:0]
:f2b-sshd - [0:0]
:handmade - [0:0]
-A INPUT -j f2b-sshd
-A INPUT -p tcp --dport 8080 -j handmade
-A INPUT -j DROP
-A FORWARD -j DOCKER-USER
-A FORWARD -o docker0 -j DOCKER
-A DOCKER -d 172.17.0.2/32 -p tcp -m tcp --dport 80 -j ACCEPT
-A DOCKER-USER -j RETURN
-A f2b-sshd -s 198.51.100.66/32 -j REJECT --reject-with icmp-port-unreachable
-A handmade -j ACCEPT
COMMIT
`)

describe('preserved chains', () => {
  it('takes the matching chains, their rules and the jumps to them out; nothing else', () => {
    const { kept, preserved } = splitPreserved(LIVE, DEFAULT_PRESERVE)
    expect(preserved.get('filter')).toEqual([
      ':DOCKER -',
      ':DOCKER-USER -',
      ':f2b-sshd -',
      '-A INPUT -j f2b-sshd',
      '-A FORWARD -j DOCKER-USER',
      '-A FORWARD -o docker0 -j DOCKER',
      '-A DOCKER -d 172.17.0.2/32 -p tcp -m tcp --dport 80 -j ACCEPT',
      '-A DOCKER-USER -j RETURN',
      '-A f2b-sshd -s 198.51.100.66/32 -j REJECT --reject-with icmp-port-unreachable',
    ])
    // A chain nobody asked to preserve stays part of what a change replaces.
    expect(kept.get('filter')?.lines).toEqual([
      ':INPUT ACCEPT',
      ':FORWARD DROP',
      ':OUTPUT ACCEPT',
      ':handmade -',
      '-A INPUT -p tcp --dport 8080 -j handmade',
      '-A INPUT -j DROP',
      '-A handmade -j ACCEPT',
    ])
  })

  it('preserves nothing with an empty list', () => {
    expect(splitPreserved(LIVE, []).preserved.size).toBe(0)
  })

  it('puts them back into a new ruleset: declarations, the jumps first in their chains, their rules', () => {
    const { preserved } = splitPreserved(LIVE, ['DOCKER', 'f2b-*'])
    const baseline = parseSave('*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n-A INPUT -i lo -j ACCEPT\n-A INPUT -j DROP\nCOMMIT\n')
    const document = renderWithPreserved(baseline, preserved, 'test')
    expect(document.split('\n').slice(0, 4)).toEqual(['# test', '*raw', ':PREROUTING ACCEPT [0:0]', ':OUTPUT ACCEPT [0:0]'])
    expect(document.slice(document.indexOf('*filter'))).toBe(
      [
        '*filter',
        ':INPUT ACCEPT [0:0]',
        ':FORWARD ACCEPT [0:0]',
        ':OUTPUT ACCEPT [0:0]',
        ':DOCKER - [0:0]',
        ':f2b-sshd - [0:0]',
        '-A INPUT -j f2b-sshd',
        '-A FORWARD -o docker0 -j DOCKER',
        '-A INPUT -i lo -j ACCEPT',
        '-A INPUT -j DROP',
        '-A DOCKER -d 172.17.0.2/32 -p tcp -m tcp --dport 80 -j ACCEPT',
        '-A f2b-sshd -s 198.51.100.66/32 -j REJECT --reject-with icmp-port-unreachable',
        'COMMIT',
        '',
      ].join('\n'),
    )
  })
})
