/**
 * The keys of a zod (v4) configuration schema, as the README's configuration reference names them:
 * `a.b.c` for nested objects, `a[].b` inside arrays of objects, `providers.<provider>.x` inside records
 * (the placeholder says what the record is keyed by), the union of every option's keys for a union.
 */
import type { z } from 'zod';

/** Placeholders for the keys of records, by the record's own key. */
const RECORD_KEYS: Record<string, string> = { providers: '<provider>', operations: '<operation>', agents: '<agent>' };

interface Def {
  type: string;
  shape?: Record<string, z.ZodType>;
  innerType?: z.ZodType;
  element?: z.ZodType;
  valueType?: z.ZodType;
  options?: z.ZodType[];
  in?: z.ZodType;
}

const defOf = (schema: z.ZodType) => (schema as unknown as { _zod: { def: Def } })._zod.def;

/** Every documented key: `leaves` must each have a row; `all` (leaves and the objects holding them) may. */
export function configKeys(schema: z.ZodType): { leaves: string[]; all: Set<string> } {
  const leaves = new Set<string>();
  const all = new Set<string>();
  const walk = (node: z.ZodType, path: string, last: string): void => {
    const def = defOf(node);
    switch (def.type) {
      case 'optional':
      case 'default':
      case 'prefault':
      case 'nullable':
      case 'readonly':
        return walk(def.innerType!, path, last);
      case 'pipe':
        return walk(def.in!, path, last);
      case 'union':
        for (const option of def.options!) walk(option, path, last);
        return;
      case 'object':
        if (path) all.add(path);
        for (const [key, value] of Object.entries(def.shape!)) walk(value, path ? `${path}.${key}` : key, key);
        return;
      case 'record':
        all.add(path);
        return walk(def.valueType!, `${path}.${RECORD_KEYS[last] ?? '<key>'}`, '');
      case 'array':
        if (['object', 'record', 'union'].includes(defOf(unwrap(def.element!)).type)) {
          all.add(path);
          return walk(def.element!, `${path}[]`, last);
        }
    }
    leaves.add(path);
    all.add(path);
  };
  walk(schema, '', '');
  return { leaves: [...leaves], all };
}

function unwrap(node: z.ZodType): z.ZodType {
  const def = defOf(node);
  return def.innerType ? unwrap(def.innerType) : node;
}
