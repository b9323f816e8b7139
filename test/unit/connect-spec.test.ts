// How a host is reached: inventory, then ssh_config (Include followed), then inventory defaults.
import { mkdtempSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { loadInventory } from '../../src/inventory/load.ts'
import { connectSpecs } from '../../src/ssh/connect-spec.ts'

const dir = mkdtempSync(path.join(os.tmpdir(), 'fleet-ssh-'))
writeFileSync(path.join(dir, 'extra.conf'), 'Host db01\n  HostName 203.0.113.40\n  User dbadmin\n  Port 2222\n  IdentityFile ~/.ssh/db_key\n')
writeFileSync(path.join(dir, 'ssh_config'), `Include ${path.join(dir, 'extra.conf')}\n\nHost *\n  User nobody-from-config\n`)

const inventory = loadInventory(
  `defaults:
  ssh: { user: root, identity: ./keys/fleet, knownHosts: ./known_hosts, config: ./ssh_config }
  network: { internal: 203.0.113.0/24, interface: eth0 }
hosts:
  router01:
    address: 198.51.100.2
    role: internal-server
    ssh: { user: admin, port: 2200 }
  db01:
    role: internal-server
    ssh: { jump: router01 }
  web01:
    address: 203.0.113.11
    role: internal-server
    ssh: { jump: router01 }
`,
  path.join(dir, 'inventory.yaml'),
)
const specs = connectSpecs(inventory)

describe('connection settings', () => {
  it('takes what the host says over ssh_config', () => {
    expect(specs.get('router01')).toMatchObject({ address: '198.51.100.2', port: 2200, user: 'admin', identityFiles: [path.join(dir, 'keys/fleet')] })
  })

  it('resolves a host named only by an alias through ssh_config, Include included', () => {
    expect(specs.get('db01')).toMatchObject({
      address: '203.0.113.40',
      port: 2222,
      user: 'dbadmin',
      identityFiles: [path.join(os.homedir(), '.ssh/db_key')],
      knownHostsFile: path.join(dir, 'known_hosts'),
    })
    expect(specs.get('db01')?.jump?.name).toBe('router01')
  })

  it('lets ssh_config win over the inventory defaults, as OpenSSH does', () => {
    expect(specs.get('web01')).toMatchObject({ address: '203.0.113.11', port: 22, user: 'nobody-from-config' })
  })
})
