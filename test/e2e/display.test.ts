// The live display on a real terminal (tmux): role tasks under each running host, ticked and
// collapsed; with more hosts than fit, one overall line and the running hosts.
import path from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { fleet } from '../helpers/cli.ts'
import { FLEET_BIN, LAB, labDown, labUp, ROOT } from '../helpers/lab.ts'
import { Terminal } from '../helpers/terminal.ts'

const DRIVER = `node --import tsx ${path.join(ROOT, 'test/helpers/display-driver.ts')}`
const LAB_INVENTORY = path.join(ROOT, 'inventory/lab.yaml')
let terminal: Terminal | undefined
afterEach(() => terminal?.close())

const filled = (screen: string) => screen.split('\n').filter((l) => l.trim() !== '')

// Screens captured every 50 ms until the command ends; the last one is the final screen.
async function watch(t: Terminal, timeoutMs = 60_000): Promise<string[]> {
  const screens: string[] = []
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    const screen = t.screen()
    screens.push(screen)
    if (/EXIT=\d+/.test(screen)) return screens
    await new Promise((r) => setTimeout(r, 50))
  }
  throw new Error(`no end in time:\n${screens.at(-1)}`)
}

describe('500 hosts on a 50-line terminal', () => {
  it('shows one overall line and the running hosts, never 500 lines', async () => {
    terminal = Terminal.start(`${DRIVER} 500 20`)
    const screens = await watch(terminal)
    // While it runs: a spinner, not yet the final ✔ and the report under it.
    const live = screens.filter((s) => /^[^✔\s] \d+ of 500 hosts applied/.test(s))
    expect(live.length).toBeGreaterThan(5)
    for (const screen of live) {
      const lines = filled(screen)
      expect(lines[0]).toMatch(/^. \d+ of 500 hosts applied: \d+ changed, \d+ unchanged, \d+ failed; [0-8] running; 0:\d\d$/)
      // The overall line and at most the 8 hosts the pool runs at once.
      expect(lines.length).toBeLessThanOrEqual(9)
      for (const line of lines.slice(1)) expect(line).toMatch(/^ {2}(router01|srv\d{3}): (connecting|reading the live ruleset|loading the new ruleset|verifying|confirming over a fresh SSH connection)$/)
    }
    const end = screens.at(-1)!
    expect(end).toMatch(/✔ 500 of 500 hosts applied: 420 changed, 70 unchanged, 10 failed; 0 running; 0:\d\d/)
    expect(end).toContain('srv049: failed: no SSH answer from 198.18.0.99:22 in time')
    expect(end).toContain('applied 500 hosts: 420 changed, 70 unchanged, 10 failed (srv049,')
    expect(end).toContain('EXIT=0')
  })
})

describe('a few hosts', () => {
  it("expands each running host into its role's tasks, ticks them after the load, collapses it when done", async () => {
    terminal = Terminal.start(`${DRIVER} 3 1200`)
    const reading = await terminal.waitFor(/router01: reading the live ruleset\n +◻ untrack the router's own web service\n(.*\n){4} +◻ set net.ipv4.ip_forward = 1\n. srv001: reading the live ruleset\n +◻ untrack traffic within the internal network/)
    expect(filled(reading)).toHaveLength(3 + 6 + 3 + 3)
    await terminal.waitFor(/router01: loading the new ruleset\n +❯ untrack the router's own web service/)
    await terminal.waitFor(/router01: verifying\n +✔ untrack the router's own web service\n(.*\n){4} +✔ set net.ipv4.ip_forward = 1/)
    const end = await terminal.waitFor(/EXIT=\d+/)
    expect(end).toMatch(/^✔ router01: changed \(1 difference\)\n✔ srv001: changed\n✔ srv002: changed\nrouter01: changed\n {4}setting: set net.ipv4.ip_forward = 1\napplied 3 hosts: 3 changed\nEXIT=0/)
  })
})

describe('the lab: 3 real hosts', () => {
  beforeAll(() => labUp())
  afterAll(() => labDown())

  it('shows the titles the dry run prints under each host, then one line per host', async () => {
    const dry = await fleet(['apply', '-i', LAB_INVENTORY, '--dry-run', '--json'])
    const titles = new Map<string, string[]>(JSON.parse(dry.stdout).hosts.map((h: { host: string; tasks: string[] }) => [h.host, h.tasks]))
    expect(titles.get('router01')).toContain('set net.ipv4.ip_forward = 1')
    terminal = Terminal.start(`node ${FLEET_BIN} apply -i ${LAB_INVENTORY} --yes`, { XDG_STATE_HOME: path.join(LAB, 'operator-state') })
    const screens = await watch(terminal)
    const expanded = (host: string) => new RegExp(`${host}: [^\\n]+\\n${titles.get(host)!.map((t) => ` +. ${t.replace(/[()]/g, '\\$&')}`).join('\\n')}\\n`)
    for (const host of ['router01', 'web01', 'web02']) expect(screens.some((s) => expanded(host).test(s)), `${host} expanded`).toBe(true)
    expect(screens.some((s) => /web01: [^\n]+\n +✔ untrack traffic within the internal network/.test(s)), 'ticked').toBe(true)
    // What changed is printed in full under the collapsed lines: more than a screen.
    const end = terminal.history()
    expect(end).toMatch(/^✔ router01: changed \(\d+ differences\)\n✔ web01: changed \(\d+ differences\)\n✔ web02: changed \(\d+ differences\)\n/m)
    expect(end).not.toContain('accept what every host accepts')
    expect(end).toContain('applied 3 hosts: 3 changed')
    expect(end).toContain('EXIT=0')
  })
})
