// On a terminal: listr2, a line per host with its current step, all hosts at once.
import { Listr, type ListrTaskWrapper } from 'listr2'
import { type HostDone, type Reporter, type RunEvent } from './events.ts'
import { outcomeLines, summaryLine, type Write } from './plain.ts'

const differences = (done: HostDone) => (done.diff?.length ?? 0) + (done.settings?.length ?? 0)

interface HostLine {
  task?: ListrTaskWrapper<unknown, never, never>
  resolve: (done: HostDone) => void
  done: Promise<HostDone>
}

export class ListrReporter implements Reporter {
  private readonly lines = new Map<string, HostLine>()
  private readonly running: Promise<unknown>

  constructor(
    hosts: readonly string[],
    private readonly write: Write,
    private readonly verb = 'applied',
  ) {
    for (const host of hosts) {
      let resolve!: (done: HostDone) => void
      const done = new Promise<HostDone>((r) => (resolve = r))
      this.lines.set(host, { resolve, done })
    }
    const tasks = new Listr(
      hosts.map((host) => ({
        title: host,
        task: async (_ctx: unknown, task: ListrTaskWrapper<unknown, never, never>) => {
          const line = this.lines.get(host)!
          line.task = task
          const done = await line.done
          const n = differences(done)
          const changes = n > 0 ? ` (${n} difference${n === 1 ? '' : 's'})` : ''
          task.title = `${host}: ${done.outcome}${changes}`
          if (done.outcome === 'failed' || done.outcome === 'rolled-back' || done.outcome === 'unknown') throw new Error(done.detail ?? done.outcome)
        },
      })),
      { concurrent: true, exitOnError: false, rendererOptions: { collapseErrors: false, showErrorMessage: true } } as never,
    )
    this.running = tasks.run().catch(() => {})
  }

  event(e: RunEvent): void {
    const line = this.lines.get(e.host)
    if (!line) return
    if (e.kind === 'step' && line.task) line.task.output = e.step
    if (e.kind === 'host-done') line.resolve(e)
  }

  async finish(results: readonly HostDone[]): Promise<void> {
    await this.running
    // The live lines show progress; what changed or drifted is printed in full once all are done.
    for (const done of results) {
      const notes = (done.foreign?.length ?? 0) + (done.otherFirewalls?.length ?? 0) + (done.warnings?.length ?? 0)
      if (differences(done) + notes > 0 || done.conntrack) outcomeLines(done).forEach((l) => this.write(l))
    }
    this.write(summaryLine(results, this.verb))
  }
}
