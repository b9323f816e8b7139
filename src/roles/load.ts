// Finds and loads role files. A role is one file, roles/<name>.ts (or .js/.mjs), in the
// inventory's roles.path directories or fleet's own roles/ folder, so an operator adds a role
// without touching fleet's code.
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { InputError, InputErrors } from '../inventory/errors.ts'
import type { Inventory } from '../inventory/types.ts'
import * as commonTasks from '../../roles/common/input-allow.ts'
import { mapFleetImports } from './fleet-imports.ts'
import { errorPlace, placeText } from './role-place.ts'
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
// through the same resolvers as a .ts one. A role that is CommonJS by Node's rules (no "type":
// "module" above it: the usual case next to an inventory) is required through tsx's CommonJS
// loader: its ESM loader would run it from an in-memory copy whose stack frames name no line.
async function importModule(file: string): Promise<unknown> {
  mapFleetImports()
  if (moduleFormat(file) === 'commonjs') {
    const { require } = await import('tsx/cjs/api')
    return require(file, import.meta.url)
  }
  const { tsImport } = await import('tsx/esm/api')
  return tsImport(pathToFileURL(file).href, import.meta.url)
}

// Node's rule: .mjs is a module; .js and .ts follow the "type" of the nearest package.json.
function moduleFormat(file: string): 'module' | 'commonjs' {
  if (file.endsWith('.mjs')) return 'module'
  for (let dir = path.dirname(file); ; dir = path.dirname(dir)) {
    const manifest = path.join(dir, 'package.json')
    if (existsSync(manifest)) {
      try {
        return (JSON.parse(readFileSync(manifest, 'utf8')) as { type?: unknown }).type === 'module' ? 'module' : 'commonjs'
      } catch {
        return 'commonjs'
      }
    }
    if (dir === path.dirname(dir) || path.basename(dir) === 'node_modules') return 'commonjs'
  }
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

async function loadRoleFile(file: string, name: string): Promise<Role> {
  let mod: { default?: unknown }
  try {
    mod = (await importModule(file)) as { default?: unknown }
  } catch (error) {
    throw loadFailure(error, file, name)
  }
  // tsx may wrap a CommonJS-looking module's default export one level deeper.
  const role = isRole(mod.default) ? mod.default : (mod.default as { default?: unknown } | undefined)?.default
  if (!isRole(role)) {
    throw new InputError('a role file must `export default { description, tasks(ctx) { ... } }`', file)
  }
  return role
}

// What tsx reports when esbuild cannot compile a role: "Transform failed with 1 error:\n
// FILE:LINE:COLUMN: ERROR: TEXT" (the column counted from 0), in the message only.
const COMPILE_ERROR = /^Transform failed with \d+ errors?:\n(.*):(\d+):(\d+): ERROR: (.*)$/m

// A role whose file does not compile or throws while it loads: where in the file, and why.
function loadFailure(error: unknown, file: string, name: string): InputError {
  const about = `role ${name} cannot be loaded`
  const compile = error instanceof Error ? COMPILE_ERROR.exec(error.message) : null
  if (compile) {
    const [, at, line, column, text] = compile
    // tsx compiles a CommonJS role to CommonJS, where top-level await does not exist.
    const hint = /top-level await/i.test(text!) ? ' (tsx compiles this role as CommonJS: put a package.json with "type": "module" in its folder)' : ''
    return new InputError(`${about}: ${text}${hint}`, `${at}:${line}:${Number(column) + 1}`)
  }
  const what = error instanceof Error ? `${error.name}: ${error.message.split('\n')[0]}` : (JSON.stringify(error) ?? String(error))
  return new InputError(`${about}: threw ${what}`, placeText(errorPlace(error, file)) ?? file)
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
    roles.set(host.role, { role: await loadRoleFile(file, host.role), file, common: COMMON })
  }
  if (errors.length > 0) throw new InputErrors(errors)
  return roles
}
