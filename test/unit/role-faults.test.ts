// A role that throws, or returns what fleet cannot use, is the user's input, not a bug in fleet:
// one line naming the role's file (and the line in it when the error came from there, and the trace
// says where: not for a role tsx compiled to CommonJS), exit 2.
import { spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { fleet } from '../helpers/cli.ts'

const dir = mkdtempSync(path.join(os.tmpdir(), 'fleet-role-faults-'))
mkdirSync(path.join(dir, 'roles'))

function role(name: string, body: string): string {
  const file = path.join(dir, 'roles', `${name}.ts`)
  writeFileSync(file, `export default {\n  description: 'a faulty role',\n  tasks(ctx) {\n${body}\n  },\n}\n`)
  return file
}

function inventory(roleName: string): string {
  const file = path.join(dir, `${roleName}.yaml`)
  writeFileSync(file, `roles:\n  path: [./roles]\nhosts:\n  web01:\n    address: 198.51.100.20\n    role: ${roleName}\n`)
  return file
}

const cases: [string, string, (file: string) => RegExp][] = [
  ['throws', "    const internal = ctx.need('internal')\n    throw new Error('no idea what to do with ' + internal)", (f) => new RegExp(`^fleet: ${f}(:5:11)?: role throws for host web01: threw Error: no idea what to do with`)],
  ['reads-a-missing-property', '    return ctx.nothing.here', (f) => new RegExp(`^fleet: ${f}(:4:\\d+)?: role reads-a-missing-property for host web01: threw TypeError: Cannot read properties of undefined`)],
  ['returns-a-number', '    return 42', (f) => new RegExp(`^fleet: ${f}: role returns-a-number for host web01: returned something fleet cannot use \\(.*\\)$`)],
  ['throws-a-string', "    throw 'oops'", (f) => new RegExp(`^fleet: ${f}: role throws-a-string for host web01: threw "oops"$`)],
]

describe('a faulty role', () => {
  it.each(cases)('%s: one line naming the role file, exit 2', async (name, body, expected) => {
    const file = role(name, body)
    const result = await fleet(['apply', '--inventory', inventory(name), '--dry-run'])
    expect(result.stdout).toBe('')
    expect(result.stderr.split('\n')).toHaveLength(1)
    expect(result.stderr).toMatch(expected(file))
    expect(result.code).toBe(2)
  })

  it('under --json too, as bad input', async () => {
    role('throws-json', "    throw new Error('broken')")
    const result = await fleet(['audit', '--inventory', inventory('throws-json'), '--json'])
    expect(result.code).toBe(2)
    expect(JSON.parse(result.stdout).error).toMatchObject({ kind: 'bad-input', status: 2, problems: [{ message: expect.stringContaining('threw Error: broken') }] })
  })
})

describe('a faulty role in an ES module folder', () => {
  // The built fleet, as an operator runs it: tsx maps the trace back to the role's own lines.
  it('is named with the line and column where it threw', () => {
    const esm = mkdtempSync(path.join(os.tmpdir(), 'fleet-role-faults-esm-'))
    mkdirSync(path.join(esm, 'roles'))
    writeFileSync(path.join(esm, 'package.json'), '{ "type": "module" }\n')
    const file = path.join(esm, 'roles', 'thrower.ts')
    writeFileSync(file, "export default {\n  description: 'a faulty role',\n  tasks() {\n    throw new RangeError('too far')\n  },\n}\n")
    const inv = path.join(esm, 'inventory.yaml')
    writeFileSync(inv, 'roles:\n  path: [./roles]\nhosts:\n  web01:\n    address: 198.51.100.20\n    role: thrower\n')
    const result = spawnSync(process.execPath, [path.resolve(import.meta.dirname, '../../bin/fleet.js'), 'apply', '--inventory', inv, '--dry-run'], { encoding: 'utf8' })
    expect(result.stderr.trim()).toBe(`fleet: ${file}:4:11: role thrower for host web01: threw RangeError: too far`)
    expect(result.status).toBe(2)
  })
})
