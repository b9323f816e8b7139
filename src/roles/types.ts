// What a role file sees and returns. Role files import these types only (`import type`): what a
// role uses at run time (task, ensure, ports, the shared tasks) reaches it through its context,
// so a role file next to the user's inventory works wherever fleet is installed.
import type { PortSet } from '../inventory/types.ts'

export type Table = 'raw' | 'mangle' | 'nat' | 'filter'
// iptables (IPv4) or ip6tables (IPv6): two rulesets per host, changed together.
export type Family = 'ipv4' | 'ipv6'

// One line of a ruleset, parsed from the role's iptables command into the pieces
// iptables-restore needs.
export type RulesetLine = { readonly family: Family } & (
  | { readonly kind: 'rule'; readonly table: Table; readonly chain: string; readonly spec: readonly string[] }
  | { readonly kind: 'policy'; readonly table: Table; readonly chain: string; readonly target: 'ACCEPT' | 'DROP' }
  | { readonly kind: 'chain'; readonly table: Table; readonly chain: string }
)

// A host setting outside netfilter: `check` prints the current value; when it differs from `want`,
// `run` sets it. Both are complete, already-quoted shell commands, one command line each.
export interface CommandTask {
  readonly kind: 'command'
  readonly title: string
  readonly check: string
  readonly want: string
  readonly run: string
  // Sets the value back; reads the value `check` printed before the change on its stdin. Absent: the
  // role keeps the setting as the change made it (undo: 'keep').
  readonly undo?: string
}

// The network values a role can ask for, and their types.
export interface NetworkKeys {
  internal: string
  internal6: string
  interface: string
  'wan.interface': string
  'wan.address': string
  'lan.interface': string
  egress: PortSet
  services: PortSet
  untracked: PortSet
}
export type NetworkKey = keyof NetworkKeys

// A command written with a task's `$`: zx's own ProcessPromise at run time, typed here as what a
// role can use of it (its output exists only on a live host, so it has none to read). Declared
// here rather than taken from zx's types, which need @types/node in the user's project.
export interface RoleCommand extends PromiseLike<unknown> {
  // The command as zx built it: literal text plus POSIX-quoted values.
  readonly cmd: string
}

// zx's own `$`, recording: `iptables`/`ip6tables` commands become lines of the host's ruleset,
// other commands are only allowed inside ensure(). Nothing runs on the operator's machine.
// `$({ nothrow: true })` and the like are allowed; options that change where or how a command
// runs are not.
export interface RoleShell {
  (pieces: TemplateStringsArray, ...values: unknown[]): RoleCommand
  (options: { readonly nothrow?: boolean; readonly quiet?: boolean; readonly verbose?: boolean }): RoleShell
}

export type TaskBody = ($: RoleShell) => Promise<void> | void

// A titled step of a role, as the dry run and the progress display show it.
export interface RoleTask {
  readonly title: string
  readonly body: TaskBody
  // Where the role made it (an Error whose stack is read only to report a role error).
  readonly madeAt: Error
}

// A host setting: `check` prints the current value, `run` sets it when it is not `want`.
export interface Setting {
  readonly check: RoleCommand
  readonly want: string | number
  readonly run: RoleCommand
  // Sets the value back when the change is undone (not confirmed, a failed load, ...) or rolled
  // back. It reads the value `check` printed before the change on its stdin, e.g.
  // $`tee /proc/sys/net/ipv4/ip_forward`. 'keep': an undone change leaves the setting as `run` made
  // it, and fleet says so. Required: a setting left on over restored rules (forwarding over a
  // FORWARD chain that no longer filters) must be a decision, not an oversight.
  readonly undo: RoleCommand | 'keep'
  // Defaults to the task's title.
  readonly title?: string
}

// The tasks every role shares (fleet's roles/common/), bound to the host.
export interface CommonTasks {
  // The seed's INPUT allow rules: replies on `external`, icmp, loopback, the internal network.
  inputAllow(external: string): RoleTask
  // The same intent for IPv6: replies, ICMPv6, loopback, the internal prefix when given.
  inputAllow6(external: string): RoleTask
}

export interface RoleContext {
  // `persist`: the host keeps its rulesets for boot (persist: true), so a setting it needs at boot
  // (forwarding, on a router) is to be kept for boot too.
  readonly host: { readonly name: string; readonly address?: string; readonly persist: boolean }
  // The inventory value for `key` (host override or shared default). A missing value is reported
  // to the user with the host's location, after the role has run.
  need<K extends NetworkKey>(key: K): NetworkKeys[K]
  // Present-or-undefined, for values a role can do without.
  optional<K extends NetworkKey>(key: K): NetworkKeys[K] | undefined
  // `task('untrack ...', async ($) => { await $\`iptables -t raw -A PREROUTING ...\` })`
  task(title: string, body: TaskBody): RoleTask
  // Inside a task: a host setting with its check, so a second apply says "unchanged".
  ensure(setting: Setting): Promise<void>
  // A port list for multiport, joined with "," (zx would join an array with spaces).
  ports(list: readonly number[]): string
  readonly common: CommonTasks
}

export interface Role {
  readonly description: string
  tasks(ctx: RoleContext): readonly (RoleTask | readonly RoleTask[])[]
}

// roles/common/*.ts: the shared tasks, as functions of the host's context.
export type CommonModule = { readonly [K in keyof CommonTasks]: (ctx: RoleContext, ...args: Parameters<CommonTasks[K]>) => RoleTask }
