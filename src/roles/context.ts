// The RoleContext a role's tasks() receives for one host: its network values, and what a role
// uses to write tasks (task, ensure, ports, the shared tasks of roles/common/).
import type { HostSpec, NetworkValues } from '../inventory/types.ts'
import { RoleError } from './iptables-line.ts'
import type { CommonModule, CommonTasks, NetworkKey, NetworkKeys, RoleContext, RoleTask, Setting, TaskBody } from './types.ts'

// What each value means, in the words of the seed: shown when a role needs a value that is missing.
export const NETWORK_KEY_MEANING: Record<NetworkKey, string> = {
  internal: "the internal network's CIDR",
  internal6: "the internal network's IPv6 prefix",
  interface: "the host's external interface, where replies to its own traffic come back",
  'wan.interface': "the router's WAN interface",
  'wan.address': "the router's public (WAN) address",
  'lan.interface': "the router's LAN interface",
  egress: 'the ports the LAN may use on the internet (tcp, udp)',
  services: 'the ports the host serves (tcp, udp)',
  untracked: 'the served ports never tracked by conntrack (tcp, udp)',
}

function lookup(net: NetworkValues, key: NetworkKey): unknown {
  switch (key) {
    case 'wan.interface':
      return net.wan?.interface
    case 'wan.address':
      return net.wan?.address
    case 'lan.interface':
      return net.lan?.interface
    default:
      return net[key]
  }
}

const PLACEHOLDER: NetworkKeys = {
  internal: '0.0.0.0/32',
  internal6: '::/128',
  interface: 'missing',
  'wan.interface': 'missing',
  'wan.address': '0.0.0.0',
  'lan.interface': 'missing',
  egress: { tcp: [0], udp: [0] },
  services: { tcp: [0], udp: [0] },
  untracked: { tcp: [0], udp: [0] },
}

const MULTIPORT_MAX = 15

// zx joins an interpolated array with spaces; multiport wants "22,80,443".
export function ports(list: readonly number[]): string {
  if (list.length === 0) throw new RoleError('empty port list (guard the rule with a length check)')
  if (list.length > MULTIPORT_MAX) throw new RoleError(`multiport takes at most ${MULTIPORT_MAX} ports, got ${list.length}`)
  const bad = list.find((p) => !Number.isInteger(p) || p < 0 || p > 65535)
  if (bad !== undefined) throw new RoleError(`not a port: ${JSON.stringify(bad)}`)
  return list.join(',')
}

export interface BuiltContext {
  readonly ctx: RoleContext
  // Values the role asked for with need() that the inventory does not give.
  readonly missing: ReadonlySet<NetworkKey>
  // ensure() calls of the task running now (null between tasks); the runner takes them after
  // each task.
  readonly running: { settings: Setting[] | null }
  // Whether the role looked at ctx.host: if not, its tasks depend only on the network values.
  readonly readsHost: () => boolean
}

export function roleContext(host: HostSpec, common: CommonModule): BuiltContext {
  const missing = new Set<NetworkKey>()
  const running: { settings: Setting[] | null } = { settings: null }
  let readsHost = false
  const ctx: RoleContext = {
    get host() {
      readsHost = true
      return { name: host.name, ...(host.address !== undefined && { address: host.address }), persist: host.persist }
    },
    need<K extends NetworkKey>(key: K): NetworkKeys[K] {
      const value = lookup(host.network, key) as NetworkKeys[K] | undefined
      if (value !== undefined) return value
      missing.add(key)
      return PLACEHOLDER[key]
    },
    optional: <K extends NetworkKey>(key: K) => lookup(host.network, key) as NetworkKeys[K] | undefined,
    task: (title: string, body: TaskBody): RoleTask => {
      if (typeof title !== 'string' || title.trim() === '') throw new RoleError('a task needs a title: task(title, async ($) => { ... })')
      if (typeof body !== 'function') throw new RoleError(`task "${title}" needs a body: task(title, async ($) => { ... })`)
      return { title, body, madeAt: new Error() }
    },
    ensure: (setting: Setting) => {
      if (running.settings === null) throw new RoleError('ensure() belongs inside a task body: task(title, async ($) => { await ensure({ ... }) })')
      running.settings.push(setting)
      return Promise.resolve()
    },
    ports,
    common: Object.fromEntries(
      Object.entries(common).map(([name, make]) => [name, (...args: unknown[]) => (make as (c: RoleContext, ...a: unknown[]) => RoleTask)(ctx, ...args)]),
    ) as unknown as CommonTasks,
  }
  return { ctx, missing, running, readsHost: () => readsHost }
}
