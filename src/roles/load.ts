// Finds and loads role files. A role is one file, roles/<name>.ts (or .js/.mjs), in the
// inventory's roles.path directories or fleet's own roles/ folder, so an operator adds a role
// without touching fleet's code.
import { existsSync, readdirSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { InputError, InputErrors } from '../inventory/errors.ts'
import type { Inventory } from '../inventory/types.ts'
import * as commonTasks from '../../roles/common/input-allow.ts'
import { mapFleetImports } from './fleet-imports.ts'
import type { CommonModule, Role } from './types.ts'

export const BUILTIN_ROLES_DIR = fileURLToPath(new URL('../../roles/', import.meta.url))
const EXTENSIONS = ['.ts', '.mjs', '.js']

export function roleSearchPath(inventory: Inventory): string[] {
  return [...inventory.rolePaths, BUILTIN_ROLES_DIR]
}

function findRoleFile(name: string, dirs: readonly string[]): string | undefined {
  for (const dir of dirs) {
    for (const ext of EXTENSIONS) {
      const file = path.join(dir, name + ext)
      if (existsSync(file)) return file
    }
  }
  return undefined
}

function availableRoles(dirs: readonly string[]): string[] {
  const names = new Set<string>()
  for (const dir of dirs.filter((d) => existsSync(d))) {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const ext = EXTENSIONS.find((e) => entry.name.endsWith(e))
      if (entry.isFile() && ext && !entry.name.endsWith('.d.ts')) names.add(entry.name.slice(0, -ext.length))
    }
  }
  return [...names].sort()
}

// Through tsx for every extension: it compiles TypeScript, and a .js role importing fleet/role goes
// through the same resolvers as a .ts one.
async function importModule(file: string): Promise<unknown> {
  mapFleetImports()
  const { tsImport } = await import('tsx/esm/api')
  return tsImport(pathToFileURL(file).href, import.meta.url)
}

function isRole(value: unknown): value is Role {
  return typeof value === 'object' && value !== null && typeof (value as Role).tasks === 'function'
}

// A role with what its context hands it at run time: the shared tasks of fleet's roles/common/.
export interface LoadedRole {
  readonly role: Role
  readonly file: string
  readonly common: CommonModule
}

const COMMON: CommonModule = { inputAllow: commonTasks.inputAllow, inputAllow6: commonTasks.inputAllow6 }

async function loadRoleFile(file: string): Promise<Role> {
  let mod: { default?: unknown }
  try {
    mod = (await importModule(file)) as { default?: unknown }
  } catch (error) {
    throw new InputError(`cannot load role file: ${(error as Error).message.split('\n')[0]}`, file)
  }
  // tsx may wrap a CommonJS-looking module's default export one level deeper.
  const role = isRole(mod.default) ? mod.default : (mod.default as { default?: unknown } | undefined)?.default
  if (!isRole(role)) {
    throw new InputError('a role file must `export default { description, tasks(ctx) { ... } }`', file)
  }
  return role
}

// Loads every role the inventory names; reports each unknown role at the host that names it.
export async function loadRoles(inventory: Inventory): Promise<Map<string, LoadedRole>> {
  const dirs = roleSearchPath(inventory)
  const roles = new Map<string, LoadedRole>()
  const unknown = new Set<string>()
  const errors: InputError[] = []
  for (const host of inventory.hosts) {
    if (roles.has(host.role) || unknown.has(host.role)) continue
    const file = findRoleFile(host.role, dirs)
    if (file === undefined) {
      unknown.add(host.role)
      errors.push(
        new InputError(
          `unknown role "${host.role}" for host ${host.name}; known roles: ${availableRoles(dirs).join(', ')} (looked in ${dirs.join(', ')})`,
          host.roleWhere,
        ),
      )
      continue
    }
    roles.set(host.role, { role: await loadRoleFile(file), file, common: COMMON })
  }
  if (errors.length > 0) throw new InputErrors(errors)
  return roles
}
