import { randomBytes } from 'node:crypto'

// Unique across concurrent runs, and readable as a time: 20261126T013000.123Z-9f3a. Hosts order
// their changes by their own sequence, never by these ids (operators' clocks disagree).
export function newChangeId(now = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, '')
  return `${stamp}-${randomBytes(2).toString('hex')}`
}

export { CHANGE_ID } from '../history/entries.ts'
