#!/usr/bin/env node
// The built CLI lives in dist/: `npm pack` builds it (prepack) and the package ships it, so an
// install runs no script of its own. In a checkout, `npm run build` makes it.
const main = await import('../dist/src/cli/main.js').then(
  (m) => m.main,
  (error) => {
    if (error?.code !== 'ERR_MODULE_NOT_FOUND' || !String(error.message).includes('dist/src/cli/main.js')) throw error
    process.stderr.write(`fleet: not built yet: run \`npm run build\` in ${new URL('..', import.meta.url).pathname}\n`)
    process.exit(2)
  },
)

process.exit(await main(process.argv.slice(2)))
