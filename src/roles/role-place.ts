// Where in a role's own source something happened (file:line:col), for the one line that reports
// a role's fault. The positions come from V8's call sites, mapped back through the source maps tsx
// hands Node when it compiles a role: they are the compiled code's positions otherwise (tsx
// compiles every role, and a CommonJS one to a single minified line), and whoever formats
// `error.stack` (Node with or without source maps, a test runner's own formatter) may or may not
// have mapped them. A place that cannot be told for sure is left out: the file alone is named.
import { findSourceMap } from 'node:module'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

export interface Place {
  readonly file: string
  readonly line: number
  readonly column: number
}

const FLEET_CODE = fileURLToPath(new URL('..', import.meta.url))

// Role code is what is neither fleet's (its modules, the bin that started it) nor a dependency's.
function isRoleCode(file: string): boolean {
  return !file.startsWith(FLEET_CODE) && !file.includes('/node_modules/') && file !== process.argv[1]
}

// The role code's frame nearest to where `error` was made. `roleFile` is the role's own file.
export function errorPlace(error: unknown, roleFile: string): Place | undefined {
  for (const site of callSites(error)) {
    const place = sourcePlace(site.getFileName() ?? undefined, site.getLineNumber(), site.getColumnNumber(), roleFile)
    if (place && isRoleCode(place.file)) return place
  }
  return undefined
}

// "file:line:col" of where `error` was made in role code, else `fallback`.
export function locate(error: unknown, roleFile: string, fallback: string = roleFile): string {
  return placeText(errorPlace(error, roleFile)) ?? fallback
}

export function placeText(place: Place | undefined): string | undefined {
  return place && `${shown(place.file)}:${place.line}:${place.column}`
}

// Where a function of the role is written (e.g. tasks(), when what it returned is unusable): V8
// knows (the inspector's [[FunctionLocation]]); undefined if the inspector is not available.
export async function functionPlace(fn: unknown, roleFile: string): Promise<Place | undefined> {
  if (typeof fn !== 'function') return undefined
  // Imported here: a Node built without the inspector refuses the import, and fleet runs without.
  const session = await import('node:inspector/promises').then(({ Session }) => new Session()).catch(() => undefined)
  if (!session) return undefined
  const key = `__fleetFunction${process.pid}`
  try {
    session.connect()
    const scripts = new Map<string, string>()
    session.on('Debugger.scriptParsed', (m) => scripts.set(m.params.scriptId, m.params.url))
    await session.post('Debugger.enable')
    ;(globalThis as Record<string, unknown>)[key] = fn
    const { result } = await session.post('Runtime.evaluate', { expression: `globalThis[${JSON.stringify(key)}]` })
    const { internalProperties } = await session.post('Runtime.getProperties', { objectId: result.objectId! })
    const at = internalProperties?.find((p) => p.name === '[[FunctionLocation]]')?.value?.value as
      | { scriptId: string; lineNumber: number; columnNumber: number }
      | undefined
    const place = at && sourcePlace(scripts.get(at.scriptId), at.lineNumber + 1, at.columnNumber + 1, roleFile)
    return place && isRoleCode(place.file) ? place : undefined
  } catch {
    return undefined
  } finally {
    delete (globalThis as Record<string, unknown>)[key]
    session.disconnect()
  }
}

// A compiled position (1-based) -> the role source's, through the source map Node holds for that
// script: tsx gives one for every file it compiles. The role file without one is plain JavaScript
// that tsx ran as written; any other script without one may have been compiled by something else
// (a test runner), so its positions are not trusted.
function sourcePlace(script: string | undefined, line: number | null, column: number | null, roleFile: string): Place | undefined {
  if (!script || line === null || column === null) return undefined
  const entry = findSourceMap(script)?.findEntry(line - 1, column - 1) as
    | { originalSource?: string; originalLine?: number; originalColumn?: number }
    | undefined
  if (entry?.originalSource !== undefined && entry.originalLine !== undefined && entry.originalColumn !== undefined) {
    return { file: filePath(entry.originalSource), line: entry.originalLine + 1, column: entry.originalColumn + 1 }
  }
  return filePath(script) === roleFile ? { file: roleFile, line, column } : undefined
}

function filePath(source: string): string {
  return source.startsWith('file://') ? fileURLToPath(source.replace(/\?.*$/, '')) : source
}

// V8's call sites of `error`, read before anything formats its stack (V8 does that once, on the
// first read of `error.stack`, through Error.prepareStackTrace). The stack text stays what it
// would have been. An error already formatted, or not an Error, has none to give.
function callSites(error: unknown): readonly NodeJS.CallSite[] {
  if (!(error instanceof Error)) return []
  const formatter = Error.prepareStackTrace
  let sites: readonly NodeJS.CallSite[] = []
  Error.prepareStackTrace = (e, s) => {
    sites = s
    return formatter ? formatter(e, s) : [String(e), ...s.map((site) => `    at ${site}`)].join('\n')
  }
  try {
    void error.stack
  } finally {
    Error.prepareStackTrace = formatter
  }
  return sites
}

function shown(file: string): string {
  const relative = path.relative(process.cwd(), file)
  return relative.startsWith('..') ? file : relative
}
