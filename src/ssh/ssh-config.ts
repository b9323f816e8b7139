// What ssh_config says for one host, read as OpenSSH reads it (readconf.c): the user's file, then
// the system's (/etc/ssh/ssh_config, whose Include brings in ssh_config.d), each line applying
// only inside the Host or Match blocks that match, and the FIRST value obtained for an option
// wins (IdentityFile accumulates). Include is followed where it stands, Host and Match are
// evaluated like ssh does, including the second ("final") pass that `Match final` asks for.
// A pure function of the files' text: the files are read through `ConfigFiles`.
import { hostLineMatches, matchPattern, matchPatternList, splitConfigLine, type ConfigLine } from './ssh-config-syntax.ts'
import { parseProxyJump, type ProxyJump } from './proxy-jump.ts'

export interface ConfigFiles {
  // The text; undefined: no such file (ssh skips a missing config file); a directory, which ssh
  // opens and silently reads nothing from.
  read(file: string): string | undefined | { readonly directory: true }
  // The names in a folder, for Include patterns; [] when there is no such folder.
  list(dir: string): readonly string[]
}

export interface ConfigSource {
  readonly file: string
  // The system file anchors relative Include paths at /etc/ssh and forbids "~"; the user's at ~/.ssh.
  readonly system: boolean
  // Named by the inventory: like `ssh -F FILE`, it must exist (ssh skips only a default file).
  readonly named?: boolean
}

export interface ConfigQuery {
  // The host as given to ssh (the inventory host name, or a ProxyJump hop).
  readonly alias: string
  // Values given before the files are read, like ssh's command line: they win, and Match sees them.
  readonly hostName?: string
  readonly user?: string
  readonly home: string
  readonly localUser: string
}

export interface Setting<T> {
  readonly value: T
  // "file:line" of the line that set it.
  readonly where: string
}

export interface SshConfigValues {
  readonly hostName?: Setting<string>
  readonly user?: Setting<string>
  readonly port?: Setting<number>
  readonly identityFiles: readonly Setting<string>[]
  readonly identitiesOnly?: Setting<boolean>
  // ProxyJump and ProxyCommand exclude each other: whichever comes first is set, as in ssh
  // (except that `ProxyJump none` leaves ProxyCommand open).
  readonly proxyJump?: Setting<ProxyJump>
  readonly proxyCommand?: Setting<string>
  readonly userKnownHostsFiles?: Setting<readonly string[]>
  readonly globalKnownHostsFiles?: Setting<readonly string[]>
  // Seconds.
  readonly connectTimeout?: Setting<number>
  // The name to look the host key up under, instead of the host's.
  readonly hostKeyAlias?: Setting<string>
}

export class SshConfigError extends Error {
  constructor(
    message: string,
    readonly where: string,
  ) {
    super(message)
    this.name = 'SshConfigError'
  }
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] }

interface Pass {
  readonly query: ConfigQuery
  readonly files: ConfigFiles
  // The name Host lines and `Match host` compare with: the alias on the first pass, the
  // (lower-cased) HostName on the final pass.
  readonly host: string
  readonly final: boolean
  readonly values: Mutable<SshConfigValues> & { identityFiles: Setting<string>[] }
  wantFinal: boolean
}

const MAX_INCLUDE_DEPTH = 16

export function readSshConfig(sources: readonly ConfigSource[], files: ConfigFiles, query: ConfigQuery): SshConfigValues {
  const values: Pass['values'] = { identityFiles: [] }
  if (query.hostName !== undefined) values.hostName = { value: query.hostName, where: 'inventory' }
  if (query.user !== undefined) values.user = { value: query.user, where: 'inventory' }
  const first: Pass = { query, files, host: query.alias, final: false, values, wantFinal: false }
  for (const source of sources) readFile(first, source, source.file, 0, { active: true }, false)
  if (first.wantFinal) {
    // ssh settles the host name before the final pass, so a HostName found there changes nothing.
    const host = lowerName(values.hostName?.value ?? query.alias)
    values.hostName = { value: host, where: values.hostName?.where ?? 'the host name as given' }
    const final: Pass = { ...first, host, final: true }
    for (const source of sources) readFile(final, source, source.file, 0, { active: true }, false)
  }
  return values
}

// ssh lower-cases the host name it connects to (addresses aside) before the final pass.
export function lowerName(name: string): string {
  return name.toLowerCase()
}

