// fleet against the floor: what plain ssh needs for the same work, measured in one run on the lab.
//
//   npm run bench                       50 hosts, 5 repetitions, then 500 hosts, then a 500-host dry run,
//                                       then loading and dry-running 2,000 and 20,000 hosts offline
//   npm run bench -- --hosts 20 --reps 3 --scale 0 --dry-run-hosts 500 --linear-hosts 2000
//   npm run bench -- --offline          only the offline figures: no lab, no root
//
// Contenders alternate within each repetition so that drift (a warming cache, a busy machine)
// falls on all of them alike. Figures are medians; fleet's are also given as ratios to their floor.
// This is a benchmark, not a test: it asserts nothing about time.
import { execFileSync, spawn } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { loadBaselines, readInventory, selectHosts } from '../src/cli/load.ts'

const ROOT = path.resolve(import.meta.dirname, '..')
const LAB = path.join(ROOT, '.lab')
// The bench's files: inside the lab's folder, or with --offline (no lab) in a temporary folder,
// since .lab must stay the lab's own link.
let BENCH = path.join(LAB, 'bench')
const KEY = path.join(LAB, 'operator/id_ed25519')
const KNOWN_HOSTS = path.join(LAB, 'operator/known_hosts')
const CONCURRENCY = 8
const LAN_ROOM = 181 // srv001.. on 198.18.0.20-200

interface Args {
  hosts: number
  reps: number
  scale: number
  dryRunHosts: number
  linearHosts: number
  offline: boolean
}

const USAGE = 'usage: bench [--hosts N] [--reps N] [--scale N (0: skip)] [--dry-run-hosts N] [--linear-hosts N (0: skip)] [--offline]'

function parseArgs(argv: string[]): Args {
  const args: Args = { hosts: 50, reps: 5, scale: 500, dryRunHosts: 500, linearHosts: 2000, offline: false }
  for (let i = 0; i < argv.length; i += 2) {
    if (argv[i] === '--offline') {
      args.offline = true
      i--
      continue
    }
    const key = argv[i]?.replace(/^--/, '').replace(/-(\w)/g, (_, c: string) => c.toUpperCase()) as Exclude<keyof Args, 'offline'>
    const value = Number(argv[i + 1])
    if (!(key in args) || !Number.isInteger(value) || value < 0) throw new Error(`${USAGE}; got ${argv[i]} ${argv[i + 1]}`)
    args[key] = value
  }
  if (args.hosts < 3) throw new Error('--hosts: at least 3 (router01, web01, web02)')
  return args
}

// ---- the lab and its inventories --------------------------------------------------------------

interface BenchHost {
  readonly name: string
  readonly address: string
  readonly behindRouter: boolean
}

function labHosts(n: number): BenchHost[] {
  const lan = Math.min(n - 3, LAN_ROOM)
  const wan = n - 3 - lan
  return [
    { name: 'router01', address: '198.51.100.2', behindRouter: false },
    { name: 'web01', address: '198.18.0.11', behindRouter: true },
    { name: 'web02', address: '198.18.0.12', behindRouter: true },
    ...Array.from({ length: lan }, (_, i) => ({ name: `srv${String(i + 1).padStart(3, '0')}`, address: `198.18.0.${20 + i}`, behindRouter: true })),
    ...Array.from({ length: wan }, (_, i) => ({
      name: `wan${String(i + 1).padStart(3, '0')}`,
      address: i < 244 ? `198.51.100.${10 + i}` : `2001:db8:0:1::1:${i + 1}`,
      behindRouter: false,
    })),
  ]
}

function buildLab(n: number): BenchHost[] {
  const hosts = labHosts(n)
  const lan = hosts.filter((h) => h.name.startsWith('srv')).length
  const wan = hosts.filter((h) => h.name.startsWith('wan')).length
  log(`building the lab: ${n} hosts (${lan + 2} behind router01, ${wan} on the WAN bridge)`)
  execFileSync('bash', [path.join(ROOT, 'scripts/lab.sh'), 'up', '--servers', String(lan), '--wan-servers', String(wan)], { stdio: ['ignore', 'ignore', 'inherit'] })
  return hosts
}

