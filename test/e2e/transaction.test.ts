// The change transaction under the faults that used to break its promises (issue 11, items 1-6
// and 9), each on its own lab host: host text never runs as code, a timer that cannot be armed
// means nothing is loaded, a failed restore is never reported as a rollback, a lost confirmation
// reply never undoes a change by halves, and a load that fails part way is undone.
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { quote } from '../../src/shell/quote.ts'
import { fleet, fleetProcess } from '../helpers/cli.ts'
import { ROUTER_MARTIANS } from '../helpers/router-roles.ts'
import { asConfiguration, LAB, labDown, labInventory, labRoles, labUp, onHost, ROOT, rulesetOf } from '../helpers/lab.ts'

type HostReport = { host: string; outcome: string; detail?: string; changeId?: string }
const report = (stdout: string) => (JSON.parse(stdout) as { hosts: HostReport[] }).hosts[0]!
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

// srvNNN at 198.18.0.(19+N), behind router01; `interface` is what differs between two changes.
const server = (n: number, iface: string, persist = false) =>
  `  srv00${n}:\n    address: 198.18.0.${19 + n}\n    role: internal-server\n    ssh: { jump: router01 }\n    network: { interface: ${iface} }\n${persist ? '    persist: true\n' : ''}`
const inventories = (n: number, persist = false) => ({ a: labInventory(server(n, 'eth0', persist)), b: labInventory(server(n, 'eth9', persist)) })
const host = (n: number) => `srv00${n}`
const run = (inventory: string, n: number, more: string[] = [], fault?: string) =>
  fleet(['apply', '-i', inventory, '--limit', host(n), '--json', '--confirm-timeout', '3', ...more], { CI: 'true', ...(fault && { FLEET_FAULT: fault }) })
const bootFile = (n: number) => asConfiguration(onHost(host(n), 'cat /etc/iptables/rules.v4').stdout)
const entryOf = (n: number, id: string) => onHost(host(n), `cat /var/lib/fleet/history/${id}`).stdout
const lockFree = (n: number) => onHost(host(n), 'test -e /var/lib/fleet/lock').code !== 0
// A rule whose comment holds a heredoc's end marker and a command, as any process with
// CAP_NET_ADMIN can add it; iptables-save prints the comment's newlines raw.
const SMUGGLED = `iptables -A INPUT -p tcp --dport 4444 -m comment --comment "$(printf 'x\\nFLEET_RULESET_EOF\\ntouch /tmp/pwned #')" -j ACCEPT`

// The host's netfilter binary replaced, in that host's own mount namespace only, by a script that
// does `special` for some loads (never for --test) and runs the real binary for everything else.
const wrapRestores = (name: string, special: string) =>
  expect(
    onHost(
      name,
      `cp /usr/sbin/xtables-nft-multi /run/xtables-real && printf '%s\\n' '#!/bin/sh' 'n=\${0##*/}' ${quote(`case "$n $*" in *restore*--test*) ;; ${special} esac`)} 'exec /run/xtables-real "$n" "$@"' > /run/xtables-test && chmod 755 /run/xtables-test && mount --bind /run/xtables-test /usr/sbin/xtables-nft-multi`,
    ).code,
  ).toBe(0)
// A restore that fails for real: iptables-restore refuses every saved ruleset.
const failSavedRestores = (name: string) => wrapRestores(name, `*restore*/saved/*) echo "$n: refused (test)" >&2; exit 1 ;;`)
// A load slower than fleet's patience with a dropped connection: the new ruleset takes 15 s.
const slowLoads = (name: string) => wrapRestores(name, '*restore*/applied/*) sleep 15 ;;')
const restoreRestores = (name: string) => expect(onHost(name, 'umount -l /usr/sbin/xtables-nft-multi').code).toBe(0)

// router01, which fleet reaches directly, with the router role or a variant of it.
const ROUTER_ROLES = {
  'router-b': `import router from '${ROOT}/roles/router.ts'
export default {
  description: 'the router, with one more port open',
  tasks: (ctx) => [...router.tasks(ctx), ctx.task('accept 4445', async ($) => { await $\`iptables -A INPUT -p tcp --dport 4445 -j ACCEPT\` })],
}\n`,
  'router-martians': ROUTER_MARTIANS,
}
const routerArgs = (routerRole: string, confirmSec: number) =>
  ['apply', '-i', labInventory('', { roles: labRoles('transaction-roles', ROUTER_ROLES), routerRole }), '--limit', 'router01', '--json', '--confirm-timeout', String(confirmSec)]
