// `fleet schema`: the inventory's JSON Schema, from the zod schema fleet validates with. Every
// shipped inventory passes it, and the bad inputs a JSON Schema can express are refused by it as
// by fleet, so an editor flags them as the user types.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { Ajv2020 } from 'ajv/dist/2020.js'
import { parse } from 'yaml'
import { describe, expect, it } from 'vitest'
import { PATTERN } from '../../src/inventory/json-patterns.ts'
import * as values from '../../src/net/values.ts'
import { badInventories, FLEETS_OWN_CHECKS } from '../helpers/bad-inventories.ts'
import { fleet } from '../helpers/cli.ts'

const ROOT = path.resolve(import.meta.dirname, '../..')
const SCHEMA_FILE = path.join(ROOT, 'inventory/fleet.schema.json')

async function printedSchema(): Promise<Record<string, unknown>> {
  const result = await fleet(['schema'])
  expect(result.code).toBe(0)
  return JSON.parse(result.stdout)
}

async function validator() {
  return new Ajv2020({ allErrors: true, strict: true }).compile(await printedSchema())
}

describe('fleet schema', () => {
  it('prints a JSON Schema of the inventory with the README’s words', async () => {
    const schema = (await printedSchema()) as { $schema: string; properties: Record<string, { description?: string }> }
    expect(schema.$schema).toBe('https://json-schema.org/draft/2020-12/schema')
    expect(schema.properties.defaults!.description).toBe('shared by every host; any host may override any value')
    const text = JSON.stringify(schema)
    for (const words of ["the internal network (the seed's <internal>)", 'the load-balanced web: never tracked', 'omit to use the agent at SSH_AUTH_SOCK']) {
      expect(text).toContain(JSON.stringify(words).slice(1, -1))
    }
  })

  it('is the schema the shipped inventories point to (UPDATE_GOLDEN=1 rewrites it)', async () => {
    const printed = `${JSON.stringify(await printedSchema(), null, 2)}\n`
    if (process.env.UPDATE_GOLDEN) writeFileSync(SCHEMA_FILE, printed)
    expect(readFileSync(SCHEMA_FILE, 'utf8')).toBe(printed)
  })
})

describe('the shipped inventories', () => {
  const files = readdirSync(path.join(ROOT, 'inventory')).filter((f) => f.endsWith('.yaml'))

  it.each(files)('%s names the schema for editors and passes it', async (file) => {
    const text = readFileSync(path.join(ROOT, 'inventory', file), 'utf8')
    expect(text.split('\n')[0]).toBe('# yaml-language-server: $schema=./fleet.schema.json')
    const validate = await validator()
    expect(validate(parse(text)), JSON.stringify(validate.errors)).toBe(true)
  })
})

describe('bad input the schema can express', () => {
  const expressible = badInventories.filter(([name]) => !FLEETS_OWN_CHECKS.includes(name))

  it('every bad-input row is either refused by the schema or named as fleet’s own check', () => {
    for (const name of FLEETS_OWN_CHECKS) expect(badInventories.map(([n]) => n)).toContain(name)
    expect(expressible.length).toBeGreaterThan(10)
  })

  it.each(expressible.map(([name, text]) => [name, text]))('%s is refused by the schema too', async (_name, text) => {
    const validate = await validator()
    expect(validate(parse(text))).toBe(false)
  })
})

describe('the schema’s patterns', () => {
  const cases: [keyof typeof PATTERN, (v: string) => values.Problem, string[]][] = [
    ['ipv4', values.checkIPv4, ['0.0.0.0', '203.0.113.10', '255.255.255.255', '10.0.0.300', '1.2.3', '01.2.3.4', 'a.b.c.d']],
    ['cidr', values.checkCidr, ['10.20.0.0/24', '0.0.0.0/0', '10.0.0.0/33', '10.0.0.0', '10.0.0.0/8/1']],
    ['cidr6', values.checkCidr6, ['2001:db8:20::/64', '::/0', '2001:db8::/129', '2001:db8::', 'fe80::1%eth0/64']],
    ['iface', values.checkInterface, ['eth0', 'br-lan.10', 'wg@1', 'ppp+', 'eth0;reboot', 'a'.repeat(16), '-eth0', '']],
    ['address', values.checkAddress, ['203.0.113.10', '2001:db8::1', 'router01.example.org', 'web-01', '10.0.0.300', '123', 'a b', 'x;y']],
    ['roleName', values.checkRoleName, ['router', 'internal-server', 'Router', '1router', 'a_b']],
    ['hostName', values.checkHostName, ['web01', 'web-01.lan', '-web', 'web_01', 'a..b']],
    ['user', values.checkUser, ['root', 'deploy', '_svc', 'Root', '1user']],
    ['preservePattern', values.checkPreservePattern, ['DOCKER', 'DOCKER-*', 'f2b-*', '!KUBE-SERVICES', 'a b', 'x;y', 'INPUT']],
  ]
  it.each(cases)('%s never refuses what fleet accepts', (name, check, samples) => {
    const pattern = new RegExp(PATTERN[name], 'u')
    for (const value of samples) if (check(value) === null) expect(pattern.test(value), value).toBe(true)
    // And it refuses at least the plainly wrong ones.
    expect(samples.filter((v) => check(v) !== null && !pattern.test(v)).length).toBeGreaterThan(0)
  })
})
