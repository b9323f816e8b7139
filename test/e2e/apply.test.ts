// fleet apply against the lab: real sshd, real netfilter, real traffic.
import { execSync } from 'node:child_process'
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { fleet } from '../helpers/cli.ts'
import { conntrackCount, internalHost, KNOWN_HOSTS, LAB, labDown, labInventory, labRoles, labUp, onHost, OPERATOR_KEY, ROOT, rulesetOf } from '../helpers/lab.ts'

const LAB_INVENTORY = path.join(ROOT, 'inventory/lab.yaml')
const json = (stdout: string) => JSON.parse(stdout) as { hosts: { host: string; outcome: string; detail?: string }[] }
const outcomes = (stdout: string) => Object.fromEntries(json(stdout).hosts.map((h) => [h.host, h.outcome]))

// Runs `body` with SSH_AUTH_SOCK pointing at a fresh agent holding `keys` (added in that order).
async function withAgent(keys: readonly string[], body: (socket: string) => Promise<void>): Promise<void> {
  const agent = execSync('ssh-agent -s', { encoding: 'utf8' })
  const sock = /SSH_AUTH_SOCK=([^;]+);/.exec(agent)![1]!
  const pid = Number(/SSH_AGENT_PID=(\d+);/.exec(agent)![1])
  const previous = process.env.SSH_AUTH_SOCK
  try {
    for (const key of keys) execSync(`ssh-add ${key}`, { env: { ...process.env, SSH_AUTH_SOCK: sock }, stdio: 'ignore' })
    process.env.SSH_AUTH_SOCK = sock
    await body(sock)
  } finally {
    if (previous === undefined) delete process.env.SSH_AUTH_SOCK
    else process.env.SSH_AUTH_SOCK = previous
    process.kill(pid)
  }
}

beforeAll(() => labUp('--servers', '2'))
afterAll(() => labDown())

describe('apply to the seed network', () => {
  it('brings router01, web01 and web02 to their baselines', async () => {
    const result = await fleet(['apply', '-i', LAB_INVENTORY, '--json'])
    expect(result.stderr).toBe('')
    expect(outcomes(result.stdout)).toEqual({ router01: 'changed', web01: 'changed', web02: 'changed' })
    expect(result.code).toBe(0)
    expect(onHost('router01', 'sysctl -n net.ipv4.ip_forward').stdout.trim()).toBe('1')
  })

  it('lets web01 reach the internet on tcp 80/443 and udp 53 only', () => {
    expect(onHost('web01', 'curl -s -m 3 http://198.51.100.254:80/').stdout).toContain('internet:80')
    expect(onHost('web01', 'curl -s -m 3 http://198.51.100.254:443/').stdout).toContain('internet:443')
    expect(onHost('web01', 'echo q | nc -u -w 2 198.51.100.254 53').stdout).toContain('internet:53')
    expect(onHost('web01', 'curl -s -m 3 http://198.51.100.254:8080/').code).not.toBe(0)
  })

  it("lets the internet reach router01's web ports and drops the rest", () => {
    expect(onHost('internet', 'curl -s -m 3 http://198.51.100.2:80/').stdout).toContain('router01:80')
    // curl exit 28 is a timeout: the SYN was dropped, not refused (which would be exit 7).
    expect(onHost('internet', 'curl -s -m 2 http://198.51.100.2:8080/').code).toBe(28)
    expect(onHost('internet', 'curl -s -m 2 http://198.51.100.2:25/').code).toBe(28)
  })

  it('tracks the LAN egress but not 300 inbound web connections', () => {
    onHost('router01', 'conntrack -F')
    const before = conntrackCount('router01')
    const inbound = onHost('internet', 'for i in $(seq 1 300); do curl -s -m 2 -o /dev/null http://198.51.100.2:80/ || echo fail; done')
    expect(inbound.stdout).not.toContain('fail')
    expect(conntrackCount('router01') - before).toBeLessThan(10)
    onHost('web01', 'curl -s -m 3 -o /dev/null http://198.51.100.254:80/')
    expect(onHost('router01', 'conntrack -L -p tcp --orig-src 198.18.0.11 --orig-port-dst 80').stdout).toContain('dport=80')
  })

  it('keeps LAN traffic working: router01 reaches web01', () => {
    expect(onHost('router01', 'curl -s -m 3 http://198.18.0.11:80/').stdout).toContain('web01:80')
  })

  it('keeps the operator able to SSH to every host', () => {
    const ssh = `ssh -i ${OPERATOR_KEY} -o UserKnownHostsFile=${KNOWN_HOSTS} -o StrictHostKeyChecking=yes -o BatchMode=yes`
    const viaRouter = `${ssh} -o ProxyCommand="${ssh} -W %h:%p root@198.51.100.2"`
    for (const [target, cmd] of [
      ['router01', `${ssh} root@198.51.100.2 hostname`],
      ['web01', `${viaRouter} root@198.18.0.11 hostname`],
      ['web02', `${viaRouter} root@198.18.0.12 hostname`],
    ] as const) {
      expect(execSync(cmd, { encoding: 'utf8', timeout: 20_000 }).trim()).toBe(target)
    }
  })

  it('changes nothing the second time, and says so', async () => {
    const before = ['router01', 'web01', 'web02'].map((h) => rulesetOf(h))
    const savedBefore = onHost('router01', 'ls /var/lib/fleet/saved | wc -l').stdout
    const result = await fleet(['apply', '-i', LAB_INVENTORY])
    expect(result.code).toBe(0)
    expect(result.stdout).toMatch(/router01: unchanged/)
    expect(result.stdout).toMatch(/applied 3 hosts: 3 unchanged/)
    expect(['router01', 'web01', 'web02'].map((h) => rulesetOf(h))).toEqual(before)
    expect(onHost('router01', 'ls /var/lib/fleet/saved | wc -l').stdout).toBe(savedBefore)
  })
})

