// The SSH transport (node-ssh underneath) against the lab's real sshd: each of node-ssh's known
// traps, guarded; jump hosts shared, fresh connections really fresh; and a connection reset in
// the middle of a real apply, which must fail the hosts it cuts, not the process.
import { spawn } from 'node:child_process'
import path from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { readInventory } from '../../src/cli/load.ts'
import type { Session } from '../../src/remote/transport.ts'
import { connectSpecs, type ConnectSpec } from '../../src/ssh/connect-spec.ts'
import { DEFAULT_SSH_OPTIONS, SshTransport } from '../../src/ssh/ssh-transport.ts'
import { fleet } from '../helpers/cli.ts'
import { FLEET_BIN, LAB, labDown, labUp, onHost, ROOT } from '../helpers/lab.ts'

const LAB_INVENTORY = path.join(ROOT, 'inventory/lab.yaml')
let specs: Map<string, ConnectSpec>
let transport: SshTransport

beforeAll(() => {
  labUp()
  process.env.XDG_STATE_HOME = path.join(LAB, 'operator-state')
  specs = connectSpecs(readInventory(LAB_INVENTORY))
})
afterAll(() => labDown())
afterEach(() => transport?.closeAll())

const open = (host: string, fresh = false) => transport.open(specs.get(host)!, { fresh })

// The processes of router01's sshd that serve connections from the operator (not the listener).
function operatorConnectionPids(): number[] {
  const listing = onHost('router01', "ss -Htnp state established '( sport = :22 )' dst 198.51.100.1").stdout
  return [...new Set([...listing.matchAll(/pid=(\d+)/g)].map((m) => Number(m[1])))]
}

const connectionsToRouter = () =>
  onHost('router01', "ss -Htn state established '( sport = :22 )' dst 198.51.100.1").stdout.split('\n').filter((l) => l.trim() !== '')

const resetOperatorConnections = () => onHost('router01', `kill -9 ${operatorConnectionPids().join(' ')}`)

