// A role that throws, or returns what fleet cannot use, is the user's input, not a bug in fleet:
// one line naming the role's file and the line in it, exit 2. Whatever module format tsx gives the
// role (CommonJS for a .ts file with no "type": "module" above it, the usual case next to an
// inventory; ES module otherwise), both in-process and as the built fleet an operator runs.
import { spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { fleet } from '../helpers/cli.ts'
import { FLEET_BIN } from '../helpers/lab.ts'

const root = mkdtempSync(path.join(os.tmpdir(), 'fleet-role-faults-'))

type Format = 'commonjs' | 'module'

function site(format: Format): string {
  const dir = path.join(root, format)
  mkdirSync(path.join(dir, 'roles'), { recursive: true })
  if (format === 'module') writeFileSync(path.join(dir, 'package.json'), '{ "type": "module" }\n')
  return dir
}
const sites: Record<Format, string> = { commonjs: site('commonjs'), module: site('module') }

// Writes roles/<name>.ts and an inventory naming it; returns both paths.
function roleSite(format: Format, name: string, text: string): { file: string; inventory: string } {
  const dir = sites[format]
  const file = path.join(dir, 'roles', `${name}.ts`)
  writeFileSync(file, text)
  const inventory = path.join(dir, `${name}.yaml`)
  writeFileSync(inventory, `roles:\n  path: [./roles]\nhosts:\n  web01:\n    address: 198.51.100.20\n    role: ${name}\n`)
  return { file, inventory }
}

const role = (tasks: string) => `export default {\n  description: 'a faulty role',\n  tasks(ctx) {\n${tasks}\n  },\n}\n`

// [name, role text, what follows "fleet: FILE" on the one line]
const cases: [string, string, string | RegExp][] = [
  ['throws-at-load', "const x = 1\nthrow new Error('no settings for ' + x)\nexport default { description: 'x', tasks: () => [] }\n", ':2:7: role throws-at-load cannot be loaded: threw Error: no settings for 1'],
  ['does-not-compile', "export default {\n  description: 'x',\n  tasks() { return [ }\n}\n", ':3:22: role does-not-compile cannot be loaded: Unexpected "}"'],
  ['throws', role("    const internal = ctx.need('internal')\n    throw new Error('no idea what to do with ' + internal)"), ':5:11: role throws for host web01: threw Error: no idea what to do with 0.0.0.0/32'],
  ['reads-a-missing-property', role('    return ctx.nothing.here'), /^:4:\d+: role reads-a-missing-property for host web01: threw TypeError: Cannot read properties of undefined/],
  ['throws-a-string', role("    throw 'oops'"), /^: role throws-a-string for host web01: threw "oops"$/],
  ['task-throws', role("    return [\n      ctx.task('look around', async ($) => {\n        JSON.parse('{')\n      }),\n    ]"), /^:6:\d+: role task-throws for host web01: task "look around" threw SyntaxError: /],
  ['runs-a-bare-command', role("    return [\n      ctx.task('look up the hostname', async ($) => {\n        await $`hostname`\n      }),\n    ]"), /^:5:\d+: role runs-a-bare-command for host web01: task "look up the hostname": "hostname" is neither an iptables\/ip6tables line nor a host setting; /],
  ['untitled-task', role("    return [ctx.task('', async () => {})]"), /^:4:\d+: role untitled-task for host web01: a task needs a title: task\(title, async \(\$\) => \{ ... \}\)$/],
  ['returns-a-number', role('    return 42'), /^:3:3: role returns-a-number for host web01: returned something fleet cannot use \(.*got 42\)$/],
  ['returns-a-list-of-garbage', role("    return [ctx.task('fine', async () => {}), 'not a task']"), /^:3:3: role returns-a-list-of-garbage for host web01: returned something fleet cannot use \(.*got "not a task"\)$/],
]

// The file is named as given (absolute here: it is outside the working directory).
const expectOneLine = (stderr: string, file: string, rest: string | RegExp) => {
  const lines = stderr.trim().split('\n')
  expect(lines).toHaveLength(1)
  const line = lines[0]!
  expect(line.startsWith(`fleet: ${file}`)).toBe(true)
  const after = line.slice(`fleet: ${file}`.length)
  if (typeof rest === 'string') expect(after).toBe(rest)
  else expect(after).toMatch(rest)
}

describe.each(['commonjs', 'module'] as const)('a faulty role loaded as %s', (format) => {
  it.each(cases)('%s: in-process, one line with the role file and line, exit 2', async (name, text, rest) => {
    const { file, inventory } = roleSite(format, `${name}-${format}`, text)
    const result = await fleet(['apply', '--inventory', inventory, '--dry-run'])
    expect(result.stdout).toBe('')
    expectOneLine(result.stderr, file, typeof rest === 'string' ? rest.replace(`role ${name} `, `role ${name}-${format} `) : new RegExp(rest.source.replace(`role ${name} `, `role ${name}-${format} `)))
    expect(result.code).toBe(2)
  })

  it.each(cases)('%s: the built fleet says the same', (name, _text, rest) => {
    const { file, inventory } = roleSite(format, `${name}-${format}-bin`, _text)
    const result = spawnSync(process.execPath, [FLEET_BIN, 'apply', '--inventory', inventory, '--dry-run'], { encoding: 'utf8' })
    expect(result.stdout).toBe('')
    expectOneLine(result.stderr, file, typeof rest === 'string' ? rest.replace(`role ${name} `, `role ${name}-${format}-bin `) : new RegExp(rest.source.replace(`role ${name} `, `role ${name}-${format}-bin `)))
    expect(result.status).toBe(2)
  })
})

describe('a faulty role under --json', () => {
  it('is bad input with the role file and line', async () => {
    const { file, inventory } = roleSite('commonjs', 'throws-json', role("    throw new Error('broken')"))
    const result = await fleet(['audit', '--inventory', inventory, '--json'])
    expect(result.code).toBe(2)
    expect(JSON.parse(result.stdout).error).toMatchObject({
      kind: 'bad-input',
      status: 2,
      problems: [{ where: `${file}:4:11`, message: 'role throws-json for host web01: threw Error: broken' }],
    })
  })
})

describe('a role with top-level await in a CommonJS folder', () => {
  it('says why it cannot be loaded and how to make it an ES module', async () => {
    const { file, inventory } = roleSite('commonjs', 'awaits', "const x = await Promise.resolve(1)\nexport default { description: 'x', tasks: () => [] }\n")
    const result = await fleet(['apply', '--inventory', inventory, '--dry-run'])
    expect(result.code).toBe(2)
    expectOneLine(result.stderr, file, /^:1:11: role awaits cannot be loaded: Top-level await .*CommonJS: put a package.json with "type": "module" in its folder\)$/)
  })
})

describe('a faulty .mjs role (plain JavaScript, run as written)', () => {
  it.each([
    ['throws', "    throw new Error('plain')", ':4:11: role mjs-throws for host web01: threw Error: plain'],
    ['returns-a-string', "    return 'tasks'", /^:3:\d+: role mjs-returns-a-string for host web01: returned something fleet cannot use \(.*got "tasks"\)$/],
  ] as const)('%s: the role file and line', async (name, body, rest) => {
    const dir = sites.commonjs
    const file = path.join(dir, 'roles', `mjs-${name}.mjs`)
    writeFileSync(file, role(body))
    const inventory = path.join(dir, `mjs-${name}.yaml`)
    writeFileSync(inventory, `roles:\n  path: [./roles]\nhosts:\n  web01:\n    address: 198.51.100.20\n    role: mjs-${name}\n`)
    const result = await fleet(['apply', '--inventory', inventory, '--dry-run'])
    expectOneLine(result.stderr, file, rest)
    expect(result.code).toBe(2)
  })
})
