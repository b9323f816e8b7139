// The lab's Debian machines (scripts/lab.sh up --debian N): real systemd hosts behind router01.
// Everything a test does on them goes over SSH, as an operator would: nsenter would skip the
// container's capability limits and so prove nothing.
import { execFileSync, spawn, spawnSync } from 'node:child_process'
import { realpathSync } from 'node:fs'
import path from 'node:path'
import { KNOWN_HOSTS, LAB, OPERATOR_KEY, ROOT, asConfiguration, type Ran } from './lab.ts'

export const DEBIAN_INVENTORY = path.join(LAB, 'debian.yaml')
// The first lab on a machine also builds the machines' root filesystem: minutes on a slow mirror.
export const FIRST_BOOT_TIMEOUT_MS = 600_000

export const machineName = (i: number) => `deb${String(i).padStart(2, '0')}`
export const machineAddress = (i: number) => `198.18.0.${200 + i}`
const addressOf = (name: string) => machineAddress(Number(name.replace(/^deb/, '')))

const SSH_OPTIONS = ['-i', OPERATOR_KEY, '-o', `UserKnownHostsFile=${KNOWN_HOSTS}`, '-o', 'StrictHostKeyChecking=yes', '-o', 'BatchMode=yes', '-o', 'ConnectTimeout=5']
const JUMP = `ssh ${SSH_OPTIONS.join(' ')} -W %h:%p root@198.51.100.2`

const sshTo = (name: string, port: number) => [...SSH_OPTIONS, '-p', String(port), '-o', `ProxyCommand=${JUMP}`, `root@${addressOf(name)}`]
const sshArgs = (name: string, command: string, port: number) => [...sshTo(name, port), command]

// Runs a shell command on a machine over a new SSH connection through router01 (its sshd listens
// on 22, what fleet uses, and on 2222).
export function onMachine(name: string, command: string, port = 22): Ran {
  const r = spawnSync('ssh', sshArgs(name, command, port), {
    encoding: 'utf8',
    timeout: 60_000,
  })
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr }
}

// onMachine without blocking the test process (tests that work on many hosts at once), with
// `input` on the command's stdin and `options` for ssh.
export function onMachineAsync(name: string, command: string, input?: string, options: readonly string[] = []): Promise<Ran> {
  return new Promise((resolve) => {
    const child = spawn('ssh', [...options, ...sshArgs(name, command, 22)], { timeout: 60_000 })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()))
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }))
    child.stdin.end(input ?? '')
  })
}

// One SSH connection to a machine that the commands run through it share, so that each costs no
// key exchange (CPU that tests running many commands on machines at once cannot spare). stop()
// ends it; a command run after it has gone makes a connection of its own.
export interface MachineConnection {
  run(command: string, input?: string): Promise<Ran>
  stop(): void
}
export function machineConnection(name: string): MachineConnection {
  const shared = ['-o', `ControlPath=${path.join(realpathSync(LAB), `control-${name}`)}`]
  spawnSync('ssh', [...shared, '-o', 'ControlMaster=yes', '-o', 'ControlPersist=yes', '-o', 'ServerAliveInterval=5', '-f', '-N', ...sshTo(name, 22)], { stdio: 'ignore', timeout: 30_000 })
  return {
    run: (command, input) => onMachineAsync(name, command, input, [...shared, '-o', 'ControlMaster=auto']),
    stop: () => void spawnSync('ssh', [...shared, '-O', 'exit', `root@${addressOf(name)}`], { stdio: 'ignore', timeout: 10_000 }),
  }
}

// Like onMachine, but a failure is the test's failure, with what the machine said.
export function onMachineOk(name: string, command: string, port = 22): string {
  const r = onMachine(name, command, port)
  if (r.code !== 0) throw new Error(`${name}: \`${command}\` exited ${r.code}: ${r.stderr}`)
  return r.stdout
}

// The machine's rulesets as configuration, read over SSH.
export function machineRuleset(name: string, family: 'ipv4' | 'ipv6' = 'ipv4'): string {
  return asConfiguration(onMachineOk(name, family === 'ipv4' ? 'iptables-save' : 'ip6tables-save'))
}

// The same, table by table: iptables-legacy-save prints tables in the order the kernel made them,
// iptables-nft-save in its own; the order of tables means nothing to the kernel.
export function machineTables(name: string, family: 'ipv4' | 'ipv6' = 'ipv4'): Record<string, string> {
  const blocks = machineRuleset(name, family).split(/^(?=\*)/m).filter((b) => b.startsWith('*'))
  return Object.fromEntries(blocks.map((b) => [b.split('\n', 1)[0]!, b.trim()]).sort(([a], [b]) => a!.localeCompare(b!)))
}

// A real reboot (`systemctl reboot` inside; the lab brings the machine back on an empty network
// namespace with the same disk), waiting until systemd is running again.
export function rebootMachine(name: string): void {
  execFileSync('bash', [path.join(ROOT, 'scripts/lab.sh'), 'reboot', name], { stdio: ['ignore', 'ignore', 'inherit'], timeout: 120_000 })
}
