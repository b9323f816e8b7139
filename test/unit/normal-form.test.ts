// iptables-save's text read as iptables writes it. The fixtures are real iptables-save output,
// captured from netfilter (nft and legacy backends) by the scripts beside them.
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { diffRulesets } from '../../src/plan/diff.ts'
import { managedTablesEqual, parseSave, UnreadableSave } from '../../src/plan/normal-form.ts'

const fixture = (name: string) => readFileSync(new URL(`../fixtures/iptables-save/${name}`, import.meta.url), 'utf8')

// The forging comment, as `iptables -A INPUT -m comment --comment "$(printf ...)"` stores it.
const FORGING = '-A INPUT -m comment --comment "x\n*filter\n:INPUT DROP [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n-A INPUT -i lo -j ACCEPT\n#" -j ACCEPT'

describe.each(['nft', 'legacy'])('iptables-save text from real netfilter (%s)', (backend) => {
  it('reads a comment with line breaks as one rule, and every rule before it', () => {
    const filter = parseSave(fixture(`comments.${backend}.save`)).get('filter')!
    expect(filter.lines).toEqual([
      ':INPUT DROP',
      ':FORWARD ACCEPT',
      ':OUTPUT ACCEPT',
      '-A INPUT -i lo -j ACCEPT',
      '-A INPUT -s 198.51.100.9/32 -j ACCEPT',
      FORGING,
      `-A INPUT -m comment --comment "say \\"hi\\" to \\\\ and it\\'s" -j ACCEPT`,
      '-A INPUT -m comment --comment "lone \\" quote" -j ACCEPT',
      '-A INPUT -m comment --comment "lone \\" quote\nand -A INPUT -j ACCEPT" -j ACCEPT',
      '-A INPUT -m comment --comment plain -j ACCEPT',
      '-A INPUT -j DROP',
    ])
  })

  it('keeps a table whose comment says COMMIT whole, and the tables after it', () => {
    const saved = parseSave(fixture(`comments.${backend}.save`))
    expect([...saved.keys()]).toEqual(['raw', 'filter'])
    expect(saved.get('raw')!.lines).toEqual([':PREROUTING ACCEPT', ':OUTPUT ACCEPT', '-A PREROUTING -m comment --comment "end\nCOMMIT" -j NOTRACK'])
  })

  it('opens no quote at a chain or interface name that holds a double quote', () => {
    expect(parseSave(fixture(`names.${backend}.save`)).get('filter')!.lines).toEqual([
      ':INPUT ACCEPT',
      ':FORWARD ACCEPT',
      ':OUTPUT ACCEPT',
      ':"x -',
      ':y" -',
      '-A INPUT -i "eth -j "x',
      '-A OUTPUT -o e"th -j y"',
      '-A "x -p tcp -m string --string "\\"x" --algo bm -j DROP',
      '-A y" -j LOG --log-prefix "a\\"b "',
      '-A y" -m comment --comment "two\nlines" -g "x',
    ])
  })
})

describe('drift behind a forging comment', () => {
  const baseline = parseSave('*filter\n:INPUT DROP [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n-A INPUT -i lo -j ACCEPT\nCOMMIT\n')
  const live = parseSave(
    `*filter\n:INPUT DROP [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n-A INPUT -i lo -j ACCEPT\n-A INPUT -s 198.51.100.9/32 -j ACCEPT\n${FORGING}\nCOMMIT\n`,
  )

  it('is drift: the rules before the comment and the commented rule are extra', () => {
    expect(managedTablesEqual(live, baseline)).toBe(false)
    expect(diffRulesets(live, baseline).map(String)).toEqual([
      'filter/INPUT: - extra   -A INPUT -s 198.51.100.9/32 -j ACCEPT',
      `filter/INPUT: - extra   ${FORGING}`,
    ])
  })
})

describe('text iptables-save does not write is unreadable, never in sync', () => {
  const head = '*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n'
  it.each([
    ['a quote that never closes', `${head}-A INPUT -m comment --comment "x\n-A INPUT -j ACCEPT\nCOMMIT\n`, /line 5: a quoted value never ends/],
    ['a table twice', `${head}COMMIT\n${head}COMMIT\n`, /line 6: table filter appears twice/],
    ['a chain declared twice', `${head}:INPUT DROP [0:0]\nCOMMIT\n`, /line 5: chain INPUT is declared twice/],
    ['a rule of an undeclared chain', `${head}-A SNEAKY -j ACCEPT\nCOMMIT\n`, /line 5: expected a chain/],
    ['a table with no COMMIT', `${head}-A INPUT -j ACCEPT\n`, /table filter has no COMMIT/],
    ['a rule outside a table', `${head}COMMIT\n-A INPUT -j ACCEPT\n`, /line 6: expected a table/],
    ['an error message instead of a ruleset', 'iptables-save v1.8.9 (nf_tables): Could not fetch rule set generation id: Permission denied (you must be root)\n', /line 1: expected a table/],
    ['text after a closing quote', `${head}-A INPUT -m comment --comment "a"b -j ACCEPT\nCOMMIT\n`, /line 5: a quoted value runs on past its closing quote/],
  ])('%s', (_name, text, problem) => {
    expect(() => parseSave(text)).toThrow(UnreadableSave)
    expect(() => parseSave(text)).toThrow(problem)
  })

  it('reads no output at all as no tables (a backend with none)', () => {
    expect(parseSave('').size).toBe(0)
  })
})
