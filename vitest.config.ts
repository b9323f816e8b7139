import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The end-to-end files share one lab (network namespaces on this machine): one file at a time.
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 120_000,
    reporters: ['default'],
    globalSetup: ['test/helpers/global-setup.ts'],
  },
})
