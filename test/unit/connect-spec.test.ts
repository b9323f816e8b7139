// How a host is reached: the inventory's own values (like ssh's command line), then ssh_config
// (the user's file, then the system's), then the inventory defaults; ProxyJump hops resolved in
// turn through the same files.
import { describe, expect, it } from 'vitest'
import { InputError } from '../../src/inventory/errors.ts'
import { loadInventory } from '../../src/inventory/load.ts'
import { connectSpecs, type ConnectSpec, type LocalEnvironment } from '../../src/ssh/connect-spec.ts'
import { memoryFiles } from '../helpers/memory-files.ts'

const HOME = '/home/op'
const DIR = '/srv/fleet'

function specsFor(inventory: string, files: Record<string, string>, env: Record<string, string> = {}): Map<string, ConnectSpec> {
  const local: LocalEnvironment = {
    files: memoryFiles(files),
    systemConfig: '/etc/ssh/ssh_config',
    home: HOME,
    localUser: 'op',
    localHost: 'ops',
    uid: 1000,
    env,
  }
  return connectSpecs(loadInventory(inventory, `${DIR}/inventory.yaml`), local)
}

const NETWORK = 'network: { internal: 198.18.0.0/24, interface: eth0 }'
const inventory = (defaults: string, hosts: string) => `defaults:\n  ssh: ${defaults}\n  ${NETWORK}\nhosts:\n${hosts}`
const host = (name: string, extra = '') => `  ${name}:\n    role: internal-server\n${extra ? `    ${extra}\n` : ''}`
// The chain of names a host is reached through, nearest hop last.
const chain = (spec: ConnectSpec | undefined): string[] => (spec?.jump ? [...chain(spec.jump), spec.jump.name] : [])

describe('inventory, ssh_config, defaults', () => {
  const files = {
    [`${DIR}/extra.conf`]: 'Host db01\n  HostName 203.0.113.40\n  User dbadmin\n  Port 2222\n  IdentityFile ~/.ssh/db_key\n',
    [`${DIR}/ssh_config`]: `Include ${DIR}/extra.conf\n\nHost *\n  User nobody-from-config\n`,
  }
  const specs = specsFor(
    inventory(
      '{ user: root, identity: ./keys/fleet, knownHosts: ./known_hosts, config: ./ssh_config }',
      `  router01:\n    address: 198.51.100.2\n    role: internal-server\n    ssh: { user: admin, port: 2200 }\n` +
        host('db01', 'ssh: { jump: router01 }') +
        `  web01:\n    address: 203.0.113.11\n    role: internal-server\n    ssh: { jump: router01 }\n`,
    ),
    files,
  )

  it('takes what the host says over ssh_config', () => {
    expect(specs.get('router01')).toMatchObject({ address: '198.51.100.2', port: 2200, user: 'admin', identityFiles: [`${DIR}/keys/fleet`] })
  })

  it('resolves a host named only by an alias through ssh_config, Include included', () => {
    expect(specs.get('db01')).toMatchObject({
      address: '203.0.113.40',
      port: 2222,
      user: 'dbadmin',
      identityFiles: [`${HOME}/.ssh/db_key`],
      knownHostsFiles: [`${DIR}/known_hosts`],
    })
    expect(chain(specs.get('db01'))).toEqual(['router01'])
  })

  it('follows jump hosts that are themselves behind a jump host', () => {
    const chained = specsFor(
      inventory('{}', `  router01:\n    address: 198.51.100.2\n    role: internal-server\n` + host('web01', 'ssh: { jump: router01 }') + host('web02', 'ssh: { jump: web01 }')),
      {},
    )
    expect(chain(chained.get('web02'))).toEqual(['router01', 'web01'])
  })

  it('lets ssh_config win over the inventory defaults, as OpenSSH does', () => {
    expect(specs.get('web01')).toMatchObject({ address: '203.0.113.11', port: 22, user: 'nobody-from-config' })
  })
})

