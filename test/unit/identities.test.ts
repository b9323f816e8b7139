// Identity files with a passphrase: asked for once per file whatever the number of hosts using it,
// and without a terminal a clear error naming the file (or, with an agent, left to the agent).
import { execFileSync } from 'node:child_process'
import { copyFileSync, mkdtempSync, readFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import ssh2, { type ParsedKey } from 'ssh2'
import { afterAll, describe, expect, it } from 'vitest'
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
    expect(identities.agentProblems(spec('web01', locked))).toEqual([`${locked} needs its passphrase and the agent does not hold it (ssh-add ${locked}, or run on a terminal)`])
  })
})

// IdentitiesOnly yes: OpenSSH still asks the agent, and signs with an agent key whose public half
// an IdentityFile names (the key file itself, FILE.pub beside it, or a .pub named as the
// IdentityFile, the private half being only in the agent or on a token); it offers no other agent
// key (sshconnect2.c, pubkey_prepare).
describe('IdentitiesOnly with an agent', () => {
  const agentOut = execFileSync('ssh-agent', ['-s'], { encoding: 'utf8' })
  const sock = /SSH_AUTH_SOCK=([^;]+);/.exec(agentOut)![1]!
  const pid = Number(/SSH_AGENT_PID=(\d+);/.exec(agentOut)![1])
  afterAll(() => process.kill(pid))
  const inAgent = key('in-agent', '')
  const other = key('other-in-agent', '')
  const lockedInAgent = key('locked-in-agent', 'pass phrase')
  execFileSync('ssh-add', ['-q', other, inAgent], { env: { ...process.env, SSH_AUTH_SOCK: sock }, stdio: 'ignore' })
  execFileSync('sh', ['-c', `echo 'pass phrase' > ${dir}/askpass-answer; printf '#!/bin/sh\\ncat ${dir}/askpass-answer\\n' > ${dir}/askpass; chmod +x ${dir}/askpass`])
  execFileSync('ssh-add', ['-q', lockedInAgent], { env: { ...process.env, SSH_AUTH_SOCK: sock, SSH_ASKPASS: `${dir}/askpass`, SSH_ASKPASS_REQUIRE: 'force', DISPLAY: 'x' }, stdio: 'ignore' })
  // The private half of in-agent lives only in the agent: the IdentityFile names its public half.
  const publicOnly = path.join(dir, 'token')
  copyFileSync(`${inAgent}.pub`, `${publicOnly}.pub`)
  const only = (...identityFiles: string[]): ConnectSpec => ({ ...spec('web01', ...identityFiles), identitiesOnly: true })
  const publicKey = (file: string) => readFileSync(`${file}.pub`, 'utf8').split(' ')[1]
  const offered = async (identities: Identities, host: ConnectSpec) =>
    Promise.all(
      identities.authMethods(host).map(async (m) => {
        if (m.type === 'publickey') return `file ${m.key.getPublicSSH().toString('base64') === publicKey(plain) ? 'plain' : '?'}`
        const agent = typeof m.agent === 'string' ? new ssh2.OpenSSHAgent(m.agent) : m.agent
        const keys = await new Promise<ParsedKey[]>((resolve, reject) => agent.getIdentities((e, k) => (e ? reject(e) : resolve((k ?? []) as ParsedKey[]))))
        return `agent ${keys.map((k) => k.getPublicSSH().toString('base64')).map((b) => (b === publicKey(inAgent) ? 'in-agent' : b === publicKey(other) ? 'other' : b === publicKey(lockedInAgent) ? 'locked-in-agent' : '?')).join(',')}`
      }),
    )

  it.each([
    ['a .pub file named as the IdentityFile', `${publicOnly}.pub`],
    ['an IdentityFile whose private half is missing, with FILE.pub beside it', publicOnly],
  ])('uses the agent key that %s matches, and no other agent key', async (_name, file) => {
    const identities = new Identities(sock)
    await identities.load([only(file)], undefined)
    expect(await offered(identities, only(file))).toEqual(['agent in-agent'])
  })

  it('uses the agent for a key file with a passphrase that the agent holds, the other files as they are', async () => {
    const identities = new Identities(sock)
    await identities.load([only(lockedInAgent, plain)], undefined)
    expect(await offered(identities, only(lockedInAgent, plain))).toEqual(['file plain', 'agent locked-in-agent'])
  })

  it('offers no agent key the identity files do not name', async () => {
    const identities = new Identities(sock)
    await identities.load([only(plain)], undefined)
    expect(await offered(identities, only(plain))).toEqual(['file plain'])
    // A public half whose private half the agent lacks: nothing to offer, the host refuses.
    const missing = path.join(dir, 'not-in-agent')
    copyFileSync(`${locked}.pub`, `${missing}.pub`)
    await identities.load([only(missing)], undefined)
    expect(await offered(identities, only(missing))).toEqual(['agent '])
    const nothing = path.join(dir, 'no-such-key')
    await identities.load([only(nothing)], undefined)
    expect(() => identities.authMethods(only(nothing))).toThrow(
      `no SSH key: none of ${nothing} is a usable key, nor the public half of a key the agent holds (IdentitiesOnly yes)`,
    )
  })

  // What the operator reads when authentication fails (after "authentication failed for ...").
  describe('a public key file whose key the agent cannot sign with', () => {
    const remedy = 'or name the private key file as the identity'

    it('says the agent does not hold it, and to ssh-add the private key beside it', async () => {
      const identities = new Identities(sock)
      await identities.load([spec('web01', `${locked}.pub`)], undefined)
      expect(identities.agentProblems(spec('web01', `${locked}.pub`))).toEqual([
        `the agent at ${sock} (SSH_AUTH_SOCK) does not hold the key of the public key file ${locked}.pub: add its private key to the agent (ssh-add ${locked}) ${remedy}`,
      ])
    })

    it('says so too when only FILE.pub is there, without guessing where the private key is', async () => {
      const missing = path.join(dir, 'elsewhere')
      copyFileSync(`${locked}.pub`, `${missing}.pub`)
      for (const file of [missing, `${missing}.pub`]) {
        const identities = new Identities(sock)
        await identities.load([only(file)], undefined)
        expect(identities.agentProblems(only(file))).toEqual([
          `the agent at ${sock} (SSH_AUTH_SOCK) does not hold the key of the public key file ${missing}.pub${file === missing ? ` (${missing} is not there)` : ''}: ` +
            `add its private key to the agent (ssh-add PRIVATE_KEY_FILE) ${remedy}`,
        ])
      }
    })

    it('names an identity file that holds a public key as it is', async () => {
      const publicInside = path.join(dir, 'public-inside')
      copyFileSync(`${locked}.pub`, publicInside)
      const identities = new Identities(sock)
      await identities.load([spec('web01', publicInside)], undefined)
      expect(identities.agentProblems(spec('web01', publicInside))).toEqual([
        `the agent at ${sock} (SSH_AUTH_SOCK) does not hold the key of the public key file ${publicInside}: add its private key to the agent (ssh-add PRIVATE_KEY_FILE) ${remedy}`,
      ])
    })

    it('says nothing when the agent holds it', async () => {
      const identities = new Identities(sock)
      await identities.load([only(`${publicOnly}.pub`)], undefined)
      expect(identities.agentProblems(only(`${publicOnly}.pub`))).toEqual([])
    })

    it('without an agent, says that SSH_AUTH_SOCK is not set', async () => {
      const identities = new Identities(undefined)
      await identities.load([spec('web01', `${locked}.pub`)], undefined)
      expect(() => identities.authMethods(spec('web01', `${locked}.pub`))).toThrow(
        `no SSH key: none of ${locked}.pub is a usable key and SSH_AUTH_SOCK is not set; only an agent can sign with the key of the public key file ${locked}.pub: ` +
          `start one with its private key (eval "$(ssh-agent)"; ssh-add ${locked}) and run fleet with SSH_AUTH_SOCK set, ${remedy}`,
      )
    })

    it('with an agent that does not answer, says it could not be asked', async () => {
      const identities = new Identities('/nonexistent/agent.sock')
      await identities.load([spec('web01', `${locked}.pub`)], undefined)
      expect(identities.agentProblems(spec('web01', `${locked}.pub`))).toEqual([
        `the agent at /nonexistent/agent.sock (SSH_AUTH_SOCK) could not be asked for the key of the public key file ${locked}.pub (Failed to connect to agent): ` +
          `is it running? Then add its private key to the agent (ssh-add ${locked}) ${remedy}`,
      ])
    })
  })

  it('without IdentitiesOnly, every agent key after the files', async () => {
    const identities = new Identities(sock)
    await identities.load([spec('web01', plain)], undefined)
    expect(await offered(identities, spec('web01', plain))).toEqual(['file plain', 'agent other,in-agent,locked-in-agent'])
  })
})
