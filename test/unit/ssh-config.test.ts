// ssh_config reading where `ssh -G` cannot be the reference: the system file after the user's,
// relative Include paths, and what fleet refuses (Match exec, bad lines), each with its file:line.
import { describe, expect, it } from 'vitest'
import { parseProxyJump } from '../../src/ssh/proxy-jump.ts'
import { readSshConfig, type ConfigQuery } from '../../src/ssh/ssh-config.ts'
import { splitArgs, splitConfigLine } from '../../src/ssh/ssh-config-syntax.ts'
import { expandTokens } from '../../src/ssh/ssh-tokens.ts'
import { memoryFiles } from '../helpers/memory-files.ts'

const USER = { file: '/home/op/.ssh/config', system: false }
const SYSTEM = { file: '/etc/ssh/ssh_config', system: true }
const query = (alias: string, more: Partial<ConfigQuery> = {}): ConfigQuery => ({ alias, home: '/home/op', localUser: 'op', ...more })
const read = (tree: Record<string, string>, alias: string, more: Partial<ConfigQuery> = {}) => readSshConfig([USER, SYSTEM], memoryFiles(tree), query(alias, more))

describe('lines as OpenSSH splits them', () => {
  it.each([
    ['Port 22', { keyword: 'port', args: ['22'] }],
    ['  port=22', { keyword: 'port', args: ['22'] }],
    ['Port = 22', { keyword: 'port', args: ['22'] }],
    ['IdentityFile "/a b/key" # note', { keyword: 'identityfile', args: ['/a b/key'] }],
    ["UserKnownHostsFile '/x y' /z\\ w", { keyword: 'userknownhostsfile', args: ['/x y', '/z w'] }],
    ['User a#b', { keyword: 'user', args: ['a#b'] }],
  ])('%s', (line, expected) => {
    expect(splitConfigLine(line)).toMatchObject(expected)
  })

  it.each(['', '   ', '# Port 22', '\t# comment'])('%j is nothing', (line) => {
    expect(splitConfigLine(line)).toBeNull()
  })

  it('refuses a keyword without a value and an open quote', () => {
    expect(splitConfigLine('Port')).toEqual({ error: 'no argument after keyword "Port"' })
    expect(splitConfigLine('User "alice')).toEqual({ error: 'invalid quotes' })
    expect(splitArgs('"a')).toBeUndefined()
  })
})

describe('the user file, then the system file', () => {
  const tree = {
    '/home/op/.ssh/config': 'Host web01\n  User alice\n',
    '/etc/ssh/ssh_config': 'Include /etc/ssh/ssh_config.d/*.conf\nHost *\n  User sys\n  Port 2200\n',
    '/etc/ssh/ssh_config.d/50-site.conf': 'Host web*\n  ProxyJump bastion\n  IdentityFile /etc/ssh/site_key\n',
    '/etc/ssh/ssh_config.d/README': 'Host *\n  Port 1\n',
  }

  it('takes the first value found: the user file wins, the system file fills in', () => {
    const v = read(tree, 'web01')
    expect(v.user).toEqual({ value: 'alice', where: '/home/op/.ssh/config:2' })
    expect(v.port).toEqual({ value: 2200, where: '/etc/ssh/ssh_config:4' })
    expect(v.proxyJump).toEqual({ value: { kind: 'hops', hops: [{ host: 'bastion' }] }, where: '/etc/ssh/ssh_config.d/50-site.conf:2' })
    expect(v.identityFiles).toEqual([{ value: '/etc/ssh/site_key', where: '/etc/ssh/ssh_config.d/50-site.conf:3' }])
  })

  it('lets values given like the command line win, and Match see them', () => {
    const v = read({ '/home/op/.ssh/config': 'Match user deploy\n  Port 2022\nHost *\n  User other\n  HostName 192.0.2.1\n' }, 'web01', {
      user: 'deploy',
      hostName: '198.51.100.9',
    })
    expect(v).toMatchObject({ user: { value: 'deploy' }, hostName: { value: '198.51.100.9' }, port: { value: 2022 } })
  })

  it('reads nothing that is not there', () => {
    expect(read({}, 'web01')).toEqual({ identityFiles: [] })
  })
})