describe('the system ssh_config', () => {
  const files = {
    [`${HOME}/.ssh/config`]: 'Host web01\n  User alice\n',
    '/etc/ssh/ssh_config': 'Include /etc/ssh/ssh_config.d/*.conf\nHost *\n  User nobody\n',
    '/etc/ssh/ssh_config.d/site.conf': 'Host web*\n  Port 2201\n  ConnectTimeout 4\n',
  }

  it('is read after the user file, with its ssh_config.d', () => {
    const specs = specsFor(inventory('{}', host('web01') + host('web02')), files)
    expect(specs.get('web01')).toMatchObject({ user: 'alice', port: 2201, connectTimeoutMs: 4000 })
    expect(specs.get('web02')).toMatchObject({ user: 'nobody', port: 2201 })
  })

  it('is not read with config: none, nor is any other', () => {
    const specs = specsFor(inventory('{ config: none }', host('web01')), files)
    expect(specs.get('web01')).toMatchObject({ user: 'op', port: 22 })
    expect(specs.get('web01')?.connectTimeoutMs).toBeUndefined()
  })
})

describe('ProxyJump', () => {
  const config = (text: string) => ({ [`${HOME}/.ssh/config`]: text })
  const BASTION = 'Host router01-alias\n  HostName 198.51.100.2\n  User jumper\n  Port 2222\n  IdentityFile ~/.ssh/jump_key\n  UserKnownHostsFile ~/.ssh/kh_%h\n'

  it('reaches a host through a hop resolved through ssh_config in turn', () => {
    const specs = specsFor(
      inventory('{ user: root }', `  web01:\n    address: 198.18.0.11\n    role: internal-server\n`),
      config(`Host web01\n  ProxyJump router01-alias\n${BASTION}`),
    )
    expect(specs.get('web01')?.jump).toEqual({
      name: 'router01-alias',
      address: '198.51.100.2',
      port: 2222,
      user: 'jumper',
      identityFiles: [`${HOME}/.ssh/jump_key`],
      identitiesOnly: false,
      knownHostsFiles: [`${HOME}/.ssh/kh_198.51.100.2`],
      globalKnownHostsFiles: ['/etc/ssh/ssh_known_hosts', '/etc/ssh/ssh_known_hosts2'],
    })
  })

  it('takes user@host:port and ssh:// over the hop settings', () => {
    const specs = specsFor(
      inventory('{}', host('web01') + host('web02')),
      config(`Host web01\n  ProxyJump admin@router01-alias:2200\nHost web02\n  ProxyJump ssh://other@router01-alias\n${BASTION}`),
    )
    expect(specs.get('web01')?.jump).toMatchObject({ address: '198.51.100.2', user: 'admin', port: 2200 })
    expect(specs.get('web02')?.jump).toMatchObject({ address: '198.51.100.2', user: 'other', port: 2222 })
  })

  it('follows a chain: the last hop is reached through the ones before it', () => {
    const specs = specsFor(
      inventory('{}', host('web02')),
      config(`Host web02\n  HostName 198.18.0.12\n  ProxyJump router01-alias,web01-alias\nHost web01-alias\n  HostName 198.18.0.11\n${BASTION}`),
    )
    const web02 = specs.get('web02')
    expect(chain(web02)).toEqual(['router01-alias', 'web01-alias'])
    expect(web02?.jump).toMatchObject({ address: '198.18.0.11' })
    expect(web02?.jump?.jump).toMatchObject({ address: '198.51.100.2', user: 'jumper' })
  })

  it("follows a hop's own ProxyJump, as the ssh run for that hop would", () => {
    const specs = specsFor(inventory('{}', host('web02')), config(`Host web02\n  ProxyJump web01-alias\nHost web01-alias\n  ProxyJump router01-alias\n${BASTION}`))
    expect(chain(specs.get('web02'))).toEqual(['router01-alias', 'web01-alias'])
  })

  it('reaches a hop that is an inventory host with its inventory settings', () => {
    const specs = specsFor(
      inventory('{ user: root, identity: ./id }', `  router01:\n    address: 198.51.100.2\n    role: internal-server\n    ssh: { port: 2200 }\n` + host('web01')),
      config('Host web01\n  ProxyJump router01\n'),
    )
    expect(specs.get('web01')?.jump).toMatchObject({ name: 'router01', address: '198.51.100.2', port: 2200, user: 'root', identityFiles: [`${DIR}/id`] })
  })

  it('gives the inventory defaults to hops the inventory does not know', () => {
    const specs = specsFor(inventory('{ user: root, identity: ./id, knownHosts: ./kh }', host('web01')), config('Host web01\n  ProxyJump bastion\n'))
    expect(specs.get('web01')?.jump).toMatchObject({ address: 'bastion', user: 'root', identityFiles: [`${DIR}/id`], knownHostsFiles: [`${DIR}/kh`] })
  })

  it('yields to the jump the host names in the inventory, ProxyCommand included', () => {
    const specs = specsFor(
      inventory('{}', `  router01:\n    address: 198.51.100.2\n    role: internal-server\n` + host('web01', 'ssh: { jump: router01 }')),
      config('Host web01\n  ProxyCommand nc %h %p\n  ProxyJump bastion\nHost router01\n  ProxyJump none\n'),
    )
    expect(chain(specs.get('web01'))).toEqual(['router01'])
  })

  it('wins over the jump in the inventory defaults, and `none` turns it off', () => {
    const specs = specsFor(
      inventory('{ jump: router01 }', `  router01:\n    address: 198.51.100.2\n    role: internal-server\n` + host('web01') + host('web02') + host('web03')),
      config('Host web01\n  ProxyJump bastion\nHost web02\n  ProxyJump none\n'),
    )
    expect(chain(specs.get('web01'))).toEqual(['bastion'])
    expect(chain(specs.get('web02'))).toEqual([])
    expect(chain(specs.get('web03'))).toEqual(['router01'])
    expect(chain(specs.get('router01'))).toEqual([])
  })

  it('refuses hops that lead back to themselves, naming the loop', () => {
    expect(() => specsFor(inventory('{}', host('web01')), config('Host * !bastion\n  ProxyJump bastion\n'))).not.toThrow()
    expect(() => specsFor(inventory('{}', host('web01')), config('Host *\n  ProxyJump bastion\n'))).toThrow(
      'host web01: jump host bastion: the jump hosts form a loop: web01 -> bastion -> bastion',
    )
  })
})

