// One line per event, for logs, cron and CI (no terminal, or CI set).
import { formatConntrack } from '../audit/conntrack.ts'
import { formatOther } from '../plan/other-firewalls.ts'
import { summarize, type HostDone, type Reporter, type RunEvent } from '../apply/events.ts'
import { printable } from './printable.ts'

export type Write = (text: string) => void

export function outcomeLines(done: HostDone): string[] {
  const head = `${done.host}: ${done.outcome.replace('-', ' ')}${done.detail ? `: ${done.detail}` : ''}`
  return [
    head,
    ...(done.diff ?? []).map((d) => `    ${d}`),
    ...(done.settings ?? []).map((s) => `    setting: ${s}`),
    ...(done.foreign ?? []).map((f) => `    foreign: ${f}`),
    ...(done.otherFirewalls ?? []).map((o) => `    also filtering: ${formatOther(o)}`),
    ...(done.warnings ?? []).map((w) => `    warning: ${w}`),
    ...(done.conntrack ? [`    ${formatConntrack(done.conntrack)}`] : []),
  ]
}

export function summaryLine(results: readonly HostDone[], verb = 'applied'): string {
  const counts = summarize(results)
  const failed = results.filter((r) => r.outcome === 'failed' || r.outcome === 'rolled-back' || r.outcome === 'unknown' || r.outcome === 'drift').map((r) => r.host)
  const parts = Object.entries(counts)
    .filter(([, n]) => n > 0)
    .map(([k, n]) => `${n} ${k.replace('-', ' ')}`)
  return `${verb} ${results.length} host${results.length === 1 ? '' : 's'}: ${parts.join(', ') || 'nothing to do'}${failed.length ? ` (${failed.join(', ')})` : ''}`
}

// The verb of the summary line, per command.
export const DONE_VERB: Record<string, string> = { apply: 'applied', rollback: 'rolled back', audit: 'audited', check: 'checked' }

// Every line a text reporter writes holds host text (rule lines, stderr): shown, never obeyed.
export const printableWrite =
  (write: Write): Write =>
  (text) =>
    write(printable(text))

export class PlainReporter implements Reporter {
  private readonly write: Write

  constructor(
    write: Write,
    private readonly verb = 'applied',
  ) {
    this.write = printableWrite(write)
  }

  event(e: RunEvent): void {
    if (e.kind === 'step') this.write(`${e.host}: ${e.step}`)
    if (e.kind === 'host-done') outcomeLines(e).forEach((l) => this.write(l))
  }

  finish(results: readonly HostDone[]): void {
    this.write(summaryLine(results, this.verb))
  }
}