describe('Include paths', () => {
  it('anchors relative paths at ~/.ssh in the user file and at /etc/ssh in the system file', () => {
    const v = read(
      {
        '/home/op/.ssh/config': 'Include conf.d/*\nInclude ~/extra\n',
        '/home/op/.ssh/conf.d/a': 'IdentityFile /k/a\n',
        '/home/op/extra': 'IdentityFile /k/extra\n',
        '/etc/ssh/ssh_config': 'Include sys.conf\n',
        '/etc/ssh/sys.conf': 'IdentityFile /k/sys\n',
      },
      'h',
    )
    expect(v.identityFiles.map((f) => f.value)).toEqual(['/k/a', '/k/extra', '/k/sys'])
  })

  it('refuses "~" in the system file, and an Include that includes itself', () => {
    expect(() => read({ '/etc/ssh/ssh_config': 'Include ~/x\n' }, 'h')).toThrow(/bad include path ~\/x/)
    expect(() => read({ '/home/op/.ssh/config': 'Include /home/op/.ssh/config\n' }, 'h')).toThrow(/Include nested more than 16 deep/)
  })
})

describe('a directory where ssh_config takes a file', () => {
  // OpenSSH (9.2) opens a directory and reads nothing from it, silently: the settings meant to be
  // there are simply missing. fleet says where.
  const confD = { '/home/op/.ssh/conf.d/web.conf': 'Host web01\n  Port 2201\n', '/home/op/.ssh/conf.d/old/x.conf': 'Port 1\n' }

  it.each([
    ['an absolute Include', 'Include /home/op/.ssh/conf.d\n'],
    ['a relative Include', 'Host *\n  Port 22\nInclude conf.d\n'],
    ['an Include in a block that does not match', 'Host nothing\n  Include ~/.ssh/conf.d\n'],
  ])('%s: refused at its line, with the pattern that was meant', (_name, text) => {
    const line = text.split('\n').findIndex((l) => l.includes('Include')) + 1
    const error = (() => {
      try {
        read({ '/home/op/.ssh/config': text, ...confD }, 'web01')
      } catch (e) {
        return e as { where: string; message: string }
      }
      return undefined
    })()
    expect(error?.where).toBe(`/home/op/.ssh/config:${line}`)
    expect(error?.message).toMatch(/^Include \S+: \/home\/op\/\.ssh\/conf\.d is a directory; Include reads files \(\S*conf\.d\/\* for the files in it\)$/)
  })

  it('refuses the user file or the system file being a directory, naming it', () => {
    expect(() => read(confD, 'web01', {})).not.toThrow()
    expect(() => read({ '/home/op/.ssh/config/x': '' }, 'web01')).toThrow(
      expect.objectContaining({ where: '/home/op/.ssh/config', message: 'is a directory, not an ssh_config file' }),
    )
    expect(() => read({ '/etc/ssh/ssh_config/x': '' }, 'web01')).toThrow(expect.objectContaining({ where: '/etc/ssh/ssh_config' }))
  })

  it('reads the files a wildcard Include matches, and passes over the directories among them, as ssh reads nothing from them', () => {
    expect(read({ '/home/op/.ssh/config': 'Include conf.d/*\n', ...confD }, 'web01').port?.value).toBe(2201)
  })

  it('refuses a config file the inventory names that does not exist, as ssh -F does', () => {
    const named = (tree: Record<string, string>) => readSshConfig([{ ...USER, named: true }, SYSTEM], memoryFiles(tree), query('web01'))
    expect(() => named({})).toThrow(expect.objectContaining({ where: '/home/op/.ssh/config', message: expect.stringMatching(/^no such file .*ssh -F/) }))
    expect(named({ '/home/op/.ssh/config': 'Port 2203\nInclude conf.d/missing.conf\n' }).port?.value).toBe(2203)
  })

  it('stays silent about files that do not exist, as ssh does', () => {
    expect(read({ '/home/op/.ssh/config': 'Include conf.d/missing.conf\nInclude /nowhere/*\nPort 2202\n' }, 'web01').port?.value).toBe(2202)
    expect(read({}, 'web01').port).toBeUndefined()
  })
})

