// Inventory loading: YAML text -> validated Inventory, or every problem with file:line:col.
// Pure (the caller reads the file), so it is table-tested without touching the disk.
import path from 'node:path'
import type { z } from 'zod'
import { InputError, InputErrors } from './errors.ts'
import { inventorySchema, type RawInventory, type RawNetwork } from './schema.ts'
import { DEFAULT_PRESERVE, type HostSpec, type Inventory, type NetworkValues, type PortSet } from './types.ts'
import { readYaml, type PathKey, type YamlSource } from './yaml-source.ts'

export function loadInventory(text: string, file: string): Inventory {
  const source = readYaml(text, file)
  const parsed = inventorySchema.safeParse(source.data, { reportInput: true })
  if (!parsed.success) {
    throw new InputErrors(parsed.error.issues.map((issue) => schemaError(issue, source)))
  }
  const raw = parsed.data
  const hosts = Object.entries(raw.hosts).map(([name, host]) => toHostSpec(name, host, raw, source))
  checkJumps(hosts, raw, source)
  const dir = path.dirname(file)
  return {
    file,
    dir,
    rolePaths: (raw.roles?.path ?? []).map((p) => path.resolve(dir, p)),
    hosts,
  }
}

function schemaError(issue: z.core.$ZodIssue, source: YamlSource): InputError {
  const keys = issue.path.filter((k): k is PathKey => typeof k !== 'symbol')
  const dotted = keys.join('.') || 'the top level'
  switch (issue.code) {
    case 'unrecognized_keys': {
      const key = issue.keys[0] ?? ''
      return new InputError(`unknown key "${key}" in ${dotted}; expected one of: ${knownKeys(keys)}`, source.keyAt(keys, key))
    }
    case 'invalid_type':
      return new InputError(`${dotted}: expected ${describeType(issue.expected)}${found(issue)}`, source.valueAt(keys))
    case 'invalid_key':
      return new InputError(`${dotted}: ${issue.issues[0]?.message ?? 'invalid key'}`, source.valueAt(keys))
    default:
      return new InputError(`${dotted}: ${issue.message}`, source.valueAt(keys))
  }
}

function describeType(expected: string): string {
  return expected === 'record' || expected === 'object' ? 'a mapping' : expected === 'array' ? 'a list' : `a ${expected}`
}

// What was there instead, in YAML's words: `role: 5` is a number, `hosts:` with nothing after it
// is an empty value (null), a key that is not there is missing.
function found(issue: z.core.$ZodIssue): string {
  const value = 'input' in issue ? issue.input : undefined
  if (value === undefined) return ' (missing)'
  if (value === null) return ', got nothing (an empty value)'
  if (Array.isArray(value)) return ', got a list'
  if (typeof value === 'object') return ', got a mapping'
  const shown = JSON.stringify(value)
  return `, got a ${typeof value} (${shown.length > 40 ? `${shown.slice(0, 40)}...` : shown})`
}

// Written out rather than introspected: these are the words a user should see in the error.
const KNOWN_KEYS: Record<string, string> = {
  '': 'roles, defaults, hosts',
  roles: 'path',
  defaults: 'ssh, network, preserve, persist, otherFirewalls',
  host: 'address, role, ssh, network, preserve, persist, otherFirewalls',
  ssh: 'user, port, identity, knownHosts, config, jump',
  network: 'internal, internal6, interface, wan, lan, egress, services, untracked',
  wan: 'interface, address',
  lan: 'interface',
  ports: 'tcp, udp',
}

function knownKeys(keys: readonly PathKey[]): string {
  const last = keys.at(-1)
  if (keys.length === 0) return KNOWN_KEYS['']!
  if (keys[0] === 'hosts' && keys.length === 2) return KNOWN_KEYS.host!
  if (last === 'egress' || last === 'services' || last === 'untracked') return KNOWN_KEYS.ports!
  return KNOWN_KEYS[String(last)] ?? ''
}

