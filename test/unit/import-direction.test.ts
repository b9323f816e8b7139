// Imports point one way, down the walk of a run: inventory -> roles -> render -> plan -> remote ->
// apply, audit, history (and init, which reads a router for `fleet init`) -> report -> cli, with
// net and shell as utilities underneath everything.
// ssh sits with remote: it implements remote's Session and Transport for the commands above it.
// A module may import from its own room or from a room below it, never from one above.
import { readFileSync, readdirSync } from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'

const SRC = path.resolve(import.meta.dirname, '../../src')

const RANK: Record<string, number> = {
  net: 0,
  shell: 0,
  inventory: 1,
  roles: 2,
  render: 3,
  plan: 4,
  remote: 5,
  ssh: 5,
  apply: 6,
  audit: 6,
  history: 6,
  init: 6,
  report: 7,
  cli: 8,
}
// Files at the top of src/ (the package's entry points, such as fleet/role) sit above everything.
const ENTRY = 9

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const full = path.join(dir, e.name)
    return e.isDirectory() ? sources(full) : e.name.endsWith('.ts') ? [full] : []
  })
}

function room(file: string): string {
  const rel = path.relative(SRC, file).split(path.sep)
  return rel.length === 1 ? '(entry)' : rel[0]!
}

function rank(file: string): number {
  const r = room(file)
  return r === '(entry)' ? ENTRY : (RANK[r] ?? NaN)
}

// Static imports, re-exports and dynamic import() of files inside src/.
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8')
  const specs = [...text.matchAll(/(?:^|\s)(?:import|export)\s[^'"]*?from\s*['"](\.{1,2}\/[^'"]+)['"]|import\(\s*['"](\.{1,2}\/[^'"]+)['"]\s*\)/gm)]
  return specs
    .map((m) => path.resolve(path.dirname(file), (m[1] ?? m[2])!))
    .filter((target) => target.startsWith(SRC + path.sep))
}

describe('the direction of imports in src/', () => {
  const files = sources(SRC)

  it('every room has a place in the order', () => {
    const unknown = [...new Set(files.map(room))].filter((r) => r !== '(entry)' && !(r in RANK))
    expect(unknown, 'a new folder under src/ needs its place in RANK').toEqual([])
  })

  it('no module imports from a room above its own', () => {
    const upward = files.flatMap((file) =>
      importsOf(file)
        .filter((target) => rank(target) > rank(file))
        .map((target) => `${path.relative(SRC, file)} -> ${path.relative(SRC, target)}`),
    )
    expect(upward).toEqual([])
  })

  it('reads the imports it checks', () => {
    // The parser finds the imports of a file known to have them, so the test above cannot pass empty.
    expect(importsOf(path.join(SRC, 'cli/main.ts')).length).toBeGreaterThan(3)
  })
})
