// Golden files: each shipped inventory -> the iptables-restore document of every host, byte for
// byte. After an intended change, regenerate with UPDATE_GOLDEN=1 and review the diff.
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
    for (const b of baselines) {
      const golden = path.join(dir, `${b.host.name}.rules`)
      if (process.env.UPDATE_GOLDEN) writeFileSync(golden, b.document)
      expect(existsSync(golden), `${golden} exists`).toBe(true)
      expect(b.document, `${b.host.name} (${file})`).toBe(readFileSync(golden, 'utf8'))
    }
    expect(readdirSync(dir).sort()).toEqual(baselines.map((b) => `${b.host.name}.rules`).sort())
  })
})
