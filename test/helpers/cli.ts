// Runs fleet's CLI in-process with captured output, exactly as the bin does.
import { spawn } from 'node:child_process'
import { main } from '../../src/cli/main.ts'
import { FLEET_BIN } from './lab.ts'

export interface CliResult {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

export async function fleet(args: readonly string[], env: NodeJS.ProcessEnv = { CI: 'true' }): Promise<CliResult> {
  const out: string[] = []
  const err: string[] = []
  const code = await main(args, { out: (t) => out.push(t), err: (t) => err.push(t), isTTY: false, env })
  return { code, stdout: out.join('\n'), stderr: err.join('\n') }
}

// Runs bin/fleet.js as its own process, for a run that may be killed (FLEET_FAULT=<step>:kill
// kills fleet itself, which in-process would be the test runner).
export function fleetProcess(args: readonly string[], env: Readonly<Record<string, string>>): Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [FLEET_BIN, ...args], { env: { ...process.env, CI: 'true', ...env } })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()))
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }))
  })
}

// Runs bin/fleet.js as its own process and kills it (SIGKILL, nothing to clean up) as soon as its
// output shows `marker`; returns that output. fleet dying at that point is what the test is about.
export async function fleetKilledAt(args: readonly string[], marker: string): Promise<string> {
  const child = spawn(process.execPath, [FLEET_BIN, ...args], { env: { ...process.env, CI: 'true' } })
  let output = ''
  await new Promise<void>((resolve) => {
    child.stdout.on('data', (d: Buffer) => {
      output += d.toString()
      if (output.includes(marker)) {
        child.kill('SIGKILL')
        resolve()
      }
    })
    child.on('exit', () => resolve())
  })
  return output
}
