// Where and how to reach a host: the inventory's explicit values, then ~/.ssh/config (matched on
// the inventory host name, so a host can be named by an alias alone), then the inventory defaults,
// then OpenSSH's own defaults.
import os from 'node:os'
import path from 'node:path'
import { InputError } from '../inventory/errors.ts'
import type { HostSpec, Inventory } from '../inventory/types.ts'
import { checkAddress, checkPort, checkUser } from '../net/values.ts'
import { expandHome, readSshConfig, sshConfigFor } from './ssh-config.ts'

export interface ConnectSpec {
  readonly name: string
  readonly address: string
  readonly port: number
  readonly user: string
  // Empty: use the agent at SSH_AUTH_SOCK (or OpenSSH's default key files).
  readonly identityFiles: readonly string[]
  readonly knownHostsFile: string
  readonly jump?: ConnectSpec
}

const DEFAULT_IDENTITIES = ['id_ed25519', 'id_ecdsa', 'id_rsa'].map((f) => path.join(os.homedir(), '.ssh', f))

export function connectSpecs(inventory: Inventory): Map<string, ConnectSpec> {
  const byName = new Map(inventory.hosts.map((h) => [h.name, h]))
  const specs = new Map<string, ConnectSpec>()
  const local = (file: string) => path.resolve(inventory.dir, expandHome(file))
  const configs = new Map<string, ReturnType<typeof readSshConfig>>()

  const resolve = (host: HostSpec): ConnectSpec => {
    const cached = specs.get(host.name)
    if (cached) return cached
    const { host: own, defaults } = host.ssh
    const configFile = own.config ?? defaults.config ?? '~/.ssh/config'
    if (!configs.has(configFile)) configs.set(configFile, readSshConfig(local(configFile)))
    const fromConfig = sshConfigFor(configs.get(configFile), host.name)
    const address = host.address ?? fromConfig.hostName ?? host.name
    const port = own.port ?? fromConfig.port ?? defaults.port ?? 22
    const user = own.user ?? fromConfig.user ?? defaults.user ?? os.userInfo().username
    const problem = checkAddress(address) ?? checkPort(port) ?? checkUser(user)
    if (problem !== null) throw new InputError(`host ${host.name}: ssh_config ${configFile}: ${problem}`, host.where)
    const identity = own.identity ?? (fromConfig.identityFiles.length > 0 ? undefined : defaults.identity)
    const identityFiles = identity !== undefined ? [local(identity)] : fromConfig.identityFiles.map(local)
    const jumpHost = host.jump !== undefined ? byName.get(host.jump) : undefined
    const spec: ConnectSpec = {
      name: host.name,
      address,
      port,
      user,
      identityFiles: identityFiles.length > 0 || process.env.SSH_AUTH_SOCK ? identityFiles : DEFAULT_IDENTITIES,
      knownHostsFile: local(own.knownHosts ?? defaults.knownHosts ?? '~/.ssh/known_hosts'),
      ...(jumpHost && { jump: resolve(jumpHost) }),
    }
    specs.set(host.name, spec)
    return spec
  }
  inventory.hosts.forEach(resolve)
  return specs
}
