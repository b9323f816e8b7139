// Secrets an operator types or keeps in a file: a sudo password (the lab's fleetpw user, whose sudo
// asks for one) and a key file protected by a passphrase. Each is asked for once, used where it is
// needed, and found nowhere afterwards: not in any output, process list, host file or history.
import { spawn, spawnSync } from 'node:child_process'
import { appendFileSync, chmodSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { fleet } from '../helpers/cli.ts'
import { FLEET_BIN, internalHost, LAB, labDown, labInventory, labUp, onHost, OPERATOR_KEY, rulesetOf } from '../helpers/lab.ts'
import { Terminal } from '../helpers/terminal.ts'

const PASSWORD_FILE = path.join(LAB, 'operator/sudo-password')
let password: string
let terminal: Terminal | undefined
const STATE = () => path.join(LAB, 'operator-state')

beforeAll(() => {
  labUp()
  process.env.XDG_STATE_HOME = STATE()
  password = readFileSync(PASSWORD_FILE, 'utf8').trimEnd()
})
afterAll(() => labDown())
afterEach(() => terminal?.close())

// web01 and web02 as fleetpw (sudo with a password), router01 as root.
const sudoInventory = () => labInventory(internalHost('web01', '198.18.0.11', ', user: fleetpw') + internalHost('web02', '198.18.0.12', ', user: fleetpw'))
const drift = () => ['router01', 'web01', 'web02'].forEach((h) => onHost(h, 'iptables -A INPUT -p tcp --dport 4444 -j ACCEPT'))

// Every command line on the machine (the lab's hosts share its process table), every 20 ms.
function watchProcesses(): () => string {
  let seen = ''
  const timer = setInterval(() => (seen += spawnSync('ps', ['-eww', '-o', 'args'], { encoding: 'utf8' }).stdout), 20)
  return () => (clearInterval(timer), seen)
}

// fleet as the operator runs it: its own process.
function fleetProcess(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [FLEET_BIN, ...args], { env: { ...process.env, CI: 'true' } })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()))
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
    child.on('exit', (code) => resolve({ code, stdout, stderr }))
  })
}

// Everything fleet keeps on the hosts and on the operator's side.
const hostFiles = (host: string) => onHost(host, 'cat /var/lib/fleet/*/* /var/lib/fleet/armed/* 2>/dev/null; ls -R /var/lib/fleet').stdout
const operatorFiles = () => spawnSync('sh', ['-c', `find ${STATE()} -type f -exec cat {} + 2>/dev/null`], { encoding: 'utf8' }).stdout