describe('what fleet refuses', () => {
  const refused = (files: Record<string, string>, hosts = host('web01')) => {
    try {
      specsFor(inventory('{}', hosts), files)
    } catch (error) {
      expect(error).toBeInstanceOf(InputError)
      return String(error)
    }
    throw new Error('not refused')
  }

  it('refuses a ProxyCommand, naming the host and the line', () => {
    expect(refused({ [`${HOME}/.ssh/config`]: 'Host web*\n  ProxyCommand ssh -W %h:%p bastion\n' })).toBe(
      `${DIR}/inventory.yaml:5:3: host web01: ssh_config ${HOME}/.ssh/config:2 sets ProxyCommand "ssh -W %h:%p bastion", which fleet cannot run ` +
        '(it speaks SSH itself): use ProxyJump there, or name the jump host in the inventory (ssh: { jump: HOST })',
    )
  })

  it('refuses a ProxyCommand of a hop, naming the hop', () => {
    expect(refused({ '/etc/ssh/ssh_config': 'Host web01\n  ProxyJump bastion\nHost bastion\n  ProxyCommand nc -X 5 %h %p\n' })).toMatch(
      /host web01: jump host bastion: ssh_config \/etc\/ssh\/ssh_config:4 sets ProxyCommand "nc -X 5 %h %p"/,
    )
  })

  it('accepts ProxyCommand none', () => {
    expect(specsFor(inventory('{}', host('web01')), { [`${HOME}/.ssh/config`]: 'ProxyCommand none\n' }).get('web01')?.jump).toBeUndefined()
  })

  it.each([
    ['Host *\n  HostName bad;name\n', /ssh_config \/home\/op\/.ssh\/config:2: expected an IPv4 address or DNS name/],
    ['Host *\n  User "bad user"\n', /ssh_config \/home\/op\/.ssh\/config:2: expected a user name/],
    ['Match exec "true"\n  Port 22\n', /host web01: ssh_config \/home\/op\/.ssh\/config:1: Match exec is not supported/],
    ['UserKnownHostsFile ~/%j\n', /ssh_config \/home\/op\/.ssh\/config:1: unknown token %j/],
  ])('%j', (text, message) => {
    expect(refused({ [`${HOME}/.ssh/config`]: text })).toMatch(message)
  })
})