const routerRun = (routerRole: string, fault?: string, confirmSec = 40) => fleet(routerArgs(routerRole, confirmSec), { CI: 'true', ...(fault && { FLEET_FAULT: fault }) })
const sysctl = (name: string) => onHost('router01', `sysctl -n ${name}`).stdout.trim()

beforeAll(() => {
  labUp('--servers', '8')
  process.env.XDG_STATE_HOME = path.join(LAB, 'operator-state')
}, 180_000)
afterAll(() => labDown())

describe('host text is never code', () => {
  it('a saved ruleset carrying a heredoc marker runs nothing on apply, preview or rollback', async () => {
    const { a } = inventories(1)
    expect((await run(a, 1)).code).toBe(0)
    expect(onHost(host(1), SMUGGLED).code).toBe(0)
    expect(onHost(host(1), 'iptables-save').stdout).toContain('\nFLEET_RULESET_EOF\n')
    const before = rulesetOf(host(1))
    // Such a ruleset is not one iptables-restore takes back, so no undo could work: apply and
    // rollback both refuse, say why, and change nothing.
    const again = report((await run(a, 1)).stdout)
    expect(again.outcome).toBe('failed')
    expect(again.detail).toMatch(/would not load back as iptables-save prints it.*nothing changed/)
    const back = await fleet(['rollback', '-i', a, '--limit', host(1), '--json', '--confirm-timeout', '3'])
    expect(report(back.stdout).outcome).toBe('failed')
    expect(onHost(host(1), 'ls /tmp/pwned').code).not.toBe(0)
    expect(rulesetOf(host(1))).toBe(before)
    expect(lockFree(1)).toBe(true)
    onHost(host(1), 'iptables -D INPUT 1 2>/dev/null; iptables-save | grep -q 4444 && iptables -F INPUT; true')
  })

  it('an id in the host history is data: a forged one is refused, never run', async () => {
    const { a } = inventories(1)
    const forged = '20991231T000000.000Z-ffff'
    onHost(
      host(1),
      `printf 'id=${forged};touch /tmp/pwned2;:\\ntime=x\\naction=apply\\nstatus=confirmed\\nnote=n\\nby=b\\n' > /var/lib/fleet/history/${forged} && iptables-save > /var/lib/fleet/saved/${forged}.v4`,
    )
    await fleet(['rollback', '-i', a, '--limit', host(1), '--json', '--confirm-timeout', '3'])
    await fleet(['rollback', '-i', a, '--limit', host(1), '--json', '--to', forged])
    expect(onHost(host(1), 'ls /tmp/pwned2').code).not.toBe(0)
    onHost(host(1), `rm -f /var/lib/fleet/history/${forged} /var/lib/fleet/saved/${forged}.v4`)
  })

  it('a comment that restarts the filter table hides no rule from audit or apply', async () => {
    const { a } = inventories(1)
    expect((await run(a, 1)).code).toBe(0)
    // An extra rule, then one whose comment repeats the table's head as iptables-save prints it:
    // read line by line, the table starts afresh after the comment, just as the baseline has it.
    const head = `$(printf 'x\\n'; iptables-save -t filter | grep '^[*:]'; printf '#')`
    expect(onHost(host(1), `iptables -I INPUT 1 -m comment --comment "${head}" -j ACCEPT && iptables -I INPUT 1 -s 198.51.100.9 -j ACCEPT`).code).toBe(0)
    const audited = await fleet(['audit', '-i', a, '--limit', host(1), '--json'])
    expect(audited.code).toBe(3)
    const found = (JSON.parse(audited.stdout) as { hosts: { outcome: string; diff: { kind: string; line: string }[] }[] }).hosts[0]!
    expect(found.outcome).toBe('drift')
    expect(found.diff.map((d) => `${d.kind} ${d.line.split('\n')[0]}`)).toEqual([
      'extra -A INPUT -s 198.51.100.9/32 -j ACCEPT',
      'extra -A INPUT -m comment --comment "x',
    ])
    // Apply sees the drift too. A ruleset with a comment's line break in it does not load back, so
    // apply refuses to change the host (no undo could restore it) and says so: never `unchanged`.
    const refused = report((await run(a, 1)).stdout)
    expect(refused.outcome).toBe('failed')
    expect(refused.detail).toMatch(/would not load back as iptables-save prints it.*nothing changed/)
    expect(rulesetOf(host(1))).toMatch(/198\.51\.100\.9/)
    // With the commented rule deleted as fleet asks, apply takes the extra rule away.
    expect(onHost(host(1), 'iptables -D INPUT 2').code).toBe(0)
    expect(report((await run(a, 1)).stdout).outcome).toBe('changed')
    expect(rulesetOf(host(1))).not.toMatch(/198\.51\.100\.9|--comment/)
    expect((await fleet(['audit', '-i', a, '--limit', host(1), '--json'])).code).toBe(0)
  })
})

