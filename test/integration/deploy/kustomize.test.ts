/**
 * deploy/kustomize rendered by `kubectl kustomize`: the pod hardening, probes, disruption budget,
 * Services and network policies of the base and the dev overlay; the ConfigMap's config validated
 * by the real loader and booted by the production entry point; and who may reach whom, asked of
 * the rendered NetworkPolicies (test/integration/deploy/network-policy.ts).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join, posix } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadConfig } from '../../../src/config/load.js';
import { call } from '../../helpers/https-client.js';
import { startRedis } from '../../helpers/redis-server.js';
import { createTestPki } from '../../helpers/vault.js';
import { bootMain, configPaths, materialise, rebase, rebaseEnv, unmountedPaths, writeConfig } from './boot.js';
import { keyValues, readDockerfile, runtimeStage } from './dockerfile.js';
import { KUSTOMIZE_DIR, render, renderWith, requireKubectl, type Container, type Deployment, type Rendered, type Service } from './manifests.js';
import { matches, mayConnect, mayLeave, type Endpoint, type Pod } from './network-policy.js';

const AGENTS_LABEL = 'token-vault.io/agents';
const PUBLIC_PORT = 8443;
const INTERNAL_PORT = 9443;
/** Every port a vault pod has or might have (9464: metrics, loopback by default). */
const VAULT_PORTS = [PUBLIC_PORT, INTERNAL_PORT, 9464, 80, 443, 6379];

const gateway: Pod = {
  namespace: 'agent-gateway',
  namespaceLabels: { 'token-vault.io/gateway': 'true' },
  labels: { 'app.kubernetes.io/component': 'agent-gateway' },
};
const ingressController: Pod = {
  namespace: 'ingress-nginx',
  labels: { 'app.kubernetes.io/name': 'ingress-nginx', 'app.kubernetes.io/component': 'controller' },
};
const kubeDns: Pod = { namespace: 'kube-system', labels: { 'k8s-app': 'kube-dns' } };
/** Agent pods, including ones that try to look like a gateway or the ingress controller. */
const agents: Pod[] = [
  { namespace: 'agents', namespaceLabels: { [AGENTS_LABEL]: 'true' }, labels: { app: 'crm-assistant' } },
  {
    namespace: 'agents',
    namespaceLabels: { [AGENTS_LABEL]: 'true', 'token-vault.io/gateway': 'true' },
    labels: { 'app.kubernetes.io/component': 'agent-gateway' },
  },
  { namespace: 'ingress-nginx', namespaceLabels: { [AGENTS_LABEL]: 'true' }, labels: ingressController.labels },
];

function vaultPod(deployment: Deployment): Pod {
  return { namespace: deployment.metadata.namespace, labels: deployment.spec.template.metadata.labels };
}

function mainContainer(deployment: Deployment): Container {
  const container = deployment.spec.template.spec.containers.find((c) => c.name === 'token-vault');
  if (!container) throw new Error('no token-vault container');
  return container;
}

/** The process environment inside the vault container: the image's ENV, then the pod's literal values. */
function containerEnv(container: Container): Record<string, string> {
  const env = keyValues(runtimeStage(readDockerfile()), 'ENV');
  for (const { name, value } of container.env ?? []) if (value !== undefined) env[name] = value;
  return env;
}

/** The vault's config file as the ConfigMap mounted at TOKEN_VAULT_CONFIG holds it. */
function mountedConfig(rendered: Rendered, deployment: Deployment): Record<string, unknown> {
  const path = containerEnv(mainContainer(deployment))['TOKEN_VAULT_CONFIG'] ?? '';
  const mount = mainContainer(deployment).volumeMounts?.find((m) => m.mountPath === dirname(path));
  const volume = deployment.spec.template.spec.volumes?.find((v) => v.name === mount?.name);
  if (!volume?.configMap) throw new Error(`TOKEN_VAULT_CONFIG ${path} is not in a ConfigMap volume`);
  const text = rendered.one('ConfigMap', volume.configMap.name).data?.[basename(path)];
  if (text === undefined) throw new Error(`ConfigMap ${volume.configMap.name} has no ${basename(path)}`);
  return parse(text) as Record<string, unknown>;
}

function portNumber(container: Container, port: number | string): number | undefined {
  return typeof port === 'number' ? port : container.ports?.find((p) => p.name === port)?.containerPort;
}

let base: Rendered;
let dev: Rendered;

beforeAll(() => {
  requireKubectl();
  base = render(`${KUSTOMIZE_DIR}/base`);
  dev = render(`${KUSTOMIZE_DIR}/overlays/dev`);
});

