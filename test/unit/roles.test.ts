// Roles are zx task lists run against a recording `$`: what they record, what they refuse, and
// that nothing a role writes runs on the operator's machine.
import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { inputAllow, inputAllow6 } from '../../roles/common/input-allow.ts'
import router from '../../roles/router.ts'
import { InputError } from '../../src/inventory/errors.ts'
import type { HostSpec } from '../../src/inventory/types.ts'
import { buildRuleset, renderRestoreDocument } from '../../src/render/ruleset.ts'
import { baselineOf } from '../../src/render/baseline.ts'
import { parseIptables, RoleError } from '../../src/roles/iptables-line.ts'
import type { Role, RoleContext, RoleTask } from '../../src/roles/types.ts'

const HOST: HostSpec = {
  name: 'web01',
  address: '198.18.0.11',
  role: 'test',
  network: { internal: '198.18.0.0/24', interface: 'eth0', services: { tcp: [22, 80], udp: [] } },
  ssh: { host: {}, defaults: {} },
  where: 'inv.yaml:3:3',
  roleWhere: 'inv.yaml:5:11',
  preserve: [],
  persist: false,
  otherFirewalls: 'refuse',
}

const common = { inputAllow, inputAllow6 }
let n = 0
// Each role object is its own cache entry: tests do not see each other's evaluations.
const baseline = (tasks: (ctx: RoleContext) => readonly (RoleTask | readonly RoleTask[])[], host: HostSpec = HOST) =>
  baselineOf(host, { role: { description: `test ${n++}`, tasks } satisfies Role, file: '/roles/test.ts', common })

async function roleError(tasks: (ctx: RoleContext) => readonly RoleTask[]): Promise<string> {
  const error = await baseline(tasks).then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(error).toBeInstanceOf(InputError)
  return String(error)
}

describe('a role as a zx task list', () => {
  it('records iptables and ip6tables commands as ruleset lines, in order, and the task titles', async () => {
    const b = await baseline(({ task, need, ports }) => [
      task('serve', async ($) => {
        await $`iptables -A INPUT -p tcp -m multiport --dports ${ports(need('services').tcp)} -j ACCEPT`
        await $`ip6tables -A INPUT -p tcp --dport ${22} -j ACCEPT`
      }),
      task('drop', async ($) => {
        await $`iptables -A INPUT -s ${need('internal')} -m comment --comment ${'from the LAN, on purpose'} -j ACCEPT`
        await $`iptables -P INPUT DROP`
      }),
    ])
    expect(b.tasks).toEqual(['serve', 'drop'])
    expect(b.document).toContain(
      ':INPUT DROP [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n-A INPUT -p tcp -m multiport --dports 22,80 -j ACCEPT\n-A INPUT -s 198.18.0.0/24 -m comment --comment "from the LAN, on purpose" -j ACCEPT\n',
    )
    expect(b.document6).toContain('-A INPUT -p tcp --dport 22 -j ACCEPT\n')
    expect(b.commands).toEqual([])
  })

  it('turns ensure() into a checked host setting, titled by its task', async () => {
    const b = await baseline(({ task, ensure }) => [
      task('forward', async ($) => {
        await ensure({ check: $`sysctl -n net.ipv4.ip_forward`, want: 1, run: $`sysctl -q -w ${'net.ipv4.ip_forward=1'}`, undo: $`tee /proc/sys/net/ipv4/ip_forward` })
      }),
      task('log', async ($) => {
        await ensure({ check: $`sysctl -n net.ipv4.conf.all.log_martians`, want: 1, run: $`sysctl -q -w net.ipv4.conf.all.log_martians=1`, undo: 'keep' })
      }),
    ])
    expect(b.commands).toEqual([
      { kind: 'command', title: 'forward', check: 'sysctl -n net.ipv4.ip_forward', want: '1', run: 'sysctl -q -w net.ipv4.ip_forward=1', undo: 'tee /proc/sys/net/ipv4/ip_forward' },
      { kind: 'command', title: 'log', check: 'sysctl -n net.ipv4.conf.all.log_martians', want: '1', run: 'sysctl -q -w net.ipv4.conf.all.log_martians=1' },
    ])
  })

  it('runs nothing on this machine: not the commands, not ensure(), not an awaited one', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'fleet-role-'))
    const marker = path.join(dir, 'ran')
    await baseline(({ task, ensure }) => [
      task('touch', async ($) => {
        const out = await $`touch ${marker}; echo hello`
        expect((out as { stdout: string }).stdout).toBe('')
        await ensure({ check: $`touch ${marker}`, want: 'x', run: $`touch ${marker}`, undo: $`touch ${marker}` })
      }),
    ]).catch(() => {})
    expect(existsSync(marker)).toBe(false)
  })

  it('is evaluated once for hosts with the same network values', async () => {
    let runs = 0
    const role: Role = { description: 'counting', tasks: ({ task }) => [task('t', async ($) => void (runs++, await $`iptables -A INPUT -j ACCEPT`))] }
    const loaded = { role, file: '/roles/count.ts', common }
    await baselineOf(HOST, loaded)
    await baselineOf({ ...HOST, name: 'web02', address: '198.18.0.12' }, loaded)
    expect(runs).toBe(1)
    await baselineOf({ ...HOST, network: { ...HOST.network, internal: '198.18.1.0/24' } }, loaded)
    expect(runs).toBe(2)
  })
})