// A bench server is an internal server that also accepts its services from anywhere (the WAN
// servers are reached directly), so variants A and B of the inventory differ on every host.
const BENCH_ROLE = `export default {
  description: 'internal server that also serves its services to anyone (bench)',
  tasks({ task, need, ports, common }) {
    const services = need('services').tcp
    const internal = need('internal')
    return [
      task('untrack traffic within the internal network', async ($) => {
        await $\`iptables -t raw -A PREROUTING -s \${internal} -d \${internal} -j NOTRACK\`
        await $\`iptables -t raw -A OUTPUT -s \${internal} -d \${internal} -j NOTRACK\`
      }),
      task('services', async ($) => void (await $\`iptables -A INPUT -p tcp -m multiport --dports \${ports(services)} -j ACCEPT\`)),
      common.inputAllow(need('interface')),
      task('drop everything else', async ($) => void (await $\`iptables -A INPUT -j DROP\`)),
      task('services (IPv6)', async ($) => void (await $\`ip6tables -A INPUT -p tcp -m multiport --dports \${ports(services)} -j ACCEPT\`)),
      common.inputAllow6(need('interface')),
      task('drop everything else (IPv6)', async ($) => void (await $\`ip6tables -A INPUT -j DROP\`)),
    ]
  },
}
`

function writeInventory(file: string, hosts: readonly BenchHost[], variant: 'A' | 'B'): string {
  const extra = variant === 'A' ? [22, 9001] : [22, 9002]
  const lines = [
    `roles:\n  path: [${path.join(BENCH, 'roles')}]`,
    'defaults:',
    `  ssh: { user: root, identity: ${KEY}, knownHosts: ${KNOWN_HOSTS} }`,
    '  network:',
    '    internal: 198.18.0.0/24',
    '    interface: eth0',
    '    egress: { tcp: [22, 80, 443], udp: [53] }',
    `    services: { tcp: [${extra.join(', ')}] }`,
    'hosts:',
    ...hosts.map((h) =>
      h.name === 'router01'
        ? `  router01:\n    address: ${h.address}\n    role: router\n    network:\n      wan: { interface: eth0, address: ${h.address} }\n      lan: { interface: eth1 }\n      services: { tcp: [22, 80, 443${variant === 'B' ? ', 8443' : ''}] }\n      untracked: { tcp: [80, 443] }`
        : `  ${h.name}:\n    address: '${h.address}'\n    role: bench-server${h.behindRouter ? '\n    ssh: { jump: router01 }' : ''}`,
    ),
  ]
  writeFileSync(file, lines.join('\n') + '\n')
  return file
}

// ---- running and timing ----------------------------------------------------------------------

interface Timed {
  readonly seconds: number
  readonly peakMb?: number
  readonly code: number
}

function run(command: string, args: readonly string[], options: { input?: string; memory?: boolean } = {}): Promise<Timed> {
  const memFile = path.join(BENCH, `mem-${process.pid}-${Math.random().toString(16).slice(2)}`)
  const argv = options.memory ? ['/usr/bin/time', '-f', '%M', '-o', memFile, command, ...args] : [command, ...args]
  const start = process.hrtime.bigint()
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), { stdio: [options.input === undefined ? 'ignore' : 'pipe', 'ignore', 'pipe'], env: { ...process.env, CI: 'true' } })
    let stderr = ''
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()))
    child.stdin?.end(options.input)
    child.on('error', reject)
    child.on('close', (code) => {
      const seconds = Number(process.hrtime.bigint() - start) / 1e9
      let peakMb: number | undefined
      if (options.memory) {
        peakMb = Number(readFileSync(memFile, 'utf8').trim().split('\n').at(-1)) / 1024
        rmSync(memFile, { force: true })
      }
      if (code !== 0 && !options.memory) return reject(new Error(`${argv.join(' ')} exited ${code}: ${stderr.slice(-2000)}`))
      resolve({ seconds, code: code ?? -1, ...(peakMb !== undefined && { peakMb }) })
    })
  })
}

