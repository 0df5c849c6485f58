import { ConfigMapV1 } from "@cdktf/provider-kubernetes/lib/config-map-v1";
import {
  NetworkPolicyV1,
  type NetworkPolicyV1SpecEgress,
  type NetworkPolicyV1SpecIngress,
} from "@cdktf/provider-kubernetes/lib/network-policy-v1";
import { ServiceAccountV1 } from "@cdktf/provider-kubernetes/lib/service-account-v1";
import { ServiceV1 } from "@cdktf/provider-kubernetes/lib/service-v1";
import { type ITerraformDependable, TerraformVariable, Token } from "cdktf";
import { Construct } from "constructs";
import type { ServiceConfig } from "../config/load";
import { CONFIG_CHECKSUM_ANNOTATION, configChecksum } from "./config-checksum";
import { ServiceDeployment } from "./deployment";
import { ServiceAutoscaler } from "./horizontal-pod-autoscaler";
import { namespaceSelector, objectLabels, selectorLabels } from "./labels";
import type { NamespaceRef } from "./platform-namespace";
import { DisruptionBudget } from "./pod-disruption-budget";
import type { SecretFile } from "./platform-secrets";
import { versionLabel } from "../config/names";
import { declareInternetEgress, internetPeer, monitoringPeers } from "./network";
import { IMAGES } from "../config/versions";
import { renderStandInConf, STAND_IN_COMMAND, STAND_IN_DIR } from "./stand-in";
import { suppress, suppressSideLoadedPullPolicy } from "./suppressions";
import { literalMap } from "./terraform-text";

/** Another service this one talks to. */
export interface Peer {
  readonly name: string;
  readonly port: number;
}

export interface MicroserviceProps {
  readonly namespace: NamespaceRef;
  /** local, staging or production; delivered to the pods as PLATFORM_ENVIRONMENT. */
  readonly environment: string;
  readonly service: ServiceConfig;
  /** Emit an HPA (and let it own the replica count) instead of a fixed `replicas`. */
  readonly autoscaling: boolean;
  readonly imagePullPolicy: "Always" | "IfNotPresent";
  /**
   * Services this one calls: egress is opened to exactly these.
   * @default none
   */
  readonly callees?: readonly Peer[];
  /**
   * Services that call this one: ingress is opened from exactly these.
   * @default none
   */
  readonly callers?: readonly string[];
  /** Required when the service is public: the ingress controller's namespace and pod labels. */
  readonly ingressController?: { readonly namespace: string; readonly podLabels: Record<string, string> };
  /** Namespace whose Prometheus scrapes the service's `http` port. */
  readonly monitoringNamespace: string;
  /**
   * Settings the platform adds to the service's environment (data-tier addresses, logging).
   * @default none
   */
  readonly platformSettings?: Record<string, string>;
  /**
   * Secret keys the service reads as files under /etc/platform-secrets (database and Redis
   * passwords); the settings name the paths.
   * @default none
   */
  readonly secretFiles?: readonly SecretFile[];
  /**
   * Files mounted read-only at /etc/platform (rate limits, cache), by file name.
   * @default none
   */
  readonly files?: Record<string, string>;
  /**
   * Data services this one reaches: egress is opened to their pods on their port.
   * @default none
   */
  readonly dataServices?: readonly { readonly labels: Record<string, string>; readonly port: number }[];
  readonly dependsOn?: ITerraformDependable[];
  /**
   * Run the stand-in image instead of the service's own (local clusters without the images).
   * @default false
   */
  readonly standIn?: boolean;
}

export type Track = "blue" | "green";
/** Pod label that tells the blue and green Deployments of a service apart. */
export const TRACK_LABEL = "agent-platform/track";

/** The Terraform variable that holds a blue-green service's active track. */
export const activeTrackVariableName = (service: string): string => `active_track_${service.replace(/-/g, "_")}`;

