// --json: one document on stdout when the run is done, for machines.
import { summarize, type HostDone, type Reporter } from '../apply/events.ts'
import type { Write } from './plain.ts'
import { jsonText } from './json-text.ts'

export class JsonReporter implements Reporter {
  constructor(
    private readonly write: Write,
    private readonly command: string,
  ) {}

  event(): void {}

  finish(results: readonly HostDone[]): void {
    const hosts = results.map(({ kind: _kind, ...rest }) => rest)
    this.write(jsonText({ command: this.command, hosts, summary: summarize(results) }))
  }
}
