/**
 * The image's contract, read from the Dockerfile and .dockerignore (no Docker engine on the test
 * machines): a build context without keys, tests or build output; a runtime stage with production
 * dependencies only, a non-root user, a health check and OCI labels; and a production entry point
 * whose static import graph never reaches src/dev/ nor a devDependency.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { keyValues, readDockerfile, runtimeStage, type Stage } from '../integration/deploy/dockerfile.js';

const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as {
  version: string;
  license: string;
  scripts: Record<string, string>;
  bin: Record<string, string>;
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};
const stages = readDockerfile();
const runtime = runtimeStage(stages);

function globToRegExp(glob: string): RegExp {
  let out = '';
  for (let i = 0; i < glob.length; i++) {
    const ch = glob[i] ?? '';
    if (ch === '*' && glob[i + 1] === '*') {
      out += '.*';
      i++;
      if (glob[i + 1] === '/') i++;
    } else if (ch === '*') out += '[^/]*';
    else if (ch === '?') out += '[^/]';
    else out += ch.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${out}$`);
}

/** .dockerignore semantics: the last pattern that matches the path or one of its parents decides; `!` re-includes. */
function excludedFromContext(path: string): boolean {
  const patterns = readFileSync('.dockerignore', 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
  const parts = path.split('/');
  const candidates = parts.map((_, i) => parts.slice(0, i + 1).join('/'));
  let excluded = false;
  for (const raw of patterns) {
    const negated = raw.startsWith('!');
    const re = globToRegExp((negated ? raw.slice(1) : raw).replace(/^\/+/, ''));
    if (candidates.some((c) => re.test(c))) excluded = !negated;
  }
  return excluded;
}

function run(stage: Stage): string[] {
  return stage.instructions.filter((i) => i.keyword === 'RUN').map((i) => i.args);
}

/** Sources of COPY instructions that read from the build context (no --from). */
function contextCopies(stage: Stage): string[] {
  return stage.instructions
    .filter((i) => i.keyword === 'COPY' && !/--from=/.test(i.args))
    .flatMap((i) =>
      i.args
        .split(/\s+/)
        .filter((a) => !a.startsWith('--'))
        .slice(0, -1),
    );
}

/** Relative specifiers (resolved to .ts files) and bare package names a module loads at run time. */
function runtimeImports(file: string): { files: string[]; packages: string[] } {
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, false);
  const specifiers: string[] = [];
  const visit = (node: ts.Node): void => {
    // `import type` / `export type` are erased; with verbatimModuleSyntax every other import stays.
    if (ts.isImportDeclaration(node) && !node.importClause?.isTypeOnly && ts.isStringLiteral(node.moduleSpecifier)) specifiers.push(node.moduleSpecifier.text);
    if (ts.isExportDeclaration(node) && !node.isTypeOnly && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier))
      specifiers.push(node.moduleSpecifier.text);
    if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      const [arg] = node.arguments;
      if (arg && ts.isStringLiteral(arg)) specifiers.push(arg.text);
      else throw new Error(`${file}: dynamic import with a computed specifier cannot be checked`);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  const files = specifiers.filter((s) => s.startsWith('.')).map((s) => resolve(dirname(file), s.replace(/\.js$/, '.ts')));
  const packages = specifiers
    .filter((s) => !s.startsWith('.') && !s.startsWith('node:'))
    .map((s) => (s.startsWith('@') ? s.split('/').slice(0, 2).join('/') : (s.split('/')[0] ?? s)));
  return { files, packages };
}

