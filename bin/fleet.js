#!/usr/bin/env node
// The built CLI lives in dist/ (npm ci runs `prepare`, which compiles it).
import { main } from '../dist/cli/main.js'

process.exit(await main(process.argv.slice(2)))
