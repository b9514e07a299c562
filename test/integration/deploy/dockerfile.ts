/**
 * Just enough of a Dockerfile parser for the deployment tests: instructions per stage, with line
 * continuations joined. There is no Docker engine on the test machines, so the image's contract
 * (what it copies, which user it runs as, its environment, its health check) is read from the file.
 */
import { readFileSync } from 'node:fs';

export interface Instruction {
  /** Upper-case keyword: FROM, RUN, COPY, ENV, ... */
  keyword: string;
  /** Everything after the keyword, continuations joined with single spaces. */
  args: string;
}

export interface Stage {
  /** `AS` name, or the index as a string. */
  name: string;
  from: string;
  instructions: Instruction[];
}

export function parseDockerfile(text: string): Stage[] {
  const logical: string[] = [];
  let pending = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (pending === '' && (line === '' || line.startsWith('#'))) continue;
    if (line.startsWith('#')) continue;
    if (line.endsWith('\\')) {
      pending += `${line.slice(0, -1).trim()} `;
      continue;
    }
    logical.push(`${pending}${line}`.trim());
    pending = '';
  }
  const stages: Stage[] = [];
  for (const line of logical) {
    const [keyword = '', ...rest] = line.split(/\s+/);
    const args = rest.join(' ');
    if (keyword.toUpperCase() === 'FROM') {
      const m = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args);
      stages.push({ name: m?.[2] ?? String(stages.length), from: m?.[1] ?? args, instructions: [] });
      continue;
    }
    stages.at(-1)?.instructions.push({ keyword: keyword.toUpperCase(), args });
  }
  return stages;
}

export function readDockerfile(path = 'Dockerfile'): Stage[] {
  return parseDockerfile(readFileSync(path, 'utf8'));
}

/** The stage the image is made of: the last one. */
export function runtimeStage(stages: Stage[]): Stage {
  const stage = stages.at(-1);
  if (!stage) throw new Error('Dockerfile has no FROM');
  return stage;
}

/** `KEY=value` pairs of ENV or LABEL instructions (double-quoted values unquoted). */
export function keyValues(stage: Stage, keyword: 'ENV' | 'LABEL'): Record<string, string> {
  const out: Record<string, string> = {};
  for (const { args } of stage.instructions.filter((i) => i.keyword === keyword)) {
    for (const m of args.matchAll(/([A-Za-z0-9_.-]+)=("(?:[^"\\]|\\.)*"|\S+)/g)) {
      const value = m[2] ?? '';
      out[m[1] ?? ''] = value.startsWith('"') ? value.slice(1, -1).replace(/\\(.)/g, '$1') : value;
    }
  }
  return out;
}

/** The exec-form command of the HEALTHCHECK instruction. */
export function healthcheckCommand(stage: Stage): string[] {
  const check = stage.instructions.find((i) => i.keyword === 'HEALTHCHECK');
  const json = check && /\bCMD\s+(\[.*\])$/.exec(check.args)?.[1];
  if (!json) throw new Error('no exec-form HEALTHCHECK CMD in the runtime stage');
  return JSON.parse(json) as string[];
}
