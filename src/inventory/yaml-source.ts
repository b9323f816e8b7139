// The inventory's YAML as data plus where each value came from (file:line:col), in one pass over
// the document: every lookup afterwards is a Map access, so loading stays linear in the number of
// hosts (yaml's own duplicate-key check and getIn scan a mapping per key: quadratic).
import { LineCounter, isAlias, isMap, isPair, isScalar, isSeq, parseDocument, type Document, type Node } from 'yaml'
import { InputError, InputErrors } from './errors.ts'

export type PathKey = string | number

export interface YamlSource {
  readonly data: unknown
  // The location of the value at `keys`, or of its nearest ancestor that exists.
  valueAt(keys: readonly PathKey[]): string
  // The location of `key` itself inside the mapping at `parent` (where an unknown key is the mistake).
  keyAt(parent: readonly PathKey[], key: string): string
}

// Expanding aliases may grow a document, but not by orders of magnitude: a legitimate inventory
// aliases a few shared values, a "billion laughs" document nests aliases of aliases.
const EXPANSION_FLOOR = 100_000
const EXPANSION_PER_NODE = 10

interface Indexed {
  // Per mapping: its pairs by key.
  readonly pairs: Map<Node, Map<string, { key: Node; value: Node | null }>>
  readonly errors: InputError[]
  nodes: number
}

export function readYaml(text: string, file: string): YamlSource {
  const lines = new LineCounter()
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: false, prettyErrors: false })
  const at = (offset: number) => {
    const { line, col } = lines.linePos(offset)
    return `${file}:${line}:${col}`
  }
  if (doc.errors.length > 0) {
    // yaml's parser recurses: a document nested some hundreds deep overflows its stack, several times.
    const tooDeep = doc.errors.find((e) => /Maximum call stack/.test(e.message))
    if (tooDeep) throw new InputError('malformed YAML: nested too deeply for an inventory', at(tooDeep.pos[0]))
    throw new InputErrors(doc.errors.map((e) => new InputError(`malformed YAML: ${e.message.split('\n')[0]}`, at(e.pos[0]))))
  }
  const index: Indexed = { pairs: new Map(), errors: [], nodes: 0 }
  indexNode(doc.contents, index, at)
  if (index.errors.length > 0) throw new InputErrors(index.errors)
  checkAliases(doc, index.nodes, at)

  const lookup = (keys: readonly PathKey[]): { node: Node | null; depth: number } => {
    let node = doc.contents as Node | null
    for (let depth = 0; depth < keys.length; depth++) {
      const next = node && childOf(node, keys[depth]!, index)
      if (!next) return { node, depth }
      node = next
    }
    return { node, depth: keys.length }
  }
  const where = (node: Node | null) => (node?.range ? at(node.range[0]) : at(0))
  const keyOf = (parent: readonly PathKey[], key: PathKey) => {
    const { node, depth } = lookup(parent)
    return depth === parent.length && node ? index.pairs.get(node)?.get(String(key))?.key : undefined
  }
  return {
    data: doc.toJS({ maxAliasCount: -1 }) ?? {},
    valueAt: (keys) => {
      const { node, depth } = lookup(keys)
      // An empty value (`web02:` and nothing after it) has no place of its own: point at its key.
      const empty = depth === keys.length && keys.length > 0 && node?.range && node.range[0] === node.range[1]
      return where((empty && keyOf(keys.slice(0, -1), keys.at(-1)!)) || node)
    },
    keyAt: (parent, key) => where(keyOf(parent, key) ?? lookup(parent).node),
  }
}

function childOf(node: Node, key: PathKey, index: Indexed): Node | null {
  const target = isAlias(node) ? null : node
  if (target && isSeq(target) && typeof key === 'number') return (target.items[key] as Node | undefined) ?? null
  return (target && index.pairs.get(target)?.get(String(key))?.value) ?? null
}

// One walk: every mapping's keys into a Map (a key seen twice is an error at its second place).
function indexNode(node: unknown, index: Indexed, at: (offset: number) => string): void {
  if (!node || typeof node !== 'object') return
  index.nodes++
  if (isMap(node)) {
    const byKey = new Map<string, { key: Node; value: Node | null }>()
    index.pairs.set(node, byKey)
    for (const pair of node.items) {
      if (!isPair(pair)) continue
      const key = pair.key as Node | null
      const name = isScalar(key) ? String(key.value) : undefined
      if (name !== undefined && byKey.has(name)) {
        index.errors.push(new InputError('duplicate key: each key may appear once in a mapping', at(key!.range?.[0] ?? 0)))
      } else if (name !== undefined && key) {
        byKey.set(name, { key, value: (pair.value as Node | null) ?? null })
      }
      indexNode(key, index, at)
      indexNode(pair.value, index, at)
    }
  } else if (isSeq(node)) {
    for (const item of node.items) indexNode(item, index, at)
  }
}

// The size every alias expands to, in document order (an alias names the last anchor before it);
// an alias inside the value it names would expand forever.
function checkAliases(doc: Document, nodes: number, at: (offset: number) => string): void {
  const limit = Math.max(EXPANSION_FLOOR, nodes * EXPANSION_PER_NODE)
  const anchors = new Map<string, Node>()
  const sizes = new Map<Node, number>()
  let expanded = 0
  const size = (node: unknown): number => {
    if (!node || typeof node !== 'object') return 0
    if (isAlias(node)) {
      const source = anchors.get(node.source)
      const n = source && sizes.get(source)
      const where = at(node.range?.[0] ?? 0)
      if (source && n === undefined) throw new InputError(`alias *${node.source} is used inside the value it names`, where)
      expanded += n ?? 0
      if (expanded > limit) {
        throw new InputError(`YAML aliases expand to more than ${limit} values (aliases of aliases, a "billion laughs" document); write the values out or alias them less`, where)
      }
      return n ?? 0
    }
    const anchor = (node as Node).anchor
    if (anchor) anchors.set(anchor, node as Node)
    let n = 1
    if (isMap(node)) for (const pair of node.items) n += size(pair.key) + size(pair.value)
    else if (isSeq(node)) for (const item of node.items) n += size(item)
    if (anchor) sizes.set(node as Node, n)
    return n
  }
  size(doc.contents)
}
