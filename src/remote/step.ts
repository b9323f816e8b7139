// A script fleet runs on a host, as the dry run prints it and the SSH transport sends it (on stdin,
// to `sh -s`): the same text, so the dry run shows exactly what would run. Scripts are POSIX sh:
// Debian's /bin/sh is dash.
//
// Nothing read from a host is ever part of a script's code: a ruleset document (which carries
// preserved chains and, on rollback, a saved ruleset: host-controlled text, e.g. a rule comment
// with raw newlines) travels base64-encoded, which no content can end early, and ids read from a
// host are validated (CHANGE_ID) and quoted.
import type { Change } from '../plan/change.ts'
import type { Marks } from './sections.ts'

export interface Step {
  readonly title: string
  readonly script: string
  // The documents the script carries base64-encoded, for people to read (the dry run prints them).
  readonly documents?: readonly { readonly name: string; readonly text: string }[]
}

// A step whose output is read as sections (sections.ts): the marks to read them with.
export interface ReadStep extends Step {
  readonly marks: Marks
}

// `document` as a command's input: base64 in single quotes (its alphabet has no quote), decoded on
// the host.
export function encoded(document: string): string {
  const text = Buffer.from(document.endsWith('\n') ? document : `${document}\n`).toString('base64')
  return `printf '%s' '${text.replace(/.{1,76}/g, '$&\n').trimEnd()}' | base64 -d`
}

export function documentsOf(change: Change): Step['documents'] {
  return [{ name: 'ruleset (iptables-restore)', text: change.document }, ...(change.document6 !== undefined ? [{ name: 'IPv6 ruleset (ip6tables-restore)', text: change.document6 }] : [])]
}

// History entries are one field per line.
export function oneLine(text: string): string {
  return text.replace(/[\x00-\x1f\x7f]+/g, ' ')
}
