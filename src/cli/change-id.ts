import { randomBytes } from 'node:crypto'

// Sortable by time (to the millisecond, since a rollback can follow an apply within a second) and
// unique across concurrent runs: 20261126T013000.123Z-9f3a.
export function newChangeId(now = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, '')
  return `${stamp}-${randomBytes(2).toString('hex')}`
}

export const CHANGE_ID = /^\d{8}T\d{6}\.\d{3}Z-[0-9a-f]{4}$/