function readFile(pass: Pass, source: ConfigSource, file: string, depth: number, state: { active: boolean }, neverMatch: boolean): void {
  const text = pass.files.read(file)
  if (text === undefined && depth === 0 && source.named) throw new SshConfigError('no such file (a config file the inventory names must exist, as with ssh -F; `config: none` reads none)', file)
  if (text === undefined) return
  // Only a top-level file gets here as a directory: Include checks its own.
  if (typeof text !== 'string') throw new SshConfigError('is a directory, not an ssh_config file', file)
  text.split('\n').forEach((raw, index) => {
    const where = `${file}:${index + 1}`
    const line = splitConfigLine(raw)
    if (line === null) return
    if ('error' in line) throw new SshConfigError(line.error, where)
    switch (line.keyword) {
      case 'host':
        state.active = !neverMatch && hostLineMatches(pass.host, line.args)
        return
      case 'match': {
        const matched = matchLine(pass, line.args, where, !neverMatch)
        state.active = !neverMatch && matched
        return
      }
      case 'include': {
        if (depth >= MAX_INCLUDE_DEPTH) throw new SshConfigError(`Include nested more than ${MAX_INCLUDE_DEPTH} deep`, where)
        const outer = state.active
        for (const included of includedFiles(pass, source, line.args, where)) {
          readFile(pass, source, included, depth + 1, state, neverMatch || !outer)
          // A Match inside an included file must not change the including file's state.
          state.active = outer
        }
        return
      }
      default:
        setOption(pass, line, where, state.active)
    }
  })
}

function includedFiles(pass: Pass, source: ConfigSource, patterns: readonly string[], where: string): string[] {
  return patterns.flatMap((pattern) => {
    if (pattern.startsWith('~') && source.system) throw new SshConfigError(`bad include path ${pattern}: "~" in a system file`, where)
    const anchored = pattern.startsWith('/')
      ? pattern
      : pattern.startsWith('~/') || pattern === '~'
        ? pass.query.home + pattern.slice(1)
        : `${source.system ? '/etc/ssh' : `${pass.query.home}/.ssh`}/${pattern}`
    const found = globPath(anchored, pass.files)
    // A wildcard that also matches a directory means the files among its matches, as in ssh; a
    // directory named as such is a mistake ssh would hide (the settings in it are never read).
    const isDirectory = (file: string) => typeof pass.files.read(file) === 'object'
    if (!/[*?]/.test(pattern)) {
      if (isDirectory(anchored)) throw new SshConfigError(`Include ${pattern}: ${anchored} is a directory; Include reads files (${pattern.replace(/\/$/, '')}/* for the files in it)`, where)
      return found
    }
    return found.filter((file) => !isDirectory(file))
  })
}

// glob(3) over the reader: wildcards in any path component, sorted, dot files only when the
// pattern asks for them. A path without wildcards is returned as is (a missing file is skipped).
function globPath(pattern: string, files: ConfigFiles): string[] {
  if (!/[*?]/.test(pattern)) return [pattern]
  let found = ['']
  for (const part of pattern.split('/').slice(1)) {
    if (!/[*?]/.test(part)) {
      found = found.map((dir) => `${dir}/${part}`)
      continue
    }
    found = found.flatMap((dir) =>
      files
        .list(dir === '' ? '/' : dir)
        .filter((name) => (part.startsWith('.') || !name.startsWith('.')) && matchPattern(name, part))
        .sort()
        .map((name) => `${dir}/${name}`),
    )
  }
  return found
}

