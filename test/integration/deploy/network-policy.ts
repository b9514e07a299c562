/**
 * A small evaluator of Kubernetes NetworkPolicy (networking.k8s.io/v1) semantics, so tests can ask
 * "may this pod reach that pod on this port" of rendered manifests instead of pattern-matching them:
 * - a pod is isolated for a direction when any policy in its namespace selects it with that type;
 * - an isolated pod admits a connection when any rule of any selecting policy admits it;
 * - a peer with only podSelector means the policy's own namespace; namespaceSelector and podSelector
 *   in one peer must both match; every namespace carries `kubernetes.io/metadata.name`.
 * ipBlock peers are evaluated for IPv4 addresses only.
 */

export type Labels = Record<string, string>;

export interface LabelSelector {
  matchLabels?: Labels;
  matchExpressions?: { key: string; operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist'; values?: string[] }[];
}

export interface Peer {
  podSelector?: LabelSelector;
  namespaceSelector?: LabelSelector;
  ipBlock?: { cidr: string; except?: string[] };
}

export interface PolicyPort {
  port?: number | string;
  protocol?: string;
}

export interface Rule {
  from?: Peer[];
  to?: Peer[];
  ports?: PolicyPort[];
}

export interface NetworkPolicy {
  kind: 'NetworkPolicy';
  metadata: { name: string; namespace: string };
  spec: { podSelector: LabelSelector; policyTypes?: ('Ingress' | 'Egress')[]; ingress?: Rule[]; egress?: Rule[] };
}

export interface Pod {
  namespace: string;
  namespaceLabels?: Labels;
  labels: Labels;
}

export type Endpoint = Pod | { ip: string };

export function matches(selector: LabelSelector | undefined, labels: Labels): boolean {
  if (selector === undefined) return true;
  for (const [k, v] of Object.entries(selector.matchLabels ?? {})) if (labels[k] !== v) return false;
  for (const { key, operator, values = [] } of selector.matchExpressions ?? []) {
    const has = key in labels;
    const value = labels[key];
    if (operator === 'In' && !(has && values.includes(value ?? ''))) return false;
    if (operator === 'NotIn' && has && values.includes(value ?? '')) return false;
    if (operator === 'Exists' && !has) return false;
    if (operator === 'DoesNotExist' && has) return false;
  }
  return true;
}

function nsLabels(pod: Pod): Labels {
  return { ...pod.namespaceLabels, 'kubernetes.io/metadata.name': pod.namespace };
}

function ipv4(ip: string): number | undefined {
  const parts = ip.split('.').map(Number);
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) return undefined;
  return parts.reduce((n, p) => n * 256 + p, 0);
}

function inCidr(ip: string, cidr: string): boolean {
  const [base = '', bits = '32'] = cidr.split('/');
  const a = ipv4(ip);
  const b = ipv4(base);
  if (a === undefined || b === undefined) return false;
  const size = 2 ** (32 - Number(bits));
  return Math.floor(a / size) === Math.floor(b / size);
}

function peerMatches(peer: Peer, policyNamespace: string, other: Endpoint): boolean {
  if ('ip' in other) {
    return peer.ipBlock !== undefined && inCidr(other.ip, peer.ipBlock.cidr) && !(peer.ipBlock.except ?? []).some((c) => inCidr(other.ip, c));
  }
  if (peer.ipBlock !== undefined) return false;
  if (peer.namespaceSelector === undefined) return other.namespace === policyNamespace && matches(peer.podSelector, other.labels);
  return matches(peer.namespaceSelector, nsLabels(other)) && matches(peer.podSelector, other.labels);
}

function portMatches(ports: PolicyPort[] | undefined, port: number, protocol: string): boolean {
  if (ports === undefined || ports.length === 0) return true;
  return ports.some((p) => (p.port === undefined || p.port === port) && (p.protocol ?? 'TCP') === protocol);
}

function allowed(policies: NetworkPolicy[], direction: 'Ingress' | 'Egress', subject: Pod, other: Endpoint, port: number, protocol: string): boolean {
  const selecting = policies.filter(
    (p) => p.metadata.namespace === subject.namespace && matches(p.spec.podSelector, subject.labels) && (p.spec.policyTypes ?? ['Ingress']).includes(direction),
  );
  if (selecting.length === 0) return true;
  return selecting.some((p) =>
    ((direction === 'Ingress' ? p.spec.ingress : p.spec.egress) ?? []).some((rule) => {
      const peers = direction === 'Ingress' ? rule.from : rule.to;
      const peerOk = peers === undefined || peers.length === 0 || peers.some((peer) => peerMatches(peer, p.metadata.namespace, other));
      return peerOk && portMatches(rule.ports, port, protocol);
    }),
  );
}

/** Whether the source's own egress policies let `from` open a connection to `to` (the target's ingress not considered). */
export function mayLeave(policies: NetworkPolicy[], from: Pod, to: Endpoint, port: number, protocol = 'TCP'): boolean {
  return allowed(policies, 'Egress', from, to, port, protocol);
}

/** Whether `from` may open a connection to `to` on `port`: egress of the source and ingress of the target. */
export function mayConnect(policies: NetworkPolicy[], from: Endpoint, to: Endpoint, port: number, protocol = 'TCP'): boolean {
  const egressOk = 'ip' in from || allowed(policies, 'Egress', from, to, port, protocol);
  const ingressOk = 'ip' in to || allowed(policies, 'Ingress', to, from, port, protocol);
  return egressOk && ingressOk;
}
