// fleet init: read a router (read-only, over fleet's own SSH transport and host key checks) and
// print an inventory with the seed's blanks filled, every guess explained, for the operator to
// review. It connects exactly as the inventory it writes will: the same ssh settings, the same
// resolution through ssh_config.
import { existsSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { guessRouter } from '../init/guess.ts'
import { inventoryText, type InitSsh, type InitTarget } from '../init/inventory-text.ts'
import { parseRouterFacts, routerReadStep, routerOutputs } from '../init/router-facts.ts'
import { InputError, InputErrors } from '../inventory/errors.ts'
import { loadInventory } from '../inventory/load.ts'
import { checkAddress, checkHostName, checkUser } from '../net/values.ts'
import { connectSpecs } from '../ssh/connect-spec.ts'
import { EXIT } from './exit-codes.ts'
import { workOnHosts } from './host-work.ts'
import type { Io } from './output.ts'
import { printable } from '../report/printable.ts'

export interface InitOptions {
  readonly router: string
  readonly port?: number
  readonly identity?: string
  readonly knownHosts?: string
  readonly sshConfig?: string
  readonly acceptNewHostKeys?: boolean
  readonly output?: string
  readonly force?: boolean
}

function parseTarget(router: string): { user?: string; address: string } {
  const at = router.lastIndexOf('@')
  const user = at >= 0 ? router.slice(0, at) : undefined
  const address = router.slice(at + 1)
  const problem = (user !== undefined ? checkUser(user) : null) ?? checkAddress(address)
  if (problem !== null) throw new InputError(`--router ${router}: expected USER@ADDRESS (e.g. root@203.0.113.10): ${problem}`)
  return { ...(user !== undefined && { user }), address }
}

// Paths from the command line are relative to the current directory; an inventory's are relative
// to its own folder. "~/..." means the same in both.
function pathFor(file: string | undefined, dir: string): string | undefined {
  if (file === undefined || file.startsWith('~')) return file
  return path.relative(dir, path.resolve(file)) || '.'
}

// The inventory used to connect: what the written one says about the router, nothing more.
// A host name is left to ssh_config's HostName, as OpenSSH does with what it is given.
function connectInventory(name: string, address: string, port: number | undefined, ssh: InitSsh, file: string) {
  const yamlSsh = Object.entries(ssh).map(([k, v]) => `    ${k}: ${JSON.stringify(v)}`)
  const text = [
    ...(yamlSsh.length > 0 ? ['defaults:', '  ssh:', ...yamlSsh] : []),
    'hosts:',
    `  ${name}:`,
    ...(name !== address ? [`    address: ${JSON.stringify(address)}`] : []),
    '    role: router',
    ...(port !== undefined ? [`    ssh: { port: ${port} }`] : []),
  ].join('\n')
  return loadInventory(text, file)
}

// That inventory exists only in memory: an error in resolving it names no line of it.
function connectSpecsOf(inventory: ReturnType<typeof loadInventory>) {
  try {
    return connectSpecs(inventory)
  } catch (error) {
    if (error instanceof InputError && error.where !== undefined) throw new InputError(error.message)
    throw error
  }
}

export async function initCommand(options: InitOptions, io: Io): Promise<number> {
  const target = parseTarget(options.router)
  const output = options.output !== undefined ? path.resolve(options.output) : undefined
  if (output !== undefined && existsSync(output) && !options.force) {
    throw new InputError(`-o ${options.output}: the file exists; fleet init never writes over it without --force`)
  }
  if (output !== undefined && !existsSync(path.dirname(output))) {
    throw new InputError(`-o ${options.output}: no folder ${path.dirname(output)} to write it in`)
  }
  const dir = output !== undefined ? path.dirname(output) : process.cwd()
  const ssh: InitSsh = {
    ...(target.user !== undefined && { user: target.user }),
    ...(options.identity !== undefined && { identity: pathFor(options.identity, dir)! }),
    ...(options.knownHosts !== undefined && { knownHosts: pathFor(options.knownHosts, dir)! }),
    ...(options.sshConfig !== undefined && { config: pathFor(options.sshConfig, dir)! }),
  }
  // Named by what was typed when that is a host name, so ssh_config matches it as OpenSSH would.
  const connectName = checkHostName(target.address) === null ? target.address : 'router'
  const inventory = connectInventory(connectName, target.address, options.port, ssh, output ?? path.join(dir, 'fleet-init.yaml'))
  const specs = connectSpecsOf(inventory)
  const spec = specs.get(connectName)!
  const step = routerReadStep()
  let stdout = ''
  const [done] = await workOnHosts('init', specs, [connectName], { quiet: true, concurrency: 1, acceptNewHostKeys: Boolean(options.acceptNewHostKeys) }, io, async (host, session) => {
    const result = await session.run(step.script)
    stdout = result.stdout
    return { kind: 'host-done', host, outcome: 'unchanged' }
  })
  if (done!.outcome === 'failed') {
    io.err(printable(`fleet init: ${options.router}: ${done!.detail}`))
    return EXIT.hostFailed
  }
  let facts
  try {
    facts = parseRouterFacts(routerOutputs(stdout, step.marks))
  } catch (error) {
    io.err(printable(`fleet init: ${options.router}: ${(error as Error).message}`))
    return EXIT.hostFailed
  }
  // An ssh_config alias (its HostName differs from what was typed) stays the router's name, without
  // an address, so the inventory reaches it through ssh_config as this run did.
  const alias = spec.address !== target.address
  const named: InitTarget = alias
    ? { name: target.address, given: options.router, nameWhy: `the ssh_config Host that reaches ${spec.address}` }
    : {
        name: facts.hostname ?? 'router01',
        address: target.address,
        given: options.router,
        nameWhy: facts.hostname !== undefined ? "the router's hostname" : "the router's hostname is not a valid host name here: rename it",
      }
  const text = inventoryText({ ...named, ...(options.port !== undefined && { port: options.port }) }, ssh, guessRouter(facts, spec.port), new Date().toISOString().replace(/\.\d+Z$/, 'Z'))
  try {
    loadInventory(text, output ?? 'fleet-init.yaml')
  } catch (error) {
    const problems = error instanceof InputErrors ? error.errors.map((e) => e.message).join('; ') : (error as Error).message
    throw new Error(`the inventory fleet init wrote does not validate: ${problems}`)
  }
  if (output === undefined) {
    io.out(text.trimEnd())
  } else {
    writeFileSync(output, text, { flag: options.force ? 'w' : 'wx' })
    io.err(`fleet init: wrote ${options.output}; review its guesses, then: fleet apply -i ${options.output} --dry-run`)
  }
  return EXIT.ok
}
