// The offline dry run, as a new user meets it: copy the example inventory, change the LAN, and see
// the plan follow, without any connection, key or root.
import { execFileSync, spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { main } from '../../src/cli/main.ts'
import { fleet } from '../helpers/cli.ts'

const ROOT = path.resolve(import.meta.dirname, '../..')
const EXAMPLE = path.join(ROOT, 'inventory/example.yaml')

describe('fleet apply --dry-run', () => {
  it('prints, per host, the commands and the whole ruleset document', async () => {
    const result = await fleet(['apply', '--inventory', EXAMPLE, '--dry-run'])
    expect(result.code).toBe(0)
    for (const host of ['router01', 'web01', 'web02', 'db01']) expect(result.stdout).toContain(`=== ${host} (role `)
    expect(result.stdout).toContain(readFileSync(path.join(ROOT, 'test/golden/example/router01.v4'), 'utf8'))
    expect(result.stdout).toContain('iptables-restore --test')
    expect(result.stdout).toContain('sysctl -q -w net.ipv4.ip_forward=1')
    expect(result.stdout).toContain("[ssh -J root@203.0.113.10:22 -p 22 admin@10.20.0.21 'sudo -n timeout 120 sh -s']")
    expect(result.stdout).toContain('# step 3: confirm over a fresh SSH connection')
    expect(result.stdout).toContain('setsid sh "$S/armed/$ID.sh"')
    expect(result.stdout).toMatch(/dry run: 4 hosts, no connection opened, nothing changed/)
  })

  it('with --no-confirm, still arms the timer and finishes the change over the same connection', async () => {
    const result = await fleet(['apply', '--inventory', EXAMPLE, '--dry-run', '--no-confirm', '--limit', 'web01'])
    expect(result.code).toBe(0)
    expect(result.stdout).toContain('arm a 30s timer that restores it unless fleet finishes the change')
    expect(result.stdout).toContain('# step 3: record the change and free the host  [same connection]')
    expect(result.stdout).not.toContain('confirm over a fresh SSH connection')
  })

  it('shows a ProxyJump chain from ssh_config as ssh -J, and refuses a ProxyCommand with status 2', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'fleet-proxyjump-'))
    const config = path.join(dir, 'ssh_config')
    writeFileSync(config, 'Host db01\n  ProxyJump admin@bastion:2200,router01\n')
    const mine = path.join(dir, 'prod.yaml')
    writeFileSync(mine, readFileSync(EXAMPLE, 'utf8').replace(/^  ssh:\n/m, `  ssh:\n    config: ${config}\n`).replace(/(  db01:\n(?:    .*\n)*?)    ssh: \{ jump: router01,? ?/, '$1    ssh: { '))
    const result = await fleet(['apply', '--inventory', mine, '--dry-run', '--limit', 'db01'])
    expect(result.stderr).toBe('')
    expect(result.stdout).toContain('[ssh -J admin@bastion:2200,root@203.0.113.10:22 -p 22 admin@10.20.0.21')
    writeFileSync(config, 'Host router01\n  ProxyCommand nc %h %p\n')
    const refused = await fleet(['apply', '--inventory', mine, '--dry-run', '--limit', 'router01'])
    expect(refused.code).toBe(2)
    expect(refused.stderr).toContain(`host router01: ssh_config ${config}:2 sets ProxyCommand "nc %h %p"`)
  })

  it('refuses an ssh_config that is a directory, or an Include of one, naming where, as one line or one JSON document, status 2', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'fleet-config-dir-'))
    const confD = path.join(dir, 'conf.d')
    mkdirSync(confD)
    writeFileSync(path.join(confD, 'db.conf'), 'Host db01\n  Port 2200\n')
    const mine = (config: string) => {
      const file = path.join(dir, 'prod.yaml')
      writeFileSync(file, readFileSync(EXAMPLE, 'utf8').replace(/^  ssh:\n/m, `  ssh:\n    config: ${config}\n`))
      return file
    }
    const asDirectory = await fleet(['apply', '--inventory', mine(confD), '--dry-run', '--limit', 'router01'])
    expect(asDirectory.code).toBe(2)
    expect(asDirectory.stdout).toBe('')
    expect(asDirectory.stderr).toMatch(new RegExp(`^fleet: ${dir}/prod\\.yaml:\\d+:\\d+: host router01: ssh_config ${confD}: is a directory, not an ssh_config file$`))

    const config = path.join(dir, 'ssh_config')
    writeFileSync(config, 'Host *\n  ServerAliveInterval 30\nInclude ' + confD + '\n')
    const included = await fleet(['apply', '--inventory', mine(config), '--dry-run', '--json'])
    expect(included.code).toBe(2)
    expect(included.stderr.split('\n')).toHaveLength(1)
    const { error } = JSON.parse(included.stdout)
    expect(error).toMatchObject({ kind: 'bad-input', status: 2 })
    expect(error.problems[0].message).toBe(
      `host router01: ssh_config ${config}:3: Include ${confD}: ${confD} is a directory; Include reads files (${confD}/* for the files in it)`,
    )

    // What was meant reads the files in it; a missing file stays silent, as in ssh.
    writeFileSync(config, `Include ${confD}/*\nInclude ${dir}/missing.conf\n`)
    const meant = await fleet(['apply', '--inventory', mine(config), '--dry-run', '--limit', 'db01'])
    expect(meant.stderr).toBe('')
    expect(meant.stdout).toContain('-p 2200 admin@10.20.0.21')
  })

  it('follows the inventory: another LAN gives other rules', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'fleet-newuser-'))
    const mine = path.join(dir, 'prod.yaml')
    writeFileSync(mine, readFileSync(EXAMPLE, 'utf8').replace('internal: 10.20.0.0/24', 'internal: 172.16.8.0/22'))
    const result = await fleet(['apply', '--inventory', mine, '--dry-run', '--limit', 'router'])
    expect(result.code).toBe(0)
    expect(result.stdout).toContain('-A PREROUTING -s 172.16.8.0/22 -d 172.16.8.0/22 -j NOTRACK')
    expect(result.stdout).toContain('-A INPUT -s 172.16.8.0/22 -j ACCEPT')
    expect(result.stdout).not.toContain('10.20.0.0/24')
    expect(result.stdout).not.toContain('=== web01')
  })

  it('with a sudo password, shows how it is sent (on stdin, behind the script marker) and never the password', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'fleet-sudo-dry-'))
    const file = path.join(dir, 'pass')
    writeFileSync(file, 'hunter2-secret\n', { mode: 0o600 })
    const result = await fleet(['apply', '--inventory', EXAMPLE, '--dry-run', '--sudo-pass-file', file, '--limit', 'db01'])
    expect(result.code).toBe(0)
    expect(result.stdout).toContain("admin@10.20.0.21 'sh -c '\\''IFS= read -r p; ")
    expect(result.stdout).toContain('| sudo -S -p ')
    expect(result.stdout).not.toContain('hunter2')
  })

  it('--json gives the same as data', async () => {
    const result = await fleet(['apply', '--inventory', EXAMPLE, '--dry-run', '--json'])
    const plan = JSON.parse(result.stdout)
    expect(plan.dryRun).toBe(true)
    expect(plan.hosts.map((h: { host: string }) => h.host)).toEqual(['router01', 'web01', 'web02', 'db01'])
    expect(plan.hosts[0].steps[1].documents[0].text).toContain('-A POSTROUTING -o eth0 -j MASQUERADE')
  })

  // 20,000 hosts must not become one string of a gigabyte: each host is written as it is made.
  it.each([[[] as string[]], [['--json']]])('streams the plan host by host %j', async (extra) => {
    const writes: string[] = []
    const code = await main(['apply', '--inventory', EXAMPLE, '--dry-run', ...extra], { out: (t) => writes.push(t), err: (t) => writes.push(t), isTTY: false, env: { CI: 'true' } })
    expect(code).toBe(0)
    const hostsPerWrite = writes.map((w) => (w.match(/=== \S+ \(role |"host": "/g) ?? []).length)
    expect(Math.max(...hostsPerWrite)).toBe(1)
    expect(hostsPerWrite.filter((n) => n === 1)).toHaveLength(4)
    if (extra.length > 0) {
      // Written in pieces, still one document, formatted as JSON.stringify formats it.
      const text = writes.join('\n')
      expect(JSON.stringify(JSON.parse(text), null, 2)).toBe(text)
    }
  })

  it('runs from the built executable, with help for every command', () => {
    const bin = path.join(ROOT, 'bin/fleet.js')
    expect(execFileSync(bin, ['--help'], { encoding: 'utf8' })).toMatch(/apply .*baseline/)
    const help = execFileSync(bin, ['apply', '--help'], { encoding: 'utf8' })
    for (const option of ['--inventory', '--limit', '--dry-run', '--json', '--concurrency', '--accept-new-host-keys', '--ask-sudo-pass', '--sudo-pass-file']) {
      expect(help).toContain(option)
    }
    const bad = spawnSync(bin, ['apply', '--inventory', '/nonexistent.yaml', '--dry-run'], { encoding: 'utf8' })
    expect(bad.status).toBe(2)
    expect(bad.stderr.trim()).toBe('fleet: /nonexistent.yaml: cannot read the inventory: no such file')
  })
})

describe('fleet audit --dry-run', () => {
  it("prints audit's read-only scripts per host, offline", async () => {
    const result = await fleet(['audit', '--inventory', EXAMPLE, '--dry-run'])
    expect(result.code).toBe(0)
    for (const host of ['router01', 'web01', 'web02', 'db01']) expect(result.stdout).toContain(`=== ${host} (role `)
    expect(result.stdout).toContain("# step 1: read the live rulesets and the new ones in their normal form  [ssh -p 22 root@203.0.113.10 'timeout 120 sh -s']")
    expect(result.stdout).toContain('# step 2: read the conntrack table  [same connection]')
    expect(result.stdout).toContain('nf_conntrack_count')
    // Read-only: no lock, no save, no load, no timer.
    for (const write of ['/var/lib/fleet/lock', 'iptables-restore --test', 'setsid', 'sysctl -q -w']) expect(result.stdout).not.toContain(write)
    expect(result.stdout).toMatch(/dry run: 4 hosts, no connection opened, nothing changed$/)
  })

  it('--json gives the same as data', async () => {
    const result = await fleet(['audit', '--inventory', EXAMPLE, '--dry-run', '--json', '--limit', 'db01'])
    const plan = JSON.parse(result.stdout)
    expect(plan).toMatchObject({ command: 'audit', dryRun: true, hosts: [{ host: 'db01', role: 'internal-server' }] })
    expect(plan.hosts[0].steps.map((s: { title: string }) => s.title.split('  [')[0])).toEqual([
      'read the live rulesets and the new ones in their normal form',
      'read the conntrack table',
    ])
  })
})

describe('fleet apply --check', () => {
  it('cannot be a dry run too', async () => {
    const result = await fleet(['apply', '--inventory', EXAMPLE, '--dry-run', '--check'])
    expect(result.code).toBe(2)
    expect(result.stderr).toMatch(/--check.*cannot be used with.*--dry-run/)
  })
})
