// Feeds the terminal display (ListrReporter) synthetic hosts, as an apply of N hosts with a
// concurrency of 8 would: for tests in tmux and for looking at it by hand. No host is contacted.
//   node --import tsx test/helpers/display-driver.ts HOSTS [STEP_MS]
import { ListrReporter } from '../../src/report/listr.ts'
import type { HostDone, RunEvent } from '../../src/apply/events.ts'

const hosts = Number(process.argv[2] ?? 500)
const stepMs = Number(process.argv[3] ?? 20)
const CONCURRENCY = 8
const ROUTER = ["untrack the router's own web service", 'untrack traffic within the internal network', 'masquerade the LAN going out to the internet', 'accept what every host accepts', 'drop everything else', 'set net.ipv4.ip_forward = 1']
const SERVER = ['untrack traffic within the internal network', 'accept what every host accepts', 'drop everything else']
const names = Array.from({ length: hosts }, (_, i) => (i === 0 ? 'router01' : `srv${String(i).padStart(3, '0')}`))

const reporter = new ListrReporter(
  names.map((name) => ({ name, tasks: name === 'router01' ? ROUTER : SERVER })),
  (text) => process.stdout.write(text + '\n'),
  'applied',
  { rows: process.stdout.rows ?? 24 },
)
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const emit = (e: RunEvent) => reporter.event(e)

// Every 7th host is already at its baseline, every 50th fails while reading.
async function work(host: string, i: number): Promise<HostDone> {
  emit({ kind: 'host-start', host })
  for (const step of ['connecting', 'reading the live ruleset']) {
    emit({ kind: 'step', host, step })
    await sleep(stepMs)
  }
  if (i % 50 === 49) return { kind: 'host-done', host, outcome: 'failed', detail: 'no SSH answer from 198.18.0.99:22 in time' }
  if (i % 7 === 6) return { kind: 'host-done', host, outcome: 'unchanged' }
  for (const step of ['loading the new ruleset', 'verifying', 'confirming over a fresh SSH connection']) {
    emit({ kind: 'step', host, step })
    await sleep(stepMs)
  }
  return { kind: 'host-done', host, outcome: 'changed', settings: i === 0 ? ['set net.ipv4.ip_forward = 1'] : [] }
}

const results: HostDone[] = []
let next = 0
await Promise.all(
  Array.from({ length: CONCURRENCY }, async () => {
    while (next < names.length) {
      const i = next++
      const done = await work(names[i]!, i)
      results[i] = done
      emit(done)
    }
  }),
)
await reporter.finish(results)
