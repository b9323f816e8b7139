// Everything a command needs before it touches a host: the inventory, its roles, the selected
// hosts and their baselines. Any problem here is bad input (exit 2), found before any connection.
import { readFileSync } from 'node:fs'
import { InputError, InputErrors } from '../inventory/errors.ts'
import { loadInventory } from '../inventory/load.ts'
import type { HostSpec, Inventory } from '../inventory/types.ts'
import { declaredChains, preserveWithRoleChains } from '../plan/preserve.ts'
import { baselineOf, type Baseline } from '../render/baseline.ts'
import { loadRoles } from '../roles/load.ts'
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
      baselines.push(withRoleChains(await baselineOf(host, role)))
    } catch (error) {
      // A role's own faults come as InputError, naming its file (render/baseline.ts).
      if (error instanceof InputErrors) errors.push(...error.errors)
      else if (error instanceof InputError) errors.push(error)
      else throw error
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