describe.each([
  ['base', 3],
  ['overlays/dev', 1],
])('deploy/kustomize/%s', (name, replicas) => {
  const rendered = (): Rendered => (name === 'base' ? base : dev);
  const deployment = (): Deployment => rendered().deployment('token-vault');

  it(`runs ${replicas} replica(s) in a restricted namespace with a tokenless service account`, () => {
    const d = deployment();
    expect(d.spec.replicas).toBe(replicas);
    expect(matches(d.spec.selector, d.spec.template.metadata.labels)).toBe(true);
    const ns = rendered().one('Namespace', d.metadata.namespace);
    expect(ns.metadata.labels?.['pod-security.kubernetes.io/enforce']).toBe('restricted');
    const pod = d.spec.template.spec;
    expect(pod.serviceAccountName).toBe('token-vault');
    expect(pod.automountServiceAccountToken).toBe(false);
    expect(rendered().one('ServiceAccount', 'token-vault').automountServiceAccountToken).toBe(false);
    expect(pod.enableServiceLinks).toBe(false);
    expect([pod.hostNetwork, pod.hostPID, pod.hostIPC].filter(Boolean)).toStrictEqual([]);
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 1000, seccompProfile: { type: 'RuntimeDefault' } });
  });

  it('puts every namespaced object in the vault namespace', () => {
    const namespaces = rendered()
      .objects.filter((o) => o.kind !== 'Namespace')
      .map((o) => `${o.kind}/${o.metadata.name}: ${o.metadata.namespace}`);
    expect(namespaces.filter((n) => !n.endsWith(`: ${deployment().metadata.namespace}`))).toStrictEqual([]);
  });

  it('locks down every container, init containers included', () => {
    const pod = deployment().spec.template.spec;
    const containers = [...(pod.initContainers ?? []), ...pod.containers];
    expect(containers.length).toBeGreaterThanOrEqual(2);
    for (const c of containers) {
      const sc = { ...pod.securityContext, ...c.securityContext };
      expect(sc, c.name).toMatchObject({
        runAsNonRoot: true,
        runAsUser: 1000,
        allowPrivilegeEscalation: false,
        readOnlyRootFilesystem: true,
        capabilities: { drop: ['ALL'] },
        seccompProfile: { type: 'RuntimeDefault' },
      });
      expect(sc.privileged, c.name).not.toBe(true);
      expect(sc.capabilities?.add, c.name).toBeUndefined();
      for (const kind of ['requests', 'limits'] as const)
        expect(Object.keys(c.resources?.[kind] ?? {}).sort(), `${c.name} ${kind}`).toStrictEqual(['cpu', 'memory']);
    }
  });

  it('probes liveness on /healthz and readiness on /readyz over HTTPS on the public port', () => {
    const c = mainContainer(deployment());
    expect(c.livenessProbe?.httpGet?.path).toBe('/healthz');
    expect(c.readinessProbe?.httpGet?.path).toBe('/readyz');
    for (const probe of [c.startupProbe, c.livenessProbe, c.readinessProbe].filter((p) => p !== undefined)) {
      expect(probe.httpGet?.scheme).toBe('HTTPS');
      expect(portNumber(c, probe.httpGet?.port ?? '')).toBe(PUBLIC_PORT);
    }
  });

  it('spreads replicas across zones and hosts, and lets at most one be evicted at a time', () => {
    const d = deployment();
    const spread = d.spec.template.spec.topologySpreadConstraints ?? [];
    expect(spread.map((s) => s.topologyKey).sort()).toStrictEqual(['kubernetes.io/hostname', 'topology.kubernetes.io/zone']);
    for (const s of spread) expect(matches(s.labelSelector, d.spec.template.metadata.labels)).toBe(true);
    const pdbs = rendered().all('PodDisruptionBudget');
    expect(pdbs).toHaveLength(1);
    const pdb = pdbs[0]?.spec as { maxUnavailable?: number; minAvailable?: number; selector: { matchLabels: Record<string, string> } };
    expect(pdb.maxUnavailable === 1 || pdb.minAvailable === 2).toBe(true);
    expect(matches(pdb.selector, d.spec.template.metadata.labels)).toBe(true);
  });

  it('mounts secrets read-only with mode 0400, the config from a ConfigMap, and writes only to emptyDirs', () => {
    const pod = deployment().spec.template.spec;
    const volumes = new Map((pod.volumes ?? []).map((v) => [v.name, v]));
    const secrets = [...volumes.values()].filter((v) => v.secret);
    expect(secrets.map((v) => v.secret?.secretName).sort()).toStrictEqual(['token-vault-clients', 'token-vault-keys', 'token-vault-tls']);
    for (const v of secrets) expect(v.secret?.defaultMode, v.name).toBe(0o400);
    for (const v of volumes.values()) expect(v.hostPath ?? v.persistentVolumeClaim, v.name).toBeUndefined();
    for (const c of [...(pod.initContainers ?? []), ...pod.containers]) {
      for (const m of c.volumeMounts ?? []) {
        const v = volumes.get(m.name);
        if (v?.secret || v?.configMap) expect(m.readOnly, `${c.name}: ${m.mountPath}`).toBe(true);
        else expect(v?.emptyDir, `${c.name}: ${m.mountPath}`).toBeDefined();
      }
    }
    expect(mainContainer(deployment()).volumeMounts?.find((m) => m.mountPath === '/tmp')?.name).toSatisfy(
      (n: string) => volumes.get(n)?.emptyDir !== undefined,
    );
  });

  it('stages key files owner-only into memory before the vault reads them (src/crypto/key-files.ts refuses group-readable keys)', () => {
    const d = deployment();
    const pod = d.spec.template.spec;
    const init = pod.initContainers?.find((c) => c.name === 'stage-secrets');
    expect(init?.image).toBe(mainContainer(d).image);
    const script = (init?.command ?? []).join(' ');
    const volumes = new Map((pod.volumes ?? []).map((v) => [v.name, v]));
    const keysDir = containerEnv(mainContainer(d))['TOKEN_VAULT_KEYS_DIR'];
    const keysMount = mainContainer(d).volumeMounts?.find((m) => m.mountPath === keysDir);
    expect(keysMount?.readOnly).toBe(true);
    expect(volumes.get(keysMount?.name ?? '')?.emptyDir?.medium).toBe('Memory');
    const into = init?.volumeMounts?.find((m) => m.name === keysMount?.name);
    const from = init?.volumeMounts?.find((m) => volumes.get(m.name)?.secret?.secretName === 'token-vault-keys');
    expect(script).toContain(`install -m 0400 ${from?.mountPath}/* ${into?.mountPath}/`);
  });

  it('publishes the public (8443) and internal (9443) listeners as ClusterIP Services, and no metrics port', () => {
    const d = deployment();
    const c = mainContainer(d);
    const services = rendered()
      .all<Service>('Service')
      .filter((s) => matches({ matchLabels: s.spec.selector }, d.spec.template.metadata.labels));
    const ports = services.flatMap((s) => s.spec.ports.map((p) => [s.metadata.name, p.port, portNumber(c, p.targetPort ?? p.port)]));
    expect(ports.sort()).toStrictEqual([
      ['token-vault-internal', INTERNAL_PORT, INTERNAL_PORT],
      ['token-vault-public', PUBLIC_PORT, PUBLIC_PORT],
    ]);
    for (const s of services) expect(s.spec.type ?? 'ClusterIP').toBe('ClusterIP');
  });

  it('has a config the real loader accepts, naming only mounted paths, with keys.dir as the image sees it', async () => {
    const d = deployment();
    const c = mainContainer(d);
    const raw = mountedConfig(rendered(), d);
    const mounts = (c.volumeMounts ?? []).map((m) => m.mountPath);
    expect(unmountedPaths(raw, mounts)).toStrictEqual([]);
    const env = containerEnv(c);
    expect(posix.normalize((raw['keys'] as { dir: string }).dir)).toBe(env['TOKEN_VAULT_KEYS_DIR']);
    // The audit checkpoint is written: it must sit on a writable mount.
    const checkpoint = configPaths(raw).find((p) => p.at === 'audit.checkpointFile')?.path ?? '';
    expect(c.volumeMounts?.find((m) => checkpoint.startsWith(`${m.mountPath}/`))?.readOnly).not.toBe(true);

    const root = await mkdtemp(join(tmpdir(), 'tv-kustomize-'));
    const pki = await createTestPki();
    try {
      const rebased = rebase(raw, root);
      await materialise(rebased, pki);
      const rebasedEnv = rebaseEnv(env, mounts, root);
      await writeConfig(rebasedEnv['TOKEN_VAULT_CONFIG'] ?? '', rebased);
      const config = loadConfig(rebasedEnv);
      expect(config.mode).toBe('production');
      expect(config.store.kind).toBe('redis');
      expect(config.gateways.allow.every((id) => id.startsWith('spiffe://'))).toBe(true);
      expect(Object.keys(config.providers)).toHaveLength(1);
      expect(config.listeners.public.port).toBe(PUBLIC_PORT);
      expect(config.listeners.internal.port).toBe(INTERNAL_PORT);
    } finally {
      await rm(root, { recursive: true, force: true });
      await rm(pki.dir, { recursive: true, force: true });
    }
  });

  it('lets only agent gateways reach 9443 and only the ingress controller reach 8443; agents reach nothing', () => {
    const policies = rendered().policies();
    const vault = vaultPod(deployment());
    const open = (from: Endpoint): number[] => VAULT_PORTS.filter((port) => mayConnect(policies, from, vault, port));
    expect(open(gateway)).toStrictEqual([INTERNAL_PORT]);
    expect(open(ingressController)).toStrictEqual([PUBLIC_PORT]);
    expect(open({ ...gateway, labels: { app: 'something-else' } })).toStrictEqual([]);
    expect(open({ ...gateway, namespaceLabels: {} })).toStrictEqual([]);
    expect(open({ namespace: vault.namespace, labels: { app: 'redis' } })).toStrictEqual([]);
    expect(open({ ip: '8.8.8.8' })).toStrictEqual([]);
    for (const agent of agents) expect(open(agent), JSON.stringify(agent)).toStrictEqual([]);
  });

  it('never admits a namespace labelled as an agent namespace, in any ingress rule', () => {
    const vault = vaultPod(deployment());
    for (const policy of rendered().policies()) {
      if (!matches(policy.spec.podSelector, vault.labels)) continue;
      for (const rule of policy.spec.ingress ?? []) {
        expect(rule.from?.length, policy.metadata.name).toBeGreaterThan(0);
        for (const peer of rule.from ?? []) {
          expect(peer.ipBlock, policy.metadata.name).toBeUndefined();
          expect(peer.namespaceSelector?.matchExpressions, policy.metadata.name).toContainEqual({ key: AGENTS_LABEL, operator: 'NotIn', values: ['true'] });
          expect(peer.podSelector?.matchLabels, policy.metadata.name).toBeDefined();
        }
        expect(rule.ports?.length, policy.metadata.name).toBeGreaterThan(0);
      }
    }
  });

  it('denies by default and lets the vault out only to DNS, Redis and HTTPS on public addresses', () => {
    const policies = rendered().policies();
    const defaultDeny = policies.find((p) => p.metadata.name === 'default-deny');
    expect(defaultDeny?.spec).toStrictEqual({ podSelector: {}, policyTypes: ['Ingress', 'Egress'] });
    const vault = vaultPod(deployment());
    const redis: Pod = { namespace: vault.namespace, labels: { app: 'redis' } };
    expect(mayConnect(policies, vault, kubeDns, 53, 'UDP')).toBe(true);
    expect(mayConnect(policies, vault, kubeDns, 53, 'TCP')).toBe(true);
    expect(mayConnect(policies, vault, { ...kubeDns, labels: { app: 'other' } }, 53, 'UDP')).toBe(false);
    // Redis's own ingress is the Redis deployment's business (the dev overlay's is tested below).
    expect(mayLeave(policies, vault, redis, 6379)).toBe(true);
    for (const port of [6380, 5432, 80]) expect(mayLeave(policies, vault, redis, port), String(port)).toBe(false);
    expect(mayLeave(policies, vault, { namespace: 'elsewhere', labels: { app: 'redis' } }, 6379)).toBe(false);
    expect(mayConnect(policies, vault, { ip: '203.0.113.10' }, 443)).toBe(true);
    for (const ip of ['10.0.0.7', '172.20.1.1', '192.168.1.1', '169.254.169.254', '127.0.0.1', '100.64.0.1']) {
      expect(mayConnect(policies, vault, { ip }, 443), ip).toBe(false);
    }
    expect(mayConnect(policies, vault, { ip: '203.0.113.10' }, 80)).toBe(false);
    expect(mayConnect(policies, vault, { ip: '203.0.113.10' }, 5432)).toBe(false);
    expect(mayConnect(policies, vault, gateway, 8080)).toBe(false);
  });
});

