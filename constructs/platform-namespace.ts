import { NamespaceV1 } from "@cdktf/provider-kubernetes/lib/namespace-v1";
import { NetworkPolicyV1 } from "@cdktf/provider-kubernetes/lib/network-policy-v1";
import { Construct } from "constructs";
import { PART_OF } from "./labels";
import { type ClusterDns, dnsEgressSpec } from "./network";

export interface PlatformNamespaceProps {
  readonly name: string;
  /**
   * Where pods resolve names: the cluster DNS pods (namespace and labels) and, where the cluster
   * runs NodeLocal DNSCache, its link-local address.
   * @default kube-system pods labelled k8s-app=kube-dns
   */
  readonly dns?: ClusterDns;
  /**
   * Pod Security Standards level enforced, audited and warned about.
   * @default "restricted"
   */
  readonly podSecurityLevel?: "restricted" | "baseline";
}

/**
 * The platform's namespace: Pod Security Standards enforced at `restricted`, every pod's traffic
 * denied unless a policy allows it, and DNS allowed for all pods (every policy above it would
 * otherwise have to repeat it).
 * @see https://kubernetes.io/docs/concepts/security/pod-security-admission/
 * @see https://kubernetes.io/docs/concepts/services-networking/network-policies/#default-deny-all-ingress-and-all-egress-traffic
 */
/** A namespace as constructs inside it need it. */
export interface NamespaceRef {
  /** Reference to the namespace resource: using it makes a resource depend on the namespace. */
  readonly name: string;
  /** Plain text, for values hashed or shown to pods (never a Terraform reference). */
  readonly literalName: string;
}

export class PlatformNamespace extends Construct implements NamespaceRef {
  readonly resource: NamespaceV1;
  /** The namespace's name as a reference, so resources in it depend on it. */
  readonly name: string;
  /** The same name as plain text, for values that must not carry Terraform references. */
  readonly literalName: string;

  constructor(scope: Construct, id: string, props: PlatformNamespaceProps) {
    super(scope, id);
    const level = props.podSecurityLevel ?? "restricted";
    const dns = props.dns ?? { namespace: "kube-system", podLabels: { "k8s-app": "kube-dns" } };
    this.resource = new NamespaceV1(this, "namespace", {
      metadata: {
        name: props.name,
        labels: {
          "app.kubernetes.io/part-of": PART_OF,
          "app.kubernetes.io/managed-by": "cdktf",
          "pod-security.kubernetes.io/enforce": level,
          "pod-security.kubernetes.io/enforce-version": "latest",
          "pod-security.kubernetes.io/audit": level,
          "pod-security.kubernetes.io/warn": level,
        },
      },
    });
    this.name = this.resource.metadata.name;
    this.literalName = props.name;
    const labels = { "app.kubernetes.io/part-of": PART_OF, "app.kubernetes.io/managed-by": "cdktf" };

    new NetworkPolicyV1(this, "default-deny", {
      metadata: { name: "default-deny-all", namespace: this.name, labels },
      spec: { podSelector: {}, policyTypes: ["Ingress", "Egress"] },
    });

    new NetworkPolicyV1(this, "allow-dns", {
      metadata: { name: "allow-dns-egress", namespace: this.name, labels },
      spec: dnsEgressSpec(dns),
    });
  }
}