describe('failures stay with their host', () => {
  it('a stopped sshd and a changed host key fail clearly while the others are applied', async () => {
    const pid = readFileSync(path.join(LAB, 'hosts/srv001/sshd.pid'), 'utf8').trim()
    process.kill(Number(pid))
    const otherKey = readFileSync(path.join(LAB, 'hosts/srv001/ssh_host_ed25519_key.pub'), 'utf8').split(' ')[1]
    const knownHosts = path.join(LAB, 'known_hosts.changed')
    writeFileSync(
      knownHosts,
      readFileSync(KNOWN_HOSTS, 'utf8')
        .split('\n')
        .map((l) => (l.startsWith('198.18.0.21 ') ? `198.18.0.21 ssh-ed25519 ${otherKey}` : l))
        .join('\n'),
    )
    const inventory = labInventory(
      internalHost('web01', '198.18.0.11') + internalHost('srv001', '198.18.0.20') + internalHost('srv002', '198.18.0.21'),
      { knownHosts },
    )
    const before = rulesetOf('srv002')
    const result = await fleet(['apply', '-i', inventory, '--json'])
    expect(result.code).toBe(1)
    const hosts = json(result.stdout).hosts
    expect(outcomes(result.stdout)).toEqual({ router01: 'unchanged', web01: 'unchanged', srv001: 'failed', srv002: 'failed' })
    expect(hosts.find((h) => h.host === 'srv001')?.detail).toMatch(/cannot reach 198\.18\.0\.20:22 through jump host router01|connection refused/)
    expect(hosts.find((h) => h.host === 'srv002')?.detail).toMatch(/HOST KEY CHANGED for srv002 \(198\.18\.0\.21\)/)
    expect(rulesetOf('srv002')).toBe(before)
  })

  it('an unknown host key is refused unless the operator accepts new keys', async () => {
    const knownHosts = path.join(LAB, 'known_hosts.partial')
    writeFileSync(knownHosts, readFileSync(KNOWN_HOSTS, 'utf8').split('\n').filter((l) => !l.startsWith('198.18.0.21 ')).join('\n'))
    const inventory = labInventory(internalHost('srv002', '198.18.0.21'), { knownHosts })
    const refused = await fleet(['apply', '-i', inventory, '--json', '--limit', 'srv002'])
    expect(refused.code).toBe(1)
    expect(json(refused.stdout).hosts[0]?.detail).toMatch(/unknown host key for srv002 .*--accept-new-host-keys/)
    const accepted = await fleet(['apply', '-i', inventory, '--json', '--limit', 'srv002', '--accept-new-host-keys'])
    expect(outcomes(accepted.stdout)).toEqual({ srv002: 'changed' })
    expect(readFileSync(knownHosts, 'utf8')).toMatch(/^198\.18\.0\.21 ssh-ed25519 /m)
  })
})

