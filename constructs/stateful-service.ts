import { ConfigMapV1 } from "@cdktf/provider-kubernetes/lib/config-map-v1";
import { CONFIG_CHECKSUM_ANNOTATION, configChecksum } from "./config-checksum";
import { NetworkPolicyV1 } from "@cdktf/provider-kubernetes/lib/network-policy-v1";
import { ServiceAccountV1 } from "@cdktf/provider-kubernetes/lib/service-account-v1";
import { ServiceV1 } from "@cdktf/provider-kubernetes/lib/service-v1";
import { StatefulSetV1 } from "@cdktf/provider-kubernetes/lib/stateful-set-v1";
import { Construct } from "constructs";
import type { ContainerResources } from "./deployment";
import { SIZES } from "../config/sizes";
import { objectLabels, selectorLabels } from "./labels";
import { monitoringPeers } from "./network";
import type { NamespaceRef } from "./platform-namespace";
import { type SecretFile, secretFilesVolume } from "./platform-secrets";
import { markDataBearing } from "./data-bearing";
import { DisruptionBudget } from "./pod-disruption-budget";
import { restrictedContainerSecurityContext, restrictedPodSecurityContext } from "./security";
import { literal, literalList, literalMap } from "./terraform-text";

/** Where a data service's Secret files are mounted, in each container that mounts any. */
export const DATA_SECRETS_DIR = "/run/secrets/platform";

/** An environment variable: a plain value or a Secret key. */
export interface EnvVar {
  readonly name: string;
  readonly value?: string;
  readonly valueFrom?: { readonly secretKeyRef: { readonly name: string; readonly key: string } };
}

export interface MetricsExporter {
  readonly image: string;
  readonly port: number;
  readonly env: readonly EnvVar[];
  readonly runAsUser: number;
  /** HTTP path answering 200 while the exporter runs. */
  readonly healthPath: string;
  /**
   * Secret keys the exporter reads, mounted read-only at /run/secrets/platform/<file> in the
   * exporter's container only.
   * @default none
   */
  readonly secretFiles?: readonly SecretFile[];
  /**
   * Memory directories the init container wrote, mounted read-only in the exporter's container.
   * @default none
   */
  readonly reads?: readonly MemoryDir[];
}

/**
 * A directory in memory (an emptyDir of medium Memory): the init container writes it, the
 * containers that list it read it. What it holds never touches a disk.
 */
export interface MemoryDir {
  /** Volume name. */
  readonly volume: string;
  /** Mount path, the same in every container that mounts it. */
  readonly path: string;
}

/** A container that runs to completion before the server and the exporter start. */
export interface InitStep {
  readonly name: string;
  readonly command: readonly string[];
  /** Secret keys it reads, mounted read-only at /run/secrets/platform/<file> in this container only. */
  readonly secretFiles: readonly SecretFile[];
  /** Memory directories it writes. */
  readonly writes: readonly MemoryDir[];
  readonly resources: ContainerResources;
}

export interface StatefulServiceProps {
  readonly namespace: NamespaceRef;
  /** Kubernetes name of every object: `redis`, `postgres`. */
  readonly name: string;
  /** `app.kubernetes.io/component`: `cache`, `database`. */
  readonly component: string;
  readonly image: string;
  /** Overrides the image's entrypoint. */
  readonly command?: readonly string[];
  readonly args?: readonly string[];
  readonly env: readonly EnvVar[];
  readonly port: { readonly name: string; readonly number: number };
  /** Command that succeeds when the server answers; used for readiness, liveness and startup. */
  readonly probeCommand: readonly string[];
  readonly resources: ContainerResources;
  readonly runAsUser: number;
  /** Files rendered from config, mounted read-only, by mount directory then file name. */
  readonly configFiles: Readonly<Record<string, Readonly<Record<string, string>>>>;
  /** Where the server keeps data; a volume claim when `storage` is set, else an emptyDir. */
  readonly dataPath: string;
  readonly storage?: { readonly size: string; readonly storageClass?: string };
  /** Further writable directories (sockets, scratch), as emptyDirs. */
  readonly scratchPaths?: readonly string[];
  readonly exporter: MetricsExporter;
  /**
   * Secret keys the server reads, mounted read-only at /run/secrets/platform/<file> in the server's
   * container only (each container mounts exactly the keys it uses: stacks/secret-mounts.ts).
   * @default none
   */
  readonly secretFiles?: readonly SecretFile[];
  /**
   * Runs before the server and the exporter, in the server's image and user.
   * @default none
   */
  readonly init?: InitStep;
  /**
   * Memory directories the init container wrote, mounted read-only in the server's container.
   * @default none
   */
  readonly serverReads?: readonly MemoryDir[];
  /** Pod labels of the clients admitted to the server's port. */
  readonly clients: readonly Record<string, string>[];
  readonly monitoringNamespace: string;
}

