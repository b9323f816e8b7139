// Where and how to reach a host, resolved as OpenSSH resolves `ssh HOST`: what the host says in
// the inventory acts like ssh's command line (it wins, and Match sees it), then ssh_config (the
// user's file, then /etc/ssh/ssh_config), then the inventory's defaults, then OpenSSH's defaults.
// A jump host comes from the inventory, else from ProxyJump; every hop of a ProxyJump chain is
// resolved the same way in turn, as the `ssh -J` that OpenSSH runs for it would resolve it.
import path from 'node:path'
import { InputError } from '../inventory/errors.ts'
import type { HostSpec, Inventory, SshSettings } from '../inventory/types.ts'
import { checkAddress, checkPort, checkUser } from '../net/values.ts'
import type { JumpHop } from './proxy-jump.ts'
import { lowerName, readSshConfig, SshConfigError, type ConfigFiles, type ConfigSource, type SshConfigValues } from './ssh-config.ts'
import { localEnvironment } from './local-environment.ts'
import { expandTilde, expandTokens, type TokenContext } from './ssh-tokens.ts'

export interface ConnectSpec {
  // The inventory host, or the ProxyJump hop as written.
  readonly name: string
  readonly address: string
  readonly port: number
  readonly user: string
  // Empty: use the agent at SSH_AUTH_SOCK.
  readonly identityFiles: readonly string[]
  // IdentitiesOnly: the identity files only, never the agent.
  readonly identitiesOnly: boolean
  // UserKnownHostsFile: keys accepted with --accept-new-host-keys are recorded in the first.
  readonly knownHostsFiles: readonly string[]
  readonly globalKnownHostsFiles: readonly string[]
  // ConnectTimeout, when ssh_config sets one.
  readonly connectTimeoutMs?: number
  // HostKeyAlias: the name known_hosts lists the host's key under (no [host]:port then).
  readonly hostKeyAlias?: string
  // The host this one is reached through, itself possibly reached through another.
  readonly jump?: ConnectSpec
}

// What resolution needs from the operator's machine, injectable so that it stays a pure function.
export interface LocalEnvironment extends Omit<TokenContext, 'alias' | 'remoteHost' | 'remoteUser' | 'port'> {
  readonly files: ConfigFiles
  readonly systemConfig: string
}

type Jump = { readonly inventory: string } | { readonly hops: readonly JumpHop[] }

// One `ssh ALIAS` to resolve: `given` plays ssh's command line, `defaults` the inventory's
// defaults. File names in both are absolute already.
interface Request {
  readonly alias: string
  // How errors name it: "host web01", "host web02: jump host bastion".
  readonly label: string
  readonly where: string
  readonly given: Settings & { readonly address?: string; readonly jump?: Jump }
  readonly defaults: Settings & { readonly jump?: string }
  // The user's ssh_config, or 'none': no file at all, the system's neither.
  readonly configFile: string
  // configFile was named in the inventory, rather than ssh's default.
  readonly configNamed: boolean
}

type Settings = Pick<SshSettings, 'user' | 'port' | 'identity' | 'knownHosts'>

type Fail = (problem: string) => never

const DEFAULT_KEY_FILES = ['id_ed25519', 'id_ecdsa', 'id_rsa']

