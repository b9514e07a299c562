/**
 * The repository stands alone: comments cite RFC sections or files of this repository, never
 * documents kept elsewhere or tracker numbers, and docs/architecture.md describes the tree as it
 * is: every folder of src/, only src/ paths and links that exist, every section a comment points
 * at, and exactly the Redis keys of src/store/redis/keys.ts.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { RedisKeys } from '../../src/store/redis/keys.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const DOC = 'docs/architecture.md';
const doc = readFileSync(join(ROOT, DOC), 'utf8');

/** Citations of documents outside the repository, or of tracker items, in comment text. */
const OUTSIDE_CITATIONS = [/\b(?:DESIGN|STYLE|NOTES)\b/, /(?:\.\.|\/work)\/shared\b/, /\b[Ii]ssues? #?\d+/, /(?<![\w/&-])#\d+\b/];
const citesOutside = (text: string) => OUTSIDE_CITATIONS.some((pattern) => pattern.test(text));

function walk(dir: string, keep: (path: string) => boolean): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((entry) => {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory()) return entry.name === 'node_modules' ? [] : walk(path, keep);
    return keep(path) ? [path] : [];
  });
}

function folders(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .flatMap((entry) => [`${dir}/${entry.name}`, ...folders(`${dir}/${entry.name}`)]);
}

/** Every comment of a TypeScript file with its line, found through the syntax tree (never inside strings). */
function comments(path: string): { line: number; text: string }[] {
  const text = readFileSync(join(ROOT, path), 'utf8');
  const source = ts.createSourceFile(path, text, ts.ScriptTarget.Latest, false);
  const found = new Map<number, { line: number; text: string }>();
  const collect = (ranges: ts.CommentRange[] | undefined) => {
    for (const range of ranges ?? []) {
      found.set(range.pos, { line: source.getLineAndCharacterOfPosition(range.pos).line + 1, text: text.slice(range.pos, range.end) });
    }
  };
  // The trivia before and after every node: that covers comments before a closing brace too.
  const visit = (node: ts.Node) => {
    collect(ts.getLeadingCommentRanges(text, node.getFullStart()));
    collect(ts.getLeadingCommentRanges(text, node.getEnd()));
    ts.forEachChild(node, visit);
  };
  visit(source);
  return [...found.values()];
}

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens. */
const anchor = (heading: string) =>
  heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');

const sourceFiles = ['src', 'test', 'scripts', 'bench'].flatMap((dir) => walk(dir, (path) => path.endsWith('.ts')));

describe('the repository stands alone', () => {
  it('comments cite RFC sections or files of this repository, never outside documents or issue numbers', () => {
    // Parsing is the slow part: only files whose text matches at all are parsed for their comments.
    const candidates = sourceFiles.filter((path) => citesOutside(readFileSync(join(ROOT, path), 'utf8')));
    const offending = candidates.flatMap((path) =>
      comments(path)
        .filter(({ text }) => citesOutside(text))
        .map(({ line, text }) => `${path}:${line}: ${(text.split('\n').find(citesOutside) ?? text).trim()}`),
    );
    expect(offending).toStrictEqual([]);
  });

  it('the README and the docs cite no outside documents either', () => {
    const markdown = ['README.md', 'keys/README.md', ...walk('docs', (path) => path.endsWith('.md'))];
    const offending = markdown.filter((path) => OUTSIDE_CITATIONS.slice(0, 3).some((pattern) => pattern.test(readFileSync(join(ROOT, path), 'utf8'))));
    expect(offending).toStrictEqual([]);
  });
});

describe('docs/architecture.md', () => {
  it('describes every folder of src/', () => {
    const missing = folders('src').filter((folder) => !doc.includes(`${folder}/`));
    expect(missing).toStrictEqual([]);
  });

  it('names only src/ paths that exist', () => {
    const named = [...doc.matchAll(/\bsrc\/[\w./-]*/g)].map((m) => m[0].replace(/\.+$/, ''));
    expect(named.length).toBeGreaterThan(0);
    expect(named.filter((path) => !existsSync(join(ROOT, path)))).toStrictEqual([]);
  });

  it('links only to files that exist', () => {
    const links = [...doc.matchAll(/\]\(([^)#\s]+)(?:#[^)]*)?\)/g)].map((m) => m[1]!).filter((target) => !/^[a-z]+:/.test(target));
    expect(links.filter((target) => !existsSync(join(ROOT, dirname(DOC), target)))).toStrictEqual([]);
  });

  it('has every section that a comment or the README points at', () => {
    const sections = new Set([...doc.matchAll(/^#{1,6} (.+)$/gm)].map((m) => anchor(m[1]!)));
    const cited = [...sourceFiles, 'README.md'].flatMap((path) =>
      [...readFileSync(join(ROOT, path), 'utf8').matchAll(/docs\/architecture\.md#([\w-]+)/g)].map((m) => ({ path, section: m[1]! })),
    );
    expect(cited.length).toBeGreaterThan(0);
    expect(cited.filter(({ section }) => !sections.has(section))).toStrictEqual([]);
  });

  it('lists exactly the Redis keys of src/store/redis/keys.ts', () => {
    // Placeholders on both sides: `<>` for an id, `<#>` for a hashed id.
    const ARG = '<>';
    const hashed = createHash('sha256').update(ARG).digest('base64url');
    const keys = new RedisKeys('') as unknown as Record<string, (...args: string[]) => string>;
    const inCode = Object.getOwnPropertyNames(RedisKeys.prototype)
      .filter((name) => name !== 'constructor')
      .map((name) => keys[name]!(ARG, ARG).replace(hashed, '<#>'))
      .sort();
    const section = doc.slice(doc.indexOf('## Data model in Redis'));
    const table = section.slice(0, section.indexOf('\n## ', 1) === -1 ? undefined : section.indexOf('\n## ', 1));
    const inDoc = [...table.matchAll(/^\| `([^`]+)` \|/gm)].map((m) => m[1]!.replace(/<sha256\([^)]*\)>/g, '<#>').replace(/<[^>#]+>/g, ARG)).sort();
    expect(inDoc).toStrictEqual(inCode);
  });
});
