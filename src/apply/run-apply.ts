// Applies the baselines of many hosts in parallel. One host failing never stops the others: every
// error becomes that host's "failed" outcome.
import type { Baseline } from '../roles/baseline.ts'
import { HostError, type Session } from '../remote/transport.ts'
import type { HostDone, RunEvent } from '../report/events.ts'
import { applyHost } from './apply-host.ts'
import { pool } from './pool.ts'

export interface Connector {
  open(host: string, options?: { fresh?: boolean }): Promise<Session>
}

export interface RunOptions {
  readonly concurrency: number
  readonly changeId: string
  readonly emit: (e: RunEvent) => void
}

export function failure(host: string, error: unknown): HostDone {
  const detail = error instanceof HostError ? error.message : `internal error: ${(error as Error)?.stack ?? String(error)}`
  return { kind: 'host-done', host, outcome: 'failed', detail }
}

export async function runApply(baselines: readonly Baseline[], connector: Connector, options: RunOptions): Promise<HostDone[]> {
  return pool(baselines, options.concurrency, async (baseline) => {
    const host = baseline.host.name
    options.emit({ kind: 'host-start', host })
    let done: HostDone
    let session: Session | undefined
    try {
      options.emit({ kind: 'step', host, step: 'connecting' })
      session = await connector.open(host)
      done = await applyHost(session, baseline, options.changeId, options.emit)
    } catch (error) {
      done = failure(host, error)
    } finally {
      session?.close()
    }
    options.emit(done)
    return done
  })
}