async function fleet(args: readonly string[]): Promise<Timed> {
  const result = await run(process.execPath, [path.join(ROOT, 'bin/fleet.js'), ...args], { memory: true })
  if (result.code !== 0) throw new Error(`fleet ${args.join(' ')} exited ${result.code}`)
  return result
}

async function inParallel<T>(items: readonly T[], work: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0
  await Promise.all(
    Array.from({ length: Math.min(CONCURRENCY, items.length) }, async () => {
      while (next < items.length) await work(items[next++]!)
    }),
  )
}

const SSH_OPTIONS = ['-i', KEY, '-o', `UserKnownHostsFile=${KNOWN_HOSTS}`, '-o', 'StrictHostKeyChecking=yes', '-o', 'BatchMode=yes', '-o', 'LogLevel=ERROR']

// The floor: plain ssh, the same concurrency, hosts behind router01 through one ControlMaster
// connection to it (an expert's ProxyJump), established inside the timed run as fleet's is.
async function floor(hosts: readonly BenchHost[], remote: string, documents?: ReadonlyMap<string, string>): Promise<Timed> {
  const control = path.join(BENCH, `ctl-${process.pid}`)
  const start = process.hrtime.bigint()
  execFileSync('ssh', [...SSH_OPTIONS, '-M', '-S', control, '-f', '-N', 'root@198.51.100.2'])
  const jump = `ssh ${SSH_OPTIONS.join(' ')} -S ${control} -W %h:%p root@198.51.100.2`
  try {
    await inParallel(hosts, (h) =>
      run('ssh', [...SSH_OPTIONS, ...(h.behindRouter ? ['-o', `ProxyCommand=${jump}`] : []), `root@${h.address}`, remote], {
        ...(documents && { input: documents.get(h.name)! }),
      }),
    )
  } finally {
    execFileSync('ssh', ['-S', control, '-O', 'exit', 'root@198.51.100.2'], { stdio: 'ignore' })
  }
  return { seconds: Number(process.hrtime.bigint() - start) / 1e9, code: 0 }
}

async function documentsOf(inventory: string): Promise<Map<string, string>> {
  const inv = readInventory(inventory)
  return new Map((await loadBaselines(inv, inv.hosts)).map((b) => [b.host.name, b.document]))
}

// ---- the measurements -------------------------------------------------------------------------

type Contender = 'floor: ssh iptables-restore' | 'fleet apply --no-confirm' | 'fleet apply (confirmed)' | 'floor: ssh iptables-save' | 'fleet apply, nothing to change' | 'fleet audit'

interface Samples {
  readonly times: Map<Contender, number[]>
  readonly peakMb: number[]
}

async function measure(hosts: readonly BenchHost[], reps: number): Promise<Samples> {
  const a = writeInventory(path.join(BENCH, 'a.yaml'), hosts, 'A')
  const b = writeInventory(path.join(BENCH, 'b.yaml'), hosts, 'B')
  const docsB = await documentsOf(b)
  const samples: Samples = { times: new Map(), peakMb: [] }
  const record = (name: Contender, t: Timed) => {
    samples.times.set(name, [...(samples.times.get(name) ?? []), t.seconds])
    if (t.peakMb !== undefined) samples.peakMb.push(t.peakMb)
  }
  // Every host starts on A, as fleet leaves it (history, saved rulesets), before the first sample.
  await fleet(['apply', '-i', a])
  for (let rep = 1; rep <= reps; rep++) {
    // Each fleet apply with changes starts from B, put there by the floor run just before it.
    record('floor: ssh iptables-restore', await floor(hosts, 'iptables-restore', docsB))
    record('fleet apply --no-confirm', await fleet(['apply', '-i', a, '--no-confirm']))
    record('floor: ssh iptables-restore', await floor(hosts, 'iptables-restore', docsB))
    record('fleet apply (confirmed)', await fleet(['apply', '-i', a]))
    record('floor: ssh iptables-save', await floor(hosts, 'iptables-save'))
    record('fleet apply, nothing to change', await fleet(['apply', '-i', a]))
    record('fleet audit', await fleet(['audit', '-i', a]))
    log(`  repetition ${rep}/${reps} done`)
  }
  return samples
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((x, y) => x - y)
  const mid = Math.floor(s.length / 2)
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2
}

