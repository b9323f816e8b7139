// Golden files: each shipped inventory -> the iptables-restore (<host>.v4) and ip6tables-restore
// (<host>.v6) documents of every host, and its host settings (<host>.settings: the commands that
// check and make them), byte for byte. The .settings files were written by the code before roles
// became zx task lists, so these tests prove the rewrite changed no ruleset and no host command. After an intended change, regenerate with UPDATE_GOLDEN=1 and review the diff.
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
      const settings = b.commands.map((c) => `# ${c.title}\ncheck: ${c.check}\nwant: ${c.want}\nrun: ${c.run}\n`).join('')
      for (const [suffix, document] of [['v4', b.document], ['v6', b.document6], ['settings', settings || undefined]] as const) {
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
