// fleet as a user installs it: the packed tarball, installed globally into a fresh prefix from the
// tarball and the npm cache alone (--offline), run from another directory with only Node on PATH,
// with a TypeScript role next to the user's inventory; and the role types type-checked with tsc
// by a project that has fleet as a dev dependency. No lab needed.
import { execFileSync, spawnSync } from 'node:child_process'
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { USER_ROLE_TS } from '../helpers/user-role.ts'

const ROOT = path.resolve(import.meta.dirname, '../..')
const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { name: string; version: string; scripts: Record<string, string> }
const tmp = mkdtempSync(path.join(os.tmpdir(), 'fleet-package-'))
const tarball = path.join(tmp, `${pkg.name}-${pkg.version}.tgz`)
const prefix = path.join(tmp, 'prefix')
const site = path.join(tmp, 'site')
const elsewhere = path.join(tmp, 'elsewhere')
// Only Node itself on PATH (and the basic system tools npx needs): nothing from the checkout.
const env = { PATH: `${path.dirname(process.execPath)}:/usr/bin:/bin`, HOME: os.homedir() }

const INVENTORY = `roles:
  path: [./roles]
defaults:
  network: { internal: 10.20.0.0/24, interface: eth0 }
hosts:
  router01:
    address: 203.0.113.10
    role: router
    network:
      wan: { interface: eth0, address: 203.0.113.10 }
      lan: { interface: eth1 }
      egress: { tcp: [22, 80, 443], udp: [53] }
      services: { tcp: [22, 80, 443] }
  web09: { address: 10.20.0.19, role: webserver, ssh: { jump: router01 } }
`

function npm(args: readonly string[], cwd: string): string {
  return execFileSync('npm', [...args], { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 120_000 })
}

// The packages a global install of fleet resolves on this platform, at their locked versions.
function lockedRuntimePackages(): string[] {
  const lock = JSON.parse(readFileSync(path.join(ROOT, 'package-lock.json'), 'utf8')) as {
    packages: Record<string, { version: string; dev?: boolean; link?: boolean; os?: string[]; cpu?: string[] }>
  }
  const fits = (list: string[] | undefined, value: string) =>
    !list || (list.includes(value) || list.every((x) => x.startsWith('!'))) && !list.includes(`!${value}`)
  const specs = Object.entries(lock.packages)
    .filter(([where, p]) => where !== '' && !p.dev && !p.link && fits(p.os, process.platform) && fits(p.cpu, process.arch))
    .map(([where, p]) => `${where.slice(where.lastIndexOf('node_modules/') + 'node_modules/'.length)}@${p.version}`)
  return [...new Set(specs)]
}

function run(command: string, args: readonly string[], cwd: string) {
  const r = spawnSync(command, args, { cwd, env, encoding: 'utf8', timeout: 120_000 })
  return { code: r.status, stdout: r.stdout, stderr: r.stderr }
}

beforeAll(() => {
  npm(['pack', '--pack-destination', tmp], ROOT)
  // What `npm ci` leaves in the cache plus the registry metadata an install resolves names with
  // (fetched once if missing); the install itself then runs offline.
  npm(['cache', 'add', '--prefer-offline', ...lockedRuntimePackages()], tmp)
  npm(['install', '--global', '--prefix', prefix, '--offline', '--no-audit', '--no-fund', tarball], tmp)
  mkdirSync(path.join(site, 'roles'), { recursive: true })
  mkdirSync(elsewhere)
  writeFileSync(path.join(site, 'roles', 'webserver.ts'), USER_ROLE_TS)
  writeFileSync(path.join(site, 'site.yaml'), INVENTORY)
}, 300_000)
afterAll(() => rmSync(tmp, { recursive: true, force: true }))

describe('the packed tarball', () => {
  it('holds the compiled CLI, the built-in roles and the role types, and no install script', () => {
    const files = execFileSync('tar', ['tzf', tarball], { encoding: 'utf8' }).split('\n')
    expect(files).toEqual(expect.arrayContaining([
      'package/bin/fleet.js', 'package/dist/src/cli/main.js', 'package/dist/roles/router.js',
      'package/dist/src/role.d.ts', 'package/npm-shrinkwrap.json',
    ]))
    expect(files.filter((f) => /^package\/(src|test|scripts|roles|inventory)\//.test(f))).toEqual([])
    const packed = JSON.parse(execFileSync('tar', ['xzOf', tarball, 'package/package.json'], { encoding: 'utf8' }))
    expect(Object.keys(packed.scripts).filter((s) => /^(pre|post)?install$|^prepare$/.test(s))).toEqual([])
  })
})

describe('fleet installed globally from the tarball', () => {
  const fleet = path.join(prefix, 'bin', 'fleet')

  it('prints the version of its package.json', () => {
    const r = run(fleet, ['--version'], elsewhere)
    expect(r.stderr).toBe('')
    expect(r.stdout.trim()).toBe(pkg.version)
  })

  it('dry-runs an inventory given by a relative path from another directory, with a TypeScript user role', () => {
    const r = run(fleet, ['apply', '-i', '../site/site.yaml', '--dry-run'], elsewhere)
    expect(r.stderr).toBe('')
    expect(r.code).toBe(0)
    expect(r.stdout).toContain('=== web09 (role webserver)')
    expect(r.stdout).toContain('-A INPUT -s 10.20.0.0/24 -p tcp --dport 8080 -j ACCEPT')
    expect(r.stdout).toContain('-A POSTROUTING -o eth0 -j MASQUERADE')
    expect(r.stdout).toMatch(/dry run: 2 hosts, no connection opened, nothing changed\s*$/)
  })

  it('runs from the tarball with npx too', () => {
    const r = run('npx', ['--yes', '--offline', `./${path.basename(tarball)}`, '--version'], tmp)
    expect(r.stdout.trim()).toBe(pkg.version)
  })
})

describe('fleet as a dev dependency', () => {
  const project = path.join(tmp, 'project')
  const tsc = path.join(ROOT, 'node_modules', '.bin', 'tsc')

  beforeAll(() => {
    cpSync(site, project, { recursive: true })
    writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'site', private: true, type: 'module', devDependencies: { fleet: `file:${tarball}` } }))
    writeFileSync(
      path.join(project, 'tsconfig.json'),
      JSON.stringify({ compilerOptions: { module: 'nodenext', strict: true, noEmit: true, types: [] }, include: ['roles'] }),
    )
    npm(['install', '--offline', '--no-audit', '--no-fund'], project)
  }, 120_000)

  it('type-checks the role with tsc through fleet/role', () => {
    const r = run(tsc, ['-p', project], project)
    expect(r.stdout + r.stderr).toBe('')
    expect(r.code).toBe(0)
  })

  it('and tsc catches a role that asks for a value fleet does not have', () => {
    writeFileSync(path.join(project, 'roles', 'broken.ts'), USER_ROLE_TS.replace("need('internal')", "need('internals')"))
    const r = run(tsc, ['-p', project], project)
    expect(r.code).not.toBe(0)
    expect(r.stdout).toMatch(/roles\/broken\.ts.*"internals"/)
  })
})