const FLOOR_OF: Partial<Record<Contender, { floor: Contender; target: number }>> = {
  'fleet apply --no-confirm': { floor: 'floor: ssh iptables-restore', target: 1.5 },
  'fleet apply (confirmed)': { floor: 'floor: ssh iptables-restore', target: 2.5 },
  'fleet apply, nothing to change': { floor: 'floor: ssh iptables-save', target: 1.3 },
  'fleet audit': { floor: 'floor: ssh iptables-save', target: 1.3 },
}

function table(n: number, samples: Samples): string {
  const rows = [...samples.times].map(([name, times]) => {
    const m = median(times)
    const f = FLOOR_OF[name]
    const ratio = f ? m / median(samples.times.get(f.floor)!) : undefined
    const verdict = f && ratio !== undefined ? `${ratio.toFixed(2)}x floor (target <= ${f.target}x${ratio <= f.target ? ', met' : ', MISSED'})` : 'floor'
    return `  ${name.padEnd(32)} ${m.toFixed(2).padStart(7)} s   ${(m / n * 1000).toFixed(1).padStart(6)} ms/host   ${verdict}`
  })
  return [`${n} hosts, concurrency ${CONCURRENCY}, medians of every sample:`, ...rows, `  peak memory of the fleet process: ${Math.max(...samples.peakMb).toFixed(0)} MB`].join('\n')
}

async function dryRun(n: number): Promise<string> {
  const hosts = labHosts(n)
  const inventory = writeInventory(path.join(BENCH, 'dry.yaml'), hosts, 'A')
  const times: number[] = []
  let peak = 0
  for (let i = 0; i < 3; i++) {
    const t = await fleet(['apply', '-i', inventory, '--dry-run'])
    times.push(t.seconds)
    peak = Math.max(peak, t.peakMb ?? 0)
  }
  const m = median(times)
  return `dry run of ${n} hosts (offline): ${m.toFixed(2)} s (target < 2 s${m < 2 ? ', met' : ', MISSED'}), peak memory ${peak.toFixed(0)} MB`
}

// Hosts that are never reached: router01 and N - 1 servers behind it, any number of them.
function offlineHosts(n: number): BenchHost[] {
  const hex = (i: number) => `${(i >> 16).toString(16)}:${(i & 0xffff).toString(16)}`
  return [
    { name: 'router01', address: '198.51.100.2', behindRouter: false },
    ...Array.from({ length: n - 1 }, (_, i) => ({ name: `srv${String(i + 1).padStart(6, '0')}`, address: `2001:db8:0:3::${hex(i + 1)}`, behindRouter: true })),
  ]
}

// Loading and the offline dry run are linear in the number of hosts: N and 10 N hosts, the second
// taking about ten times the first. Loading is timed in this process (inventory, selection,
// baselines); the dry run as the operator runs it, a fleet process with its output to /dev/null.
async function linear(n: number): Promise<string> {
  const sizes = [n, 10 * n]
  const load: number[] = []
  const dry: Timed[] = []
  for (const size of sizes) {
    const inventory = writeInventory(path.join(BENCH, `linear-${size}.yaml`), offlineHosts(size), 'A')
    const loads: number[] = []
    const runs: Timed[] = []
    for (let i = 0; i < 3; i++) {
      const start = process.hrtime.bigint()
      const inv = readInventory(inventory)
      await loadBaselines(inv, selectHosts(inv, undefined))
      loads.push(Number(process.hrtime.bigint() - start) / 1e9)
      runs.push(await fleet(['apply', '-i', inventory, '--dry-run']))
    }
    load.push(median(loads))
    dry.push({ seconds: median(runs.map((r) => r.seconds)), code: 0, peakMb: Math.max(...runs.map((r) => r.peakMb ?? 0)) })
  }
  const row = (name: string, times: readonly number[], extra = '') => {
    const ratio = times[1]! / times[0]!
    return `  ${name.padEnd(32)} ${times.map((t, i) => `${sizes[i]}: ${t.toFixed(2)} s`).join('   ')}   ${ratio.toFixed(1)}x (linear: 10x; target <= 15x${ratio <= 15 ? ', met' : ', MISSED'})${extra}`
  }
  return [
    `offline, ${sizes[0]} and ${sizes[1]} hosts (medians of 3; dry-run output to /dev/null):`,
    row('load (inventory + baselines)', load),
    row('fleet apply --dry-run', dry.map((d) => d.seconds), `, peak memory ${dry.map((d) => (d.peakMb ?? 0).toFixed(0)).join(' / ')} MB`),
  ].join('\n')
}

