// The lab for end-to-end tests: real hosts in network namespaces (scripts/lab.sh), commands run
// inside them, and inventories written for a test.
import { execFileSync, spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'

export const ROOT = path.resolve(import.meta.dirname, '../..')
export const LAB = path.join(ROOT, '.lab')
export const OPERATOR_KEY = path.join(LAB, 'operator/id_ed25519')
export const KNOWN_HOSTS = path.join(LAB, 'operator/known_hosts')

export function labUp(...args: string[]): void {
  execFileSync('bash', [path.join(ROOT, 'scripts/lab.sh'), 'up', ...args], { stdio: ['ignore', 'ignore', 'inherit'] })
}

export function labDown(): void {
  execFileSync('bash', [path.join(ROOT, 'scripts/lab.sh'), 'down'], { stdio: ['ignore', 'ignore', 'inherit'] })
}

export interface Ran {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

// Runs a shell command on a lab host, as an SSH session there would: in the namespaces of its
// sshd (network, mount: its private /var/lib, /run..., and hostname), or only in its network
// namespace when its sshd is not running.
export function onHost(host: string, command: string, input?: string): Ran {
  const pidFile = path.join(LAB, 'hosts', host, 'sshd.pid')
  const pid = existsSync(pidFile) ? readFileSync(pidFile, 'utf8').trim() : ''
  const alive = pid !== '' && existsSync(`/proc/${pid}`)
  const argv = alive ? ['nsenter', '--target', pid, '--mount', '--uts', '--net', 'sh', '-c', command] : ['ip', 'netns', 'exec', `fleet-${host}`, 'sh', '-c', command]
  const r = spawnSync(argv[0]!, argv.slice(1), {
    encoding: 'utf8',
    timeout: 60_000,
    ...(input !== undefined && { input }),
  })
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr }
}

// iptables-save text as configuration: without its timestamp comments and counters.
export function asConfiguration(saved: string): string {
  return saved
    .split('\n')
    .filter((l) => !l.startsWith('#'))
    .map((l) => l.replace(/ \[\d+:\d+\]$/, ''))
    .join('\n')
}

// The host's ruleset (IPv4, or IPv6) as configuration.
export function rulesetOf(host: string, family: 'ipv4' | 'ipv6' = 'ipv4'): string {
  return asConfiguration(onHost(host, family === 'ipv4' ? 'iptables-save' : 'ip6tables-save').stdout)
}

export function conntrackCount(host: string): number {
  return Number(onHost(host, 'conntrack -C').stdout.trim())
}

// The lab's network values and SSH settings, plus the hosts a test names.
// A test file's own roles, `name -> text`, written as name.ts into a folder of the lab; returns the
// folder, for the inventory's roles.path.
export function labRoles(folder: string, roles: Readonly<Record<string, string>>): string {
  const dir = path.join(LAB, folder)
  mkdirSync(dir, { recursive: true })
  for (const [name, text] of Object.entries(roles)) writeFileSync(path.join(dir, `${name}.ts`), text)
  return dir
}

export function labInventory(hosts: string, extra: { knownHosts?: string; roles?: string; routerRole?: string; routerPersist?: boolean } = {}): string {
  const dir = mkdtempSync(path.join(LAB, 'inventory-'))
  const file = path.join(dir, 'inventory.yaml')
  writeFileSync(
    file,
    `${extra.roles ? `roles:\n  path: [${extra.roles}]\n` : ''}defaults:
  ssh:
    user: root
    identity: ${OPERATOR_KEY}
    knownHosts: ${extra.knownHosts ?? KNOWN_HOSTS}
  network:
    internal: 198.18.0.0/24
    internal6: 2001:db8:0:2::/64
    interface: eth0
    egress: { tcp: [22, 80, 443], udp: [53] }
hosts:
  router01:
    address: 198.51.100.2
    role: ${extra.routerRole ?? 'router'}
${extra.routerPersist ? '    persist: true\n' : ''}    network:
      wan: { interface: eth0, address: 198.51.100.2 }
      lan: { interface: eth1 }
      services: { tcp: [22, 80, 443] }
      untracked: { tcp: [80, 443] }
${hosts}`,
  )
  return file
}

export const internalHost = (name: string, address: string, more = '') =>
  `  ${name}:\n    address: ${address}\n    role: internal-server\n    ssh: { jump: router01${more} }\n`

// Runs the built fleet as its own process (bin/fleet.js), as an operator does.
export const FLEET_BIN = path.join(ROOT, 'bin/fleet.js')
