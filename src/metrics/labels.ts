/**
 * Label values come only from bounded sets the configuration fixes: agent ids of `agents`,
 * provider ids and operation names of `providers`. Anything else (an unknown agent in a verified
 * token, a provider named in a path) is `other`; nothing known yet is `none`. User ids, token
 * values and raw URLs never become labels, so a series can neither leak nor explode.
 */
import type { Config } from '../config/schema.js';

export const NONE = 'none';
export const OTHER = 'other';

export class LabelSets {
  readonly #agents: ReadonlySet<string>;
  readonly #providers: ReadonlySet<string>;
  readonly #operations: ReadonlySet<string>;

  constructor(config: Pick<Config, 'agents' | 'providers'>) {
    this.#agents = new Set(Object.keys(config.agents));
    this.#providers = new Set(Object.keys(config.providers));
    this.#operations = new Set(Object.entries(config.providers).flatMap(([id, p]) => Object.keys(p.operations).map((op) => `${id}:${op}`)));
  }

  agent(value: string | undefined): string {
    return pick(this.#agents, value);
  }

  provider(value: string | undefined): string {
    return pick(this.#providers, value);
  }

  operation(value: string | undefined): string {
    return pick(this.#operations, value);
  }
}

function pick(known: ReadonlySet<string>, value: string | undefined): string {
  if (value === undefined || value === '') return NONE;
  return known.has(value) ? value : OTHER;
}

/** An HTTP status as a label: the three digits, or `other` for anything outside 100–599. */
export function statusLabel(status: number | undefined): string {
  if (status === undefined) return NONE;
  return Number.isInteger(status) && status >= 100 && status <= 599 ? String(status) : OTHER;
}
