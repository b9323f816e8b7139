// Everything a command needs before it touches a host: the inventory, its roles, the selected
// hosts and their baselines. Any problem here is bad input (exit 2), found before any connection.
import { readFileSync } from 'node:fs'
import { pathToFileURL } from 'node:url'
import { InputError, InputErrors } from '../inventory/errors.ts'
import { loadInventory } from '../inventory/load.ts'
import type { HostSpec, Inventory } from '../inventory/types.ts'
import { declaredChains, preserveWithRoleChains } from '../plan/preserve.ts'
import { baselineOf, type Baseline } from '../roles/baseline.ts'
import { loadRoles, roleFileOf } from '../roles/load.ts'
import { globToRegExp } from '../shell/glob.ts'

export function readInventory(file: string): Inventory {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (error) {
    throw new InputError(`cannot read the inventory: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message}`, file)
  }
  return loadInventory(text, file)
}

function patternMatches(pattern: string, name: string): boolean {
  return globToRegExp(pattern).test(name)
}

// --limit takes host names, role names and * patterns, comma-separated, like Ansible's --limit;
// --role takes role names. Both given: hosts that match both.
export function selectHosts(inventory: Inventory, limit: readonly string[] | undefined, role?: readonly string[]): HostSpec[] {
  const roles = (role ?? []).flatMap((r) => r.split(',')).map((r) => r.trim()).filter(Boolean)
  const unknown = roles.filter((r) => !inventory.hosts.some((h) => h.role === r))
  if (unknown.length > 0) {
    throw new InputError(`--role ${unknown.join(',')}: no host has that role (roles: ${[...new Set(inventory.hosts.map((h) => h.role))].join(', ')})`)
  }
  const byRole = roles.length > 0 ? inventory.hosts.filter((h) => roles.includes(h.role)) : [...inventory.hosts]
  return byLimit({ ...inventory, hosts: byRole }, limit)
}

function byLimit(inventory: Inventory, limit: readonly string[] | undefined): HostSpec[] {
  if (!limit || limit.length === 0) return [...inventory.hosts]
  const patterns = limit.flatMap((l) => l.split(',')).map((p) => p.trim()).filter(Boolean)
  const unmatched = patterns.filter((p) => !inventory.hosts.some((h) => patternMatches(p, h.name) || patternMatches(p, h.role)))
  if (unmatched.length > 0) {
    const names = inventory.hosts.map((h) => h.name).join(', ')
    const roles = [...new Set(inventory.hosts.map((h) => h.role))].join(', ')
    throw new InputError(`--limit ${unmatched.join(',')} matches no host or role (hosts: ${names}; roles: ${roles})`)
  }
  return inventory.hosts.filter((h) => patterns.some((p) => patternMatches(p, h.name) || patternMatches(p, h.role)))
}

export async function loadBaselines(inventory: Inventory, hosts: readonly HostSpec[]): Promise<Baseline[]> {
  const roles = await loadRoles(inventory)
  const errors: InputError[] = []
  const baselines: Baseline[] = []
  for (const host of hosts) {
    const role = roles.get(host.role)!
    try {
      baselines.push(withRoleChains(baselineOf(host, role)))
    } catch (error) {
      if (error instanceof InputErrors) errors.push(...error.errors)
      else errors.push(error instanceof InputError ? error : roleFault(error, host, roleFileOf(role)))
    }
  }
  if (errors.length > 0) throw new InputErrors(errors)
  return baselines
}

// The chains the role declares are its own: the host's preserve patterns must leave them alone.
function withRoleChains(baseline: Baseline): Baseline {
  const chains = [baseline.document, baseline.document6 ?? ''].flatMap(declaredChains)
  const preserve = preserveWithRoleChains(baseline.host, chains)
  return preserve === baseline.host.preserve ? baseline : { ...baseline, host: { ...baseline.host, preserve } }
}

// A role that throws, or returns what fleet cannot use, is the user's input: it names the role's
// file, and the line in it when the error came from there and the trace says where.
function roleFault(error: unknown, host: HostSpec, file: string | undefined): InputError {
  const about = `role ${host.role} for host ${host.name}`
  if (!(error instanceof Error)) return new InputError(`${about}: threw ${JSON.stringify(error) ?? String(error)}`, file ?? host.roleWhere)
  const message = `${error.name}: ${error.message.split('\n')[0]}`
  const frame = file !== undefined ? frameIn(error.stack ?? '', file) : undefined
  if (frame === undefined) return new InputError(`${about}: returned something fleet cannot use (${message})`, file ?? host.roleWhere)
  return new InputError(`${about}: threw ${message}`, frame.line !== undefined ? `${file}:${frame.line}` : file)
}

// Whether the stack trace passes through `file`, and at which "line:col" when it says so. Without
// source maps (tsx's in-memory module: a `?tsx-namespace=` URL, or a data: URL naming the file as
// `filePath=` when it compiled the role to CommonJS) the positions are the compiled code's: the
// file without a line then.
function frameIn(stack: string, file: string): { line?: string } | undefined {
  for (const name of [file, pathToFileURL(file).href]) {
    const pos = new RegExp(`${escapeRegExp(name)}(\\?[^:\\s)]*)?:(\\d+:\\d+)`).exec(stack)
    if (pos) return pos[1] ? {} : { line: pos[2]! }
  }
  return stack.includes(`filePath=${encodeURIComponent(file)}`) ? {} : undefined
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}