describe('a session over node-ssh', () => {
  it('returns output byte for byte: whitespace kept, UTF-8 characters cut between chunks intact', async () => {
    transport = new SshTransport()
    const session = await open('router01')
    // ~300 kB of 1- to 4-byte characters: many channel chunks, some boundaries inside a character.
    const script = `i=0; while [ $i -lt 25000 ]; do printf 'a é € 😀 '; i=$((i+1)); done; printf '\\n\\n  '; printf '  warn \\n' >&2`
    const result = await session.run(script)
    expect(result.code).toBe(0)
    expect(result.stdout).toBe('a é € 😀 '.repeat(25000) + '\n\n  ')
    expect(result.stderr).toBe('  warn \n')
  })

  it('keeps the iptables-save text exactly as the host prints it', async () => {
    transport = new SshTransport()
    const session = await open('web01')
    const rule = "INPUT -p tcp --dport 7 -m comment --comment 'two  spaces, é' -j ACCEPT"
    onHost('web01', `iptables -A ${rule}`)
    const timestamps = (saved: string) => saved.replace(/^# (Generated|Completed) .*\n/gm, '')
    const viaSsh = (await session.run('iptables-save')).stdout
    expect(timestamps(viaSsh)).toBe(timestamps(onHost('web01', 'iptables-save').stdout))
    expect(viaSsh).toContain('two  spaces, é')
    expect(viaSsh.endsWith('\n')).toBe(true)
    onHost('web01', `iptables -D ${rule}`)
  })

  it('fails a command whose connection is reset under it, quickly, and the process lives on', async () => {
    transport = new SshTransport()
    const session = await open('router01')
    const started = Date.now()
    const running = session.run('echo started; sleep 30; echo never')
    await new Promise((r) => setTimeout(r, 1000))
    resetOperatorConnections()
    await expect(running).rejects.toThrow(/connection lost|before the command finished/)
    expect(Date.now() - started).toBeLessThan(10_000)
  })

  it('survives a TCP reset after connecting, while idle (node-ssh has dropped its error listener by then)', async () => {
    transport = new SshTransport()
    const session = await open('router01')
    const reject = 'INPUT -p tcp --dport 22 -j REJECT --reject-with tcp-reset'
    onHost('router01', `iptables -I ${reject}`)
    try {
      // The next keepalive (every 5 s) is answered with a reset: an 'error' with no call in flight.
      await new Promise((r) => setTimeout(r, 7000))
      await expect(session.run('true')).rejects.toThrow(/connection lost \(.*(ECONNRESET|EPIPE)/)
    } finally {
      onHost('router01', `iptables -D ${reject}`)
    }
  })

  it('gives up on a host that stops answering after its local timeout', async () => {
    transport = new SshTransport()
    const session = await open('router01')
    onHost('router01', 'iptables -I INPUT -p tcp --dport 22 -j DROP')
    try {
      const started = Date.now()
      await expect(session.run('true', { timeoutSec: 1 })).rejects.toThrow(/no answer within 3s/)
      expect(Date.now() - started).toBeLessThan(5_000)
    } finally {
      onHost('router01', 'iptables -D INPUT -p tcp --dport 22 -j DROP')
    }
  })

  it('reports a command killed on the host as a failure, not as an empty success', async () => {
    transport = new SshTransport()
    const session = await open('router01')
    // The remote `timeout` ends a command that outlives it; its status is never mistaken for output.
    await expect(session.run('sleep 5', { timeoutSec: 1 })).rejects.toThrow(/timed out after 1s/)
    // The shell reading the script killed outright: no exit status comes back.
    await expect(session.run('kill -KILL $PPID $$; sleep 5')).rejects.toThrow(/killed \(KILL\)|before the command finished/)
  })
})

describe('jump hosts', () => {
  it('share one connection to router01 among the hosts behind it; a fresh session makes its own', async () => {
    // Connections of the tests before may take a moment to be torn down on router01's side.
    for (let i = 0; i < 50 && connectionsToRouter().length > 0; i++) await new Promise((r) => setTimeout(r, 100))
    transport = new SshTransport(DEFAULT_SSH_OPTIONS)
    const sessions: Session[] = await Promise.all(['web01', 'web02'].map((h) => open(h)))
    const names = await Promise.all(sessions.map(async (s) => (await s.run('hostname')).stdout))
    expect(names).toEqual(['web01\n', 'web02\n'])
    expect(connectionsToRouter()).toHaveLength(1)
    const fresh = await open('web01', true)
    expect((await fresh.run('hostname')).stdout).toBe('web01\n')
    expect(connectionsToRouter()).toHaveLength(2)
    fresh.close()
    // The shared jump connection still carries the others.
    expect((await sessions[1]!.run('hostname')).stdout).toBe('web02\n')
  })
})

describe('a session cut behind the jump host', () => {
  // The sshd processes on `host` that serve the connection forwarded by router01 (not the listener).
  const forwardedConnectionPids = (host: string) =>
    [...new Set([...onHost(host, "ss -Htnp state established '( sport = :22 )' dst 198.18.0.1").stdout.matchAll(/pid=(\d+)/g)].map((m) => Number(m[1])))]

  // Where a command on web01 has got to: started, then cut `how`; fleet must notice at once, not
  // at the command's timeout (120 s by default).
  async function cutWhileRunning(how: () => void): Promise<number> {
    transport = new SshTransport()
    const session = await open('web01')
    expect((await session.run('hostname')).stdout).toBe('web01\n')
    const running = session.run('echo started; sleep 60; echo never')
    await new Promise((r) => setTimeout(r, 1000))
    const cut = Date.now()
    how()
    await expect(running).rejects.toThrow(/connection lost|before the command finished|channel/)
    return Date.now() - cut
  }

  it("fails a running command at once when the host's sshd session dies (the forwarded channel ends)", async () => {
    const ms = await cutWhileRunning(() => {
      const pids = forwardedConnectionPids('web01')
      expect(pids.length).toBeGreaterThan(0)
      onHost('web01', `kill -9 ${pids.join(' ')}`)
    })
    expect(ms).toBeLessThan(3_000)
  })

  it('fails a running command at once when the jump connection dies', async () => {
    const ms = await cutWhileRunning(resetOperatorConnections)
    expect(ms).toBeLessThan(3_000)
  })

  it('opens a new session through a new jump connection once the shared one is gone', async () => {
    await cutWhileRunning(resetOperatorConnections)
    const again = await open('web02')
    expect((await again.run('hostname')).stdout).toBe('web02\n')
  })
})

describe('a connection reset in the middle of an apply', () => {
  it('fails or rolls back the hosts it cuts, reports every host, exits 1, and never crashes', async () => {
    // Something to change on every host.
    for (const h of ['router01', 'web01', 'web02']) onHost(h, 'iptables -A INPUT -p tcp --dport 7777 -j ACCEPT')
    const child = spawn(process.execPath, [FLEET_BIN, 'apply', '-i', LAB_INVENTORY, '--confirm-timeout', '5'], {
      env: { ...process.env, CI: 'true' },
    })
    let stdout = ''
    let stderr = ''
    let reset = false
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString()
      // Every connection through router01 (the jump and the hosts behind it) dies at once.
      if (!reset && stdout.includes('loading the new ruleset')) {
        reset = true
        resetOperatorConnections()
      }
    })
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve))
    expect(reset).toBe(true)
    expect(stderr).toBe('')
    expect(stdout).not.toMatch(/internal error|Unhandled|ECONNRESET.*\n\s+at /)
    expect(code).toBe(1)
    for (const h of ['router01', 'web01', 'web02']) expect(stdout).toMatch(new RegExp(`^${h}: (changed|failed|rolled back)`, 'm'))
    expect(stdout).toMatch(/^applied 3 hosts: /m)
    // The hosts stay reachable and readable afterwards; their timers settle what was cut.
    await new Promise((r) => setTimeout(r, 7000))
    const audit = await fleet(['audit', '-i', LAB_INVENTORY, '--json'])
    expect(JSON.parse(audit.stdout).hosts.map((h: { outcome: string }) => h.outcome).every((o: string) => o === 'in-sync' || o === 'drift')).toBe(true)
  })
})
