// What the commands that connect share: the SSH transport, the reporter, the run over every
// selected host, and for those that change hosts, the per-run change settings.
import os from 'node:os'
import type { HostRun } from '../apply/apply-host.ts'
import { runOnHosts } from '../apply/run-on-hosts.ts'
import { saveLocalCopy } from '../history/local-copy.ts'
import { faultFrom } from '../remote/fault.ts'
import type { HostDone } from '../apply/events.ts'
import type { Session } from '../remote/transport.ts'
import type { ConnectSpec } from '../ssh/connect-spec.ts'
import { RunCredentials, type SudoOptions } from './credentials.ts'
import { EXIT } from './exit-codes.ts'
import { reporterFor, type Io } from './output.ts'

export interface ConnectionOptions extends SudoOptions {
  readonly json?: boolean
  // Print nothing (the picker's preview reads hosts before asking).
  readonly quiet?: boolean
  readonly concurrency: number
  readonly acceptNewHostKeys?: boolean
  // Shared by the commands that read hosts twice (preview, then run): secrets are asked for once.
  readonly credentials?: RunCredentials
  // Per host, the role's task titles, for the terminal display.
  readonly tasks?: ReadonlyMap<string, readonly string[]>
}

export interface ChangeOptions extends ConnectionOptions {
  // commander's --no-confirm sets confirm to false.
  readonly confirm: boolean
  readonly confirmTimeout: number
  readonly keep: number
}

const COMMAND_TIMEOUT_SEC = 120

export function operatorName(): string {
  return `${os.userInfo().username}@${os.hostname()}`.replace(/[^A-Za-z0-9@._-]/g, '_')
}

export function changeSettings(options: ChangeOptions, changeId: string, env: NodeJS.ProcessEnv = {}): HostRun['settings'] {
  const fault = faultFrom(env)
  return {
    ...(fault && { fault }),
    changeId,
    confirmSec: options.confirmTimeout,
    confirmFresh: options.confirm,
    keep: options.keep,
    by: operatorName(),
    lockTtlSec: COMMAND_TIMEOUT_SEC + 30,
  }
}

export async function workOnHosts(
  command: string,
  specs: ReadonlyMap<string, ConnectSpec>,
  hosts: readonly string[],
  options: ConnectionOptions,
  io: Io,
  work: (host: string, session: Session, openFresh: HostRun['openFresh'], emit: HostRun['emit']) => Promise<HostDone>,
): Promise<HostDone[]> {
  // Loaded only for real runs: a dry run needs no SSH code at all.
  const { SshTransport, DEFAULT_SSH_OPTIONS } = await import('../ssh/ssh-transport.ts')
  const credentials = options.credentials ?? new RunCredentials(options, io)
  await credentials.prepare(hosts.map((h) => specs.get(h)!))
  const transport = new SshTransport(
    { ...DEFAULT_SSH_OPTIONS, commandTimeoutSec: COMMAND_TIMEOUT_SEC, acceptNewHostKeys: Boolean(options.acceptNewHostKeys) },
    credentials,
  )
  const reporter = options.quiet ? { event: () => {}, finish: () => {} } : reporterFor(io, options, command, hosts)
  const emit: HostRun['emit'] = (e) => reporter.event(e)
  try {
    const results = await runOnHosts(
      hosts,
      { open: (host) => transport.open(specs.get(host)!) },
      { concurrency: options.concurrency, emit },
      (host, session) => work(host, session, (connectTimeoutMs) => transport.open(specs.get(host)!, { fresh: true, connectTimeoutMs }), emit),
    )
    await reporter.finish(results)
    return results
  } finally {
    transport.closeAll()
  }
}

export function changeExitCode(results: readonly HostDone[]): number {
  if (results.some((r) => r.outcome === 'unknown')) return EXIT.unknown
  return results.every((r) => r.outcome === 'changed' || r.outcome === 'unchanged') ? EXIT.ok : EXIT.hostFailed
}

export function hostRun(
  session: Session,
  openFresh: HostRun['openFresh'],
  settings: HostRun['settings'],
  emit: HostRun['emit'],
  host: string,
): HostRun {
  return {
    session,
    openFresh,
    settings,
    emit,
    // A convenience copy: failing to write it (a full or read-only disk) changes nothing on the host.
    keepCopy: (changeId, saved) => {
      try {
        saveLocalCopy(host, changeId, saved)
      } catch (error) {
        const why = (error as Error).message.split('\n')[0]
        emit({ kind: 'step', host, step: `warning: the operator's copy of the saved ruleset was not written (${why}); the host keeps its own in /var/lib/fleet/saved` })
      }
    },
  }
}
