// The host lock's shell, run for real (dash, a scratch state directory): many runs racing for a
// lock that has expired must end with exactly one holder, and nobody's lock taken from under them.
import { execFileSync, spawn, spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, existsSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { changeInProgress, prelude, STATE_DIR, takeLock } from '../../src/remote/host-state.ts'

function runner(dir: string, i: number): Promise<number> {
  const id = `20261126T000000.000Z-${i.toString(16).padStart(4, '0')}`
  const script = `${prelude(id)}
${takeLock(150, `runner${i}`)}
echo "$ID" >> "$S/took"
sleep 0.5
[ "$(lock_field id)" = "$ID" ] || echo "$ID" >> "$S/stolen"
`.replaceAll(`S=${STATE_DIR}`, `S=${dir}`)
  return new Promise((resolve) => {
    const child = spawn('/bin/sh', ['-s'], { stdio: ['pipe', 'ignore', 'ignore'] })
    child.on('exit', (code) => resolve(code ?? -1))
    child.stdin.end(script)
  })
}

describe('the host lock', () => {
  it.each([1, 2, 3])('an expired lock taken over by 16 racing runs has one holder (round %i)', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'fleet-lock-'))
    mkdirSync(path.join(dir, 'lock'))
    const past = Math.floor(Date.now() / 1000) - 10
    writeFileSync(path.join(dir, 'lock/owner'), `id=20261126T000000.000Z-dead\nsince=${past - 600}\nexpires=${past}\nby=ghost\n`)
    const codes = await Promise.all(Array.from({ length: 16 }, (_, i) => runner(dir, i + 1)))
    const took = readFileSync(path.join(dir, 'took'), 'utf8').trim().split('\n')
    expect(took).toHaveLength(1)
    expect(existsSync(path.join(dir, 'stolen'))).toBe(false)
    expect(codes.filter((c) => c === 0)).toHaveLength(1)
    expect(codes.filter((c) => c === 20)).toHaveLength(15)
  })

  // Past its expiry by the wall clock, which can jump forward while the owner's timer sleeps on the
  // monotonic one: the lock holds while the owner's timer or a script of its change still runs.
  const OWNER = '20261126T000000.000Z-dead'
  const expiredLock = () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'fleet-lock-'))
    mkdirSync(path.join(dir, 'lock'))
    mkdirSync(path.join(dir, 'armed'))
    const past = Math.floor(Date.now() / 1000) - 10
    writeFileSync(path.join(dir, 'lock/owner'), `id=${OWNER}\nsince=${past - 600}\nexpires=${past}\nby=ghost\n`)
    return dir
  }
  const running = (argv: string[]) => {
    const child = spawn(argv[0]!, argv.slice(1), { stdio: 'ignore' })
    return { pid: child.pid!, stop: () => new Promise((r) => child.on('exit', r).kill('SIGKILL')) }
  }
  const busyMessage = (dir: string) =>
    spawnSync('/bin/sh', ['-s'], { input: `${prelude('20261126T000000.000Z-0001')}\n${takeLock(150, 'me')}`.replaceAll(`S=${STATE_DIR}`, `S=${dir}`), encoding: 'utf8' }).stderr.trim()
  const inProgress = (dir: string) => execFileSync('/bin/sh', ['-s'], { input: changeInProgress().replaceAll(`S=${STATE_DIR}`, `S=${dir}`), encoding: 'utf8' })

  it("is not taken over while the owner's timer runs, and is once the timer is gone", async () => {
    const dir = expiredLock()
    const script = path.join(dir, `armed/${OWNER}.sh`)
    writeFileSync(script, 'sleep 30\n')
    writeFileSync(path.join(dir, `armed/${OWNER}`), '0\n')
    const timer = running(['/bin/sh', script])
    writeFileSync(path.join(dir, `armed/${OWNER}.pid`), `${timer.pid}\n`)
    // Past its expiry, the lock promises no time: it holds while the change is at work.
    expect(inProgress(dir)).toMatch(new RegExp(`^id=${OWNER}\nby=ghost\nsince=\\d+\narmed=${OWNER}\n$`))
    expect(busyMessage(dir)).toMatch(/^busy: change \S+-dead by ghost holds this host since \S+Z, for as long as its change is at work there \(its timer or a script of it runs\); nothing changed$/)
    expect(await runner(dir, 1)).toBe(20)
    await timer.stop()
    expect(inProgress(dir)).toBe('')
    expect(await runner(dir, 2)).toBe(0)
  })

  it('is not taken over while a script of its change runs; a pid from another boot, or reused, holds nothing', async () => {
    const dir = expiredLock()
    const script = running(['/bin/sh', '-c', 'sleep 30'])
    const boot = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim()
    // The process's start, in clock ticks since boot (field 22 of /proc/<pid>/stat).
    const started = readFileSync(`/proc/${script.pid}/stat`, 'utf8').replace(/^.*\) /s, '').split(' ')[19]
    const busy = path.join(dir, `busy.${OWNER}.${script.pid}`)
    writeFileSync(busy, `${boot} ${started}\n`)
    expect(await runner(dir, 1)).toBe(20)
    // The same pid, but another process (one that started at another moment).
    writeFileSync(busy, `${boot} ${Number(started) - 1}\n`)
    expect(await runner(dir, 2)).toBe(0)
    rmSync(path.join(dir, 'lock'), { recursive: true })
    writeFileSync(busy, `another-boot ${started}\n`)
    mkdirSync(path.join(dir, 'lock'))
    writeFileSync(path.join(dir, 'lock/owner'), `id=${OWNER}\nsince=1\nexpires=2\nby=ghost\n`)
    expect(await runner(dir, 3)).toBe(0)
    await script.stop()
  })
})
