// ssh_config as OpenSSH reads it, against the lab: hosts the inventory names only by an alias,
// reached through ProxyJump bastions that only ssh_config names.
import { writeFileSync } from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { readInventory } from '../../src/cli/load.ts'
import { connectSpecs } from '../../src/ssh/connect-spec.ts'
import { SshTransport } from '../../src/ssh/ssh-transport.ts'
import { fleet } from '../helpers/cli.ts'
import { KNOWN_HOSTS, LAB, labDown, labInventory, labUp, onHost, OPERATOR_KEY, rulesetOf } from '../helpers/lab.ts'

const json = (stdout: string) => JSON.parse(stdout) as { hosts: { host: string; outcome: string; detail?: string }[] }
const outcomes = (stdout: string) => Object.fromEntries(json(stdout).hosts.map((h) => [h.host, h.outcome]))

// Hosts as an operator's ~/.ssh/config would describe them: the known hosts only here (the
// inventory's knownHosts names a file that does not exist), the first of them missing too.
function sshConfig(name: string, text: string): string {
  const file = path.join(LAB, name)
  writeFileSync(
    file,
    `${text}
Host router01-alias
  HostName 198.51.100.2
Host web01-hop
  HostName 198.18.0.11
Host *
  User root
  IdentityFile ${OPERATOR_KEY}
  UserKnownHostsFile ${LAB}/no-such-known-hosts ${KNOWN_HOSTS}
`,
  )
  return file
}

// The hosts by alias only: no address, no jump, the ssh_config above.
function aliasInventory(config: string, ...aliases: string[]): string {
  const hosts = aliases.map((a) => `  ${a}:\n    role: internal-server\n    ssh: { config: ${config} }\n`).join('')
  return labInventory(hosts, { knownHosts: path.join(LAB, 'no-such-known-hosts') })
}

// Applies to the lab host `host` named `alias` in the inventory, and checks that it changed.
async function expectApplied(config: string, alias: string, host: string): Promise<void> {
  onHost(host, 'iptables -F INPUT')
  const result = await fleet(['apply', '-i', aliasInventory(config, alias), '--limit', alias, '--json'])
  expect(result.stderr).toBe('')
  expect(outcomes(result.stdout)).toEqual({ [alias]: 'changed' })
  expect(result.code).toBe(0)
  expect(rulesetOf(host)).toContain('-A INPUT -j DROP')
}

beforeAll(() => labUp())
afterAll(() => labDown())

describe('ssh_config in the lab', () => {
  it('reaches an internal server through a bastion only ssh_config names; apply and its confirmation work', async () => {
    const config = sshConfig('ssh_config-one-hop', 'Host web01-alias\n  HostName 198.18.0.11\n  ProxyJump router01-alias')
    await expectApplied(config, 'web01-alias', 'web01')
  })

  it('follows a two-hop chain: router01, then web01, then web02', async () => {
    // router01 itself may not reach web02's sshd: only the path through web01 gets there.
    onHost('router01', 'iptables -I OUTPUT -d 198.18.0.12 -p tcp --dport 22 -j REJECT')
    try {
      const oneHop = sshConfig('ssh_config-blocked', 'Host web02-alias\n  HostName 198.18.0.12\n  ProxyJump router01-alias')
      const blocked = await fleet(['audit', '-i', aliasInventory(oneHop, 'web02-alias'), '--limit', 'web02-alias', '--json'])
      expect(json(blocked.stdout).hosts[0]?.detail).toMatch(/cannot reach 198\.18\.0\.12:22 through jump host router01-alias/)

      const chain = sshConfig('ssh_config-chain', 'Host web02-alias\n  HostName 198.18.0.12\n  ProxyJump router01-alias,web01-hop')
      await expectApplied(chain, 'web02-alias', 'web02')
    } finally {
      onHost('router01', 'iptables -D OUTPUT -d 198.18.0.12 -p tcp --dport 22 -j REJECT')
    }
  })

  it('shares one connection per hop of a chain; a fresh session goes through fresh hops', async () => {
    // SSH connections into `host` from `from`, as the host's own kernel lists them.
    const into = (host: string, from: string) =>
      onHost(host, `ss -Htn state established '( sport = :22 )' dst ${from}`).stdout.split('\n').filter(Boolean).length
    const counts = () => [into('router01', '198.51.100.1'), into('web01', '198.18.0.1'), into('web02', '198.18.0.11')]
    // Connections of the tests before may take a moment to be torn down.
    for (let i = 0; i < 50 && counts().some((n) => n > 0); i++) await new Promise((r) => setTimeout(r, 100))
    const config = sshConfig('ssh_config-shared', 'Host web02-*\n  HostName 198.18.0.12\n  ProxyJump router01-alias,web01-hop')
    const specs = connectSpecs(readInventory(aliasInventory(config, 'web02-a', 'web02-b')))
    const transport = new SshTransport()
    try {
      const sessions = await Promise.all(['web02-a', 'web02-b'].map((h) => transport.open(specs.get(h)!)))
      for (const session of sessions) expect((await session.run('hostname')).stdout).toBe('web02\n')
      expect(counts()).toEqual([1, 1, 2])
      const fresh = await transport.open(specs.get('web02-a')!, { fresh: true })
      expect((await fresh.run('hostname')).stdout).toBe('web02\n')
      expect(counts()).toEqual([2, 2, 3])
      fresh.close()
      expect((await sessions[1]!.run('hostname')).stdout).toBe('web02\n')
    } finally {
      transport.closeAll()
    }
  })

  it('gives up after ConnectTimeout on a host that does not answer', async () => {
    // router01's second sshd port, silently dropped: without ConnectTimeout fleet waits 15 s.
    onHost('router01', 'iptables -I INPUT -p tcp --dport 2222 -j DROP')
    try {
      const config = sshConfig('ssh_config-timeout', 'Host router01-slow\n  HostName 198.51.100.2\n  Port 2222\n  ConnectTimeout 2')
      const started = Date.now()
      const result = await fleet(['audit', '-i', aliasInventory(config, 'router01-slow'), '--limit', 'router01-slow', '--json'])
      expect(json(result.stdout).hosts[0]?.detail).toMatch(/no SSH answer from root@198\.51\.100\.2:2222 in time/)
      expect(Date.now() - started).toBeLessThan(8000)
    } finally {
      onHost('router01', 'iptables -D INPUT -p tcp --dport 2222 -j DROP')
    }
  })

  it('refuses a ProxyCommand with exit status 2, naming the host and the line, and changes nothing', async () => {
    const config = sshConfig('ssh_config-proxycommand', 'Host web01-alias\n  HostName 198.18.0.11\n  ProxyCommand ssh -W %h:%p router01-alias')
    const before = rulesetOf('web01')
    const result = await fleet(['apply', '-i', aliasInventory(config, 'web01-alias'), '--limit', 'web01-alias'])
    expect(result.code).toBe(2)
    expect(result.stderr).toContain(`host web01-alias: ssh_config ${config}:3 sets ProxyCommand "ssh -W %h:%p router01-alias"`)
    expect(rulesetOf('web01')).toBe(before)
  })
})