describe('role errors: one line naming the role file and the task', () => {
  it.each([
    ['a bare command', ($: any) => $`hostname`, /: task "t": "hostname" is neither an iptables\/ip6tables line nor a host setting; a setting is ensure/],
    ['an insert', ($: any) => $`iptables -I INPUT 1 -j ACCEPT`, /got "-I"/],
    ['an unmanaged table', ($: any) => $`iptables -t security -A INPUT -j ACCEPT`, /not "security"/],
    ['a bad policy', ($: any) => $`iptables -P INPUT REJECT`, /ACCEPT or DROP/],
    ['a pipe in a rule', ($: any) => $`iptables -A INPUT -j ACCEPT | tee x`, /shell operator "\|"/],
    ['a glob in a rule', ($: any) => $`iptables -A INPUT -i eth* -j ACCEPT`, /glob character/],
    ['a quote iptables-restore cannot carry', ($: any) => $`iptables -A INPUT -m comment --comment ${'say "hi"'} -j ACCEPT`, /cannot carry the value "say \\"hi\\""/],
    ['a newline', ($: any) => $`iptables -A INPUT -m comment --comment ${'two\nlines'} -j ACCEPT`, /cannot carry/],
    ['a zx option that changes how it runs', ($: any) => $({ cwd: '/tmp' })`iptables -A INPUT -j ACCEPT`, /zx option cwd cannot be used in a role/],
    ['a new prefix', ($: any) => ($.prefix = 'set -e;'), /cannot set zx's \$.prefix/],
    ["zx's sync mode", ($: any) => $.sync`iptables -A INPUT -j ACCEPT`, /sync mode/],
    ['a kill', async ($: any) => { const p = $`iptables -A INPUT -j ACCEPT`; await p.kill(); await p }, /cannot kill a command/],
    ['an empty port list', ($: any, ctx: RoleContext) => $`iptables -A INPUT -p tcp -m multiport --dports ${ctx.ports([])} -j ACCEPT`, /empty port list/],
    ['16 ports', ($: any, ctx: RoleContext) => $`iptables -A INPUT -p tcp -m multiport --dports ${ctx.ports(Array.from({ length: 16 }, (_, i) => i + 1))} -j ACCEPT`, /at most 15/],
    ['a setting with a ; in it', ($: any, ctx: RoleContext) => ctx.ensure({ check: $`sysctl -n a.b; reboot`, want: '1', run: $`sysctl -w a.b=1`, undo: 'keep' }), /ensure\(\{ check \}\): the shell operator ";"/],
    ['a setting made of strings', ($: any, ctx: RoleContext) => ctx.ensure({ check: 'sysctl -n a.b' as any, want: '1', run: $`sysctl -w a.b=1`, undo: 'keep' }), /takes a command written with this task's \$/],
    ['a want with a newline', ($: any, ctx: RoleContext) => ctx.ensure({ check: $`cat /etc/x`, want: 'a\nb', run: $`true`, undo: 'keep' }), /one line without surrounding blanks/],
    ['a setting without an undo', ($: any, ctx: RoleContext) => ctx.ensure({ check: $`cat /etc/x`, want: 'a', run: $`true` } as any), /ensure\(\{ undo \}\) is missing: .*or undo: 'keep'/],
    ['an undo made of a string', ($: any, ctx: RoleContext) => ctx.ensure({ check: $`cat /etc/x`, want: 'a', run: $`true`, undo: 'tee /etc/x' as any }), /ensure\(\{ undo \}\) takes a command written with this task's \$/],
  ])('%s', async (_name, body, message) => {
    const text = await roleError((ctx) => [ctx.task('t', async ($) => void (await body($, ctx)))])
    expect(text).toMatch(message)
    // The role file; its line comes from tsx's source maps, which a role written in this test
    // file has none of (test/unit/role-faults.test.ts has real role files).
    expect(text).toMatch(/^\/roles\/test\.ts: role test for host web01: task "t"[: ]/)
    expect(text.split('\n')).toHaveLength(1)
  })

  it('ensure() outside a task body', async () => {
    const text = await roleError((ctx) => {
      void ctx.ensure({} as never)
      return []
    })
    expect(text).toMatch(/ensure\(\) belongs inside a task body/)
  })

  it('something that is not a task', async () => {
    expect(await roleError(() => [{ title: 'x' } as never])).toMatch(/^\/roles\/test\.ts: role test for host web01: returned something fleet cannot use \(tasks made with ctx.task/)
  })

  it("a fault of the role's own code, in a task body", async () => {
    const text = await roleError(({ task }) => [task('t', async () => void (null as unknown as { x: number }).x)])
    expect(text).toMatch(/^\/roles\/test\.ts: role test for host web01: task "t" threw TypeError: Cannot read properties of null/)
  })

  it('a missing value is reported at the host, before what the placeholder caused', async () => {
    const text = await roleError(({ task, need }) => [task('t', async ($) => void (await $`iptables -A INPUT -i ${need('lan.interface')} -j ACCEPT`))])
    expect(text).toBe("inv.yaml:3:3: host web01: role test needs network.lan.interface (the router's LAN interface); set it under hosts.web01.network or defaults.network")
  })
})

// What `$` records is handed to the host's /bin/sh (dash on Debian) as it is: a hostile value must
// arrive as the literal string, never as syntax.
describe('hostile values through a role $ reach dash literally', () => {
  const HOSTILE = [
    "'; echo INJECTED #",
    'a b',
    '$HOME',
    '`id`',
    '$(id)',
    '"quoted"',
    "it's",
    'a\nb',
    'back\\slash',
    '; reboot',
    '&& reboot',
    '| cat',
    '*',
    '/et?/pass[w]d',
    '~root',
    '#comment',
    '',
    '-n',
    "$'x'",
  ]
  it.each(HOSTILE)('%j', async (value) => {
    const b = await baseline(({ task, ensure }) => [
      task('echo', async ($) => void (await ensure({ check: $`printf '%s\\n' ${value}`, want: 'x', run: $`printf '%s\\n' ${value} ${value}`, undo: 'keep' }))),
    ])
    for (const [command, expected] of [[b.commands[0]!.check, `${value}\n`], [b.commands[0]!.run, `${value}\n${value}\n`]] as const) {
      const run = spawnSync('dash', ['-c', command], { encoding: 'utf8', cwd: '/' })
      expect(run.stderr).toBe('')
      expect(run.stdout).toBe(expected)
    }
  })
})

describe('the iptables line reader', () => {
  it.each([
    ['-t raw -A PREROUTING -d 203.0.113.10 -p tcp --dport 80 -j NOTRACK', { family: 'ipv4', kind: 'rule', table: 'raw', chain: 'PREROUTING', spec: ['-d', '203.0.113.10', '-p', 'tcp', '--dport', '80', '-j', 'NOTRACK'] }],
    ["ip6tables -A INPUT -m comment --comment 'a b' -j ACCEPT", { family: 'ipv6', kind: 'rule', table: 'filter', chain: 'INPUT', spec: ['-m', 'comment', '--comment', 'a b', '-j', 'ACCEPT'] }],
    ['iptables -N LOGDROP', { family: 'ipv4', kind: 'chain', table: 'filter', chain: 'LOGDROP' }],
  ])('%s', (text, line) => {
    expect(parseIptables(text)).toEqual(line)
  })

  it('refuses shell syntax it cannot place', () => {
    expect(() => parseIptables('-A INPUT -s $NET -j ACCEPT')).toThrow(RoleError)
    expect(() => parseIptables('-A INPUT -j ACCEPT; reboot')).toThrow(/shell operator ";"/)
  })
})

describe('the shipped router role', () => {
  it('needs its values and names them', async () => {
    const error = await baselineOf({ ...HOST, role: 'router' }, { role: router, file: '/roles/router.ts', common }).catch((e: unknown) => e)
    expect(String(error)).toMatch(/role router needs network.wan.interface .*network.lan.interface .*network.wan.address .*network.egress/)
  })
})

describe('ruleset rendering', () => {
  it('writes every managed table, even empty ones, with policies and user chains', () => {
    const doc = renderRestoreDocument(
      buildRuleset([
        parseIptables('-P INPUT DROP'),
        parseIptables('-N LOGDROP'),
        parseIptables('-A LOGDROP -m comment --comment "dropped here" -j DROP'),
        parseIptables('-A INPUT -j LOGDROP'),
      ]),
      'test',
    )
    expect(doc).toBe(
      [
        '# test',
        '*raw', ':PREROUTING ACCEPT [0:0]', ':OUTPUT ACCEPT [0:0]', 'COMMIT',
        '*mangle', ':PREROUTING ACCEPT [0:0]', ':INPUT ACCEPT [0:0]', ':FORWARD ACCEPT [0:0]', ':OUTPUT ACCEPT [0:0]', ':POSTROUTING ACCEPT [0:0]', 'COMMIT',
        '*nat', ':PREROUTING ACCEPT [0:0]', ':INPUT ACCEPT [0:0]', ':OUTPUT ACCEPT [0:0]', ':POSTROUTING ACCEPT [0:0]', 'COMMIT',
        '*filter', ':INPUT DROP [0:0]', ':FORWARD ACCEPT [0:0]', ':OUTPUT ACCEPT [0:0]', ':LOGDROP - [0:0]',
        '-A INPUT -j LOGDROP', '-A LOGDROP -m comment --comment "dropped here" -j DROP', 'COMMIT',
        '',
      ].join('\n'),
    )
  })

  it('refuses a rule in a chain nobody declared', () => {
    expect(() => buildRuleset([parseIptables('-A NOCHAIN -j DROP')])).toThrow(/neither has nor declares/)
  })
})
