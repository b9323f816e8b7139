import { createHmac } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { knownHostsName, parseKnownHosts, preferredHostKeyAlgorithms, verifyHostKey } from '../../src/ssh/known-hosts.ts'

const KEY_A = 'AAAAC3NzaC1lZDI1NTE5AAAAIK43wnhAfDRQ+hvc9N7jMFFf9jiPAvewRFSp0uKk+GaS'
const KEY_B = 'AAAAC3NzaC1lZDI1NTE5AAAAIBBBwnhAfDRQ+hvc9N7jMFFf9jiPAvewRFSp0uKk+GaS'

function hashed(name: string): string {
  const salt = Buffer.from('0123456789abcdef0123')
  return `|1|${salt.toString('base64')}|${createHmac('sha1', salt).update(name).digest('base64')}`
}

const file = parseKnownHosts(
  [
    '# comment',
    `198.51.100.2,router01 ssh-ed25519 ${KEY_A}`,
    `${hashed('203.0.113.12')} ssh-ed25519 ${KEY_A}`,
    `[203.0.113.13]:2222 ssh-ed25519 ${KEY_A}`,
    `*.lab,!bad.lab ssh-ed25519 ${KEY_A}`,
    `@revoked 203.0.113.66 ssh-ed25519 ${KEY_B}`,
    `203.0.113.66 ssh-ed25519 ${KEY_B}`,
    `203.0.113.70 ssh-rsa AAAAB3Nza`,
  ].join('\n'),
)

describe('known_hosts', () => {
  it.each([
    ['a plain entry', '198.51.100.2', KEY_A, 'match'],
    ['a second name on the same line', 'router01', KEY_A, 'match'],
    ['a hashed entry', '203.0.113.12', KEY_A, 'match'],
    ['a non-standard port', knownHostsName('203.0.113.13', 2222), KEY_A, 'match'],
    ['the same address on port 22 is another name', knownHostsName('203.0.113.13', 22), KEY_A, 'unknown'],
    ['a HostKeyAlias, on any port', knownHostsName('198.18.0.99', 2222, 'router01'), KEY_A, 'match'],
    ['a wildcard', 'web01.lab', KEY_A, 'match'],
    ['a negated wildcard', 'bad.lab', KEY_A, 'unknown'],
    ['a changed key', '198.51.100.2', KEY_B, 'changed'],
    ['a changed key behind a hashed entry', '203.0.113.12', KEY_B, 'changed'],
    ['an unknown host', '203.0.113.99', KEY_A, 'unknown'],
    ['a revoked key', '203.0.113.66', KEY_B, 'revoked'],
  ])('%s', (_name, host, key, verdict) => {
    expect(verifyHostKey(file, host, 'ssh-ed25519', key).kind).toBe(verdict)
  })

  it('offers the host key algorithms already known for the host first', () => {
    expect(preferredHostKeyAlgorithms(file, '203.0.113.70')).toEqual(['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'])
    expect(preferredHostKeyAlgorithms(file, '203.0.113.99')).toBeUndefined()
  })
})
