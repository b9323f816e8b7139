// Works on many hosts in parallel. One host failing never stops the others: every error becomes
// that host's "failed" outcome, and each host's session is closed whatever happens.
import { HostError, type Session } from '../remote/transport.ts'
import type { HostDone, RunEvent } from './events.ts'
import { pool } from './pool.ts'

export interface Connector {
  open(host: string): Promise<Session>
}

export function failure(host: string, error: unknown): HostDone {
  const detail = error instanceof HostError ? error.message : `internal error: ${(error as Error)?.stack ?? String(error)}`
  return { kind: 'host-done', host, outcome: 'failed', detail }
}

export async function runOnHosts(
  hosts: readonly string[],
  connector: Connector,
  options: { readonly concurrency: number; readonly emit: (e: RunEvent) => void },
  work: (host: string, session: Session) => Promise<HostDone>,
): Promise<HostDone[]> {
  return pool(hosts, options.concurrency, async (host) => {
    options.emit({ kind: 'host-start', host })
    let done: HostDone
    let session: Session | undefined
    try {
      options.emit({ kind: 'step', host, step: 'connecting' })
      session = await connector.open(host)
      done = await work(host, session)
    } catch (error) {
      done = failure(host, error)
    } finally {
      session?.close()
    }
    options.emit(done)
    return done
  })
}
