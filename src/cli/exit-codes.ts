// fleet's exit statuses, documented in the README.
export const EXIT = {
  ok: 0,
  hostFailed: 1,
  badInput: 2,
  drift: 3,
  interrupted: 130,
} as const
