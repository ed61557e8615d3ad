#!/usr/bin/env node
// `flagraft` entry point: run one command, exit with its code.
import { createInterface } from 'node:readline/promises';
import { runCli } from './cli.js';

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** A yes/no question on the terminal (on stderr, so that stdout stays the command's output); only y or yes is a yes. */
async function confirm(question: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return /^(y|yes)$/i.test((await rl.question(`${question} [y/N] `)).trim());
  } finally {
    rl.close();
  }
}

process.exitCode = await runCli(process.argv.slice(2), {
  env: process.env, stdout: process.stdout, stderr: process.stderr, readStdin,
  ...(process.stdin.isTTY ? { confirm } : {}),
});
