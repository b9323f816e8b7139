// fleet's ssh_config reading against OpenSSH's own: for each config and host, what `ssh -G`
// prints (ssh's resolution, without connecting) must be what readSshConfig finds.
import { execFileSync, spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { diskFiles } from '../../src/ssh/local-environment.ts'
import { formatHops, parseProxyJump } from '../../src/ssh/proxy-jump.ts'
import { lowerName, readSshConfig } from '../../src/ssh/ssh-config.ts'
import { expandTokens } from '../../src/ssh/ssh-tokens.ts'

const hasSsh = spawnSync('ssh', ['-V']).status === 0
const dir = mkdtempSync(path.join(os.tmpdir(), 'fleet-ssh-g-'))
const me = os.userInfo()
const local = { home: me.homedir, localUser: me.username, localHost: os.hostname(), uid: me.uid, env: process.env }

mkdirSync(path.join(dir, 'conf.d'))
writeFileSync(path.join(dir, 'conf.d/10-web.conf'), 'Host web*\n  User fromd10\n  Port 2210\n')
writeFileSync(path.join(dir, 'conf.d/20-all.conf'), 'User fromd20\nIdentityFile /keys/d20\n')
writeFileSync(path.join(dir, 'conf.d/.hidden.conf'), 'User hidden\n')
writeFileSync(path.join(dir, 'never.conf'), 'User never\nHost *\n  Port 9999\n')
writeFileSync(path.join(dir, 'nested.conf'), `IdentityFile /keys/nested\nMatch user nobody\n  Port 1111\nInclude ${dir}/conf.d/20-all.conf\n`)

interface Case {
  readonly title: string
  readonly config: string
  readonly hosts: readonly (string | { alias: string; user?: string; hostName?: string })[]
}

const cases: Case[] = [
  {
    title: 'Host blocks, first value wins, negation, wildcards',
    config: `
# a comment
Host web01 web02
  HostName 198.18.0.11
  User first
Host web* !web03
  User second
  Port 2222
  IdentityFile ~/.ssh/web_key
Host *
  User last
  Port 22
  IdentityFile ~/.ssh/id_all
  ConnectTimeout 7
`,
    hosts: ['web01', 'web02', 'web03', 'db01', 'WEB01'],
  },
  {
    title: 'key=value, quoting, comments after values, odd spacing',
    config: `
Host "quoted host" q
\tHostName=%h.example.net
  User = alice   # who
  Port=2200
  IdentityFile "/keys/with space"
  IdentityFile /keys/two
  IdentityFile /keys/two
  UserKnownHostsFile "/kh/a b" /kh/c
`,
    hosts: ['q', 'other'],
  },
  {
    title: 'Include, conditional inside Host, globs, dot files skipped',
    config: `
Host web*
  Include ${dir}/conf.d/*.conf
Host db*
  Include ${dir}/never.conf ${dir}/missing.conf
Host *
  Include ${dir}/conf.d/20-all.conf
  Port 22
`,
    hosts: ['web01', 'db01', 'mail01'],
  },
  {
    title: 'nested Include, a Match in an included file leaves the including block as it was',
    config: `
Host !web01
Host web*
  Include ${dir}/nested.conf
  User afterinclude
HOSTNAME %h.lan
`,
    hosts: ['web01', { alias: 'web02', user: 'nobody' }, 'db01'],
  },
  {
    title: 'Match host, originalhost, user, localuser, all, negation',
    config: `
Host alias1
  HostName 198.51.100.7
Match host 198.51.100.7
  User byaddress
Match originalhost alias*,!alias3 user byaddress
  Port 2001
Match !host 198.51.100.* localuser ${me.username}
  IdentityFile /keys/local-%r
Match user root
  ConnectTimeout 1m30s
Match all
  Port 2999
`,
    hosts: ['alias1', 'alias2', 'alias3', { alias: 'alias2', user: 'root' }, { alias: 'x', hostName: '198.51.100.7' }],
  },
  {
    title: 'Match final and canonical: a second pass on the resolved name',
    config: `
Host box
  HostName Box.Example.Net
Match final host box.example.net
  User finaluser
Host box.example.net
  Port 2300
Match canonical
  IdentityFile /keys/canonical
Match !final
  ConnectTimeout 5
`,
    hosts: ['box', 'other'],
  },
  {
    title: 'ProxyJump forms and ProxyCommand, whichever comes first',
    config: `
Host one
  ProxyJump router01
Host two
  ProxyJump admin@router01:2200,ssh://web01:2222
Host pc-first
  ProxyCommand nc %h %p # raw
  ProxyJump ignored
Host pj-none
  ProxyJump none
  ProxyCommand ignored
Host pc-none
  ProxyCommand none
  ProxyJump ignored
Host pj-none-pj
  ProxyJump none
  ProxyJump ignored
Host pj-pc-none
  ProxyJump router01
  ProxyCommand none
  ProxyCommand ignored
Host *
  ProxyJump fallback
`,
    hosts: ['one', 'two', 'pc-first', 'pj-none', 'pc-none', 'pj-none-pj', 'pj-pc-none', 'other'],
  },
  {
    title: 'known hosts files with tokens, global files, IdentitiesOnly',
    config: `
Host kh
  HostName 192.0.2.9
  User bob
  Port 2201
  UserKnownHostsFile ~/kh/%h-%p-%r %d/%u/%n/%k/%l/%L/%i /abs/%C %%lit \${HOME}/env
  GlobalKnownHostsFile /etc/fleet/global1 /etc/fleet/global2
  IdentitiesOnly yes
Host alias
  HostKeyAlias myalias
  UserKnownHostsFile /kh/%k-%n
Host none
  UserKnownHostsFile none
  GlobalKnownHostsFile none
  IdentitiesOnly no
`,
    hosts: ['kh', 'alias', 'none', 'plain'],
  },
]

function sshG(config: string, host: Case['hosts'][number]): Map<string, string[]> {
  const q = typeof host === 'string' ? { alias: host } : host
  const args = ['-G', '-F', config, ...(q.user ? ['-l', q.user] : []), ...(q.hostName ? ['-o', `HostName=${q.hostName}`] : []), q.alias]
  const out = execFileSync('ssh', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
  const values = new Map<string, string[]>()
  for (const line of out.split('\n')) {
    const space = line.indexOf(' ')
    if (space > 0) values.set(line.slice(0, space), [...(values.get(line.slice(0, space)) ?? []), line.slice(space + 1)])
  }
  return values
}

// What fleet finds, printed the way ssh -G prints it.
function fleetG(config: string, host: Case['hosts'][number]): Record<string, string | string[] | undefined> {
  const q = typeof host === 'string' ? { alias: host } : host
  const v = readSshConfig([{ file: config, system: false }], diskFiles, { ...q, home: local.home, localUser: local.localUser })
  const hostname = lowerName(v.hostName?.value ?? q.alias)
  const user = v.user?.value ?? local.localUser
  const port = v.port?.value ?? 22
  const tokens = { ...local, alias: q.alias, remoteHost: hostname, remoteUser: user, port, ...(v.hostKeyAlias && { hostKeyAlias: v.hostKeyAlias.value }) }
  const expand = (f: string) => {
    const e = expandTokens(f, tokens)
    return typeof e === 'string' ? e : e.error
  }
  const jump = v.proxyJump?.value
  return {
    hostname,
    user,
    port: String(port),
    identityfile: v.identityFiles.length > 0 ? v.identityFiles.map((f) => f.value) : undefined,
    identitiesonly: v.identitiesOnly?.value ? 'yes' : 'no',
    proxyjump: jump?.kind === 'hops' ? formatHops(jump.hops) : undefined,
    proxycommand: v.proxyCommand && v.proxyCommand.value !== 'none' ? v.proxyCommand.value : undefined,
    userknownhostsfile: (v.userKnownHostsFiles?.value ?? ['~/.ssh/known_hosts', '~/.ssh/known_hosts2']).map((f) => (f === 'none' ? f : expand(f))).join(' '),
    globalknownhostsfile: (v.globalKnownHostsFiles?.value ?? ['/etc/ssh/ssh_known_hosts', '/etc/ssh/ssh_known_hosts2']).join(' '),
    connecttimeout: v.connectTimeout ? String(v.connectTimeout.value) : 'none',
    hostkeyalias: v.hostKeyAlias?.value,
  }
}

function asPrinted(values: Map<string, string[]>, fleet: ReturnType<typeof fleetG>): Record<string, string | string[] | undefined> {
  const one = (key: string) => values.get(key)?.[0]
  const jump = one('proxyjump')
  const parsed = jump === undefined ? undefined : parseProxyJump(jump)
  return {
    hostname: one('hostname'),
    user: one('user'),
    port: one('port'),
    // ssh lists its default key files when none is configured; fleet then uses its own defaults.
    identityfile: fleet.identityfile === undefined && values.get('identityfile')?.includes('~/.ssh/id_rsa') ? undefined : values.get('identityfile'),
    identitiesonly: one('identitiesonly'),
    // ssh prints a chain as written and a single hop normalised; both compare as parsed hops.
    proxyjump: parsed && typeof parsed !== 'string' && parsed.kind === 'hops' ? formatHops(parsed.hops) : jump,
    proxycommand: one('proxycommand'),
    userknownhostsfile: one('userknownhostsfile'),
    globalknownhostsfile: one('globalknownhostsfile'),
    connecttimeout: one('connecttimeout'),
    hostkeyalias: one('hostkeyalias'),
  }
}

describe.skipIf(!hasSsh)('ssh_config as `ssh -G` resolves it', () => {
  cases.forEach((c, i) => {
    const file = path.join(dir, `config-${i}`)
    writeFileSync(file, c.config)
    for (const host of c.hosts) {
      const label = typeof host === 'string' ? host : JSON.stringify(host)
      it(`${c.title}: ${label}`, () => {
        const fleet = fleetG(file, host)
        expect(fleet).toEqual(asPrinted(sshG(file, host), fleet))
      })
    }
  })
})
