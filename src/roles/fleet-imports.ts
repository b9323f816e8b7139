// A role outside fleet's own folder may import from fleet by name (`fleet/role`), but ESM does
// not search global folders, and a role next to the user's inventory may see another copy of
// fleet, or none. fleet's public names are mapped to the running fleet, so a role gets the fleet
// that runs it, from a global install, npx or a checkout alike. tsx loads a .ts role as ESM or as
// CommonJS depending on the nearest package.json "type", so both resolvers are mapped.
import Module, { register } from 'node:module'
import { fileURLToPath } from 'node:url'

// package.json "exports" subpath -> the running module, relative to this file. A unit test keeps
// this and package.json in step.
export const PUBLIC_MODULES: Readonly<Record<string, string>> = { 'fleet/role': '../role' }

// The hook runs on Node's loader thread: plain JavaScript, handed over as a data: URL so it is the
// same text whether fleet runs from source or from its build.
const HOOK = `
let modules = {}
export function initialize(data) { modules = data.modules }
export async function resolve(specifier, context, next) {
  const url = modules[specifier]
  return url === undefined ? next(specifier, context) : { url, shortCircuit: true }
}
`

export function publicModuleUrls(from: string = import.meta.url): Record<string, string> {
  const ext = /\.ts$/.test(from) ? '.ts' : '.js'
  return Object.fromEntries(Object.entries(PUBLIC_MODULES).map(([name, rel]) => [name, new URL(rel + ext, from).href]))
}

// Node 20 has no synchronous resolve hooks for require(); CommonJS resolution is wrapped instead.
type ResolveFilename = (request: string, ...rest: unknown[]) => string
const cjs = Module as unknown as { _resolveFilename: ResolveFilename }

let registered = false

export function mapFleetImports(): void {
  if (registered) return
  const urls = publicModuleUrls()
  register(`data:text/javascript,${encodeURIComponent(HOOK)}`, { data: { modules: urls } })
  const files = new Map(Object.entries(urls).map(([name, url]) => [name, fileURLToPath(url)]))
  const resolve = cjs._resolveFilename
  cjs._resolveFilename = function (this: unknown, request, ...rest) {
    return files.get(request) ?? resolve.call(this, request, ...rest)
  }
  registered = true
}