describe('a load that fails part way', () => {
  it('(*raw fine, *filter jumping to a missing chain) is undone: the host holds exactly the old rulesets', async () => {
    const { a, b } = inventories(2)
    expect((await run(a, 2)).code).toBe(0)
    const before = rulesetOf(host(2))
    const result = await run(b, 2, [], 'load-filter:fail')
    const done = report(result.stdout)
    expect(done.outcome).toBe('failed')
    expect(done.detail).toMatch(/FLEET_FAULT_MISSING_CHAIN.*the previous ruleset was restored/)
    expect(rulesetOf(host(2))).toBe(before)
    expect(entryOf(2, done.changeId!)).toMatch(/status=failed/)
    expect(lockFree(2)).toBe(true)
  })
})

describe('a load still running when the connection drops', () => {
  // On router01, which fleet reaches directly, so the drop is noticed at once and fleet's undo
  // reaches the host while the load still runs: the undo must wait for it, or the load lands after
  // the restore and the host keeps a change it recorded as undone, with no timer left.
  it('is waited for, then undone: the host holds exactly the old rulesets, with no timer left', async () => {
    expect((await routerRun('router')).code).toBe(0)
    const before = rulesetOf('router01')
    slowLoads('router01')
    let done: HostReport
    try {
      done = report((await routerRun('router-b', 'load-raw:drop')).stdout)
    } finally {
      restoreRestores('router01')
    }
    // Whatever fleet said, the host is judged once no script of the change runs any more.
    for (let i = 0; i < 60 && onHost('router01', 'ls /var/lib/fleet/busy.* 2>/dev/null').stdout !== ''; i++) await sleep(500)
    expect(done.outcome).toBe('failed')
    expect(done.detail).toMatch(/connection was lost during the change.*the previous ruleset was restored/)
    expect(rulesetOf('router01')).toBe(before)
    expect(onHost('router01', `cat /var/lib/fleet/history/${done.changeId}`).stdout).toMatch(/status=rolled-back/)
    expect(onHost('router01', 'test -e /var/lib/fleet/lock').code).not.toBe(0)
    expect(onHost('router01', 'ls -A /var/lib/fleet/armed').stdout.trim()).toBe('')
    expect((await routerRun('router')).stdout).toMatch(/"outcome": ?"unchanged"/)
  }, 120_000)
})

describe('the host settings of a change that is undone', () => {
  it('are set back with the rulesets, by fleet or by the host\'s timer', async () => {
    expect((await routerRun('router')).code).toBe(0)
    expect(onHost('router01', 'sysctl -q -w net.ipv4.ip_forward=0').code).toBe(0)
    const before = rulesetOf('router01')
    // fleet undoes it: no fresh connection for the confirmation.
    const undone = report((await routerRun('router-b', 'confirm:fail', 5)).stdout)
    expect(undone.outcome).toBe('rolled-back')
    expect(undone.detail).not.toMatch(/as changed/)
    expect(sysctl('net.ipv4.ip_forward')).toBe('0')
    expect(rulesetOf('router01')).toBe(before)
    // The host's timer undoes it: fleet is killed before it confirms.
    const killed = await fleetProcess(routerArgs('router-b', 3), { FLEET_FAULT: 'verify:kill' })
    expect(killed.signal).toBe('SIGKILL')
    for (let i = 0; i < 40 && onHost('router01', 'ls -A /var/lib/fleet/armed').stdout.trim() !== ''; i++) await sleep(500)
    expect(sysctl('net.ipv4.ip_forward')).toBe('0')
    expect(rulesetOf('router01')).toBe(before)
    expect((await routerRun('router')).code).toBe(0)
    expect(sysctl('net.ipv4.ip_forward')).toBe('1')
  }, 120_000)

  it('stay as the change made them where the role keeps them (undo: \'keep\'), and fleet says which', async () => {
    expect(onHost('router01', 'sysctl -q -w net.ipv4.conf.all.log_martians=0').code).toBe(0)
    const undone = report((await routerRun('router-martians', 'confirm:fail', 5)).stdout)
    expect(undone.outcome).toBe('rolled-back')
    expect(undone.detail).toMatch(/previous ruleset was restored; host settings the role keeps as changed: log martians$/)
    expect(sysctl('net.ipv4.conf.all.log_martians')).toBe('1')
    expect(onHost('router01', `cat /var/lib/fleet/history/${undone.changeId}`).stdout).toMatch(/status=rolled-back\n(.*\n)*reason=.*keeps as changed: log martians/)
    onHost('router01', 'sysctl -q -w net.ipv4.conf.all.log_martians=0')
  }, 60_000)
})