describe('deploy/kustomize/base booted', () => {
  it('starts from its own ConfigMap and environment, and its probes answer 200', async () => {
    const d = base.deployment('token-vault');
    const c = mainContainer(d);
    const mounts = (c.volumeMounts ?? []).map((m) => m.mountPath);
    const root = await mkdtemp(join(tmpdir(), 'tv-kustomize-boot-'));
    const pki = await createTestPki();
    const redis = await startRedis();
    try {
      const rebased = rebase(mountedConfig(base, d), root);
      await materialise(rebased, pki);
      const env = rebaseEnv(containerEnv(c), mounts, root);
      await writeConfig(env['TOKEN_VAULT_CONFIG'] ?? '', rebased);
      const vault = await bootMain(env, redis.url);
      try {
        for (const probe of [c.startupProbe, c.livenessProbe, c.readinessProbe]) {
          const res = await call(`${vault.publicUrl}${probe?.httpGet?.path ?? ''}`, { ca: pki.ca });
          expect(res.status, probe?.httpGet?.path).toBe(200);
        }
      } finally {
        expect(await vault.stop()).toBe(0);
      }
    } finally {
      await redis.stop();
      await rm(root, { recursive: true, force: true });
      await rm(pki.dir, { recursive: true, force: true });
    }
  });
});

