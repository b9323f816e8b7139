// The interactive picker in a real pseudo-terminal (tmux), against the lab.
import { spawnSync } from 'node:child_process'
import path from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { FLEET_BIN, LAB, labDown, labUp, onHost, ROOT, rulesetOf } from '../helpers/lab.ts'
import { Terminal } from '../helpers/terminal.ts'

const LAB_INVENTORY = path.join(ROOT, 'inventory/lab.yaml')
const HOSTS = ['router01', 'web01', 'web02']
const FLEET = `node ${FLEET_BIN}`
let terminal: Terminal | undefined
const env = () => ({ XDG_STATE_HOME: path.join(LAB, 'operator-state') })
const drift = () => HOSTS.forEach((h) => onHost(h, 'iptables -A INPUT -p tcp --dport 3333 -j ACCEPT'))
// fleet apply on a terminal, every role and every host picked: it then previews and asks.
async function applyToEveryHost(): Promise<Terminal> {
  const t = Terminal.start(`${FLEET} apply -i ${LAB_INVENTORY}`, env())
  await t.waitFor('Which roles?')
  t.send('a', 'Enter')
  await t.waitFor('Which hosts?')
  t.send('Enter')
  return t
}

beforeAll(() => labUp())
afterAll(() => labDown())
afterEach(() => terminal?.close())

describe('the interactive picker', () => {
  it('shows the rules themselves before the last yes/no: per chain, identical hosts together, folded until asked', async () => {
    const before = HOSTS.map((h) => rulesetOf(h))
    terminal = await applyToEveryHost()
    const folded = await terminal.waitFor(/Apply to 3 hosts\? \(d: show the \d+ folded changes\)/)
    expect(folded).toMatch(/^ {2}router01: \d+ to add, set net\.ipv4\.ip_forward = 1$/m)
    expect(folded).toMatch(/^ {2}web01, web02: \d+ to add$/m)
    expect(folded).toMatch(/^ {4}raw\/PREROUTING:\n {6}\+ missing -A PREROUTING -s 198\.18\.0\.0\/24 -d 198\.18\.0\.0\/24 -j NOTRACK$/m)
    expect(folded).toMatch(/^ {4}… \d+ more changes$/m)
    expect(folded).not.toContain('-A INPUT -p ipv6-icmp -j ACCEPT')
    terminal.send('d', 'Enter')
    // Everything, the servers' IPv6 rules last, then the plain yes/no.
    const all = await terminal.waitFor(/Apply to 3 hosts\? \(y\/N\)/)
    expect(all).toMatch(/^ {6}\+ missing -A INPUT -p ipv6-icmp -j ACCEPT\n(^ {6}\+ missing .*\n)*.*Apply to 3 hosts\?/m)
    terminal.send('n', 'Enter')
    const done = await terminal.waitFor(/EXIT=\d+/)
    expect(done).toContain('EXIT=130')
    expect(HOSTS.map((h) => rulesetOf(h))).toEqual(before)
  })

  it('picks the router role only, confirms, and only router01 is applied', async () => {
    drift()
    const before = HOSTS.map((h) => rulesetOf(h))
    terminal = Terminal.start(`${FLEET} apply -i ${LAB_INVENTORY}`, env())
    await terminal.waitFor('Which roles?')
    expect(terminal.screen()).toMatch(/router \(1 host\)[\s\S]*internal-server \(2 hosts\)/)
    terminal.send('Space')
    terminal.send('Enter')
    const hosts = await terminal.waitFor('Which hosts?')
    expect(hosts).toContain('◉ router01')
    expect(hosts).not.toContain('web01')
    terminal.send('Enter')
    const summary = await terminal.waitFor('Apply to 1 host?')
    expect(summary).toMatch(/What will change:\s+router01: \d+ to add, 1 to remove, set net\.ipv4\.ip_forward = 1/)
    terminal.send('y', 'Enter')
    const done = await terminal.waitFor(/EXIT=\d+/)
    expect(done).toContain('applied 1 host: 1 changed')
    expect(done).toContain('EXIT=0')
    const after = HOSTS.map((h) => rulesetOf(h))
    expect(after[0]).not.toBe(before[0])
    expect(after.slice(1)).toEqual(before.slice(1))
  })

  it('Ctrl-C at the confirmation leaves every host unchanged, status 130', async () => {
    drift()
    const before = HOSTS.map((h) => rulesetOf(h))
    terminal = await applyToEveryHost()
    await terminal.waitFor('Apply to 3 hosts?')
    terminal.send('C-c')
    const done = await terminal.waitFor(/EXIT=\d+/)
    expect(done).toContain('fleet: cancelled; nothing was changed')
    expect(done).toContain('EXIT=130')
    expect(done).not.toMatch(/\n\s+at /)
    expect(HOSTS.map((h) => rulesetOf(h))).toEqual(before)
  })

  it('Esc at a prompt ends the run the same way', async () => {
    terminal = Terminal.start(`${FLEET} audit -i ${LAB_INVENTORY}`, env())
    await terminal.waitFor('Which roles?')
    terminal.send('Escape')
    const done = await terminal.waitFor(/EXIT=\d+/)
    expect(done).toContain('EXIT=130')
  })

  it('--yes skips the prompts on a terminal', async () => {
    terminal = Terminal.start(`${FLEET} audit -i ${LAB_INVENTORY} --yes`, env())
    const done = await terminal.waitFor(/EXIT=\d+/)
    expect(done).not.toContain('Which roles?')
    expect(done).toMatch(/audited 3 hosts/)
  })

  it('without a terminal and without a selection it never prompts: it applies to every host', () => {
    drift()
    const { CI: _ci, ...noCi } = process.env
    const result = spawnSync(process.execPath, [FLEET_BIN, 'apply', '-i', LAB_INVENTORY], {
      env: { ...noCi, ...env() },
      encoding: 'utf8',
      timeout: 60_000,
      stdio: ['pipe', 'pipe', 'pipe'],
    })
    expect(result.status).toBe(0)
    expect(result.stdout).not.toContain('Which roles?')
    expect(result.stdout).toContain('applied 3 hosts: 3 changed')
  })
})