describe('a restore that fails', () => {
  it('is reported as a failure, not a rollback, and the timer stays armed', async () => {
    const { a, b } = inventories(3)
    expect((await run(a, 3)).code).toBe(0)
    const before = rulesetOf(host(3))
    failSavedRestores(host(3))
    const result = await run(b, 3, [], 'confirm:fail')
    const done = report(result.stdout)
    expect(result.code).toBe(1)
    expect(done.outcome).toBe('failed')
    expect(done.detail).toMatch(/restoring the previous ruleset failed/)
    expect(done.detail).toMatch(/timer/)
    expect(onHost(host(3), 'ls /var/lib/fleet/armed').stdout).toMatch(/^\S+$/m)
    await sleep(6000)
    expect(entryOf(3, done.changeId!)).toMatch(/status=failed\n(.*\n)*reason=not confirmed within 3s, and restoring the previous ruleset failed/)
    expect(lockFree(3)).toBe(true)
    restoreRestores(host(3))
    expect(rulesetOf(host(3))).not.toBe(before)
  })
})

describe('a timer that cannot be armed', () => {
  it('means nothing is loaded, and fleet says so', async () => {
    const { a, b } = inventories(4)
    expect((await run(a, 4)).code).toBe(0)
    const before = rulesetOf(host(4))
    const done = report((await run(b, 4, [], 'arm:fail')).stdout)
    expect(done.outcome).toBe('failed')
    expect(done.detail).toMatch(/cannot arm the timer.*nothing changed/)
    expect(rulesetOf(host(4))).toBe(before)
    expect(lockFree(4)).toBe(true)
    expect(onHost(host(4), 'ls -A /var/lib/fleet/armed').stdout.trim()).toBe('')
  })
})

describe('a lost confirmation reply', () => {
  it('after the host confirmed: the change stands, and the boot files hold it', async () => {
    const { a, b } = inventories(5, true)
    expect((await run(a, 5)).code).toBe(0)
    const result = await run(b, 5, [], 'reply:lose-reply')
    const done = report(result.stdout)
    expect(done.outcome).toBe('changed')
    expect(result.code).toBe(0)
    expect(done.detail).toMatch(/reply .*lost.*confirmed/)
    expect(rulesetOf(host(5))).toContain('-i eth9')
    expect(bootFile(5)).toBe(rulesetOf(host(5)))
    expect(entryOf(5, done.changeId!)).toMatch(/status=confirmed/)
  })

  it('and the host unreachable afterwards: outcome unknown, its own exit status, pointing to fleet history', async () => {
    const { a } = inventories(5, true)
    const result = await run(a, 5, [], 'reply:cut')
    const done = report(result.stdout)
    expect(done.outcome).toBe('unknown')
    expect(result.code).toBe(4)
    expect(done.detail).toMatch(/fleet history/)
    // Once the link is back, the host tells what happened: it was confirmed, and persisted.
    for (let i = 0; i < 40 && onHost(host(5), 'ip link show eth0').stdout.includes('state DOWN'); i++) await sleep(500)
    expect(entryOf(5, done.changeId!)).toMatch(/status=confirmed/)
    expect(rulesetOf(host(5))).toContain('-i eth0')
    expect(bootFile(5)).toBe(rulesetOf(host(5)))
  })
})

describe('--no-confirm with persist', () => {
  it('verifies before it persists and frees the host', async () => {
    const { a, b } = inventories(6, true)
    expect((await run(a, 6)).code).toBe(0)
    const before = rulesetOf(host(6))
    const done = report((await run(b, 6, ['--no-confirm'], 'verify:fail')).stdout)
    expect(done.outcome).toBe('failed')
    expect(rulesetOf(host(6))).toBe(before)
    expect(bootFile(6)).toBe(before)
    expect(lockFree(6)).toBe(true)
  })
})