export function connectSpecs(inventory: Inventory, local: LocalEnvironment = localEnvironment()): Map<string, ConnectSpec> {
  const byName = new Map(inventory.hosts.map((h) => [h.name, h]))
  const specs = new Map<string, ConnectSpec>()

  const resolve = (request: Request, chain: readonly string[]): ConnectSpec => {
    const fail: Fail = (problem) => {
      throw new InputError(`${request.label}: ${problem}`, request.where)
    }
    const config = readConfig(request, local, fail)
    const endpoint = endpointOf(request, config, local, fail)
    const hostKeyAlias = config.hostKeyAlias?.value
    const expand = pathExpander({ ...local, ...endpoint, alias: request.alias, ...(hostKeyAlias !== undefined && { hostKeyAlias }) }, inventory.dir, fail)
    const jump = jumpOf(request, config, fail)
    const next = [...chain, request.alias]
    const through = jump && ('inventory' in jump ? jump.inventory : jump.hops.at(-1)!.host)
    if (through !== undefined && next.includes(through)) fail(`the jump hosts form a loop: ${[...next, through].join(' -> ')}`)
    const timeout = config.connectTimeout?.value ?? 0
    return {
      name: request.alias,
      address: endpoint.remoteHost,
      port: endpoint.port,
      user: endpoint.remoteUser,
      ...keysOf(request, config, expand, local),
      ...knownHostsOf(request, config, expand, local),
      ...(timeout > 0 && { connectTimeoutMs: timeout * 1000 }),
      ...(hostKeyAlias !== undefined && { hostKeyAlias }),
      ...(jump && {
        jump:
          'inventory' in jump
            ? resolveInventoryHost(byName.get(jump.inventory)!, next)
            : resolve(hopRequest(jump.hops.at(-1)!, jump.hops.slice(0, -1), request, byName, inventory.dir, local), next),
      }),
    }
  }

  const resolveInventoryHost = (host: HostSpec, chain: readonly string[]): ConnectSpec => {
    const cached = specs.get(host.name)
    if (cached) return cached
    const spec = resolve(inventoryRequest(host, inventory.dir, local), chain)
    specs.set(host.name, spec)
    return spec
  }

  for (const host of inventory.hosts) resolveInventoryHost(host, [])
  return specs
}

function inventoryRequest(host: HostSpec, dir: string, local: LocalEnvironment): Request {
  // Inventory paths are relative to the inventory's folder.
  const file = (name: string) => path.resolve(dir, expandTilde(name, local.home))
  const settings = (s: SshSettings): Settings => ({
    ...(s.user !== undefined && { user: s.user }),
    ...(s.port !== undefined && { port: s.port }),
    ...(s.identity !== undefined && { identity: file(s.identity) }),
    ...(s.knownHosts !== undefined && { knownHosts: file(s.knownHosts) }),
  })
  const { host: own, defaults } = host.ssh
  const config = own.config ?? defaults.config
  return {
    alias: host.name,
    label: `host ${host.name}`,
    where: host.where,
    given: {
      ...settings(own),
      ...(host.address !== undefined && { address: host.address }),
      ...(own.jump !== undefined && own.jump !== host.name && { jump: { inventory: own.jump } }),
    },
    // A shared default jump host does not apply to the jump host itself.
    defaults: { ...settings(defaults), ...(defaults.jump !== undefined && defaults.jump !== host.name && { jump: defaults.jump }) },
    configFile: config === undefined ? path.join(local.home, '.ssh/config') : config.toLowerCase() === 'none' ? 'none' : file(config),
    configNamed: config !== undefined,
  }
}

// A ProxyJump hop: an inventory host keeps its inventory settings (the hop's user@ and :port
// win); any other name is resolved through the same ssh_config, with the inventory's defaults
// (but not its default jump host).
function hopRequest(
  hop: JumpHop,
  before: readonly JumpHop[],
  from: Request,
  byName: ReadonlyMap<string, HostSpec>,
  dir: string,
  local: LocalEnvironment,
): Request {
  const known = byName.get(hop.host)
  const { jump: _, ...defaults } = from.defaults
  const base: Request = known
    ? inventoryRequest(known, dir, local)
    : { alias: hop.host, label: '', where: from.where, given: {}, defaults, configFile: from.configFile, configNamed: from.configNamed }
  return {
    ...base,
    label: `${from.label}: jump host ${hop.host}`,
    given: {
      ...base.given,
      ...(hop.user !== undefined && { user: hop.user }),
      ...(hop.port !== undefined && { port: hop.port }),
      ...(before.length > 0 && { jump: { hops: before } }),
    },
  }
}

function readConfig(request: Request, local: LocalEnvironment, fail: Fail): SshConfigValues {
  const sources: ConfigSource[] =
    request.configFile === 'none'
      ? []
      : [
          { file: request.configFile, system: false, named: request.configNamed },
          { file: local.systemConfig, system: true },
        ]
  try {
    return readSshConfig(sources, local.files, {
      alias: request.alias,
      ...(request.given.address !== undefined && { hostName: request.given.address }),
      ...(request.given.user !== undefined && { user: request.given.user }),
      home: local.home,
      localUser: local.localUser,
    })
  } catch (error) {
    if (error instanceof SshConfigError) fail(`ssh_config ${error.where}: ${error.message}`)
    throw error
  }
}