/** Every module reachable from the package's bin entries (dist/x.js is built from src/x.ts). */
function productionGraph(): { files: string[]; packages: Set<string> } {
  const entries = Object.values(pkg.bin).map((bin) => resolve(bin.replace(/^dist\//, 'src/').replace(/\.js$/, '.ts')));
  const seen = new Set<string>();
  const packages = new Set<string>();
  const queue = [...entries];
  while (queue.length > 0) {
    const file = queue.pop() ?? '';
    if (seen.has(file)) continue;
    if (!existsSync(file)) throw new Error(`import of a missing module: ${file}`);
    seen.add(file);
    const imports = runtimeImports(file);
    queue.push(...imports.files);
    for (const p of imports.packages) packages.add(p);
  }
  return { files: [...seen].map((f) => relative(process.cwd(), f)), packages };
}

describe('Docker build context (.dockerignore)', () => {
  it.each([
    'keys',
    'keys/dev/kek-1.key',
    'test',
    'test/unit/x.test.ts',
    'bench',
    '.git',
    '.git/config',
    'node_modules',
    'node_modules/zod/package.json',
    'dist',
    'dist/main.js',
    'deploy',
    '.env',
    'src/dev/dev.ts',
    'src/x.key',
    'src/x.pem',
  ])('leaves out %s', (path) => expect(excludedFromContext(path)).toBe(true));

  it('keeps everything the Dockerfile copies from it', () => {
    const copied = stages.flatMap(contextCopies);
    expect(copied.sort()).toStrictEqual([
      'package-lock.json',
      'package-lock.json',
      'package.json',
      'package.json',
      'src',
      'tsconfig.build.json',
      'tsconfig.json',
    ]);
    for (const path of [...copied, 'src/main.ts', 'src/crypto/key-files.ts']) expect(excludedFromContext(path), path).toBe(false);
  });
});

describe('Dockerfile runtime stage', () => {
  it('installs production dependencies with npm ci --omit=dev and never prunes a dev install', () => {
    expect(run(runtime).some((r) => /\bnpm ci\b[^&]*--omit=dev/.test(r))).toBe(true);
    for (const stage of stages) expect(run(stage).filter((r) => /\bnpm (prune|install|i)\b/.test(r))).toStrictEqual([]);
  });

  it('takes only the compiled dist from the build stage and the lockfile from the context', () => {
    const fromBuild = runtime.instructions.filter((i) => i.keyword === 'COPY' && /--from=/.test(i.args)).map((i) => i.args);
    expect(fromBuild).toStrictEqual(['--from=build /app/dist ./dist']);
    expect(contextCopies(runtime).sort()).toStrictEqual(['package-lock.json', 'package.json']);
  });

  it('runs as a non-root user', () => {
    const user = runtime.instructions.filter((i) => i.keyword === 'USER').at(-1)?.args ?? 'root';
    expect(user.split(':')[0]).not.toMatch(/^(root|0)$/);
  });

  it('has a HEALTHCHECK on the public listener and the OCI labels', () => {
    const check = runtime.instructions.find((i) => i.keyword === 'HEALTHCHECK')?.args ?? '';
    expect(check).toMatch(/\bCMD \[/);
    expect(check).toContain('/healthz');
    const args = keyValues(
      { ...runtime, instructions: runtime.instructions.filter((i) => i.keyword === 'ARG').map((i) => ({ keyword: 'ENV', args: i.args })) },
      'ENV',
    );
    const labels = Object.fromEntries(
      Object.entries(keyValues(runtime, 'LABEL')).map(([k, v]) => [k, v.replace(/\$\{(\w+)\}/g, (_, a: string) => args[a] ?? '')]),
    );
    for (const key of ['title', 'description', 'source', 'licenses', 'version']) expect(labels[`org.opencontainers.image.${key}`], key).toMatch(/\S/);
    expect(labels['org.opencontainers.image.version']).toBe(pkg.version);
    expect(labels['org.opencontainers.image.licenses']).toBe(pkg.license);
    expect(labels['org.opencontainers.image.title']).toBe('token-vault');
  });

  it('starts the production entry point', () => {
    expect(runtime.instructions.find((i) => i.keyword === 'ENTRYPOINT')?.args).toBe('["node", "--enable-source-maps", "dist/main.js"]');
    expect(pkg.bin['token-vault']).toBe('dist/main.js');
  });
});

describe('production build', () => {
  it('compiles with tsconfig.build.json, which leaves out src/dev', () => {
    expect(pkg.scripts['build']).toContain('tsconfig.build.json');
    const build = JSON.parse(readFileSync('tsconfig.build.json', 'utf8')) as { include: string[]; exclude: string[] };
    expect(build.include).toStrictEqual(['src']);
    expect(build.exclude).toContain('src/dev');
  });

  it('never loads src/dev, test code or a devDependency from the production entry points', () => {
    const { files, packages } = productionGraph();
    expect(files).toContain(join('src', 'main.ts'));
    expect(files).toContain(join('src', 'config', 'load.ts'));
    expect(files.length).toBeGreaterThan(50);
    expect(files.filter((f) => !f.startsWith('src/') || f.startsWith('src/dev/'))).toStrictEqual([]);
    expect([...packages].filter((p) => !(p in pkg.dependencies)).sort()).toStrictEqual([]);
  });
});