describe('sudo with a password', () => {
  it('--sudo-pass-file: applied and confirmed where sudo asks for it; the password is in no output, process list, file or history', async () => {
    drift()
    const inventory = sudoInventory()
    const processes = watchProcesses()
    const result = await fleetProcess(['apply', '-i', inventory, '--json', '--sudo-pass-file', PASSWORD_FILE, '--confirm-timeout', '10'])
    const seen = processes()
    expect(result.stderr).toBe('')
    const hosts = JSON.parse(result.stdout).hosts as { host: string; outcome: string }[]
    expect(Object.fromEntries(hosts.map((h) => [h.host, h.outcome]))).toEqual({ router01: 'changed', web01: 'changed', web02: 'changed' })
    expect(result.code).toBe(0)
    expect(rulesetOf('web01')).not.toContain('4444')
    expect(seen).toContain('sudo -S')
    const history = await fleetProcess(['history', '-i', inventory, '--json', '--sudo-pass-file', PASSWORD_FILE])
    expect(history.code).toBe(0)
    const dryRun = await fleetProcess(['apply', '-i', inventory, '--dry-run', '--sudo-pass-file', PASSWORD_FILE])
    expect(dryRun.stdout).toContain('sudo -S')
    const audit = await fleetProcess(['audit', '-i', inventory, '--sudo-pass-file', PASSWORD_FILE])
    expect(audit.code).toBe(0)
    for (const text of [result.stdout, seen, history.stdout, dryRun.stdout, audit.stdout, audit.stderr, operatorFiles(), ...['web01', 'web02'].map(hostFiles)]) {
      expect(text).not.toContain(password)
    }
  })

  it('a wrong password fails once, one line for the host it was tried on; it is sent nowhere else, and root hosts carry on', async () => {
    drift()
    const wrong = path.join(LAB, 'wrong-sudo-password')
    writeFileSync(wrong, 'not the password\n')
    // Private, or fleet refuses the file before trying anything (test/unit/sudo-pass-file.test.ts).
    chmodSync(wrong, 0o600)
    const before = ['web01', 'web02'].map((h) => rulesetOf(h))
    const result = await fleetProcess(['apply', '-i', sudoInventory(), '--sudo-pass-file', wrong])
    expect(result.code).toBe(1)
    expect(result.stdout).toMatch(/^router01: changed$/m)
    const lines = result.stdout.split('\n').filter((l) => /^web0[12]: failed/.test(l))
    expect(lines).toHaveLength(2)
    expect(lines.filter((l) => l.endsWith('sudo rejected the password for fleetpw; fleet does not send it to any other host'))).toHaveLength(1)
    expect(lines.filter((l) => /not sent: the sudo password was rejected on web0[12]/.test(l))).toHaveLength(1)
    expect(result.stdout + result.stderr).not.toContain('not the password')
    expect(['web01', 'web02'].map((h) => rulesetOf(h))).toEqual(before)
  })

  it('without a password, a host whose sudo asks for one says how to give it', async () => {
    const result = await fleet(['audit', '-i', sudoInventory(), '--limit', 'web01'])
    expect(result.code).toBe(1)
    expect(result.stdout).toMatch(/^web01: failed: user fleetpw needs a sudo password: give it with -K \(--ask-sudo-pass\) or --sudo-pass-file/m)
  })

  it('-K asks once on a terminal, echoes nothing, and the password is nowhere on the screen or in ps', async () => {
    drift()
    terminal = Terminal.start(`node ${FLEET_BIN} apply -i ${sudoInventory()} -K --yes --confirm-timeout 10`, { XDG_STATE_HOME: STATE() })
    await terminal.waitFor('sudo password (for fleetpw):')
    // (tmux send-keys itself has the password in its arguments: watch from the moment it is typed.)
    terminal.send('-l', password)
    const processes = watchProcesses()
    terminal.send('Enter')
    const done = await terminal.waitFor(/EXIT=\d+/, 60_000)
    const seen = processes()
    expect(done).toContain('applied 3 hosts: 3 changed')
    expect(done).toContain('EXIT=0')
    const screen = terminal.screen(true)
    expect(screen.match(/sudo password/g)).toHaveLength(1)
    expect(screen).not.toContain(password)
    expect(seen).not.toContain(password)
  })

  it('-K without a terminal is refused before anything is touched', async () => {
    const result = await fleet(['apply', '-i', sudoInventory(), '-K'])
    expect(result.code).toBe(2)
    expect(result.stderr).toBe('fleet: -K (--ask-sudo-pass) needs a terminal to ask on; without one, give --sudo-pass-file FILE')
  })
})

describe('a key file with a passphrase', () => {
  const key = () => path.join(LAB, 'operator/id_passphrase')
  const passphrase = 'correct horse battery'
  beforeAll(() => {
    spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', passphrase, '-f', key()])
    appendFileSync(path.join(LAB, 'authorized_keys/root'), readFileSync(`${key()}.pub`))
  })
  const keyInventory = () => readFileSync(labInventory(internalHost('web01', '198.18.0.11') + internalHost('web02', '198.18.0.12')), 'utf8').replace(OPERATOR_KEY, key())

  it('is asked for once on a terminal, for every host that uses it (router01 and the two behind it)', async () => {
    drift()
    const inventory = path.join(LAB, 'passphrase.yaml')
    writeFileSync(inventory, keyInventory())
    terminal = Terminal.start(`unset SSH_AUTH_SOCK; node ${FLEET_BIN} apply -i ${inventory} --yes --confirm-timeout 10`, { XDG_STATE_HOME: STATE() })
    await terminal.waitFor(`Passphrase for ${key()}:`)
    terminal.send('-l', passphrase)
    terminal.send('Enter')
    const done = await terminal.waitFor(/EXIT=\d+/, 60_000)
    expect(done).toContain('applied 3 hosts: 3 changed')
    expect(done).toContain('EXIT=0')
    const screen = terminal.screen(true)
    expect(screen.match(/Passphrase for/g)).toHaveLength(1)
    expect(screen).not.toContain(passphrase)
  })

  it('without a terminal (and no agent): a clear error naming the file and suggesting the agent, nothing touched', async () => {
    const inventory = path.join(LAB, 'passphrase.yaml')
    writeFileSync(inventory, keyInventory())
    const agent = process.env.SSH_AUTH_SOCK
    delete process.env.SSH_AUTH_SOCK
    try {
      const result = await fleet(['audit', '-i', inventory])
      expect(result.code).toBe(2)
      expect(result.stderr).toBe(
        `fleet: identity file ${key()} is protected by a passphrase and there is no terminal to ask for it: ` +
          `add it to an agent (eval "$(ssh-agent)"; ssh-add ${key()}) and run fleet with SSH_AUTH_SOCK set`,
      )
    } finally {
      if (agent !== undefined) process.env.SSH_AUTH_SOCK = agent
    }
  })
})
