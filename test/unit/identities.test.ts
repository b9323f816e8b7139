// Identity files with a passphrase: asked for once per file whatever the number of hosts using it,
// and without a terminal a clear error naming the file (or, with an agent, left to the agent).
import { execFileSync } from 'node:child_process'
import { mkdtempSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import type { ConnectSpec } from '../../src/ssh/connect-spec.ts'
import { Identities } from '../../src/ssh/identities.ts'

const dir = mkdtempSync(path.join(os.tmpdir(), 'fleet-keys-'))
const key = (name: string, passphrase: string) => {
  const file = path.join(dir, name)
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', passphrase, '-f', file])
  return file
}
const locked = key('locked', 'open sesame')
const plain = key('plain', '')
const spec = (name: string, ...identityFiles: string[]): ConnectSpec => ({ name, address: '198.51.100.2', port: 22, user: 'root', identityFiles, identitiesOnly: false, knownHostsFiles: [], globalKnownHostsFiles: [] })

describe('a key file with a passphrase', () => {
  it('is asked for once, for every host using it, and then offered to ssh2 unlocked', async () => {
    const asked: string[] = []
    const identities = new Identities(undefined)
    const hosts = [spec('router01', locked, plain), spec('web01', locked), spec('web02', locked)]
    await identities.load(hosts, async (message) => (asked.push(message), 'open sesame'))
    await identities.load(hosts, async () => Promise.reject(new Error('asked again')))
    expect(asked).toEqual([`Passphrase for ${locked}:`])
    expect(identities.authMethods(hosts[0]!).map((m) => m.type)).toEqual(['publickey', 'publickey'])
  })

  it('is asked again after a wrong answer, three times at most', async () => {
    const asked: string[] = []
    await expect(new Identities(undefined).load([spec('web01', locked)], async (m) => (asked.push(m), 'wrong'))).rejects.toThrow(
      `identity file ${locked}: wrong passphrase, 3 times`,
    )
    expect(asked).toEqual([`Passphrase for ${locked}:`, `Passphrase for ${locked} (wrong, try again):`, `Passphrase for ${locked} (wrong, try again):`])
  })

  it('without a terminal and without an agent: an error naming the file and suggesting the agent', async () => {
    await expect(new Identities(undefined).load([spec('web01', locked)], undefined)).rejects.toThrow(
      `identity file ${locked} is protected by a passphrase and there is no terminal to ask for it: add it to an agent (eval "$(ssh-agent)"; ssh-add ${locked}) and run fleet with SSH_AUTH_SOCK set`,
    )
  })

  it('without a terminal but with an agent: left to the agent, and named if authentication fails', async () => {
    const identities = new Identities('/nonexistent/agent.sock')
    await identities.load([spec('web01', locked)], undefined)
    expect(identities.authMethods(spec('web01', locked)).map((m) => m.type)).toEqual(['agent'])
    expect(identities.locked(spec('web01', locked))).toEqual([locked])
  })
})