describe('deploy/kustomize/overlays/dev', () => {
  it('keeps the base config and adds one Redis that keeps grants (AOF, noeviction) without a volume', () => {
    const d = dev.deployment('token-vault');
    expect(mountedConfig(dev, d)).toStrictEqual(mountedConfig(base, base.deployment('token-vault')));
    const redis = dev.deployment('redis');
    expect(redis.spec.replicas).toBe(1);
    const args = redis.spec.template.spec.containers[0]?.args ?? [];
    expect(args[args.indexOf('--appendonly') + 1]).toBe('yes');
    expect(args[args.indexOf('--maxmemory-policy') + 1]).toBe('noeviction');
    expect(dev.all('PersistentVolumeClaim')).toStrictEqual([]);
    expect((redis.spec.template.spec.volumes ?? []).every((v) => v.emptyDir !== undefined)).toBe(true);
  });

  it('serves Redis where the config points, to the vault and nobody else', () => {
    const d = dev.deployment('token-vault');
    const url = new URL((mountedConfig(dev, d)['store'] as { redis: { url: string } }).redis.url);
    const service = dev.one<Service>('Service', url.hostname);
    const redis = dev.deployment('redis');
    const redisPod: Pod = { namespace: redis.metadata.namespace, labels: redis.spec.template.metadata.labels };
    expect(matches({ matchLabels: service.spec.selector }, redisPod.labels)).toBe(true);
    expect(service.spec.ports[0]?.port).toBe(Number(url.port));
    const policies = dev.policies();
    expect(mayConnect(policies, vaultPod(d), redisPod, 6379)).toBe(true);
    for (const other of [gateway, ingressController, ...agents, { namespace: redisPod.namespace, labels: { app: 'x' } }]) {
      expect(mayConnect(policies, other, redisPod, 6379), JSON.stringify(other)).toBe(false);
    }
  });
});