/**
 * A single-instance stateful server from an official image, with everything it needs: config
 * files from a ConfigMap, a volume claim, a Prometheus exporter sidecar, a Service, a PDB and a
 * NetworkPolicy that admits only its clients (and the monitoring namespace to the exporter).
 * Every container runs under the restricted Pod Security profile.
 */
export class StatefulService extends Construct {
  readonly statefulSet: StatefulSetV1;
  readonly service: ServiceV1;

  constructor(scope: Construct, id: string, props: StatefulServiceProps) {
    super(scope, id);
    const { name } = props;
    const namespace = props.namespace.name;
    const selector = selectorLabels(name);
    const labels = objectLabels(name, props.component);

    const account = new ServiceAccountV1(this, "service-account", {
      metadata: { name, namespace, labels },
      automountServiceAccountToken: false,
    });

    const configMapData: Record<string, Record<string, string>> = {};
    const mounts = Object.entries(props.configFiles).map(([path, files], i) => {
      configMapData[`${name}-config-${i}`] = files;
      const configMap = new ConfigMapV1(this, `config-${i}`, {
        metadata: { name: `${name}-config-${i}`, namespace, labels },
        data: literalMap(files),
      });
      return { volume: `config-${i}`, path, configMap: configMap.metadata.name };
    });
    const scratch = (props.scratchPaths ?? []).map((path, i) => ({ volume: `scratch-${i}`, path }));
    // One projected volume per container that reads Secret keys, holding only that container's
    // keys: a volume mounted in one container is invisible to the others.
    const secretVolumes = [
      { volume: "secrets", files: props.secretFiles ?? [] },
      { volume: "metrics-secrets", files: props.exporter.secretFiles ?? [] },
      { volume: "init-secrets", files: props.init?.secretFiles ?? [] },
    ].filter((v) => v.files.length > 0);
    const secretMount = (volume: string) =>
      secretVolumes.some((v) => v.volume === volume) ? [{ name: volume, mountPath: DATA_SECRETS_DIR, readOnly: true }] : [];
    const memoryDirs = [...(props.init?.writes ?? [])];
    for (const dir of [...(props.serverReads ?? []), ...(props.exporter.reads ?? [])]) {
      if (!memoryDirs.some((d) => d.volume === dir.volume && d.path === dir.path)) {
        throw new Error(`${name}: memory directory ${dir.volume} (${dir.path}) is read but no init container writes it`);
      }
    }
    const readOnly = (dirs: readonly MemoryDir[] | undefined) => (dirs ?? []).map((d) => ({ name: d.volume, mountPath: d.path, readOnly: true }));

    const execProbe = (period: number, failures: number) => ({
      exec: { command: literalList(props.probeCommand) },
      periodSeconds: period,
      timeoutSeconds: 5,
      failureThreshold: failures,
    });
    const httpProbe = { httpGet: { path: props.exporter.healthPath, port: "metrics" }, periodSeconds: 10, timeoutSeconds: 3, failureThreshold: 3 };

    this.statefulSet = new StatefulSetV1(this, "stateful-set", {
      metadata: { name, namespace, labels },
      waitForRollout: true,
      spec: {
        replicas: "1",
        serviceName: name,
        // Claims outlive their StatefulSet: deleting or scaling it down never deletes the data
        // (Kubernetes' default too, stated so that a changed default cannot reach us).
        persistentVolumeClaimRetentionPolicy: [{ whenDeleted: "Retain", whenScaled: "Retain" }],
        selector: { matchLabels: selector },
        updateStrategy: [{ type: "RollingUpdate" }],
        template: {
          // A changed config file restarts the server (one pod, so a short outage at apply) rather
          // than waiting unseen for its next restart: what the plan shows is what runs.
          metadata: { labels, annotations: { [CONFIG_CHECKSUM_ANNOTATION]: configChecksum(configMapData) } },
          spec: {
            serviceAccountName: account.metadata.name,
            automountServiceAccountToken: false,
            enableServiceLinks: false,
            terminationGracePeriodSeconds: 60,
            securityContext: restrictedPodSecurityContext({ user: props.runAsUser }),
            initContainer: props.init
              ? [
                  {
                    name: props.init.name,
                    image: props.image,
                    imagePullPolicy: "IfNotPresent",
                    command: literalList(props.init.command),
                    resources: { requests: { ...props.init.resources.requests }, limits: { ...props.init.resources.limits } },
                    securityContext: restrictedContainerSecurityContext({ user: props.runAsUser }),
                    volumeMount: [...props.init.writes.map((d) => ({ name: d.volume, mountPath: d.path })), ...secretMount("init-secrets")],
                  },
                ]
              : undefined,
            container: [
              {
                name: props.name,
                image: props.image,
                imagePullPolicy: "IfNotPresent",
                command: props.command ? literalList(props.command) : undefined,
                args: props.args ? literalList(props.args) : undefined,
                env: props.env.map(toProviderEnv),
                port: [{ name: props.port.name, containerPort: props.port.number, protocol: "TCP" }],
                resources: { requests: { ...props.resources.requests }, limits: { ...props.resources.limits } },
                securityContext: restrictedContainerSecurityContext({ user: props.runAsUser }),
                startupProbe: execProbe(5, 60),
                livenessProbe: { ...execProbe(15, 4), initialDelaySeconds: 0 },
                readinessProbe: execProbe(5, 3),
                volumeMount: [
                  { name: "data", mountPath: props.dataPath },
                  ...mounts.map((m) => ({ name: m.volume, mountPath: m.path, readOnly: true })),
                  ...scratch.map((s) => ({ name: s.volume, mountPath: s.path })),
                  ...readOnly(props.serverReads),
                  ...secretMount("secrets"),
                ],
              },
              {
                name: "metrics",
                image: props.exporter.image,
                imagePullPolicy: "IfNotPresent",
                env: props.exporter.env.map(toProviderEnv),
                port: [{ name: "metrics", containerPort: props.exporter.port, protocol: "TCP" }],
                resources: { requests: { ...SIZES.exporter.requests }, limits: { ...SIZES.exporter.limits } },
                securityContext: restrictedContainerSecurityContext({ user: props.exporter.runAsUser }),
                livenessProbe: httpProbe,
                readinessProbe: { ...httpProbe, periodSeconds: 5 },
                volumeMount: nonEmpty([...readOnly(props.exporter.reads), ...secretMount("metrics-secrets")]),
              },
            ],
            volume: [
              ...(props.storage ? [] : [{ name: "data", emptyDir: {} }]),
              ...mounts.map((m) => ({ name: m.volume, configMap: { name: m.configMap, defaultMode: "0444" } })),
              ...scratch.map((s) => ({ name: s.volume, emptyDir: { sizeLimit: "64Mi" } })),
              ...memoryDirs.map((d) => ({ name: d.volume, emptyDir: { medium: "Memory", sizeLimit: "1Mi" } })),
              ...secretVolumes.map((v) => secretFilesVolume(v.volume, v.files)),
            ],
          },
        },
        volumeClaimTemplate: props.storage
          ? [
              {
                metadata: { name: "data", labels },
                spec: {
                  accessModes: ["ReadWriteOnce"],
                  storageClassName: props.storage.storageClass,
                  resources: { requests: { storage: props.storage.size } },
                },
              },
            ]
          : undefined,
      },
    });

    if (props.storage) markDataBearing(this.statefulSet, `StatefulSet ${name}: its volume claim data-${name}-0 holds the data`);

    this.service = new ServiceV1(this, "service", {
      metadata: { name, namespace, labels },
      spec: {
        type: "ClusterIP",
        selector,
        port: [
          { name: props.port.name, port: props.port.number, targetPort: props.port.name, protocol: "TCP" },
          { name: "metrics", port: props.exporter.port, targetPort: "metrics", protocol: "TCP" },
        ],
      },
    });

    // One instance: a budget of one lets drains proceed (the server restarts elsewhere).
    new DisruptionBudget(this, "disruption-budget", { namespace, name, labels, selector, guaranteedReplicas: 1, maxUnavailable: 1 });

    new NetworkPolicyV1(this, "network-policy", {
      metadata: { name, namespace, labels },
      spec: {
        podSelector: { matchLabels: selector },
        policyTypes: ["Ingress", "Egress"],
        ingress: [
          ...(props.clients.length > 0
            ? [{ from: props.clients.map((matchLabels) => ({ podSelector: { matchLabels } })), ports: [{ port: props.port.name, protocol: "TCP" }] }]
            : []),
          { from: monitoringPeers(props.monitoringNamespace), ports: [{ port: "metrics", protocol: "TCP" }] },
        ],
        egress: [],
      },
    });
  }
}

const nonEmpty = <T>(list: T[]): T[] | undefined => (list.length > 0 ? list : undefined);

function toProviderEnv(e: EnvVar) {
  return e.valueFrom ? { name: e.name, valueFrom: { secretKeyRef: { ...e.valueFrom.secretKeyRef } } } : { name: e.name, value: e.value === undefined ? undefined : literal(e.value) };
}