/** The workload of one track: its Deployment, its PDB and, with autoscaling, its HPA. */
export interface ServiceTrack {
  /** undefined for a rolling service. */
  readonly track?: Track;
  readonly deployment: ServiceDeployment;
  readonly autoscaler?: ServiceAutoscaler;
  readonly disruptionBudget: DisruptionBudget;
}

interface TrackProps {
  readonly namespace: string;
  readonly labels: Record<string, string>;
  readonly serviceAccountName: string;
  readonly image: string;
  readonly version: string;
  /** Whether the image is pinned by digest. */
  readonly digest: boolean;
  readonly podAnnotations: Record<string, string>;
  readonly configMapName: string;
  readonly filesConfigMapName?: string;
  readonly standInConfigMapName?: string;
}

/** `agent-orchestrator` → `AGENT_ORCHESTRATOR`. */
export const envKey = (name: string): string => name.toUpperCase().replace(/-/g, "_");

/**
 * One platform service and everything it needs to run: ServiceAccount (no token), ConfigMap of
 * settings, Deployment, ClusterIP Service, PodDisruptionBudget, NetworkPolicy and, when
 * autoscaling is on, an HPA that owns the replica count.
 */
export class Microservice extends Construct {
  readonly name: string;
  /** One track for a rolling service; blue and green for a blue-green one. */
  readonly tracks: readonly ServiceTrack[];
  readonly service: ServiceV1;
  readonly configMap: ConfigMapV1;
  readonly networkPolicy: NetworkPolicyV1;
  /** Blue-green only: the Terraform variable naming the track the Service routes to. */
  readonly activeTrackVariable?: TerraformVariable;
  /** The settings delivered to the container's environment. */
  readonly settings: Readonly<Record<string, string>>;

  constructor(scope: Construct, id: string, props: MicroserviceProps) {
    super(scope, id);
    const { service } = props;
    const namespace = props.namespace.name;
    const name = service.name;
    this.name = name;
    if (service.exposure === "public" && !props.ingressController) {
      throw new Error(`${name}: a public service needs 'ingressController' to admit traffic from`);
    }
    const selector = selectorLabels(name);
    const labels = objectLabels(name, "service");

    const account = new ServiceAccountV1(this, "service-account", {
      metadata: { name, namespace, labels },
      automountServiceAccountToken: false,
    });

    this.settings = buildSettings(props);
    this.configMap = new ConfigMapV1(this, "settings", {
      metadata: { name: `${name}-settings`, namespace, labels },
      data: literalMap(this.settings),
    });
    const files = sortKeys(props.files ?? {});
    const filesMap =
      Object.keys(files).length > 0
        ? new ConfigMapV1(this, "files", { metadata: { name: `${name}-files`, namespace, labels }, data: literalMap(files) })
        : undefined;

    const standInMap = props.standIn
      ? new ConfigMapV1(this, "stand-in", { metadata: { name: `${name}-stand-in`, namespace, labels }, data: literalMap({ "nginx.conf": renderStandInConf(service) }) })
      : undefined;
    const podConfigChecksum = configChecksum({
      [`${name}-settings`]: this.settings,
      ...(filesMap ? { [`${name}-files`]: files } : {}),
      ...(standInMap ? { [`${name}-stand-in`]: { "nginx.conf": renderStandInConf(service) } } : {}),
    });
    const trackProps = (image: ServiceConfig["image"]): TrackProps => ({
      namespace,
      labels,
      serviceAccountName: account.metadata.name,
      image: props.standIn ? IMAGES.standIn : imageReference({ imageRepository: service.imageRepository, image }),
      version: versionLabel(image),
      digest: image.digest !== undefined,
      podAnnotations: { [CONFIG_CHECKSUM_ANNOTATION]: podConfigChecksum },
      configMapName: this.configMap.metadata.name,
      filesConfigMapName: filesMap?.metadata.name,
      standInConfigMapName: standInMap?.metadata.name,
    });

    const release = service.release;
    let serviceSelector: Record<string, string> = selector;
    if (release.strategy === "blue-green") {
      // The active track is a variable so that deploy.sh can hold the Service on the live track
      // while the other one rolls, then switch; its default is the config's `active`.
      this.activeTrackVariable = new TerraformVariable(this, "active-track", {
        type: "string",
        default: release.active,
        description: `Track the ${name} Service routes to (blue or green); config/<env>.ts sets the default`,
        validation: [{ condition: `\${contains(["blue", "green"], var.${activeTrackVariableName(name)})}`, errorMessage: "The active track must be blue or green." }],
      });
      this.activeTrackVariable.overrideLogicalId(activeTrackVariableName(name));
      const imageOf = (track: Track) => (track === release.active ? service.image : release.previous);
      this.tracks = (["blue", "green"] as const).map((track) => this.buildTrack(track, props, trackProps(imageOf(track))));
      serviceSelector = { ...serviceSelector, [TRACK_LABEL]: this.activeTrackVariable.stringValue };
    } else {
      this.tracks = [this.buildTrack(undefined, props, trackProps(service.image))];
    }

    this.service = new ServiceV1(this, "service", {
      metadata: { name, namespace, labels },
      spec: {
        type: "ClusterIP",
        selector: serviceSelector,
        port: [
          { name: "http", port: 80, targetPort: "http", protocol: "TCP" },
          { name: "metrics", port: service.metricsPort, targetPort: "metrics", protocol: "TCP" },
        ],
      },
    });

    this.networkPolicy = new NetworkPolicyV1(this, "network-policy", {
      metadata: { name, namespace, labels },
      spec: networkPolicySpec(props, selector),
    });
    if (service.internetEgress) {
      declareInternetEgress(
        this.networkPolicy,
        `the catalogue declares internetEgress for ${name} (third-party APIs): 443 only, private, shared and link-local ranges excepted`,
      );
    }
  }