describe('deploy/kustomize/components/postgres-egress', () => {
  it('opens egress to PostgreSQL on 5432, which the base keeps closed', () => {
    const namespace = base.deployment('token-vault').metadata.namespace;
    const withPostgres = renderWith(namespace, [`${KUSTOMIZE_DIR}/base`], [`${KUSTOMIZE_DIR}/components/postgres-egress`]);
    const vault = vaultPod(withPostgres.deployment('token-vault'));
    const postgres: Pod = { namespace: vault.namespace, labels: { app: 'postgresql' } };
    expect(mayLeave(base.policies(), vault, postgres, 5432)).toBe(false);
    expect(mayLeave(withPostgres.policies(), vault, postgres, 5432)).toBe(true);
    expect(mayLeave(withPostgres.policies(), vault, postgres, 5433)).toBe(false);
  });
});

describe('deploy/kustomize/examples/agent-namespace', () => {
  it('lets agents reach the gateway and DNS only, never the vault', () => {
    const example = render(`${KUSTOMIZE_DIR}/examples/agent-namespace`);
    const ns = example.all('Namespace')[0];
    expect(ns?.metadata.labels?.[AGENTS_LABEL]).toBe('true');
    const policies = [...example.policies(), ...base.policies()];
    const agent: Pod = { namespace: ns?.metadata.name ?? '', namespaceLabels: ns?.metadata.labels ?? {}, labels: { app: 'crm-assistant' } };
    expect(mayConnect(policies, agent, gateway, 8080)).toBe(true);
    expect(mayConnect(policies, agent, kubeDns, 53, 'UDP')).toBe(true);
    const vault = vaultPod(base.deployment('token-vault'));
    for (const port of VAULT_PORTS) expect(mayConnect(policies, agent, vault, port), String(port)).toBe(false);
    expect(mayConnect(policies, agent, { ip: '203.0.113.10' }, 443)).toBe(false);
  });
});
