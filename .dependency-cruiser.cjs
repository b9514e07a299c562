// Layering of src/ (`npm run depcruise`, part of `npm test`).
//   infrastructure: config crypto store identity providers net http metrics tracing + errors.ts; never imports a domain folder
//   domain libraries: grants tokens kill-switches audit approvals; may use infrastructure, never an entry point
//   entry points: exchange forward linking admin discovery health cli; one folder per entry, never each other
//   dev: the dev entry (src/dev/dev.ts) and what only it needs; tsconfig.build.json leaves it out of dist/
// The composition roots (main.ts, boot.ts, app.ts, services.ts) may import anything but dev/.
const infrastructure = '^src/(?:(?:config|crypto|store|identity|providers|net|http|metrics|tracing)/|errors\\.ts$)';
const domainLibraries = 'grants|tokens|kill-switches|audit|approvals';
const entryPoints = 'exchange|forward|linking|admin|discovery|health|cli';

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'infrastructure-imports-domain',
      comment: 'Infrastructure sits under the domains: it never imports a domain, entry-point or dev folder.',
      severity: 'error',
      from: { path: infrastructure },
      to: { path: `^src/(?:${domainLibraries}|${entryPoints}|dev)/` },
    },
    {
      name: 'entry-point-imports-entry-point',
      comment: 'Entry points share code through a domain library or infrastructure, never through each other.',
      severity: 'error',
      from: { path: `^src/(${entryPoints})/` },
      to: { path: `^src/(?:${entryPoints})/`, pathNot: '^src/$1/' },
    },
    {
      name: 'domain-library-imports-entry-point',
      comment: 'A domain library serves the entry points; it never reaches back into one.',
      severity: 'error',
      from: { path: `^src/(?:${domainLibraries})/` },
      to: { path: `^src/(?:${entryPoints})/` },
    },
    {
      name: 'postgres-only-in-archive',
      comment: 'PostgreSQL holds the audit archive only: node-postgres is used by src/audit/archive/ and nowhere else.',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/audit/archive/' },
      to: { path: 'node_modules/(?:pg|pg-[a-z-]+)/' },
    },
    {
      name: 'no-circular',
      comment: 'No import cycles, type-only imports included (tsPreCompilationDeps).',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'dev-outside-dev',
      comment: 'The dev PKI, demo IdP and demo CRM are loaded only by the dev entry, never by the production build.',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/dev/' },
      to: { path: '^src/dev/' },
    },
    {
      name: 'src-imports-test',
      comment: 'Test helpers are never part of the service.',
      severity: 'error',
      from: { path: '^src/' },
      to: { path: '^test/' },
    },
    {
      name: 'not-to-unresolvable',
      comment: 'An import that does not resolve would hide a layering violation.',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      mainFields: ['module', 'main', 'types', 'typings'],
    },
    reporterOptions: { text: { highlightFocused: true } },
  },
};
