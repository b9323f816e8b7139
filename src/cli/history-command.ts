// fleet history: the changes saved on each host, newest last.
import { parseHistory, type HistoryEntry } from '../history/entries.ts'
import { historyStep } from '../remote/read-scripts.ts'
import { HostError } from '../remote/transport.ts'
import { printable } from '../report/printable.ts'
import { connectSpecs } from '../ssh/connect-spec.ts'
import { EXIT } from './exit-codes.ts'
import { workOnHosts, type ConnectionOptions } from './host-work.ts'
import { readInventory, selectHosts } from './load.ts'
import type { Io } from './output.ts'
import { jsonText } from '../report/json-text.ts'

export interface HistoryOptions extends ConnectionOptions {
  readonly inventory: string
  readonly limit?: string[]
  readonly role?: string[]
}

export function formatEntry(e: HistoryEntry): string {
  const reason = e.reason ? `  (${e.reason})` : ''
  // Notes, reasons and names are the host's text.
  return printable(`  ${e.id}  ${e.time}  ${e.action.padEnd(8)}  ${e.status.padEnd(11)}  ${e.note}  by ${e.by}${e.hasSaved ? '' : '  [saved ruleset pruned]'}${reason}`)
}

export async function historyCommand(options: HistoryOptions, io: Io): Promise<number> {
  const inventory = readInventory(options.inventory)
  const hosts = selectHosts(inventory, options.limit, options.role)
  const specs = connectSpecs(inventory)
  const histories = new Map<string, HistoryEntry[]>()
  const results = await workOnHosts('history', specs, hosts.map((h) => h.name), { ...options, quiet: true }, io, async (host, session) => {
    const result = await session.run(historyStep().script)
    if (result.code !== 0) throw new HostError(`cannot read the history: ${result.stderr.trim()}`)
    histories.set(host, parseHistory(result.stdout))
    return { kind: 'host-done', host, outcome: 'unchanged' }
  })
  if (options.json) {
    io.out(jsonText({ command: 'history', hosts: results.map((r) => ({ host: r.host, ...(r.outcome === 'failed' ? { error: r.detail } : { entries: histories.get(r.host) }) })) }))
  } else {
    for (const r of results) {
      const entries = histories.get(r.host)
      io.out(printable(r.outcome === 'failed' ? `${r.host}: failed: ${r.detail}` : `${r.host}:${entries?.length ? '' : ' no changes recorded'}`))
      entries?.forEach((e) => io.out(formatEntry(e)))
    }
  }
  return results.some((r) => r.outcome === 'failed') ? EXIT.hostFailed : EXIT.ok
}
