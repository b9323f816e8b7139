// The sudo password's way to the host: the stdin protocol run under dash with a stand-in sudo that
// does or does not read the password line (as real sudo does with or without cached credentials),
// and the rule that a rejected password is never sent again.
import { spawnSync } from 'node:child_process'
import { chmodSync, existsSync, mkdtempSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { HostError } from '../../src/remote/transport.ts'
import { remoteCommand, scriptInput, SudoPassword } from '../../src/ssh/sudo.ts'

const dir = mkdtempSync(path.join(os.tmpdir(), 'fleet-sudo-'))
// sudo -S -p '' COMMAND...: reads the password line when asked to (FAKE_READ=1), then runs COMMAND.
writeFileSync(
  path.join(dir, 'sudo'),
  `#!/bin/sh
[ "$1 $2 $3" = "-S -p " ] || { echo "unexpected sudo arguments: $*" >&2; exit 99; }
shift 3
if [ "$FAKE_READ" = 1 ]; then IFS= read -r pw; [ "$pw" = "$WANT" ] || { echo "wrong password" >&2; exit 1; }; fi
exec "$@"
`,
)
chmodSync(path.join(dir, 'sudo'), 0o755)

// A password that would leave a trace if any shell ran it as a command.
const trace = path.join(dir, 'ran')
const password = `touch ${trace}; 'q"$x\`;`

function runOnHost(reads: boolean, script: string) {
  return spawnSync('dash', ['-c', remoteCommand('password', 5)], {
    input: scriptInput('password', password, script),
    encoding: 'utf8',
    env: { PATH: `${dir}:${process.env.PATH}`, FAKE_READ: reads ? '1' : '0', WANT: password },
  })
}

describe('the sudo password on stdin', () => {
  it.each([
    ['sudo reads the password', true],
    ['sudo asks nothing (cached credentials, NOPASSWD)', false],
  ])('%s: the script runs, the password is never run as a command', (_, reads) => {
    const r = runOnHost(reads, 'echo "first line"\nprintf "%s\\n" "$0" second\n')
    expect(r.stderr).toBe('')
    expect(r.stdout).toBe('first line\nsh\nsecond\n')
    expect(r.status).toBe(0)
    expect(existsSync(trace)).toBe(false)
  })

  it('keeps the password out of every command line', () => {
    expect(remoteCommand('password', 120)).not.toContain(password)
    expect(remoteCommand('password', 120)).toMatch(/^sh -c 'IFS= read -r p; /)
    expect(remoteCommand('nopasswd', 120)).toBe('sudo -n timeout 120 sh -s')
    expect(remoteCommand('root', 120)).toBe('timeout 120 sh -s')
  })
})

describe('a rejected password', () => {
  it('is checked on one host at a time until it works, and after a rejection never sent again', async () => {
    const sudo = new SudoPassword('secret')
    const checked: string[] = []
    const check = (host: string, ok: boolean) => async () => (checked.push(host), await new Promise((r) => setTimeout(r, 20)), ok)
    const results = await Promise.allSettled([sudo.ensure('web01', 'op', check('web01', false)), sudo.ensure('web02', 'op', check('web02', true))])
    expect(checked).toEqual(['web01'])
    expect((results[0] as PromiseRejectedResult).reason).toEqual(new HostError('sudo rejected the password for op; fleet does not send it to any other host'))
    expect((results[1] as PromiseRejectedResult).reason).toEqual(new HostError('not sent: the sudo password was rejected on web01, fleet does not try it again'))
  })

  it('once it has worked, later hosts are checked in parallel, and each host only once', async () => {
    const sudo = new SudoPassword('secret')
    let inFlight = 0
    let most = 0
    const check = async () => {
      most = Math.max(most, ++inFlight)
      await new Promise((r) => setTimeout(r, 20))
      inFlight--
      return true
    }
    await sudo.ensure('web01', 'op', check)
    await Promise.all(['web02', 'web03', 'web04'].map((h) => sudo.ensure(h, 'op', check)))
    expect(most).toBe(3)
    await sudo.ensure('web02', 'op', () => Promise.reject(new Error('checked twice')))
  })

  it('cannot hold a line break', () => {
    expect(() => new SudoPassword('a\nb')).toThrow(/line break/)
  })
})
