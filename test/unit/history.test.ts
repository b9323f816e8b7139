import { describe, expect, it } from 'vitest'
import { parseHistory, rollbackTarget } from '../../src/history/entries.ts'

const entry = (id: string, status: string, action = 'apply', saved = true) =>
  `@@fleet entry\nid=${id}\ntime=2026-11-26T00:00:00Z\naction=${action}\nstatus=${status}\nnote=role router\nby=root@op\n${saved ? 'has_saved=yes\n' : ''}`

describe('host history', () => {
  const entries = parseHistory(
    entry('20261126T000300.000Z-cccc', 'rolled-back') +
      entry('20261126T000100.000Z-aaaa', 'confirmed', 'apply', false) +
      entry('20261126T000200.000Z-bbbb', 'confirmed') +
      'reason=not confirmed within 30s\n',
  )

  it('parses entries in id (time) order, with reasons and whether the saved ruleset remains', () => {
    expect(entries.map((e) => [e.id, e.status, e.hasSaved])).toEqual([
      ['20261126T000100.000Z-aaaa', 'confirmed', false],
      ['20261126T000200.000Z-bbbb', 'confirmed', true],
      ['20261126T000300.000Z-cccc', 'rolled-back', true],
    ])
    expect(entries[1]?.reason).toBe('not confirmed within 30s')
  })

  it.each([
    ['the newest change that took effect', undefined, '20261126T000200.000Z-bbbb'],
    ['a named change', '20261126T000300.000Z-cccc', '20261126T000300.000Z-cccc'],
  ])('rolls back to %s', (_name, to, id) => {
    const target = rollbackTarget(entries, to)
    expect(target.ok && target.entry.id).toBe(id)
  })

  it.each([
    ['an unknown id', '20261126T000900.000Z-ffff', /no change 20261126T000900.000Z-ffff/],
    ['a pruned ruleset', '20261126T000100.000Z-aaaa', /was pruned/],
  ])('refuses %s', (_name, to, why) => {
    const target = rollbackTarget(entries, to)
    expect(target.ok).toBe(false)
    expect(!target.ok && target.why).toMatch(why)
  })

  it('orders by the host\'s sequence, not by ids from operators\' clocks, and ignores ids fleet never makes', () => {
    const withSeq = (id: string, seq: number) => entry(id, 'confirmed').replace('\ntime=', `\nseq=${seq}\ntime=`)
    const parsed = parseHistory(
      withSeq('20991231T000000.000Z-aaaa', 1) + withSeq('20261126T000000.000Z-bbbb', 2) + entry('20200101T000000.000Z-cccc', 'confirmed') + entry('x;reboot', 'confirmed'),
    )
    expect(parsed.map((e) => e.id)).toEqual(['20200101T000000.000Z-cccc', '20991231T000000.000Z-aaaa', '20261126T000000.000Z-bbbb'])
    const target = rollbackTarget(parsed)
    expect(target.ok && target.entry.id).toBe('20261126T000000.000Z-bbbb')
  })

  it('has nothing to roll back to on a host no change took effect on', () => {
    expect(rollbackTarget(parseHistory(entry('20261126T000300.000Z-cccc', 'failed')))).toMatchObject({ ok: false })
  })
})
