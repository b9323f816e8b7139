// A user's role, outside fleet's folders, importing fleet by name at run time: whatever module
// format tsx picks for it, `fleet/role` is the running fleet. (test/e2e/package.test.ts does the
// same from a global install of the packed tarball.)
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { loadBaselines, readInventory } from '../../src/cli/load.ts'
import { PUBLIC_MODULES } from '../../src/roles/fleet-imports.ts'
import { USER_ROLE_MJS, USER_ROLE_TS } from '../helpers/user-role.ts'

const ROOT = path.resolve(import.meta.dirname, '../..')
const dir = mkdtempSync(path.join(os.tmpdir(), 'fleet-role-imports-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

function site(name: string, type: 'module' | 'commonjs' | undefined, file: string, text: string): string {
  const base = path.join(dir, name)
  mkdirSync(path.join(base, 'roles'), { recursive: true })
  if (type) writeFileSync(path.join(base, 'package.json'), JSON.stringify({ type }))
  writeFileSync(path.join(base, 'roles', file), text)
  const role = path.basename(file, path.extname(file))
  const inventory = path.join(base, 'site.yaml')
  writeFileSync(inventory, `roles: { path: [./roles] }\ndefaults: { network: { internal: 10.20.0.0/24 } }\nhosts:\n  web09: { address: 10.20.0.19, role: ${role} }\n`)
  return inventory
}

describe('a user role importing fleet/role at run time', () => {
  it.each([
    ['a .ts role with no package.json (tsx loads it as CommonJS)', site('cjs', undefined, 'web.ts', USER_ROLE_TS)],
    ['a .ts role in a "type": "module" folder', site('esm', 'module', 'web.ts', USER_ROLE_TS)],
    ['a .mjs role', site('mjs', undefined, 'web.mjs', USER_ROLE_MJS)],
  ])('loads and runs %s', async (_name, inventory) => {
    const [baseline] = await loadBaselines(readInventory(inventory), readInventory(inventory).hosts)
    expect(baseline!.document).toContain('-A INPUT -s 10.20.0.0/24 -p tcp --dport 8080 -j ACCEPT')
    expect(baseline!.document).toContain('-A INPUT -i eth0 -m state --state RELATED,ESTABLISHED -j ACCEPT')
  })
})

describe('the public modules', () => {
  it('are the package.json exports, each mapped to the running fleet', () => {
    const exports = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')).exports as Record<string, unknown>
    const published = Object.keys(exports).filter((k) => k !== './package.json').map((k) => `fleet/${k.slice(2)}`)
    expect(Object.keys(PUBLIC_MODULES).sort()).toEqual(published.sort())
  })
})
