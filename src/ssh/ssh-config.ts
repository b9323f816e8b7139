// ~/.ssh/config values for a host (HostName, User, Port, IdentityFile, ProxyJump is not used:
// jump hosts come from the inventory). The ssh-config package does not follow Include, so
// Include lines are expanded here first, relative to ~/.ssh as OpenSSH does.
import { existsSync, readFileSync, readdirSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import SSHConfig from 'ssh-config'
import { globToRegExp } from '../shell/glob.ts'

export interface SshConfigValues {
  readonly hostName?: string
  readonly user?: string
  readonly port?: number
  readonly identityFiles: readonly string[]
}

export function expandHome(file: string): string {
  return file === '~' ? os.homedir() : file.startsWith('~/') ? path.join(os.homedir(), file.slice(2)) : file
}

function globFiles(pattern: string): string[] {
  if (!/[*?]/.test(pattern)) return existsSync(pattern) ? [pattern] : []
  const dir = path.dirname(pattern)
  const re = globToRegExp(path.basename(pattern))
  return existsSync(dir) ? readdirSync(dir).filter((f) => re.test(f)).sort().map((f) => path.join(dir, f)) : []
}

function expandIncludes(text: string, baseDir: string, depth = 0): string {
  if (depth > 8) return text
  return text
    .split('\n')
    .map((line) => {
      const m = /^\s*Include\s+(.+)$/i.exec(line)
      if (!m) return line
      return m[1]!
        .trim()
        .split(/\s+/)
        .flatMap((p) => globFiles(path.resolve(baseDir, expandHome(p))))
        .map((f) => expandIncludes(readFileSync(f, 'utf8'), baseDir, depth + 1))
        .join('\n')
    })
    .join('\n')
}

export function readSshConfig(file: string): SSHConfig | undefined {
  const resolved = expandHome(file)
  if (!existsSync(resolved)) return undefined
  return SSHConfig.parse(expandIncludes(readFileSync(resolved, 'utf8'), path.join(os.homedir(), '.ssh')))
}

export function sshConfigFor(config: SSHConfig | undefined, alias: string): SshConfigValues {
  if (config === undefined) return { identityFiles: [] }
  const values = config.compute(alias)
  const one = (key: string) => {
    const v = values[key]
    return Array.isArray(v) ? v[0] : v
  }
  const port = one('Port')
  const hostName = one('HostName')?.replace(/%h/g, alias)
  const user = one('User')
  const identity = values.IdentityFile
  return {
    ...(hostName !== undefined && { hostName }),
    ...(user !== undefined && { user }),
    ...(port !== undefined && { port: Number(port) }),
    identityFiles: (Array.isArray(identity) ? identity : identity ? [identity] : []).map(expandHome),
  }
}
