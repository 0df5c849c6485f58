/**
 * Network peers the platform's policies name more than once.
 */
import type { TerraformResource } from "cdktf";
import { namespaceSelector } from "./labels";
import { suppress } from "./suppressions";

/** Pod labels the Prometheus Operator puts on every Prometheus pod. */
export const PROMETHEUS_POD_LABELS = { "app.kubernetes.io/name": "prometheus" } as const;

/**
 * Who may scrape a metrics port: Prometheus' pods in the monitoring namespace, nothing else there
 * (Grafana, Alertmanager and the operator have no business with the platform's pods).
 */
export function monitoringPeers(monitoringNamespace: string) {
  return [{ namespaceSelector: namespaceSelector(monitoringNamespace), podSelector: { matchLabels: { ...PROMETHEUS_POD_LABELS } } }];
}

/**
 * Private, shared and link-local ranges: internet egress must reach neither the cluster (nodes,
 * pods, the API server) nor the cloud metadata address (169.254.169.254).
 */
export const NON_INTERNET_CIDRS = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16", "100.64.0.0/10"];

/** The internet, as an ipBlock peer: every IPv4 address but {@link NON_INTERNET_CIDRS}. */
export function internetPeer() {
  return { ipBlock: { cidr: "0.0.0.0/0", except: [...NON_INTERNET_CIDRS] } };
}

/** The policy-gate rule that refuses a NetworkPolicy opening every address (stacks/policy.ts). */
export const OPEN_TO_ANY_ADDRESS_RULE = "KS-NETWORK-POLICY-ANY-ADDRESS";

/**
 * Declares why a NetworkPolicy reaches the internet: the one way past the gate's
 * {@link OPEN_TO_ANY_ADDRESS_RULE}, listed in the synth summary with its reason.
 */
export function declareInternetEgress(policy: TerraformResource, reason: string): void {
  suppress(policy, OPEN_TO_ANY_ADDRESS_RULE, reason);
}

/** Where a namespace's pods resolve names: the cluster DNS pods, and NodeLocal DNSCache where it runs. */
export interface ClusterDns {
  readonly namespace: string;
  readonly podLabels: Record<string, string>;
  readonly nodeLocalAddress?: string;
}

/** The spec of a namespace's `allow-dns-egress` policy: every pod to the cluster DNS on 53, UDP and TCP. */
export function dnsEgressSpec(dns: ClusterDns) {
  return {
    podSelector: {},
    policyTypes: ["Egress"],
    egress: [
      {
        to: [
          { namespaceSelector: namespaceSelector(dns.namespace), podSelector: { matchLabels: { ...dns.podLabels } } },
          ...(dns.nodeLocalAddress ? [{ ipBlock: { cidr: `${dns.nodeLocalAddress}/32` } }] : []),
        ],
        ports: [
          { port: "53", protocol: "UDP" },
          { port: "53", protocol: "TCP" },
        ],
      },
    ],
  };
}