  /**
   * Deployment, PDB and (with autoscaling) HPA of one track. A rolling service has a single,
   * unnamed track whose construct ids are the plain `deployment`, `autoscaler` and
   * `disruption-budget`; blue-green tracks nest them under `blue` and `green`.
   */
  private buildTrack(track: Track | undefined, props: MicroserviceProps, t: TrackProps): ServiceTrack {
    const { service } = props;
    const scope: Construct = track ? new Construct(this, track) : this;
    const name = track ? `${service.name}-${track}` : service.name;
    const selector = { ...selectorLabels(service.name), ...(track ? { [TRACK_LABEL]: track } : {}) };
    const a = service.autoscaling;
    const maxPods = props.autoscaling ? a.maxReplicas : service.replicas;
    const deployment = new ServiceDeployment(scope, "deployment", {
      namespace: t.namespace,
      name,
      labels: t.labels,
      selector,
      podLabels: { ...objectLabels(service.name, "service", t.version), ...(track ? { [TRACK_LABEL]: track } : {}) },
      podAnnotations: t.podAnnotations,
      replicas: props.autoscaling ? undefined : service.replicas,
      serviceAccountName: t.serviceAccountName,
      image: t.image,
      command: t.standInConfigMapName ? STAND_IN_COMMAND : undefined,
      configMapMounts: t.standInConfigMapName ? [{ name: "stand-in", configMapName: t.standInConfigMapName, mountPath: STAND_IN_DIR }] : undefined,
      imagePullPolicy: props.imagePullPolicy,
      port: service.port,
      metricsPort: service.metricsPort,
      probes: service.probes,
      resources: service.resources,
      configMapName: t.configMapName,
      secretFiles: props.secretFiles,
      filesConfigMapName: t.filesConfigMapName,
      spreadAcrossNodes: maxPods > 1,
      dependsOn: props.dependsOn,
    });
    if (!t.digest) {
      suppress(
        deployment.resource,
        "CKV_K8S_43",
        "the image is pinned by an immutable release tag in config/<env>.ts; set image.digest there to pin it by content",
      );
    }
    suppressSideLoadedPullPolicy(deployment.resource, props.imagePullPolicy);
    const autoscaler = props.autoscaling
      ? new ServiceAutoscaler(scope, "autoscaler", {
          namespace: t.namespace,
          name,
          labels: t.labels,
          deploymentName: deployment.resource.metadata.name,
          minReplicas: a.minReplicas,
          maxReplicas: a.maxReplicas,
          targetCpuUtilizationPercent: a.targetCpuUtilizationPercent,
          targetMemoryUtilizationPercent: a.targetMemoryUtilizationPercent,
          customMetrics: a.customMetrics,
          scaleUp: a.behavior.scaleUp,
          scaleDown: a.behavior.scaleDown,
        })
      : undefined;
    const disruptionBudget = new DisruptionBudget(scope, "disruption-budget", {
      namespace: t.namespace,
      name,
      labels: t.labels,
      selector,
      guaranteedReplicas: props.autoscaling ? a.minReplicas : service.replicas,
      maxUnavailable: service.disruption.maxUnavailable,
      minAvailable: service.disruption.minAvailable,
    });
    return { track, deployment, autoscaler, disruptionBudget };
  }
}