describe('rulesets the host rejects leave it untouched', () => {
  let roles = ''
  beforeAll(() => {
    const role = (rule: string) => `export default {
  description: 'test role',
  tasks: ({ task }) => [task('broken', async ($) => { await $\`iptables ${rule}\`; await $\`iptables -A INPUT -j ACCEPT\` })],
}\n`
    roles = labRoles('roles', { 'bad-match': role('-A INPUT -m nosuchmatch --foo 1 -j ACCEPT'), 'bad-jump': role('-A INPUT -p tcp --dport 9 -j NOSUCHCHAIN') })
  })

  it.each(['bad-match', 'bad-jump'])('%s: caught, reported, nothing changed', async (role) => {
    const inventory = labInventory(`  web02:\n    address: 198.18.0.12\n    role: ${role}\n    ssh: { jump: router01 }\n`, { roles: roles })
    const before = rulesetOf('web02')
    const result = await fleet(['apply', '-i', inventory, '--json', '--limit', 'web02'])
    expect(result.code).toBe(1)
    expect(json(result.stdout).hosts[0]).toMatchObject({ host: 'web02', outcome: 'failed' })
    expect(json(result.stdout).hosts[0]?.detail).toMatch(/^the host's iptables rejects the new ruleset, nothing changed: .*(nosuchmatch|NOSUCHCHAIN).*at line \d+: /)
    expect(rulesetOf('web02')).toBe(before)
  })
})

describe('how hosts are reached', () => {
  it('applies through sudo as a non-root user, and to a host named by an ssh_config alias', async () => {
    const config = path.join(LAB, 'ssh_config')
    writeFileSync(config, `Host web02-alias\n  HostName 198.18.0.12\n  User fleetop\n  Port 2222\n  IdentityFile ${OPERATOR_KEY}\n`)
    const inventory = labInventory(
      internalHost('web01', '198.18.0.11', ', user: fleetop') +
        `  web02-alias:\n    role: internal-server\n    ssh: { jump: router01, config: ${config} }\n`,
    )
    onHost('web01', 'iptables -F INPUT')
    onHost('web02', 'iptables -F INPUT')
    const result = await fleet(['apply', '-i', inventory, '--json', '--limit', 'web01,web02-alias'])
    expect(result.stderr).toBe('')
    expect(outcomes(result.stdout)).toEqual({ web01: 'changed', 'web02-alias': 'changed' })
    expect(result.code).toBe(0)
    expect(rulesetOf('web02')).toContain('-A INPUT -j DROP')
  })

  it('takes the key from the agent at SSH_AUTH_SOCK when the inventory names none', async () => {
    await withAgent([OPERATOR_KEY], async () => {
      // The lab inventory without its identity file: the agent is the only way in.
      const withoutKey = readFileSync(labInventory(internalHost('web01', '198.18.0.11')), 'utf8').replace(/    identity: .*\n/, '')
      expect(withoutKey).not.toContain('identity')
      writeFileSync(path.join(LAB, 'agent.yaml'), withoutKey)
      const result = await fleet(['apply', '-i', path.join(LAB, 'agent.yaml'), '--json'])
      expect(result.stderr).toBe('')
      expect(json(result.stdout).hosts.map((h) => h.outcome).every((o) => o === 'changed' || o === 'unchanged')).toBe(true)
    })
  })

  it('with IdentitiesOnly yes, signs with the agent key whose public half the IdentityFile names, as ssh does', async () => {
    // The private key is only in the agent (as with a token), behind another key the host refuses.
    const decoy = path.join(LAB, 'decoy-key')
    execSync(`rm -f ${decoy} ${decoy}.pub; ssh-keygen -q -t ed25519 -N '' -f ${decoy}`)
    const token = path.join(LAB, 'token-key.pub')
    copyFileSync(`${OPERATOR_KEY}.pub`, token)
    const config = path.join(LAB, 'ssh_config-identities-only')
    writeFileSync(config, `Host *\n  IdentitiesOnly yes\n  IdentityFile ${token}\n`)
    const inventory = labInventory(internalHost('web01', '198.18.0.11'))
    writeFileSync(inventory, readFileSync(inventory, 'utf8').replace(/    identity: .*\n/, `    config: ${config}\n`))
    await withAgent([decoy, OPERATOR_KEY], async () => {
      const result = await fleet(['audit', '-i', inventory, '--json'])
      expect(result.stderr).toBe('')
      expect(json(result.stdout).hosts.map((h) => [h.host, h.outcome === 'in-sync' || h.outcome === 'drift'])).toEqual([
        ['router01', true],
        ['web01', true],
      ])
    })
    // Without that key in the agent, nothing else is offered: the decoy is not tried. The failure
    // says which key the agent lacks and what to do.
    await withAgent([decoy], async (socket) => {
      const result = await fleet(['audit', '-i', inventory, '--json', '--limit', 'router01'])
      expect(json(result.stdout).hosts[0]).toMatchObject({
        outcome: 'failed',
        detail:
          `authentication failed for root@198.51.100.2:22 with ${token}; the agent at ${socket} (SSH_AUTH_SOCK) does not hold the key of the public key file ${token}: ` +
          'add its private key to the agent (ssh-add PRIVATE_KEY_FILE) or name the private key file as the identity',
      })
    })
  })

  it('says, for a .pub identity whose key the agent lacks, to ssh-add its private key; after that it works', async () => {
    const inventory = path.join(LAB, 'public-key.yaml')
    writeFileSync(inventory, readFileSync(labInventory(''), 'utf8').replace(OPERATOR_KEY, `${OPERATOR_KEY}.pub`))
    await withAgent([], async (socket) => {
      const failed = await fleet(['audit', '-i', inventory])
      expect(failed.code).toBe(1)
      expect(failed.stdout).toContain(
        `router01: failed: authentication failed for root@198.51.100.2:22 with ${OPERATOR_KEY}.pub; the agent at ${socket} (SSH_AUTH_SOCK) does not hold the key ` +
          `of the public key file ${OPERATOR_KEY}.pub: add its private key to the agent (ssh-add ${OPERATOR_KEY}) or name the private key file as the identity`,
      )
      execSync(`ssh-add -q ${OPERATOR_KEY}`, { env: { ...process.env, SSH_AUTH_SOCK: socket }, stdio: 'ignore' })
      const audited = await fleet(['audit', '-i', inventory])
      expect(audited.stdout).not.toContain('failed')
    })
  })

  it('prints plain lines without a terminal, naming every host', async () => {
    const result = await fleet(['apply', '-i', LAB_INVENTORY])
    expect(result.stdout.split('\n')).toEqual(
      expect.arrayContaining(['router01: unchanged', 'web01: unchanged', 'web02: unchanged', 'applied 3 hosts: 3 unchanged']),
    )
  })
})
