// On a terminal: listr2. When every host fits on the screen, a line per host; a running host's
// line expands into its role's task titles (the ones the dry run prints), ticked once the step
// that carries them is over, and collapses to one line when the host is done. When the hosts do
// not fit, one overall line (done, per outcome, running, elapsed) and a line per running host.
import { color, Listr, type ListrTaskWrapper } from 'listr2'
import { type HostDone, type Reporter, type RunEvent } from '../apply/events.ts'
import { outcomeLines, printableWrite, summaryLine, type Write } from './plain.ts'
import { printable } from './printable.ts'
import { nextProgress, overallLine, type HostProgress } from './progress.ts'

type Wrapper = ListrTaskWrapper<unknown, never, never>

export interface DisplayHost {
  readonly name: string
  // The role's task titles; none for commands that do not apply a role (rollback, audit, history).
  readonly tasks: readonly string[]
}

export interface Screen {
  readonly rows: number
}

const differences = (done: HostDone) => (done.diff?.length ?? 0) + (done.settings?.length ?? 0)

function doneTitle(done: HostDone): string {
  const n = differences(done)
  return `${done.host}: ${done.outcome.replace('-', ' ')}${n > 0 ? ` (${n} difference${n === 1 ? '' : 's'})` : ''}`
}

const failedOutcome = (done: HostDone) => done.outcome === 'failed' || done.outcome === 'rolled-back' || done.outcome === 'unknown'

interface HostLine {
  readonly host: DisplayHost
  state: HostProgress
  task?: Wrapper
  // Lines of the screen this host's task list holds while it runs (0: not expanded).
  expandedRows: number
  started: () => void
  finished: (done: HostDone) => void
  readonly start: Promise<void>
  readonly done: Promise<HostDone>
}

const RENDERER = { collapseErrors: false, showErrorMessage: true }

// listr2 keeps every output line a task ever wrote; a title is replaced whole, and its further
// lines are indented under the first. So what changes lives in the title.
const multiline = (...parts: readonly string[]) => parts.join('\n')

export class ListrReporter implements Reporter {
  private readonly lines = new Map<string, HostLine>()
  private readonly running: Promise<unknown>
  private readonly began = Date.now()
  // Rows left for expanded task lists (per-host mode).
  private spareRows: number
  private overall?: Wrapper
  private room = 1
  private shownAt = 0
  private ticker?: NodeJS.Timeout
  private allDone?: () => void

  private readonly write: Write

  constructor(
    hosts: readonly DisplayHost[],
    write: Write,
    private readonly verb = 'applied',
    screen: Screen = { rows: 24 },
  ) {
    this.write = printableWrite(write)
    for (const host of hosts) {
      let started!: () => void
      let finished!: (done: HostDone) => void
      const start = new Promise<void>((r) => (started = r))
      const done = new Promise<HostDone>((r) => (finished = r))
      this.lines.set(host.name, { host, state: { phase: 'waiting' }, expandedRows: 0, started, finished, start, done })
    }
    // The listr2 lines, a summary line, the shell prompt.
    this.spareRows = screen.rows - hosts.length - 2
    const tasks = this.spareRows >= 0 ? this.hostTasks() : this.overallTask(screen.rows)
    this.running = tasks.run().catch(() => {})
  }

  private hostTasks(): Listr<unknown> {
    return new Listr(
      [...this.lines.values()].map((line) => ({
        title: line.host.name,
        task: async (_ctx: unknown, task: Wrapper) => {
          line.task = task
          task.title = `${line.host.name}: waiting`
          await line.start
          this.render(line)
          const done = await line.done
          this.spareRows += line.expandedRows
          line.expandedRows = 0
          task.title = doneTitle(done)
          if (failedOutcome(done)) throw new Error(printable(done.detail ?? done.outcome))
        },
      })),
      { concurrent: true, exitOnError: false, rendererOptions: RENDERER } as never,
    )
  }

  private overallTask(rows: number): Listr<unknown> {
    const done = new Promise<void>((r) => (this.allDone = r))
    // The overall line, the running hosts under it, a summary line and the prompt.
    this.room = Math.max(1, rows - 3)
    return new Listr(
      [
        {
          title: this.overallTitle(),
          task: async (_ctx: unknown, task: Wrapper) => {
            this.overall = task
            this.ticker = setInterval(() => this.renderOverall(), 1000)
            this.renderOverall()
            await done
            clearInterval(this.ticker)
            task.title = this.overallTitle()
          },
        },
      ],
      { rendererOptions: RENDERER } as never,
    )
  }

  private overallTitle(): string {
    return overallLine([...this.lines.values()].map((l) => l.state), this.verb, Date.now() - this.began)
  }

  private renderOverall(): void {
    const task = this.overall
    if (!task) return
    const room = this.room
    this.shownAt = Date.now()
    const running = [...this.lines.values()].flatMap((l) => (l.state.phase === 'running' ? [`${l.host.name}: ${l.state.step}`] : []))
    const shown = running.length > room ? [...running.slice(0, room - 1), `... and ${running.length - room + 1} more running`] : running
    task.title = multiline(this.overallTitle(), ...shown)
  }

  // A running host in per-host mode: its step in the title, its role's tasks under it.
  private render(line: HostLine): void {
    const { task, state } = line
    if (!task || state.phase !== 'running') return
    if (line.expandedRows === 0 && line.host.tasks.length > 0 && line.host.tasks.length <= this.spareRows) {
      line.expandedRows = line.host.tasks.length
      this.spareRows -= line.expandedRows
    }
    // Pending, being loaded (the one atomic step that carries them all), done.
    const mark = state.tasksDone ? color.green('✔') : state.loading ? color.yellow('❯') : color.dim('◻')
    const tasks = line.expandedRows > 0 ? line.host.tasks.map((t) => `${mark} ${t}`) : []
    task.title = multiline(`${line.host.name}: ${state.step}`, ...tasks)
  }

  event(e: RunEvent): void {
    const line = this.lines.get(e.host)
    if (!line) return
    line.state = nextProgress(line.state, e)
    if (e.kind === 'host-start') line.started()
    if (e.kind === 'host-done') line.finished(e)
    if (this.overall === undefined) this.render(line)
    // Hundreds of hosts send thousands of events: redraw the overall line ten times a second.
    else if (Date.now() - this.shownAt >= 100) this.renderOverall()
    if ([...this.lines.values()].every((l) => l.state.phase === 'done')) this.allDone?.()
  }

  async finish(results: readonly HostDone[]): Promise<void> {
    this.allDone?.()
    await this.running
    if (this.ticker) clearInterval(this.ticker)
    // The live lines show progress; what changed or drifted is printed in full once all are done.
    for (const done of results) {
      const notes = (done.foreign?.length ?? 0) + (done.otherFirewalls?.length ?? 0) + (done.warnings?.length ?? 0)
      // With the overall line, a failed host has no line of its own: say here why it failed.
      if (differences(done) + notes > 0 || done.conntrack || (this.overall && failedOutcome(done))) outcomeLines(done).forEach((l) => this.write(l))
    }
    this.write(summaryLine(results, this.verb))
  }
}