/** `repo:tag`, `repo@digest`, or `repo:tag@digest` (the tag then only informs humans). */
export function imageReference(service: Pick<ServiceConfig, "imageRepository" | "image">): string {
  const { tag, digest } = service.image;
  return `${service.imageRepository}${tag ? `:${tag}` : ""}${digest ? `@${digest}` : ""}`;
}

function buildSettings(props: MicroserviceProps): Record<string, string> {
  const { service } = props;
  const platform: Record<string, string> = {
    PORT: String(service.port),
    PLATFORM_SERVICE_NAME: service.name,
    PLATFORM_ENVIRONMENT: props.environment,
    PLATFORM_NAMESPACE: props.namespace.literalName,
    ...props.platformSettings,
  };
  for (const callee of props.callees ?? []) {
    platform[`PLATFORM_${envKey(callee.name)}_URL`] = `http://${callee.name}.${props.namespace.literalName}.svc.cluster.local`;
  }
  for (const key of Object.keys(service.env)) {
    if (key in platform) throw new Error(`${service.name}: env.${key} is set by the platform and cannot be overridden`);
  }
  for (const [key, value] of Object.entries(platform)) {
    // Settings are hashed into the pod template; a reference would hash its placeholder, not its value.
    if (Token.isUnresolved(value)) throw new Error(`${service.name}: setting ${key} must be plain text, not a Terraform reference`);
  }
  return sortKeys({ ...service.env, ...platform });
}

function sortKeys(record: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(record).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

function networkPolicySpec(props: MicroserviceProps, selector: Record<string, string>) {
  const port = (p: number | string) => [{ port: String(p), protocol: "TCP" }];
  const ingress: NetworkPolicyV1SpecIngress[] = [];
  if (props.service.exposure === "public" && props.ingressController) {
    ingress.push({
      from: [
        {
          namespaceSelector: namespaceSelector(props.ingressController.namespace),
          podSelector: { matchLabels: props.ingressController.podLabels },
        },
      ],
      ports: port("http"),
    });
  }
  const callers = props.callers ?? [];
  if (callers.length > 0) {
    ingress.push({
      from: callers.map((caller) => ({ podSelector: { matchLabels: selectorLabels(caller) } })),
      ports: port("http"),
    });
  }
  ingress.push({ from: monitoringPeers(props.monitoringNamespace), ports: port("metrics") });

  const egress: NetworkPolicyV1SpecEgress[] = (props.callees ?? []).map((callee) => ({
    to: [{ podSelector: { matchLabels: selectorLabels(callee.name) } }],
    ports: port(callee.port),
  }));
  for (const data of props.dataServices ?? []) {
    egress.push({ to: [{ podSelector: { matchLabels: data.labels } }], ports: port(data.port) });
  }
  if (props.service.internetEgress) {
    egress.push({ to: [internetPeer()], ports: port(443) });
  }
  return {
    podSelector: { matchLabels: selector },
    policyTypes: ["Ingress", "Egress"],
    ingress,
    egress,
  };
}
