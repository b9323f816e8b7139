// Reads a command that a role wrote with zx's `$` (its literal text plus values quoted by
// ./quote.ts) back into the words a POSIX shell would pass to the program. fleet never hands these
// commands to a shell on the operator's machine: iptables lines become words of an
// iptables-restore document, and host settings are checked to be one command before they are
// placed into fleet's own scripts. Anything whose meaning needs a shell (expansions, globs,
// several commands) is refused with a reason instead of being guessed at.

export class ShellSyntaxError extends Error {}

export type Token = { readonly kind: 'word'; readonly text: string } | { readonly kind: 'operator'; readonly text: string }

const OPERATORS = ['&&', '||', ';;', '>>', '>&', '<&', '<<', '|', '&', ';', '<', '>', '(', ')']
const BLANK = /[ \t]/
const GLOB = /[*?[]/

function unquotedProblem(ch: string, next: string | undefined, atWordStart: boolean): string | undefined {
  if (ch === '`') return 'a command substitution (`...`)'
  if (ch === '$') return next === '(' ? 'a command substitution ($(...))' : 'a shell expansion ($...)'
  if (GLOB.test(ch)) return `a glob character (${ch}) outside quotes`
  if (atWordStart && ch === '~') return 'a tilde expansion (~)'
  if (atWordStart && ch === '#') return 'a comment (#)'
  return undefined
}

// Splits `text` into words and control/redirection operators, like a POSIX shell's lexer, with
// quotes removed. Throws ShellSyntaxError for what only a running shell could resolve.
export function shellTokens(text: string): Token[] {
  const tokens: Token[] = []
  let word: string | undefined
  const end = () => {
    if (word !== undefined) tokens.push({ kind: 'word', text: word })
    word = undefined
  }
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!
    if (ch === '\n') throw new ShellSyntaxError('a newline outside quotes (more than one command)')
    if (BLANK.test(ch)) {
      end()
      continue
    }
    const op = OPERATORS.find((o) => text.startsWith(o, i))
    if (op !== undefined) {
      end()
      tokens.push({ kind: 'operator', text: op })
      i += op.length - 1
      continue
    }
    if (ch === "'") {
      const close = text.indexOf("'", i + 1)
      if (close === -1) throw new ShellSyntaxError('an unterminated single quote')
      word = (word ?? '') + text.slice(i + 1, close)
      i = close
      continue
    }
    if (ch === '"') {
      i = readDoubleQuoted(text, i, (s) => (word = (word ?? '') + s))
      continue
    }
    if (ch === '\\') {
      if (i + 1 >= text.length) throw new ShellSyntaxError('a backslash at the end of the command')
      if (text[i + 1] !== '\n') word = (word ?? '') + text[i + 1]
      i++
      continue
    }
    const problem = unquotedProblem(ch, text[i + 1], word === undefined)
    if (problem !== undefined) throw new ShellSyntaxError(problem)
    word = (word ?? '') + ch
  }
  end()
  return tokens
}

// Inside "...", a backslash escapes only $ ` " \ and newline; $ and ` would expand.
function readDoubleQuoted(text: string, open: number, append: (s: string) => void): number {
  for (let i = open + 1; i < text.length; i++) {
    const ch = text[i]!
    if (ch === '"') return i
    if (ch === '$' || ch === '`') throw new ShellSyntaxError(`an expansion (${ch}) inside double quotes`)
    if (ch === '\\' && i + 1 < text.length && '$`"\\\n'.includes(text[i + 1]!)) {
      if (text[i + 1] !== '\n') append(text[i + 1]!)
      i++
      continue
    }
    append(ch)
  }
  throw new ShellSyntaxError('an unterminated double quote')
}

// The words of one simple command: no operators at all.
export function simpleCommandWords(text: string): string[] {
  const tokens = shellTokens(text)
  const op = tokens.find((t) => t.kind === 'operator')
  if (op !== undefined) throw new ShellSyntaxError(`the shell operator "${op.text}" (one plain command is expected)`)
  return tokens.map((t) => t.text)
}

// One command line that fleet can splice into `[ "$(check)" = want ] || run || fail`: pipes,
// && / || and redirections keep that meaning; ; & ( ) and newlines would not.
const SPLICE_BREAKERS = new Set([';', ';;', '&', '(', ')', '<<'])
export function checkSpliceable(text: string): void {
  const tokens = shellTokens(text)
  if (tokens.length === 0) throw new ShellSyntaxError('an empty command')
  const op = tokens.find((t) => t.kind === 'operator' && SPLICE_BREAKERS.has(t.text))
  if (op !== undefined) throw new ShellSyntaxError(`the shell operator "${op.text}" (write one command; a pipe or && is fine)`)
}
