#!/usr/bin/env node
/** Entry point of `token-vault-admin` (see admin-commands.ts). */
import { run } from './admin-commands.js';

process.exitCode = await run(process.argv.slice(2), process.env, { out: process.stdout, err: process.stderr });
