// fleet apply: wires inventory -> baselines -> (dry-run printer | SSH apply) -> reporter.
import { runApply } from '../apply/run-apply.ts'
import { dryRunPlan, formatDryRun } from '../report/dry-run.ts'
import { connectSpecs } from '../ssh/connect-spec.ts'
import { newChangeId } from './change-id.ts'
import { EXIT } from './exit-codes.ts'
import { loadBaselines, readInventory, selectHosts } from './load.ts'
import { reporterFor, type Io } from './output.ts'

export interface ApplyOptions {
  readonly inventory: string
  readonly limit?: string[]
  readonly dryRun?: boolean
  readonly json?: boolean
  readonly concurrency: number
  readonly acceptNewHostKeys?: boolean
}

export async function applyCommand(options: ApplyOptions, io: Io): Promise<number> {
  const inventory = readInventory(options.inventory)
  const hosts = selectHosts(inventory, options.limit)
  const baselines = await loadBaselines(inventory, hosts)
  const specs = connectSpecs(inventory)
  const changeId = newChangeId()

  if (options.dryRun) {
    const plan = dryRunPlan(baselines, specs, changeId)
    io.out(options.json ? JSON.stringify({ command: 'apply', dryRun: true, changeId, hosts: plan }, null, 2) : formatDryRun(plan))
    return EXIT.ok
  }

  // Loaded only for real runs: a dry run needs no SSH code at all.
  const { SshTransport, DEFAULT_SSH_OPTIONS } = await import('../ssh/ssh-transport.ts')
  const transport = new SshTransport({ ...DEFAULT_SSH_OPTIONS, acceptNewHostKeys: Boolean(options.acceptNewHostKeys) })
  const reporter = reporterFor(io, options, 'apply', hosts.map((h) => h.name))
  try {
    const results = await runApply(
      baselines,
      { open: (host, o) => transport.open(specs.get(host)!, o) },
      { concurrency: options.concurrency, changeId, emit: (e) => reporter.event(e) },
    )
    await reporter.finish(results)
    return results.every((r) => r.outcome === 'changed' || r.outcome === 'unchanged') ? EXIT.ok : EXIT.hostFailed
  } finally {
    transport.closeAll()
  }
}
