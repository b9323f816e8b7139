// A change that waits for confirmation holds its host: a second run, `apply --check` and an audit
// meanwhile must not take the host's live ruleset for settled (the change's timer may still undo
// it), and a clock that jumps forward on the host must not let a second run take the lock of a
// change whose timer is still running.
import { spawnSync } from 'node:child_process'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { fleet } from '../helpers/cli.ts'
import { FLEET_BIN, LAB, labDown, labInventory, labUp, onHost, rulesetOf } from '../helpers/lab.ts'

type HostReport = { host: string; outcome: string; detail?: string }
const report = (stdout: string) => (JSON.parse(stdout) as { hosts: HostReport[] }).hosts[0]!
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

// srv00N at 198.18.0.(19+N), behind router01; `interface` is what differs between changes.
const server = (n: number, iface: string) =>
  `  srv00${n}:\n    address: 198.18.0.${19 + n}\n    role: internal-server\n    ssh: { jump: router01 }\n    network: { interface: ${iface} }\n`
const host = (n: number) => `srv00${n}`
const inventory = (n: number, iface: string) => labInventory(server(n, iface))
const apply = (file: string, n: number, more: string[] = []) => fleet(['apply', '-i', file, '--limit', host(n), '--json', '--confirm-timeout', '3', ...more])
const CONFIRM_SEC = 20
// An apply whose fleet is killed while the host loads: the host keeps the new ruleset, armed with
// a CONFIRM_SEC timer that restores the previous one unless confirmed (nobody will).
function applyKilledWhileLoading(file: string, n: number): void {
  const args = ['apply', '-i', file, '--limit', host(n), '--json', '--confirm-timeout', String(CONFIRM_SEC)]
  spawnSync(process.execPath, [FLEET_BIN, ...args], { env: { ...process.env, CI: 'true', FLEET_FAULT: 'load-raw:kill' }, timeout: 30_000 })
}
async function until(what: string, ok: () => boolean, ms: number): Promise<void> {
  for (const end = Date.now() + ms; !ok(); await sleep(300)) if (Date.now() > end) throw new Error(`not within ${ms} ms: ${what}`)
}
const lockFree = (n: number) => onHost(host(n), 'test -e /var/lib/fleet/lock').code !== 0

beforeAll(() => {
  labUp('--servers', '2')
  process.env.XDG_STATE_HOME = path.join(LAB, 'operator-state')
}, 180_000)
afterAll(() => labDown())

describe('a change waiting for confirmation', () => {
  it('makes a second apply, --check and an audit say so, not unchanged / in sync', async () => {
    const [x, y] = [inventory(1, 'eth0'), inventory(1, 'eth9')]
    expect((await apply(x, 1)).code).toBe(0)
    const before = rulesetOf(host(1))
    applyKilledWhileLoading(y, 1)
    await until('the killed run\'s ruleset is live', () => rulesetOf(host(1)).includes('-i eth9'), 10_000)

    const again = await apply(y, 1)
    expect(report(again.stdout).outcome).toBe('failed')
    expect(report(again.stdout).detail).toMatch(/^busy: change \S+ by \S+ waits for confirmation until \S+ at the latest; nothing changed$/)
    expect(again.code).toBe(1)
    const check = await fleet(['apply', '-i', y, '--limit', host(1), '--json', '--check'])
    expect(report(check.stdout).detail).toMatch(/^busy: change \S+ by \S+ waits for confirmation/)
    expect(check.code).toBe(1)
    const audit = await fleet(['audit', '-i', y, '--limit', host(1), '--json'])
    expect(report(audit.stdout).outcome).toBe('drift')
    expect(report(audit.stdout).detail).toMatch(/change \S+ by \S+ waits for confirmation until \S+ at the latest: unless it is confirmed, the host's timer restores the previous ruleset/)
    expect(audit.code).toBe(3)
    expect(rulesetOf(host(1))).toContain('-i eth9')

    // Once the timer has undone it, the host is free and the same apply goes through.
    await until('the timer has restored the previous ruleset', () => lockFree(1), (CONFIRM_SEC + 15) * 1000)
    expect(rulesetOf(host(1))).toBe(before)
    expect(report((await apply(y, 1)).stdout).outcome).toBe('changed')
  }, 90_000)
})

describe('a clock that jumps forward on the host', () => {
  // `date` an hour ahead, in this host's mount namespace only (as after an NTP step or a resumed VM);
  // the timer sleeps on the monotonic clock, unmoved.
  const clockAhead = (n: number) =>
    onHost(
      host(n),
      `set -e; cp /usr/bin/date /tmp/date.real; printf '#!/bin/sh\\ncase " $* " in *" -d"*) exec /tmp/date.real "$@";; esac\\nexec /tmp/date.real -d "@$(($(/tmp/date.real +%%s) + 3600))" "$@"\\n' > /tmp/date-ahead; chmod +x /tmp/date-ahead; mount --bind /tmp/date-ahead /usr/bin/date`,
    )
  const clockBack = (n: number) => onHost(host(n), 'umount /usr/bin/date')

  it('never lets a second run take the lock of a change whose timer still runs; a dead timer does not hold it', async () => {
    const [x, y, z] = [inventory(2, 'eth0'), inventory(2, 'eth9'), inventory(2, 'eth7')]
    expect((await apply(x, 2)).code).toBe(0)
    applyKilledWhileLoading(y, 2)
    await until('the killed run\'s ruleset is live', () => rulesetOf(host(2)).includes('-i eth9'), 10_000)
    expect(clockAhead(2).code).toBe(0)
    try {
      expect(onHost(host(2), 'date +%s').stdout.trim()).not.toBe(String(Math.floor(Date.now() / 1000)))
      const busy = await apply(z, 2)
      expect(report(busy.stdout).outcome).toBe('failed')
      expect(report(busy.stdout).detail).toMatch(/^busy: change \S+ by \S+ /)
      expect(rulesetOf(host(2))).toContain('-i eth9')

      // The host rebooted, say: the timer is gone, its files are not. The lock is past its expiry
      // and nothing of its change runs any more, so the next run takes it over.
      expect(onHost(host(2), 'kill -s KILL -- -"$(cat /var/lib/fleet/armed/*.pid)"').code).toBe(0)
      const taken = await apply(z, 2)
      expect(report(taken.stdout).outcome).toBe('changed')
      expect(rulesetOf(host(2))).toContain('-i eth7')
    } finally {
      clockBack(2)
    }
  }, 90_000)
})