// Address, port and user, each checked like an inventory value, an error naming its line.
function endpointOf(request: Request, config: SshConfigValues, local: LocalEnvironment, fail: Fail) {
  const remoteHost = lowerName(request.given.address ?? config.hostName?.value ?? request.alias)
  const port = request.given.port ?? config.port?.value ?? request.defaults.port ?? 22
  const remoteUser = request.given.user ?? config.user?.value ?? request.defaults.user ?? local.localUser
  const checked = (problem: string | null, setting: { where: string } | undefined) => {
    if (problem !== null) fail(setting && setting.where !== 'inventory' ? `ssh_config ${setting.where}: ${problem}` : problem)
  }
  checked(checkAddress(remoteHost), config.hostName)
  checked(checkPort(port), config.port)
  checked(checkUser(remoteUser), config.user)
  return { remoteHost, port, remoteUser }
}

type Expand = (value: string, where: string) => string

// ~, %-tokens and ${ENV} in file names from ssh_config; relative names are the inventory's.
function pathExpander(tokens: TokenContext, dir: string, fail: Fail): Expand {
  return (value, where) => {
    const expanded = expandTokens(value, tokens)
    return typeof expanded === 'string' ? path.resolve(dir, expanded) : fail(`ssh_config ${where}: ${expanded.error}`)
  }
}

// The inventory's own key, else IdentityFile, else the default key; without any, the agent, or
// with IdentitiesOnly (or no agent) OpenSSH's default key files.
function keysOf(request: Request, config: SshConfigValues, expand: Expand, local: LocalEnvironment) {
  const identitiesOnly = config.identitiesOnly?.value ?? false
  const identity = request.given.identity ?? (config.identityFiles.length > 0 ? undefined : request.defaults.identity)
  const files = identity !== undefined ? [identity] : config.identityFiles.map((f) => expand(f.value, f.where))
  const useAgent = Boolean(local.env.SSH_AUTH_SOCK) && !identitiesOnly
  return {
    identityFiles: files.length > 0 || useAgent ? files : DEFAULT_KEY_FILES.map((f) => path.join(local.home, '.ssh', f)),
    identitiesOnly,
  }
}

function knownHostsOf(request: Request, config: SshConfigValues, expand: Expand, local: LocalEnvironment) {
  const listed = (setting: SshConfigValues['userKnownHostsFiles'], map: (file: string) => string) =>
    setting && (setting.value[0]?.toLowerCase() === 'none' ? [] : setting.value.map(map))
  const userFiles = request.given.knownHosts ?? (config.userKnownHostsFiles ? undefined : request.defaults.knownHosts)
  return {
    knownHostsFiles:
      userFiles !== undefined
        ? [userFiles]
        : (listed(config.userKnownHostsFiles, (f) => expand(f, config.userKnownHostsFiles!.where)) ??
          ['known_hosts', 'known_hosts2'].map((f) => path.join(local.home, '.ssh', f))),
    // ssh takes these as written.
    globalKnownHostsFiles: listed(config.globalKnownHostsFiles, (f) => f) ?? ['/etc/ssh/ssh_known_hosts', '/etc/ssh/ssh_known_hosts2'],
  }
}

// The inventory's own jump (like `ssh -J`), else ssh_config's ProxyJump or ProxyCommand (the
// first of them found), else the inventory's default jump.
function jumpOf(request: Request, config: SshConfigValues, fail: Fail): Jump | undefined {
  if (request.given.jump) return request.given.jump
  if (config.proxyJump?.value.kind === 'hops') return { hops: config.proxyJump.value.hops }
  if (config.proxyCommand && config.proxyCommand.value.toLowerCase() !== 'none') {
    fail(
      `ssh_config ${config.proxyCommand.where} sets ProxyCommand "${config.proxyCommand.value}", which fleet cannot run ` +
        `(it speaks SSH itself): use ProxyJump there, or name the jump host in the inventory (ssh: { jump: HOST })`,
    )
  }
  if (config.proxyCommand || config.proxyJump) return undefined
  return request.defaults.jump !== undefined ? { inventory: request.defaults.jump } : undefined
}
