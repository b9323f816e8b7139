// --sudo-pass-file holds a password that opens root on every host: like ssh with a private key,
// fleet refuses a file that others may read or write, or that is not the user's own, and says what
// to run. Checked before anything connects (exit 2, one line; one JSON document under --json).
import { chmodSync, chownSync, mkdtempSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { RunCredentials } from '../../src/cli/credentials.ts'
import type { ConnectSpec } from '../../src/ssh/connect-spec.ts'
import { fleet } from '../helpers/cli.ts'

const dir = mkdtempSync(path.join(os.tmpdir(), 'fleet-sudo-pass-'))
// A host reached as admin (so the password is needed), on loopback: nothing is ever sent to it.
const inventory = path.join(dir, 'inventory.yaml')
writeFileSync(inventory, 'defaults:\n  network: { internal: 198.18.0.0/24, interface: eth0 }\nhosts:\n  web01:\n    address: 127.0.0.1\n    role: internal-server\n    ssh: { user: admin, port: 1 }\n')

let n = 0
function passwordFile(mode: number): string {
  const file = path.join(dir, `pass-${n++}`)
  writeFileSync(file, 'hunter2\n')
  chmodSync(file, mode)
  return file
}

const me = os.userInfo().username

describe('--sudo-pass-file open to others', () => {
  it.each(['0644', '0640', '0604', '0660', '0606', '0602', '0620', '0610', '0601'])('mode %s is refused, saying to chmod 600', async (mode) => {
    const file = passwordFile(parseInt(mode, 8))
    const result = await fleet(['audit', '-i', inventory, '--sudo-pass-file', file])
    expect(result.code).toBe(2)
    expect(result.stdout).toBe('')
    expect(result.stderr).toBe(
      `fleet: --sudo-pass-file ${file}: the file is open to others (mode ${mode}); a password file must be private, as ssh requires of private keys: chmod 600 ${file}`,
    )
  })

  it('is bad input under --json too, and the password is in no output', async () => {
    const file = passwordFile(0o644)
    const result = await fleet(['apply', '-i', inventory, '--sudo-pass-file', file, '--json'])
    expect(result.code).toBe(2)
    expect(JSON.parse(result.stdout).error).toMatchObject({ kind: 'bad-input', status: 2, problems: [{ message: expect.stringContaining('chmod 600') }] })
    expect(result.stdout + result.stderr).not.toContain('hunter2')
  })
})

// An operator checks the command line with a dry run: it must refuse what the real run would.
describe('--sudo-pass-file under --dry-run', () => {
  const dryRuns = [['apply'], ['audit'], ['rollback']]

  it.each(dryRuns)('%s --dry-run refuses a file open to others, as the real run does', async (command) => {
    const file = passwordFile(0o644)
    const dry = await fleet([command, '-i', inventory, '--dry-run', '--sudo-pass-file', file])
    const real = await fleet([command, '-i', inventory, '--sudo-pass-file', file])
    expect(dry).toEqual({ code: 2, stdout: '', stderr: `fleet: --sudo-pass-file ${file}: the file is open to others (mode 0644); a password file must be private, as ssh requires of private keys: chmod 600 ${file}` })
    expect(real).toEqual(dry)
  })

  it.each(dryRuns)('%s --dry-run refuses a file that is not there', async (command) => {
    const file = path.join(dir, 'no-such-file')
    const result = await fleet([command, '-i', inventory, '-n', '--sudo-pass-file', file, '--json'])
    expect(result.code).toBe(2)
    expect(JSON.parse(result.stdout).error).toMatchObject({ kind: 'bad-input', status: 2, problems: [{ message: `--sudo-pass-file ${file}: no such file` }] })
  })

  it('refuses -K with --sudo-pass-file, as the real run does', async () => {
    const result = await fleet(['apply', '-i', inventory, '-n', '-K', '--sudo-pass-file', passwordFile(0o600)])
    expect(result).toEqual({ code: 2, stdout: '', stderr: 'fleet: -K (--ask-sudo-pass) and --sudo-pass-file: give one of them' })
  })

  it('prints the plan with a private file, and never the password', async () => {
    const result = await fleet(['apply', '-i', inventory, '--dry-run', '--sudo-pass-file', passwordFile(0o600)])
    expect(result.code).toBe(0)
    expect(result.stdout).toContain('| sudo -S -p ')
    expect(result.stdout).not.toContain('hunter2')
  })
})

describe('a --sudo-pass-file that cannot be read', () => {
  it('is bad input naming the file, not a stack trace', async () => {
    const folder = mkdtempSync(path.join(dir, 'folder-'))
    chmodSync(folder, 0o700)
    for (const dryRun of [[], ['--dry-run']]) {
      const result = await fleet(['audit', '-i', inventory, '--sudo-pass-file', folder, ...dryRun])
      expect(result).toEqual({ code: 2, stdout: '', stderr: `fleet: --sudo-pass-file ${folder}: cannot read it (it is a directory)` })
    }
  })
})

describe.runIf(process.getuid?.() === 0)("--sudo-pass-file owned by another user (checked as root, who can chown)", () => {
  it('is refused, saying whose it is and how to make it yours', async () => {
    const file = passwordFile(0o600)
    chownSync(file, 65534, 65534)
    const result = await fleet(['audit', '-i', inventory, '--sudo-pass-file', file])
    expect(result.code).toBe(2)
    expect(result.stderr).toMatch(
      new RegExp(`^fleet: --sudo-pass-file ${file}: the file belongs to uid 65534( \\(\\w+\\))?, not to you \\(${me}\\); a password file must be yours, as ssh requires of private keys: chown ${me} ${file}$`),
    )
  })
})

describe('a private --sudo-pass-file', () => {
  const spec: ConnectSpec = { name: 'web01', address: '127.0.0.1', port: 1, user: 'admin', identityFiles: [], identitiesOnly: false, knownHostsFiles: [], globalKnownHostsFiles: [] }
  const io = { out: () => {}, err: () => {}, isTTY: false, env: { CI: 'true' } }

  it.each(['0600', '0400', '0700'])('mode %s is read', async (mode) => {
    const credentials = new RunCredentials({ sudoPassFile: passwordFile(parseInt(mode, 8)) }, io)
    await credentials.prepare([spec])
    expect(credentials.sudo?.secret).toBe('hunter2')
  })

  it('with an empty first line is refused', async () => {
    const file = passwordFile(0o600)
    writeFileSync(file, '\nhunter2\n')
    await expect(new RunCredentials({ sudoPassFile: file }, io).prepare([spec])).rejects.toThrow(`--sudo-pass-file ${file}: its first line (the password) is empty`)
  })

  it('gives its first line, as the README says, whatever follows it', async () => {
    const file = passwordFile(0o600)
    writeFileSync(file, 'hunter2\r\n# the admin password of the lab\n')
    const credentials = new RunCredentials({ sudoPassFile: file }, io)
    await credentials.prepare([spec])
    expect(credentials.sudo?.secret).toBe('hunter2')
  })
})