function writeBenchRole(): void {
  mkdirSync(path.join(BENCH, 'roles'), { recursive: true })
  writeFileSync(path.join(BENCH, 'roles/bench-server.ts'), BENCH_ROLE)
}

function log(line: string): void {
  process.stderr.write(`bench: ${line}\n`)
}

async function offline(args: Args): Promise<void> {
  execFileSync('npm', ['run', '--silent', 'build'], { cwd: ROOT, stdio: 'inherit' })
  BENCH = mkdtempSync(path.join(os.tmpdir(), 'fleet-bench-'))
  writeBenchRole()
  const report: string[] = [`fleet bench (offline only) on ${os.cpus().length} cores, ${new Date().toISOString()}`]
  if (args.dryRunHosts > 0) report.push(await dryRun(args.dryRunHosts))
  if (args.linearHosts > 0) report.push(await linear(args.linearHosts))
  process.stdout.write(report.join('\n\n') + '\n')
  rmSync(BENCH, { recursive: true, force: true })
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2))
  execFileSync('sh', ['-c', 'command -v /usr/bin/time >/dev/null || (apt-get update -qq; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq time >/dev/null)'], { stdio: 'inherit' })
  if (args.offline) return offline(args)
  if (process.getuid?.() !== 0) throw new Error('the bench builds a lab of network namespaces: run it as root (or --offline)')
  try {
    execFileSync('npm', ['run', '--silent', 'build'], { cwd: ROOT, stdio: 'inherit' })
    const report: string[] = [`fleet bench on ${os.cpus().length} cores, ${new Date().toISOString()}`]

    let hosts = buildLab(args.hosts)
    writeBenchRole()
    const base = await measure(hosts, args.reps)
    report.push(table(args.hosts, base))

    if (args.scale > 0) {
      hosts = buildLab(args.scale)
      writeBenchRole()
      const scaled = await measure(hosts, 1)
      report.push(table(args.scale, scaled))
      const growth = [...scaled.times].map(([name, times]) => {
        const perHost = times[0]! / args.scale / (median(base.times.get(name)!) / args.hosts)
        return `  ${name.padEnd(32)} ${perHost.toFixed(2)}x the time per host at ${args.hosts}`
      })
      report.push(`growth from ${args.hosts} to ${args.scale} hosts (1.00x = linear):`, ...growth)
      const peak = Math.max(...scaled.peakMb)
      report.push(`  peak memory at ${args.scale} hosts: ${peak.toFixed(0)} MB (target < 300 MB${peak < 300 ? ', met' : ', MISSED'})`)
    }
    if (args.dryRunHosts > 0) report.push(await dryRun(args.dryRunHosts))
    if (args.linearHosts > 0) report.push(await linear(args.linearHosts))
    process.stdout.write(report.join('\n\n') + '\n')
  } finally {
    execFileSync('bash', [path.join(ROOT, 'scripts/lab.sh'), 'down'], { stdio: ['ignore', 'ignore', 'inherit'] })
  }
}

main().catch((error: Error) => {
  process.stderr.write(`bench: ${error.message}\n`)
  process.exit(1)
})
