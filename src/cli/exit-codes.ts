// fleet's exit statuses, documented in the README.
export const EXIT = {
  ok: 0,
  hostFailed: 1,
  badInput: 2,
  drift: 3,
  // a change's outcome could not be learned from the host (see fleet history)
  unknown: 4,
  // A bug in fleet itself (sysexits.h's EX_SOFTWARE): neither the input nor a host is at fault.
  internal: 70,
  interrupted: 130,
} as const