// match_cfg_line(): every criterion must hold; `all` alone; `!` negates one criterion.
function matchLine(pass: Pass, args: readonly string[], where: string, mayRun: boolean): boolean {
  const { query, values } = pass
  const host = pass.final ? pass.host : values.hostName !== undefined ? values.hostName.value : query.alias
  const user = values.user?.value ?? query.localUser
  let result = true
  let criteria = 0
  for (let i = 0; i < args.length; i++) {
    const raw = args[i]!
    const negate = raw.startsWith('!')
    const attribute = (negate ? raw.slice(1) : raw).toLowerCase()
    if (attribute === 'all') {
      if (criteria > 0 || i + 1 < args.length) throw new SshConfigError(`Match "${raw}" cannot be combined with other criteria`, where)
      return result && !negate
    }
    criteria++
    let holds: boolean
    if (attribute === 'canonical' || attribute === 'final') {
      if (attribute === 'final') pass.wantFinal = true
      holds = pass.final
    } else {
      const arg = args[++i]
      if (arg === undefined) throw new SshConfigError(`Match ${attribute} needs an argument`, where)
      switch (attribute) {
        case 'host':
          holds = matchPatternList(host, arg, true)
          break
        case 'originalhost':
          holds = matchPatternList(query.alias, arg, true)
          break
        case 'user':
          holds = matchPatternList(user, arg)
          break
        case 'localuser':
          holds = matchPatternList(query.localUser, arg)
          break
        case 'exec':
          // ssh skips the command once a criterion before it has failed; so does fleet.
          if (!result || !mayRun) continue
          throw new SshConfigError(
            `Match exec is not supported: fleet does not run commands from ssh_config. ` +
              `Put this host's settings in a Host block or in the inventory`,
            where,
          )
        default:
          throw new SshConfigError(`Match ${attribute} is not supported (fleet knows all, host, originalhost, user, localuser, final, canonical)`, where)
      }
    }
    if (holds === negate) result = false
  }
  if (criteria === 0) throw new SshConfigError('Match needs one or more criteria', where)
  return result
}

function setOption(pass: Pass, line: ConfigLine, where: string, active: boolean): void {
  const values = pass.values
  const arg = line.args[0]!
  const once = <K extends keyof SshConfigValues>(key: K, value: NonNullable<SshConfigValues[K]> extends Setting<infer T> ? T : never) => {
    if (active && values[key] === undefined) (values as Record<string, unknown>)[key] = { value, where }
  }
  switch (line.keyword) {
    case 'hostname':
      return once('hostName', expandHostName(arg, pass.query.alias, where))
    case 'user':
      return once('user', arg)
    case 'port':
      return once('port', parsePort(arg, where))
    case 'identityfile':
      if (active && !values.identityFiles.some((f) => f.value === arg)) values.identityFiles.push({ value: arg, where })
      return
    case 'identitiesonly':
      return once('identitiesOnly', parseFlag(arg, where))
    case 'proxyjump': {
      // Checked even where inactive, as ssh does: a typo fails wherever it is.
      const jump = parseProxyJump(line.rest)
      if (typeof jump === 'string') throw new SshConfigError(`ProxyJump: ${jump}`, where)
      if (values.proxyCommand === undefined) once('proxyJump', jump)
      return
    }
    case 'proxycommand':
      // A ProxyJump with hops turns ProxyCommand off; `ProxyJump none` does not (OpenSSH 9).
      if (values.proxyJump?.value.kind !== 'hops') once('proxyCommand', line.rest.trim())
      return
    case 'userknownhostsfile':
      return once('userKnownHostsFiles', line.args)
    case 'globalknownhostsfile':
      return once('globalKnownHostsFiles', line.args)
    case 'connecttimeout':
      return once('connectTimeout', parseTime(arg, where))
    case 'hostkeyalias':
      return once('hostKeyAlias', arg)
  }
}

// HostName takes %h (the alias) and %%, nothing else.
function expandHostName(value: string, alias: string, where: string): string {
  return value.replace(/%(.)?/g, (_, token: string | undefined) => {
    if (token === 'h') return alias
    if (token === '%') return '%'
    throw new SshConfigError(`HostName: unknown token %${token ?? ''}`, where)
  })
}

function parsePort(value: string, where: string): number {
  const port = /^\d{1,5}$/.test(value) ? Number(value) : NaN
  if (!(port >= 1 && port <= 65535)) throw new SshConfigError(`Port: expected a port number 1-65535, got "${value}"`, where)
  return port
}

function parseFlag(value: string, where: string): boolean {
  const v = value.toLowerCase()
  if (v === 'yes' || v === 'true') return true
  if (v === 'no' || v === 'false') return false
  throw new SshConfigError(`expected yes or no, got "${value}"`, where)
}

// convtime(): 90, 90s, 1m30s, 2h, 1d, 1w.
const UNIT_SECONDS: Record<string, number> = { '': 1, s: 1, m: 60, h: 3600, d: 86400, w: 604800 }
function parseTime(value: string, where: string): number {
  const parts = [...value.toLowerCase().matchAll(/(\d+)([smhdw]?)/g)]
  if (parts.length === 0 || parts.map((p) => p[0]).join('') !== value.toLowerCase()) {
    throw new SshConfigError(`expected a time like 10, 30s or 1m, got "${value}"`, where)
  }
  return parts.reduce((sum, p) => sum + Number(p[1]) * UNIT_SECONDS[p[2]!]!, 0)
}
