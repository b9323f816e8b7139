// Bad input: every case is one line naming file:line:col and what was expected, exit status 2,
// no stack trace, and nothing changes (the dry run never gets to print a plan).
import { mkdtempSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { badInventories as cases, good } from '../helpers/bad-inventories.ts'
import { fleet } from '../helpers/cli.ts'

const dir = mkdtempSync(path.join(os.tmpdir(), 'fleet-inv-'))

function write(name: string, text: string): string {
  const file = path.join(dir, name)
  writeFileSync(file, text)
  return file
}

describe('bad inventory input', () => {
  it.each(cases)('%s: one line with file:line:col, exit 2', async (name, text, expected) => {
    const file = write(`${name.replaceAll(' ', '-')}.yaml`, text)
    const result = await fleet(['apply', '--inventory', file, '--dry-run'])
    expect(result.code).toBe(2)
    expect(result.stdout).toBe('')
    const lines = result.stderr.split('\n')
    expect(lines).toHaveLength(1)
    expect(lines[0]).toContain(file + ':')
    expect(lines[0]).toMatch(expected)
    expect(result.stderr).not.toMatch(/\n\s+at /)
  })

  it('a missing inventory file is bad input too', async () => {
    const result = await fleet(['apply', '--inventory', path.join(dir, 'nope.yaml'), '--dry-run'])
    expect(result.code).toBe(2)
    expect(result.stderr).toMatch(/nope\.yaml: cannot read the inventory: no such file/)
  })

  it('an unknown --limit name is bad input', async () => {
    const result = await fleet(['apply', '--inventory', write('limit.yaml', good), '--dry-run', '--limit', 'db99'])
    expect(result.code).toBe(2)
    expect(result.stderr).toMatch(/--limit db99 matches no host or role \(hosts: web01; roles: internal-server\)/)
  })

  it('aliases that expand to a sane size are fine, however often they are used', async () => {
    const hosts = Array.from({ length: 300 }, (_, i) => `  web${i}: { address: 10.0.${i >> 8}.${i & 255}, role: internal-server, ssh: *ssh }\n`).join('')
    const text = good.replace('hosts:\n', `  ssh: &ssh { port: 22, user: root }\nhosts:\n`).replace(/  web01:[^]*$/, hosts)
    const result = await fleet(['apply', '--inventory', write('aliases.yaml', text), '--dry-run', '--limit', 'web299'])
    expect(result.stderr).toBe('')
    expect(result.code).toBe(0)
  })

  it('the good inventory is accepted', async () => {
    const result = await fleet(['apply', '--inventory', write('good.yaml', good), '--dry-run'])
    expect(result.stderr).toBe('')
    expect(result.code).toBe(0)
  })
})

// Options take whole numbers in a range a person would mean; anything else (an overflow of Node's
// timer, an exponent dash cannot evaluate, a hex word) is refused before any host is touched.
const badOptions: [string, string[], RegExp][] = [
  ['a confirm timeout past Node\'s timer', ['--confirm-timeout', '2147486'], /--confirm-timeout 2147486: expected a whole number of seconds from 1 to 3600/],
  ['a confirm timeout in exponent form', ['--confirm-timeout', '1e21'], /--confirm-timeout 1e21: expected a whole number of seconds from 1 to 3600/],
  ['a confirm timeout of zero', ['--confirm-timeout', '0'], /--confirm-timeout 0: expected a whole number of seconds from 1 to 3600/],
  ['a confirm timeout of an hour and a second', ['--confirm-timeout', '3601'], /--confirm-timeout 3601: expected/],
  ['a fractional confirm timeout', ['--confirm-timeout', '1.5'], /--confirm-timeout 1\.5: expected/],
  ['keep in exponent form', ['--keep', '1e21'], /--keep 1e21: expected a whole number from 1 to 1000/],
  ['keep in hex', ['--keep', '0x10'], /--keep 0x10: expected a whole number from 1 to 1000/],
  ['keep of zero', ['--keep', '0'], /--keep 0: expected a whole number from 1 to 1000/],
  ['keep of more than a thousand', ['--keep', '1001'], /--keep 1001: expected/],
  ['a negative keep', ['--keep=-3'], /--keep -3: expected/],
  ['a fractional concurrency', ['--concurrency', '1.5'], /--concurrency 1\.5: expected a whole number from 1 to 256/],
  ['a concurrency of zero', ['--concurrency', '0'], /--concurrency 0: expected/],
  ['a huge concurrency', ['-c', '100000'], /--concurrency 100000: expected/],
  ['a concurrency with spaces', ['--concurrency', ' 8'], /--concurrency  8: expected/],
  ['an empty concurrency', ['--concurrency', ''], /--concurrency : expected/],
]

describe('bad options', () => {
  it.each(badOptions)('%s: one line, exit 2', async (_name, options, expected) => {
    const result = await fleet(['apply', '--inventory', write('options.yaml', good), '--dry-run', ...options])
    expect(result.code).toBe(2)
    expect(result.stdout).toBe('')
    expect(result.stderr.split('\n')).toHaveLength(1)
    expect(result.stderr).toMatch(new RegExp(`^fleet: ${expected.source}`))
  })

  it.each([
    ['--confirm-timeout', '3600'],
    ['--confirm-timeout', '1'],
    ['--keep', '1000'],
    ['--concurrency', '256'],
  ])('%s %s is accepted', async (option, value) => {
    const result = await fleet(['apply', '--inventory', write('options.yaml', good), '--dry-run', option, value])
    expect(result.stderr).toBe('')
    expect(result.code).toBe(0)
  })

  it('the same options are checked by rollback and audit', async () => {
    const inventory = write('options.yaml', good)
    expect((await fleet(['rollback', '-i', inventory, '--dry-run', '--keep', '1e3'])).code).toBe(2)
    expect((await fleet(['audit', '-i', inventory, '--concurrency', '0x8'])).code).toBe(2)
  })
})

describe('bad input under --json', () => {
  it('is also one JSON document on stdout, with each problem and where it is', async () => {
    const file = write('json-bad.yaml', good.replace('10.0.0.11', '10.0.0.300'))
    const result = await fleet(['apply', '--inventory', file, '--dry-run', '--json'])
    expect(result.code).toBe(2)
    expect(JSON.parse(result.stdout)).toEqual({
      command: 'apply',
      error: {
        kind: 'bad-input',
        status: 2,
        problems: [{ where: `${file}:7:14`, message: expect.stringMatching(/^hosts\.web01\.address: expected an IPv4 address/) }],
      },
    })
    expect(result.stderr).toMatch(/^fleet: .*json-bad\.yaml:7:14: hosts\.web01\.address/)
  })

  it('a bad option too', async () => {
    const result = await fleet(['apply', '--inventory', write('options.yaml', good), '--json', '--keep', '1e21'])
    expect(result.code).toBe(2)
    expect(JSON.parse(result.stdout).error).toEqual({ kind: 'bad-input', status: 2, problems: [{ message: expect.stringContaining('--keep 1e21') }] })
  })
})