function toHostSpec(
  name: string,
  host: RawInventory['hosts'][string],
  raw: RawInventory,
  source: YamlSource,
): HostSpec {
  const preserveFrom = host.preserve ? ['hosts', name, 'preserve'] : raw.defaults?.preserve ? ['defaults', 'preserve'] : undefined
  const preserve = host.preserve ?? raw.defaults?.preserve ?? DEFAULT_PRESERVE
  return {
    name,
    ...(host.address !== undefined && { address: host.address }),
    role: host.role,
    network: mergeNetwork(raw.defaults?.network ?? {}, host.network ?? {}),
    ssh: { host: host.ssh ?? {}, defaults: raw.defaults?.ssh ?? {} },
    ...jumpOf(name, host, raw),
    where: source.keyAt(['hosts'], name),
    roleWhere: source.valueAt(['hosts', name, 'role']),
    preserve,
    ...(preserveFrom && { preserveFrom: { key: preserveFrom.join('.'), where: preserve.map((_, i) => source.valueAt([...preserveFrom, i])) } }),
    persist: host.persist ?? raw.defaults?.persist ?? false,
    otherFirewalls: host.otherFirewalls ?? raw.defaults?.otherFirewalls ?? 'refuse',
  }
}

// Per-leaf override: a host that sets wan.address keeps the shared wan.interface. Port lists are
// leaves (a host that lists its services replaces the shared list rather than adding to it).
function mergeNetwork(base: RawNetwork, over: RawNetwork): NetworkValues {
  const portSet = (a?: Partial<PortSet>, b?: Partial<PortSet>): PortSet | undefined =>
    a || b ? { tcp: b?.tcp ?? a?.tcp ?? [], udp: b?.udp ?? a?.udp ?? [] } : undefined
  const merged: Record<string, unknown> = {
    internal: over.internal ?? base.internal,
    internal6: over.internal6 ?? base.internal6,
    interface: over.interface ?? base.interface,
    wan: base.wan || over.wan ? { ...base.wan, ...over.wan } : undefined,
    lan: base.lan || over.lan ? { ...base.lan, ...over.lan } : undefined,
    egress: portSet(base.egress, over.egress),
    services: portSet(base.services, over.services),
    untracked: portSet(base.untracked, over.untracked),
  }
  return Object.fromEntries(Object.entries(merged).filter(([, v]) => v !== undefined)) as NetworkValues
}

// A shared default jump host does not apply to the jump host itself; a host that names itself is
// an error (checkJumps).
function jumpOf(name: string, host: RawInventory['hosts'][string], raw: RawInventory): { jump?: string } {
  const jump = host.ssh?.jump ?? raw.defaults?.ssh?.jump
  return jump === undefined || (jump === name && host.ssh?.jump === undefined) ? {} : { jump }
}

// A jump host may be behind another (a chain of hops), but never, in the end, behind the host:
// the loop, from the host back to it, or undefined.
function jumpLoop(host: HostSpec, byName: ReadonlyMap<string, HostSpec>): string[] | undefined {
  const trail = [host.name]
  for (let hop = host.jump && byName.get(host.jump); hop; hop = hop.jump && byName.get(hop.jump)) {
    if (hop.name === host.name) return [...trail, hop.name]
    if (trail.includes(hop.name)) return undefined
    trail.push(hop.name)
  }
  return undefined
}

function checkJumps(hosts: readonly HostSpec[], raw: RawInventory, source: YamlSource): void {
  const byName = new Map(hosts.map((h) => [h.name, h]))
  const errors: InputError[] = []
  const looped = new Set<string>()
  for (const host of hosts) {
    const jump = host.jump
    if (jump === undefined || looped.has(host.name)) continue
    const at = () => (raw.hosts[host.name]?.ssh?.jump !== undefined ? source.valueAt(['hosts', host.name, 'ssh', 'jump']) : source.valueAt(['defaults', 'ssh', 'jump']))
    const loop = jumpLoop(host, byName)
    if (jump === host.name) {
      errors.push(new InputError(`host ${host.name}: jumps to itself; a jump host is another host of this inventory`, at()))
    } else if (!byName.has(jump)) {
      errors.push(new InputError(`host ${host.name}: jump host "${jump}" is not a host of this inventory`, at()))
    } else if (loop) {
      loop.forEach((name) => looped.add(name))
      errors.push(new InputError(`host ${host.name}: the jump hosts form a loop: ${loop.join(' -> ')}`, at()))
    }
  }
  if (errors.length > 0) throw new InputErrors(errors)
}