describe('Match: what fleet evaluates and what it refuses', () => {
  const config = (text: string) => ({ '/home/op/.ssh/config': text })

  it('refuses Match exec where ssh would run it, naming the line', () => {
    expect(() => read(config('Host *\n  Port 22\nMatch exec "test -f /x"\n  User x\n'), 'web01')).toThrow(
      expect.objectContaining({ where: '/home/op/.ssh/config:3', message: expect.stringMatching(/Match exec is not supported/) }),
    )
  })

  it('skips Match exec after a criterion that failed, as ssh skips running it', () => {
    expect(read(config('Match host db* exec "false"\n  User x\n'), 'web01').user).toBeUndefined()
  })

  it('skips Match exec in a file included where nothing matches', () => {
    const tree = { ...config('Host nothing\n  Include /inc\n'), '/inc': 'Match exec true\n  User x\n' }
    expect(read(tree, 'web01').user).toBeUndefined()
  })

  it.each([
    ['Match tagged x\n', /Match tagged is not supported/],
    ['Match localnetwork 10.0.0.0/8\n', /Match localnetwork is not supported/],
    ['Match host\n', /Match host needs an argument/],
    ['Match all host x\n', /cannot be combined/],
    ['Match\n', /no argument after keyword "Match"/],
  ])('refuses %j', (text, message) => {
    expect(() => read(config(text), 'web01')).toThrow(message)
  })
})

describe('values fleet checks', () => {
  it.each([
    ['Port 70000', /Port: expected a port number/],
    ['Port ssh', /Port: expected a port number/],
    ['IdentitiesOnly maybe', /expected yes or no/],
    ['ConnectTimeout soon', /expected a time/],
    ['HostName %x.lan', /HostName: unknown token %x/],
    ['Host nomatch\n  ProxyJump bad host', /ProxyJump: expected jump hosts/],
  ])('%s', (line, message) => {
    expect(() => read({ '/home/op/.ssh/config': `${line}\n` }, 'web01')).toThrow(message)
  })

  it('reads ConnectTimeout with units', () => {
    expect(read({ '/home/op/.ssh/config': 'ConnectTimeout 1m30s\n' }, 'h').connectTimeout?.value).toBe(90)
  })
})

describe('ProxyJump values', () => {
  it.each([
    ['bastion', [{ host: 'bastion' }]],
    ['admin@bastion:2200', [{ host: 'bastion', user: 'admin', port: 2200 }]],
    ['ssh://admin@bastion:2200/', [{ host: 'bastion', user: 'admin', port: 2200 }]],
    ['a,b@c,[2001:db8::1]:22', [{ host: 'a' }, { host: 'c', user: 'b' }, { host: '2001:db8::1', port: 22 }]],
    ['u@v@h', [{ host: 'h', user: 'u@v' }]],
  ])('%s', (value, hops) => {
    expect(parseProxyJump(value)).toEqual({ kind: 'hops', hops })
  })

  it.each(['none', 'NONE', 'none # off'])('%s is no jump', (value) => {
    expect(parseProxyJump(value)).toEqual({ kind: 'none' })
  })

  it.each(['a, b', 'a,,b', '@h', 'h:0', 'h:x', '2001:db8::1', 'http://h', ''])('refuses %j', (value) => {
    expect(typeof parseProxyJump(value)).toBe('string')
  })
})

describe('tokens in file names', () => {
  const context = { home: '/home/op', localUser: 'op', localHost: 'ops.example', uid: 1000, alias: 'web', remoteHost: '198.18.0.11', remoteUser: 'root', port: 22, env: { SITE: 'lab' } }

  it('expands ~, %-tokens and ${ENV}', () => {
    expect(expandTokens('~/kh/%h-%p-%r-%u-%n-%L-%l-%i-%%-${SITE}', context)).toBe('/home/op/kh/198.18.0.11-22-root-op-web-ops-ops.example-1000-%-lab')
  })

  it('refuses an unknown token and an unset variable', () => {
    expect(expandTokens('%j', context)).toEqual({ error: 'unknown token %j' })
    expect(expandTokens('${NOPE}/x', context)).toEqual({ error: 'environment variable ${NOPE} is not set' })
  })
})
