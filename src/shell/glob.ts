// Shell-style wildcards, as ssh_config, known_hosts, --limit and chain patterns use them:
// `*` any run of characters, `?` one character, everything else literal.
export function globToRegExp(pattern: string, flags = ''): RegExp {
  const escaped = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')
  return new RegExp(`^${escaped}$`, flags)
}
