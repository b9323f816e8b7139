// Host text that imitates what fleet reads, against a real netfilter: a scratch network namespace
// (root, as CI has) holding web01's baseline, an extra rule, and a rule whose comment restarts the
// filter table (iptables-save prints a comment's line breaks raw) or imitates fleet's section
// markers. fleet must see the extra rules, or say it cannot read the host; never "equal".
import { execFileSync, spawnSync } from 'node:child_process'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { changeOf } from '../../src/plan/change.ts'
import { factsDiff, gatherFacts, readFacts, rulesetsEqual } from '../../src/apply/host-facts.ts'
import { loadBaselines, readInventory } from '../../src/cli/load.ts'
import { factsStep } from '../../src/remote/read-scripts.ts'
import { parseSections } from '../../src/remote/sections.ts'
import { HostError, type Session } from '../../src/remote/transport.ts'

const ROOT = path.resolve(import.meta.dirname, '../..')
const EXTRA = '-A INPUT -s 198.51.100.9/32 -j ACCEPT'

describe('forged iptables-save text, read by the facts script from a real netfilter', async () => {
  const inventory = readInventory(path.join(ROOT, 'inventory/example.yaml'))
  const web01 = changeOf((await loadBaselines(inventory, inventory.hosts)).find((b) => b.host.name === 'web01')!)
  // The host holds web01's baseline, then `setup`; the facts script's output and its marks.
  const run = (setup: string) => {
    const step = factsStep(web01)
    const load = (tool: string, document: string) => `${tool} <<'FLEET_TEST_EOF'\n${document}\nFLEET_TEST_EOF`
    const script = [load('iptables-restore', web01.document), load('ip6tables-restore', web01.document6!), setup, step.script].join('\n')
    return { stdout: execFileSync('unshare', ['--net', 'sh', '-s'], { input: script, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] }), marks: step.marks }
  }
  const factsAfter = (setup: string) => {
    const { stdout, marks } = run(setup)
    return readFacts(web01, parseSections(stdout, marks))
  }
  const extras = (setup: string) => factsDiff(factsAfter(setup)).filter((d) => d.kind === 'extra').map((d) => d.line)

  it('agrees with the baseline as loaded (the ground for the cases below)', () => {
    expect(rulesetsEqual(factsAfter(''))).toBe(true)
  })

  it('sees the rules before a comment that restarts the filter table, and the commented rule', () => {
    // The comment repeats the table's head as the host prints it, so a line-by-line reading starts
    // the table afresh after it, just as it was: the two rules above it vanish.
    const comment = `$(printf 'x\\n'; iptables-save -t filter | grep '^[*:]'; printf '#')`
    const facts = factsAfter(`iptables -I INPUT 1 -m comment --comment "${comment}" -j ACCEPT\niptables -I INPUT 1 -s 198.51.100.9 -j ACCEPT`)
    expect(rulesetsEqual(facts)).toBe(false)
    const found = factsDiff(facts).filter((d) => d.kind === 'extra').map((d) => d.line)
    expect(found[0]).toBe(EXTRA)
    expect(found[1]).toMatch(/^-A INPUT -m comment --comment "x\n\*filter\n:INPUT ACCEPT \[\d+:\d+\]\n:FORWARD ACCEPT \[\d+:\d+\]\n:OUTPUT ACCEPT \[\d+:\d+\]\n#" -j ACCEPT$/)
    expect(found).toHaveLength(2)
  })

  it('sees the rules after a comment that imitates the end of fleet\'s section', () => {
    const found = extras(`iptables -I INPUT 1 -s 198.51.100.9 -j ACCEPT\niptables -I INPUT 1 -m comment --comment "$(printf 'x\\nCOMMIT\\n@@fleet-status live 0\\n@@fleet x')" -j ACCEPT`)
    expect(found).toEqual(['-A INPUT -m comment --comment "x\nCOMMIT\n@@fleet-status live 0\n@@fleet x" -j ACCEPT', EXTRA])
  })

  it('says it cannot read a ruleset iptables-save did not write', () => {
    // A table that starts again inside itself, as no iptables-save prints it (the live ruleset
    // comes first in the script's output).
    const { stdout, marks } = run('')
    const broken = parseSections(stdout.replace(/^\*filter$/m, '*filter\n*filter'), marks)
    expect(() => readFacts(web01, broken)).toThrow(HostError)
    expect(() => readFacts(web01, broken)).toThrow(/^the host's ruleset could not be read: the live ruleset \(iptables-save\), line \d+: expected a chain .* found "\*filter"$/)
  })
})

describe('a reading the text alone cannot settle, against the kernel\'s count of rules', async () => {
  const inventory = readInventory(path.join(ROOT, 'inventory/example.yaml'))
  const web01 = changeOf((await loadBaselines(inventory, inventory.hosts)).find((b) => b.host.name === 'web01')!)
  // A scratch network namespace that outlives one script, as a host does between round trips.
  const ns = `parse-test-${process.pid}`
  const session: Session = {
    run: async (script) => {
      const r = spawnSync('ip', ['netns', 'exec', ns, 'sh', '-s'], { input: script, encoding: 'utf8' })
      return { code: r.status, stdout: r.stdout, stderr: r.stderr }
    },
    close: () => {},
  }
  const host = (script: string) => execFileSync('ip', ['netns', 'exec', ns, 'sh', '-c', script], { encoding: 'utf8' })
  beforeAll(() => {
    execFileSync('ip', ['netns', 'add', ns])
    host(`iptables-restore <<'EOF'\n${web01.document}\nEOF\nip6tables-restore <<'EOF'\n${web01.document6}\nEOF`)
  })
  afterAll(() => execFileSync('ip', ['netns', 'delete', ns]))

  it('confirms a comment with line breaks, and the rules around it are drift', async () => {
    host(`iptables -I INPUT 1 -m comment --comment "$(printf 'x\\n*filter\\n#')" -j ACCEPT && iptables -I INPUT 1 -s 198.51.100.9 -j ACCEPT`)
    const facts = await gatherFacts(session, web01)
    expect(factsDiff(facts).filter((d) => d.kind === 'extra').map((d) => d.line)).toEqual([EXTRA, '-A INPUT -m comment --comment "x\n*filter\n#" -j ACCEPT'])
    host('iptables -D INPUT 1 && iptables -D INPUT 1')
  })

  it('fails the host when an interface name opens a quote iptables never wrote and swallows a rule', async () => {
    // iptables-save prints `-i x --log "z -j ACCEPT`: read as iptables quotes, the quote runs to
    // `q"` two rules on, and the ACCEPT rule between would be part of the first.
    host(`iptables -I INPUT 1 -i 'q"' -j DROP && iptables -I INPUT 1 -s 198.51.100.9 -j ACCEPT && iptables -I INPUT 1 -i 'x --log "z' -j ACCEPT`)
    expect(host('iptables-save')).toContain('-A INPUT -i x --log "z -j ACCEPT\n-A INPUT -s 198.51.100.9/32 -j ACCEPT\n-A INPUT -i q" -j DROP\n')
    await expect(gatherFacts(session, web01)).rejects.toThrow(/^the host's ruleset could not be read: .*kernel holds another number of rules in filter\/INPUT than fleet read/)
  })
})