describe('keys, known hosts, timeouts', () => {
  const config = (text: string) => ({ [`${HOME}/.ssh/config`]: text })

  it('reads several UserKnownHostsFile files, with tokens, and GlobalKnownHostsFile', () => {
    const specs = specsFor(
      inventory('{ knownHosts: ./fallback }', `  web01:\n    address: 198.18.0.11\n    role: internal-server\n` + host('web02')),
      config('Host web01\n  UserKnownHostsFile ~/.ssh/known_hosts %d/kh/%h_%p\n  GlobalKnownHostsFile /etc/fleet/kh\n'),
    )
    expect(specs.get('web01')).toMatchObject({
      knownHostsFiles: [`${HOME}/.ssh/known_hosts`, `${HOME}/kh/198.18.0.11_22`],
      globalKnownHostsFiles: ['/etc/fleet/kh'],
    })
    expect(specs.get('web02')).toMatchObject({ knownHostsFiles: [`${DIR}/fallback`] })
  })

  it("keeps the inventory's own knownHosts over ssh_config", () => {
    const specs = specsFor(inventory('{}', host('web01', 'ssh: { knownHosts: ./mine }')), config('UserKnownHostsFile /other\n'))
    expect(specs.get('web01')?.knownHostsFiles).toEqual([`${DIR}/mine`])
  })

  it("uses OpenSSH's known hosts files when nothing names one, and none when told so", () => {
    expect(specsFor(inventory('{}', host('web01')), {}).get('web01')).toMatchObject({
      knownHostsFiles: [`${HOME}/.ssh/known_hosts`, `${HOME}/.ssh/known_hosts2`],
      globalKnownHostsFiles: ['/etc/ssh/ssh_known_hosts', '/etc/ssh/ssh_known_hosts2'],
    })
    expect(specsFor(inventory('{}', host('web01')), config('UserKnownHostsFile none\nGlobalKnownHostsFile none\n')).get('web01')).toMatchObject({
      knownHostsFiles: [],
      globalKnownHostsFiles: [],
    })
  })

  it('uses the agent when no key is named, unless IdentitiesOnly says key files only', () => {
    const agent = { SSH_AUTH_SOCK: '/run/agent.sock' }
    const defaultKeys = ['id_ed25519', 'id_ecdsa', 'id_rsa'].map((f) => `${HOME}/.ssh/${f}`)
    expect(specsFor(inventory('{}', host('web01')), {}, agent).get('web01')).toMatchObject({ identityFiles: [], identitiesOnly: false })
    expect(specsFor(inventory('{}', host('web01')), {}, {}).get('web01')).toMatchObject({ identityFiles: defaultKeys })
    expect(specsFor(inventory('{}', host('web01')), config('IdentitiesOnly yes\n'), agent).get('web01')).toMatchObject({
      identityFiles: defaultKeys,
      identitiesOnly: true,
    })
  })

  it('gives the HostKeyAlias known_hosts lists the key under, %k included', () => {
    const specs = specsFor(inventory('{}', host('web01')), config('Host web01\n  HostKeyAlias web01.lab\n  UserKnownHostsFile ~/kh/%k\n'))
    expect(specs.get('web01')).toMatchObject({ hostKeyAlias: 'web01.lab', knownHostsFiles: [`${HOME}/kh/web01.lab`] })
  })

  it('expands tokens in IdentityFile with the final user, host and port', () => {
    const specs = specsFor(inventory('{}', host('web01', 'ssh: { user: deploy }')), config('Host web01\n  HostName 198.18.0.11\n  IdentityFile ~/.ssh/%r@%h:%p\n'))
    expect(specs.get('web01')?.identityFiles).toEqual([`${HOME}/.ssh/deploy@198.18.0.11:22`])
  })
})
