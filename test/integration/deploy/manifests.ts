/**
 * Renders the kustomizations under deploy/kustomize with `kubectl kustomize` (no cluster needed)
 * and types the few fields the deployment tests read.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { parseAllDocuments } from 'yaml';
import type { LabelSelector, Labels, NetworkPolicy } from './network-policy.js';

export const KUSTOMIZE_DIR = 'deploy/kustomize';

export interface Probe {
  httpGet?: { path: string; port: number | string; scheme?: string };
}

export interface SecurityContext {
  runAsNonRoot?: boolean;
  runAsUser?: number;
  runAsGroup?: number;
  fsGroup?: number;
  allowPrivilegeEscalation?: boolean;
  readOnlyRootFilesystem?: boolean;
  privileged?: boolean;
  capabilities?: { drop?: string[]; add?: string[] };
  seccompProfile?: { type: string };
}

export interface Container {
  name: string;
  image: string;
  command?: string[];
  args?: string[];
  env?: { name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string; optional?: boolean } } }[];
  ports?: { name?: string; containerPort: number; protocol?: string }[];
  securityContext?: SecurityContext;
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  startupProbe?: Probe;
  livenessProbe?: Probe;
  readinessProbe?: Probe;
  volumeMounts?: { name: string; mountPath: string; readOnly?: boolean; subPath?: string }[];
}

export interface Volume {
  name: string;
  emptyDir?: { medium?: string; sizeLimit?: string };
  secret?: { secretName: string; defaultMode?: number };
  configMap?: { name: string };
  persistentVolumeClaim?: unknown;
  hostPath?: unknown;
}

export interface PodSpec {
  serviceAccountName?: string;
  automountServiceAccountToken?: boolean;
  enableServiceLinks?: boolean;
  hostNetwork?: boolean;
  hostPID?: boolean;
  hostIPC?: boolean;
  securityContext?: SecurityContext;
  topologySpreadConstraints?: { maxSkew: number; topologyKey: string; whenUnsatisfiable: string; labelSelector: LabelSelector }[];
  initContainers?: Container[];
  containers: Container[];
  volumes?: Volume[];
}

export interface Deployment {
  kind: 'Deployment';
  metadata: { name: string; namespace: string; labels?: Labels };
  spec: { replicas: number; selector: LabelSelector; template: { metadata: { labels: Labels }; spec: PodSpec } };
}

export interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Labels };
  spec?: Record<string, unknown>;
  data?: Record<string, string>;
  automountServiceAccountToken?: boolean;
}

export interface Service extends Manifest {
  kind: 'Service';
  spec: { type?: string; selector: Labels; ports: { name?: string; port: number; targetPort?: number | string; protocol?: string }[] };
}

export class Rendered {
  constructor(readonly objects: Manifest[]) {}

  all<T extends Manifest = Manifest>(kind: string): T[] {
    return this.objects.filter((o) => o.kind === kind) as T[];
  }

  one<T extends Manifest = Manifest>(kind: string, name: string): T {
    const found = this.objects.find((o) => o.kind === kind && o.metadata.name === name);
    if (!found) throw new Error(`no ${kind} ${name} in the rendered manifests`);
    return found as T;
  }

  deployment(name: string): Deployment {
    return this.one('Deployment', name) as unknown as Deployment;
  }

  policies(): NetworkPolicy[] {
    return this.all('NetworkPolicy') as unknown as NetworkPolicy[];
  }
}

/** Fails with a clear message when kubectl is absent: these tests must never pass by not running. */
export function requireKubectl(): void {
  const probe = spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8' });
  if (probe.error !== undefined || probe.status !== 0) {
    throw new Error(`kubectl is needed to render deploy/kustomize (Debian package kubectl; .ci/run installs it): ${probe.error?.message ?? probe.stderr}`);
  }
}

/** `kubectl kustomize <dir>`, parsed. */
export function render(dir: string): Rendered {
  const out = spawnSync('kubectl', ['kustomize', dir], { encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 });
  if (out.error !== undefined || out.status !== 0) throw new Error(`kubectl kustomize ${dir} failed: ${out.error?.message ?? out.stderr}`);
  return new Rendered(parseAllDocuments(out.stdout).map((d) => d.toJS() as Manifest));
}

/** Renders `resources` plus `components` through a throw-away overlay in `namespace` (paths relative to the repository). */
export function renderWith(namespace: string, resources: string[], components: string[]): Rendered {
  const dir = mkdtempSync(join(tmpdir(), 'tv-kustomize-'));
  try {
    // kustomize accepts only relative paths to other kustomizations.
    const rel = (p: string): string => relative(dir, resolve(p));
    writeFileSync(join(dir, 'kustomization.yaml'), JSON.stringify({ namespace, resources: resources.map(rel), components: components.map(rel) }));
    return render(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