describe('the first change on a host that never had rules', () => {
  it('is undone whole when not confirmed: both families empty again, reported as rolled back', async () => {
    const { a } = inventories(7)
    const rules = () => onHost(host(7), 'iptables-save; ip6tables-save').stdout.split('\n').filter((l) => l.startsWith('-A ') || / DROP /.test(l))
    expect(rules()).toEqual([])
    const done = report((await run(a, 7, [], 'confirm:fail')).stdout)
    expect(done.outcome).toBe('rolled-back')
    expect(done.detail).toMatch(/the previous ruleset was restored/)
    // Past the timer's deadline too.
    await sleep(5000)
    expect(rules()).toEqual([])
    expect(entryOf(7, done.changeId!)).toMatch(/status=rolled-back/)
    expect(lockFree(7)).toBe(true)
  })
})

describe('boot files that cannot be replaced', () => {
  it('(one mounted over) leave every boot file and the live rulesets as they were', async () => {
    const { a, b } = inventories(8, true)
    expect((await run(a, 8)).code).toBe(0)
    const before = { v4: rulesetOf(host(8)), v6: rulesetOf(host(8), 'ipv6') }
    const boot = onHost(host(8), 'cat /etc/iptables/rules.v4 /etc/iptables/rules.v6').stdout
    expect(onHost(host(8), 'cp /etc/iptables/rules.v6 /run/rules.v6 && mount --bind /run/rules.v6 /etc/iptables/rules.v6').code).toBe(0)
    try {
      const done = report((await run(b, 8)).stdout)
      expect(done.outcome).toBe('rolled-back')
      expect(done.detail).toMatch(/boot files/)
      expect({ v4: rulesetOf(host(8)), v6: rulesetOf(host(8), 'ipv6') }).toEqual(before)
      expect(onHost(host(8), 'cat /etc/iptables/rules.v4 /etc/iptables/rules.v6').stdout).toBe(boot)
      expect(onHost(host(8), 'ls /etc/iptables').stdout.trim().split('\n')).toEqual(['rules.v4', 'rules.v6'])
      expect(entryOf(8, done.changeId!)).toMatch(/status=rolled-back/)
      expect(lockFree(8)).toBe(true)
    } finally {
      onHost(host(8), 'umount /etc/iptables/rules.v6')
    }
  })
})

describe('a lost sequence file', () => {
  it('numbers the next change after the highest in the history, so pruning keeps it', async () => {
    const { a, b } = inventories(4)
    for (const inventory of [a, b, a, b]) expect((await run(inventory, 4, ['--keep', '2'])).code).toBe(0)
    expect(onHost(host(4), 'rm /var/lib/fleet/seq').code).toBe(0)
    const done = report((await run(a, 4, ['--keep', '2'])).stdout)
    expect(done.outcome).toBe('changed')
    const seqs = onHost(host(4), "sed -n 's/^seq=//p' /var/lib/fleet/history/*").stdout.trim().split('\n').map(Number)
    expect(entryOf(4, done.changeId!)).toMatch(new RegExp(`seq=${Math.max(...seqs)}\n`))
    expect(seqs).toHaveLength(2)
  })
})

describe('pruning and rollback order', () => {
  it('follow the host\'s own sequence, not the operator\'s clock', async () => {
    const { a, b } = inventories(6)
    // A change recorded by an operator whose clock ran ahead (its id sorts after every later one).
    const ahead = '20991231T000000.000Z-eeee'
    onHost(
      host(6),
      `printf 'id=${ahead}\\ntime=x\\naction=apply\\nstatus=confirmed\\nnote=n\\nby=b\\n' > /var/lib/fleet/history/${ahead} && iptables-save > /var/lib/fleet/saved/${ahead}.v4`,
    )
    const beforeB = rulesetOf(host(6))
    const done = report((await run(b, 6, ['--keep', '1'])).stdout)
    expect(done.outcome).toBe('changed')
    expect(onHost(host(6), `ls /var/lib/fleet/history/${done.changeId} /var/lib/fleet/saved/${done.changeId}.v4`).code).toBe(0)
    const back = await fleet(['rollback', '-i', a, '--limit', host(6), '--json', '--confirm-timeout', '3'])
    expect(report(back.stdout).outcome).toBe('changed')
    expect(rulesetOf(host(6))).toBe(beforeB)
  })
})
