import { IngressV1 } from "@cdktf/provider-kubernetes/lib/ingress-v1";
import { Construct } from "constructs";
import type { IngressSettings } from "../config/schema";
import { literal, literalMap } from "./terraform-text";

export interface ServiceIngressProps {
  readonly namespace: string;
  /** The Ingress's name, and the TLS Secret's `<name>-tls` where the config does not name one. */
  readonly name: string;
  readonly labels: Record<string, string>;
  readonly host: string;
  /** Path prefixes routed to the Service. */
  readonly paths: readonly string[];
  /** The Service and its port (by name or number). */
  readonly service: { readonly name: string; readonly port: string | number };
  readonly className: string;
  readonly tls: IngressSettings["tls"];
}

/**
 * One host of a public service through the ingress controller (networking.k8s.io/v1): prefix
 * paths to the Service's port, TLS from an existing Secret or issued by cert-manager.
 * @see https://kubernetes.io/docs/concepts/services-networking/ingress/
 */
export class ServiceIngress extends Construct {
  readonly resource: IngressV1;

  constructor(scope: Construct, id: string, props: ServiceIngressProps) {
    super(scope, id);
    const { tls } = props;
    const secretName = tls.mode === "secret" ? (tls.secretName ?? `${props.name}-tls`) : `${props.name}-tls`;
    const port = typeof props.service.port === "number" ? { number: props.service.port } : { name: props.service.port };
    this.resource = new IngressV1(this, "resource", {
      metadata: {
        name: props.name,
        namespace: props.namespace,
        labels: props.labels,
        ...(tls.mode === "cert-manager" ? { annotations: literalMap({ "cert-manager.io/cluster-issuer": tls.clusterIssuer }) } : {}),
      },
      waitForLoadBalancer: false,
      spec: {
        ingressClassName: props.className,
        rule: [
          {
            host: literal(props.host),
            http: {
              path: props.paths.map((path) => ({
                path: literal(path),
                pathType: "Prefix",
                backend: { service: { name: props.service.name, port } },
              })),
            },
          },
        ],
        tls: tls.mode === "none" ? undefined : [{ hosts: [literal(props.host)], secretName }],
      },
    });
  }
}
