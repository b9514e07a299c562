/**
 * Paths in a configuration file are relative to that file's directory. Which fields are paths is
 * read off the schema itself (every `filePath` field of src/config/fields.ts carries the marker),
 * so a new file field, in a record of providers or an array of issuers, is resolved like the rest.
 */
import { isAbsolute, resolve } from 'node:path';
import { z } from 'zod';
import { FILE_PATH_MARK } from './fields.js';

/** A field's place in the raw configuration; `*` is every key of a record or element of an array. */
export type FieldPattern = readonly string[];

interface SchemaNode {
  type?: string;
  properties?: Record<string, SchemaNode>;
  additionalProperties?: SchemaNode | boolean;
  items?: SchemaNode;
  anyOf?: SchemaNode[];
  oneOf?: SchemaNode[];
  allOf?: SchemaNode[];
  [FILE_PATH_MARK]?: boolean;
}

/** Every field of `schema` declared with `filePath`, as patterns. */
export function filePathFields(schema: z.ZodType): FieldPattern[] {
  const out = new Map<string, FieldPattern>();
  const walk = (node: SchemaNode | boolean | undefined, path: string[]): void => {
    if (typeof node !== 'object') return;
    if (node[FILE_PATH_MARK] === true) out.set(path.join('.'), path);
    for (const [key, child] of Object.entries(node.properties ?? {})) walk(child, [...path, key]);
    walk(node.additionalProperties, [...path, '*']);
    walk(node.items, [...path, '*']);
    for (const child of [...(node.anyOf ?? []), ...(node.oneOf ?? []), ...(node.allOf ?? [])]) walk(child, path);
  };
  walk(z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as SchemaNode, []);
  return [...out.values()];
}

/** Rewrites, in place, every relative path at `fields` of `raw` to one under `dir`. */
export function resolveFilePaths(raw: Record<string, unknown>, fields: readonly FieldPattern[], dir: string): void {
  const visit = (node: unknown, pattern: readonly string[]): void => {
    if (typeof node !== 'object' || node === null) return;
    const [key, ...rest] = pattern as [string, ...string[]];
    const record = node as Record<string, unknown>;
    const keys = key === '*' ? Object.keys(record) : [key];
    for (const k of keys) {
      if (!Object.hasOwn(record, k)) continue;
      const value = record[k];
      if (rest.length > 0) visit(value, rest);
      else if (typeof value === 'string' && value !== '' && !isAbsolute(value)) record[k] = resolve(dir, value);
    }
  };
  for (const field of fields) visit(raw, field);
}
