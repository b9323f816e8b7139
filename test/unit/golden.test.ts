// Golden files: each shipped inventory -> the iptables-restore (<host>.v4) and ip6tables-restore
// (<host>.v6) documents of every host, byte for byte. After an intended change, regenerate with UPDATE_GOLDEN=1 and review the diff.
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { loadBaselines, readInventory } from '../../src/cli/load.ts'

const ROOT = path.resolve(import.meta.dirname, '../..')
const inventories = readdirSync(path.join(ROOT, 'inventory')).filter((f) => f.endsWith('.yaml'))

describe.each(inventories)('inventory/%s', (file) => {
  it('renders every host exactly as the golden files', async () => {
    const inventory = readInventory(path.join(ROOT, 'inventory', file))
    const baselines = await loadBaselines(inventory, inventory.hosts)
    const dir = path.join(ROOT, 'test/golden', path.basename(file, '.yaml'))
    if (process.env.UPDATE_GOLDEN) mkdirSync(dir, { recursive: true })
    const expected: string[] = []
    for (const b of baselines) {
      for (const [suffix, document] of [['v4', b.document], ['v6', b.document6]] as const) {
        if (document === undefined) continue
        const golden = path.join(dir, `${b.host.name}.${suffix}`)
        expected.push(path.basename(golden))
        if (process.env.UPDATE_GOLDEN) writeFileSync(golden, document)
        expect(existsSync(golden), `${golden} exists`).toBe(true)
        expect(document, `${b.host.name} ${suffix} (${file})`).toBe(readFileSync(golden, 'utf8'))
      }
    }
    expect(readdirSync(dir).sort()).toEqual(expected.sort())
  })
})
