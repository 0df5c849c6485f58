/**
 * The metrics APIs the HPAs read, run for real on the host and registered with the API server's
 * aggregation layer:
 *
 * - metrics.k8s.io: metrics-server, scraping kwok's kubelet resource-metrics endpoints.
 * - custom.metrics.k8s.io: prometheus-adapter with the rules this program renders (read from the
 *   stack's synthesized helm_release values), reading a Prometheus (Debian's) that scrapes every
 *   fake pod with the labels the stack's ServiceMonitors would give it. Debian builds Prometheus
 *   without Kubernetes service discovery, so the harness serves the targets and `__meta_kubernetes_*`
 *   labels of the endpointslice and pod roles over http_sd (from the API server's EndpointSlices,
 *   Services and Pods, as Prometheus's own discovery would); the relabeling the operator generates
 *   runs in Prometheus.
 *
 * The APIServices are this harness's: where a chart created them (HELM_CHARTS_DIR) they point at
 * chart pods kwok pretends to run, so they are repointed to the host processes, and the run says so.
 * Each APIService routes through an ExternalName Service naming 127.0.0.1 (the API server does not
 * proxy to loopback endpoints, but it does resolve ExternalName Services when routing by Service).
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { basename, join } from "node:path";
import { parse, stringify } from "yaml";
import { type ControlPlane, freePort, type HostProcess, sleep } from "./control-plane";
import { unescapeLiteral } from "../../constructs/terraform-text-plain";

type Json = Record<string, any>;


/** Where the host's metrics APIs are registered from. */
const SERVICE_NAMESPACE = "kube-system";

/** Harness timing, never the product's: Prometheus scrapes every 5 s (the ServiceMonitors say 30 s). */
export const SCRAPE_INTERVAL_SECONDS = 5;
/** metrics-server's shortest resolution. */
export const METRIC_RESOLUTION_SECONDS = 10;

/** A Helm release's values from the synthesized JSON, with Terraform's template escapes undone. */
export function releaseValues(stack: Json, chart: string): Json | undefined {
  const release = Object.values((stack.resource?.helm_release ?? {}) as Record<string, Json>).find((r) => basename(String(r.chart)) === chart);
  if (!release) return undefined;
  const text = (release.values as string[]).map(unescapeLiteral).join("\n---\n");
  return parse(text) as Json;
}


/** What an APIService pointed at before the harness took it over. */
export interface ApiServiceOwnership {
  readonly name: string;
  /** "created", or "repointed from <namespace>/<service>". */
  readonly action: string;
  /** The ExternalName Service the harness made for it. */
  readonly serviceName: string;
  /** The spec it had before, when the harness repointed it. */
  readonly previousSpec?: Json;
}

/**
 * Hands an APIService back: deleted when the harness created it, its old spec restored when it
 * repointed one. An APIService whose server is gone makes the namespace controller fail discovery,
 * and then no namespace can be deleted: the stack's destroy would hang.
 */
export async function releaseApiService(cp: ControlPlane, o: ApiServiceOwnership): Promise<void> {
  const path = `/apis/apiregistration.k8s.io/v1/apiservices/${o.name}`;
  if (o.previousSpec) {
    const current = await cp.api("GET", path);
    if (current.status === 200) await cp.api("PUT", path, { ...current.body, spec: o.previousSpec });
  } else {
    await cp.api("DELETE", path);
  }
  await cp.api("DELETE", `/api/v1/namespaces/${SERVICE_NAMESPACE}/services/${o.serviceName}`);
}

/**
 * Makes the APIService `v1beta1.<group>` route to a host process on `port`: an ExternalName
 * Service in kube-system naming 127.0.0.1, and the APIService created or repointed to it.
 */
export async function ownApiService(cp: ControlPlane, group: string, serviceName: string, port: number): Promise<ApiServiceOwnership> {
  const service = {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name: serviceName, namespace: SERVICE_NAMESPACE, labels: { "app.kubernetes.io/managed-by": "agent-platform-e2e" } },
    spec: { type: "ExternalName", externalName: "127.0.0.1", ports: [{ name: "https", port, protocol: "TCP" }] },
  };
  const existingService = await cp.api("GET", `/api/v1/namespaces/${SERVICE_NAMESPACE}/services/${serviceName}`);
  if (existingService.status === 200) {
    const put = await cp.api("PUT", `/api/v1/namespaces/${SERVICE_NAMESPACE}/services/${serviceName}`, { ...service, metadata: { ...service.metadata, resourceVersion: existingService.body.metadata.resourceVersion } });
    if (put.status !== 200) throw new Error(`PUT Service ${serviceName}: ${put.status} ${JSON.stringify(put.body).slice(0, 300)}`);
  } else {
    await cp.apply(`/api/v1/namespaces/${SERVICE_NAMESPACE}/services`, service);
  }
  const name = `v1beta1.${group}`;
  const spec = {
    group,
    version: "v1beta1",
    service: { name: serviceName, namespace: SERVICE_NAMESPACE, port },
    caBundle: readFileSync(cp.pki("ca.crt")).toString("base64"),
    groupPriorityMinimum: 100,
    versionPriority: 100,
  };
  const path = `/apis/apiregistration.k8s.io/v1/apiservices/${name}`;
  const existing = await cp.api("GET", path);
  let action = "created";
  let previousSpec: Json | undefined;
  if (existing.status === 200) {
    const before = existing.body.spec?.service;
    action = before ? `repointed from ${before.namespace}/${before.name}` : "repointed from the API server itself";
    previousSpec = existing.body.spec;
    const put = await cp.api("PUT", path, { ...existing.body, spec });
    if (put.status !== 200) throw new Error(`PUT APIService ${name}: ${put.status} ${JSON.stringify(put.body).slice(0, 300)}`);
  } else {
    const post = await cp.api("POST", "/apis/apiregistration.k8s.io/v1/apiservices", { apiVersion: "apiregistration.k8s.io/v1", kind: "APIService", metadata: { name }, spec });
    if (post.status !== 201) throw new Error(`POST APIService ${name}: ${post.status} ${JSON.stringify(post.body).slice(0, 300)}`);
  }
  return { name, action, serviceName, previousSpec };
}

/** Waits until the aggregator reports the APIService Available. */
async function waitAvailable(cp: ControlPlane, name: string, process: HostProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = "";
  while (Date.now() < deadline) {
    if (!process.running()) throw new Error(`${process.name} exited: ${cp.logTail(process.name, 5)}`);
    const res = await cp.api("GET", `/apis/apiregistration.k8s.io/v1/apiservices/${name}`);
    const available = (res.body?.status?.conditions ?? []).find((c: Json) => c.type === "Available");
    if (available?.status === "True") return;
    last = available ? `${available.reason}: ${available.message}` : "no condition";
    await sleep(1000);
  }
  throw new Error(`APIService ${name} not Available after ${timeoutMs / 1000} s (${last})`);
}

/** The flags every aggregated API server on the host shares: loopback, the admin kubeconfig. */
function extensionServerFlags(cp: ControlPlane, port: number, cert: { cert: string; key: string }): string[] {
  return [
    "--bind-address=127.0.0.1",
    `--secure-port=${port}`,
    `--tls-cert-file=${cert.cert}`,
    `--tls-private-key-file=${cert.key}`,
    `--authentication-kubeconfig=${cp.kubeconfig}`,
    `--authorization-kubeconfig=${cp.kubeconfig}`,
  ];
}

/** metrics-server on the host, registered as metrics.k8s.io. */
export async function startMetricsServer(cp: ControlPlane, binary: string): Promise<{ process: HostProcess; ownership: ApiServiceOwnership }> {
  const port = await freePort();
  const serviceName = "e2e-metrics-server";
  const cert = cp.issueServingCertificate("metrics-server", [`${serviceName}.${SERVICE_NAMESPACE}.svc`]);
  const process = cp.startProcess("metrics-server", binary, [
    ...extensionServerFlags(cp, port, cert),
    `--kubeconfig=${cp.kubeconfig}`,
    // As kwokctl runs it, but verifying kwok's serving certificate instead of skipping TLS.
    "--kubelet-preferred-address-types=InternalIP",
    "--kubelet-use-node-status-port",
    `--kubelet-certificate-authority=${cp.pki("ca.crt")}`,
    `--metric-resolution=${METRIC_RESOLUTION_SECONDS}s`,
    // Below the resolution, as metrics-server requires (kwok answers in milliseconds).
    `--kubelet-request-timeout=${METRIC_RESOLUTION_SECONDS / 2}s`,
  ]);
  const ownership = await ownApiService(cp, "metrics.k8s.io", serviceName, port);
  try {
    await waitAvailable(cp, ownership.name, process, 90_000);
  } catch (error) {
    await process.stop();
    await releaseApiService(cp, ownership);
    throw error;
  }
  return { process, ownership };
}

const sanitize = (label: string) => label.replace(/[^a-zA-Z0-9_]/g, "_");

/** Keep targets whose object (`service` or `pod`) carries every label of the selector. */
function selectorKeep(kind: "service" | "pod", matchLabels: Record<string, string>): Json[] {
  return Object.entries(matchLabels).map(([k, v]) => ({
    action: "keep",
    source_labels: [`__meta_kubernetes_${kind}_label_${sanitize(k)}`, `__meta_kubernetes_${kind}_labelpresent_${sanitize(k)}`],
    regex: `(${v});true`,
  }));
}

/** A monitor endpoint's own `relabelings`, in Prometheus's spelling. */
function userRelabelings(endpoint: Json): Json[] {
  return ((endpoint.relabelings ?? []) as Json[]).map((r) => ({
    ...(r.action ? { action: String(r.action).toLowerCase() } : {}),
    ...(r.sourceLabels ? { source_labels: r.sourceLabels } : {}),
    ...(r.separator !== undefined ? { separator: r.separator } : {}),
    ...(r.regex !== undefined ? { regex: r.regex } : {}),
    ...(r.targetLabel ? { target_label: r.targetLabel } : {}),
    ...(r.replacement !== undefined ? { replacement: r.replacement } : {}),
  }));
}

/** The harness's redirect (not the operator's): the load exporter answers for the pod. */
function toExporter(exporter: string): Json[] {
  return [
    { source_labels: ["__meta_kubernetes_namespace"], target_label: "__param_namespace" },
    { source_labels: ["__meta_kubernetes_pod_name"], target_label: "__param_pod" },
    { target_label: "__address__", replacement: exporter },
  ];
}

function job(name: string, endpoint: Json, role: "endpointslice" | "pod", namespaces: readonly string[], discovery: string, relabel: Json[]): Json {
  return {
    job_name: name,
    honor_labels: false,
    scrape_interval: `${SCRAPE_INTERVAL_SECONDS}s`,
    scrape_timeout: `${SCRAPE_INTERVAL_SECONDS - 1}s`,
    metrics_path: endpoint.path ?? "/metrics",
    http_sd_configs: [{ url: `http://${discovery}/sd/${role}?namespaces=${namespaces.map(encodeURIComponent).join(",")}`, refresh_interval: `${SCRAPE_INTERVAL_SECONDS}s` }],
    relabel_configs: relabel,
  };
}

/** Labels Prometheus's Kubernetes discovery derives from an object's labels and annotations. */
function objectMeta(prefix: string, meta: Json): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries((meta.labels ?? {}) as Record<string, string>)) {
    out[`${prefix}_label_${sanitize(k)}`] = v;
    out[`${prefix}_labelpresent_${sanitize(k)}`] = "true";
  }
  for (const [k, v] of Object.entries((meta.annotations ?? {}) as Record<string, string>)) {
    out[`${prefix}_annotation_${sanitize(k)}`] = v;
    out[`${prefix}_annotationpresent_${sanitize(k)}`] = "true";
  }
  return out;
}

/** discovery/kubernetes/pod.go's pod-level labels. */
function podMeta(pod: Json): Record<string, string> {
  const owner = (pod.metadata.ownerReferences ?? []).find((o: Json) => o.controller);
  return {
    __meta_kubernetes_namespace: pod.metadata.namespace,
    __meta_kubernetes_pod_name: pod.metadata.name,
    __meta_kubernetes_pod_ip: pod.status?.podIP ?? "",
    __meta_kubernetes_pod_ready: String((pod.status?.conditions ?? []).some((c: Json) => c.type === "Ready" && c.status === "True")),
    __meta_kubernetes_pod_phase: pod.status?.phase ?? "",
    __meta_kubernetes_pod_node_name: pod.spec?.nodeName ?? "",
    __meta_kubernetes_pod_host_ip: pod.status?.hostIP ?? "",
    __meta_kubernetes_pod_uid: pod.metadata.uid,
    ...(owner ? { __meta_kubernetes_pod_controller_kind: owner.kind, __meta_kubernetes_pod_controller_name: owner.name } : {}),
    ...objectMeta("__meta_kubernetes_pod", pod.metadata),
  };
}

/** A container port's labels, as the pod and endpointslice roles attach them. */
function containerPortMeta(container: Json, port: Json | undefined, init: boolean): Record<string, string> {
  return {
    __meta_kubernetes_pod_container_name: container.name,
    __meta_kubernetes_pod_container_image: container.image ?? "",
    __meta_kubernetes_pod_container_init: String(init),
    ...(port
      ? {
          __meta_kubernetes_pod_container_port_name: port.name ?? "",
          __meta_kubernetes_pod_container_port_number: String(port.containerPort),
          __meta_kubernetes_pod_container_port_protocol: port.protocol ?? "TCP",
        }
      : {}),
  };
}

/**
 * What Prometheus's Kubernetes discovery would hand the relabeling for one namespace:
 * role endpointslice (discovery/kubernetes/endpointslice.go: a target per endpoint and port, with
 * the slice's, the Service's and the target pod's labels, and the container that serves the port)
 * or role pod (discovery/kubernetes/pod.go: a target per container port).
 */
export async function discoveredTargets(cp: ControlPlane, role: "endpointslice" | "pod", namespace: string): Promise<{ targets: string[]; labels: Record<string, string> }[]> {
  const pods = await cp.list(`/api/v1/namespaces/${namespace}/pods?resourceVersion=0`);
  const byName = new Map(pods.map((p) => [p.metadata.name as string, p]));
  const groups: { targets: string[]; labels: Record<string, string> }[] = [];
  if (role === "pod") {
    for (const pod of pods) {
      const containers = [...((pod.spec.containers ?? []) as Json[]).map((c) => [c, false] as const), ...((pod.spec.initContainers ?? []) as Json[]).map((c) => [c, true] as const)];
      for (const [c, init] of containers) {
        for (const port of (c.ports ?? []) as Json[]) {
          groups.push({ targets: [`${pod.status?.podIP ?? ""}:${port.containerPort}`], labels: { ...podMeta(pod), ...containerPortMeta(c, port, init) } });
        }
      }
    }
    return groups;
  }
  const services = new Map((await cp.list(`/api/v1/namespaces/${namespace}/services?resourceVersion=0`)).map((s) => [s.metadata.name as string, s]));
  for (const slice of await cp.list(`/apis/discovery.k8s.io/v1/namespaces/${namespace}/endpointslices?resourceVersion=0`)) {
    const service = services.get(slice.metadata.labels?.["kubernetes.io/service-name"]);
    const base = {
      __meta_kubernetes_namespace: namespace,
      __meta_kubernetes_endpointslice_name: slice.metadata.name,
      __meta_kubernetes_endpointslice_address_type: slice.addressType,
      ...objectMeta("__meta_kubernetes_endpointslice", slice.metadata),
      ...(service ? { __meta_kubernetes_service_name: service.metadata.name, ...objectMeta("__meta_kubernetes_service", service.metadata) } : {}),
    };
    for (const endpoint of (slice.endpoints ?? []) as Json[]) {
      const pod = endpoint.targetRef?.kind === "Pod" ? byName.get(endpoint.targetRef.name) : undefined;
      for (const port of (slice.ports ?? []) as Json[]) {
        const container = pod ? ((pod.spec.containers ?? []) as Json[]).find((c) => (c.ports ?? []).some((p: Json) => p.containerPort === port.port)) : undefined;
        const containerPort = container ? (container.ports as Json[]).find((p) => p.containerPort === port.port) : undefined;
        groups.push({
          targets: [`${endpoint.addresses?.[0] ?? ""}:${port.port}`],
          labels: {
            ...base,
            __meta_kubernetes_endpointslice_port_name: port.name ?? "",
            __meta_kubernetes_endpointslice_port: String(port.port),
            __meta_kubernetes_endpointslice_port_protocol: port.protocol ?? "TCP",
            __meta_kubernetes_endpointslice_endpoint_conditions_ready: String(endpoint.conditions?.ready ?? true),
            __meta_kubernetes_endpointslice_endpoint_conditions_serving: String(endpoint.conditions?.serving ?? true),
            __meta_kubernetes_endpointslice_endpoint_conditions_terminating: String(endpoint.conditions?.terminating ?? false),
            ...(endpoint.nodeName ? { __meta_kubernetes_endpointslice_endpoint_node_name: endpoint.nodeName } : {}),
            ...(endpoint.zone ? { __meta_kubernetes_endpointslice_endpoint_zone: endpoint.zone } : {}),
            ...(endpoint.targetRef ? { __meta_kubernetes_endpointslice_address_target_kind: endpoint.targetRef.kind, __meta_kubernetes_endpointslice_address_target_name: endpoint.targetRef.name } : {}),
            ...(pod ? podMeta(pod) : {}),
            ...(pod && container ? containerPortMeta(container, containerPort, false) : {}),
          },
        });
      }
    }
  }
  return groups;
}

/** The http_sd endpoint Prometheus polls: `/sd/<role>?namespaces=a,b`. */
async function startDiscovery(cp: ControlPlane): Promise<{ server: Server; address: string }> {
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    const role = url.pathname.slice("/sd/".length);
    if (role !== "endpointslice" && role !== "pod") {
      res.writeHead(404).end();
      return;
    }
    const namespaces = (url.searchParams.get("namespaces") ?? "").split(",").filter(Boolean);
    Promise.all(namespaces.map((ns) => discoveredTargets(cp, role, ns))).then(
      (groups) => res.writeHead(200, { "Content-Type": "application/json" }).end(JSON.stringify(groups.flat())),
      (error: Error) => res.writeHead(500).end(error.message),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const a = server.address();
  return { server, address: `127.0.0.1:${typeof a === "object" && a ? a.port : 0}` };
}

/**
 * The scrape configuration prometheus-operator generates for each endpoint of a ServiceMonitor
 * (role endpointslice) or a PodMonitor (role pod), from the monitor as the stack's values declare
 * it: keep the selected Services or pods and the named port, drop finished pods, set the target
 * labels `namespace`, `service` (ServiceMonitor), `pod`, `container`, `job` (the Service's name,
 * the `jobLabel`'s value, or namespace/monitor), `endpoint`, then the endpoint's own relabelings.
 * Then the harness's one addition: the scrape goes to the load exporter on 127.0.0.1 with the
 * pod's namespace and name as parameters (the pod IPs kwok assigns lead nowhere). Targets come
 * from `discovery`, the harness's http_sd stand-in for Kubernetes discovery.
 * @see https://github.com/prometheus-operator/prometheus-operator/blob/main/pkg/prometheus/promcfg.go
 */
export function monitorScrapeConfigs(values: Json, monitoringNamespace: string, discovery: string, exporter: string): Json[] {
  const out: Json[] = [];
  const services = (values.prometheus?.additionalServiceMonitors ?? []) as Json[];
  const pods = (values.prometheus?.additionalPodMonitors ?? []) as Json[];
  for (const monitor of services) {
    (monitor.endpoints as Json[]).forEach((endpoint, i) => {
      const jobFrom = monitor.jobLabel ? `__meta_kubernetes_service_label_${sanitize(monitor.jobLabel)}` : "__meta_kubernetes_service_name";
      out.push(
        job(`serviceMonitor/${monitoringNamespace}/${monitor.name}/${i}`, endpoint, "endpointslice", monitor.namespaceSelector.matchNames, discovery, [
          ...selectorKeep("service", monitor.selector.matchLabels),
          { action: "keep", source_labels: ["__meta_kubernetes_endpointslice_port_name"], regex: endpoint.port },
          { source_labels: ["__meta_kubernetes_endpointslice_address_target_kind", "__meta_kubernetes_endpointslice_address_target_name"], separator: ";", regex: "Node;(.*)", replacement: "${1}", target_label: "node" },
          { source_labels: ["__meta_kubernetes_endpointslice_address_target_kind", "__meta_kubernetes_endpointslice_address_target_name"], separator: ";", regex: "Pod;(.*)", replacement: "${1}", target_label: "pod" },
          { action: "drop", source_labels: ["__meta_kubernetes_pod_phase"], regex: "(Failed|Succeeded)" },
          { source_labels: ["__meta_kubernetes_namespace"], target_label: "namespace" },
          { source_labels: ["__meta_kubernetes_service_name"], target_label: "service" },
          { source_labels: ["__meta_kubernetes_pod_name"], target_label: "pod" },
          { source_labels: ["__meta_kubernetes_pod_container_name"], target_label: "container" },
          { source_labels: [jobFrom], target_label: "job", replacement: "${1}" },
          { target_label: "endpoint", replacement: endpoint.port },
          ...userRelabelings(endpoint),
          ...toExporter(exporter),
        ]),
      );
    });
  }
  for (const monitor of pods) {
    (monitor.podMetricsEndpoints as Json[]).forEach((endpoint, i) => {
      const jobRule = monitor.jobLabel
        ? { source_labels: [`__meta_kubernetes_pod_label_${sanitize(monitor.jobLabel)}`], target_label: "job", replacement: "${1}" }
        : { target_label: "job", replacement: `${monitoringNamespace}/${monitor.name}` };
      out.push(
        job(`podMonitor/${monitoringNamespace}/${monitor.name}/${i}`, endpoint, "pod", monitor.namespaceSelector.matchNames, discovery, [
          ...selectorKeep("pod", monitor.selector.matchLabels),
          { action: "keep", source_labels: ["__meta_kubernetes_pod_container_port_name"], regex: endpoint.port },
          { action: "drop", source_labels: ["__meta_kubernetes_pod_phase"], regex: "(Failed|Succeeded)" },
          { source_labels: ["__meta_kubernetes_namespace"], target_label: "namespace" },
          { source_labels: ["__meta_kubernetes_pod_container_name"], target_label: "container" },
          { source_labels: ["__meta_kubernetes_pod_name"], target_label: "pod" },
          jobRule,
          { target_label: "endpoint", replacement: endpoint.port },
          ...userRelabelings(endpoint),
          ...toExporter(exporter),
        ]),
      );
    });
  }
  return out;
}

export interface CustomMetricsStack {
  readonly discovery: Server;
  readonly prometheus: HostProcess;
  readonly adapter: HostProcess;
  readonly prometheusUrl: string;
  readonly ownership: ApiServiceOwnership;
  /** The adapter's rules as it runs them (the stack's, verbatim). */
  readonly rules: readonly Json[];
}

/** Prometheus's instant query, as the adapter sends it. */
export async function promQuery(url: string, query: string): Promise<Json[]> {
  const res = await fetch(`${url}/api/v1/query?query=${encodeURIComponent(query)}`);
  if (!res.ok) throw new Error(`Prometheus query ${query}: HTTP ${res.status}`);
  const body = (await res.json()) as Json;
  return body.data?.result ?? [];
}

/**
 * Prometheus scraping every pod the stack's ServiceMonitors select, then prometheus-adapter with
 * the stack's rules, registered as custom.metrics.k8s.io once Prometheus has the series.
 */
export async function startCustomMetrics(
  cp: ControlPlane,
  dir: string,
  binaries: { prometheus: string; adapter: string },
  values: { kubePrometheusStack: Json; adapter: Json },
  monitoringNamespace: string,
  exporter: string,
  expectSeries: readonly string[],
): Promise<CustomMetricsStack> {
  mkdirSync(dir, { recursive: true });
  const discovery = await startDiscovery(cp);
  const scrapeConfigs = monitorScrapeConfigs(values.kubePrometheusStack, monitoringNamespace, discovery.address, exporter);
  if (scrapeConfigs.length === 0) throw new Error("the stack's kube-prometheus-stack values declare no ServiceMonitor or PodMonitor");
  const promPort = await freePort();
  const config = {
    global: { scrape_interval: `${SCRAPE_INTERVAL_SECONDS}s`, evaluation_interval: `${SCRAPE_INTERVAL_SECONDS}s` },
    scrape_configs: scrapeConfigs,
  };
  writeFileSync(join(dir, "prometheus.yml"), stringify(config));
  const prometheus = cp.startProcess("prometheus", binaries.prometheus, [
    `--config.file=${join(dir, "prometheus.yml")}`,
    `--storage.tsdb.path=${join(dir, "tsdb")}`,
    `--web.listen-address=127.0.0.1:${promPort}`,
    "--storage.tsdb.retention.time=1d",
  ]);
  const prometheusUrl = `http://127.0.0.1:${promPort}`;
  const deadline = Date.now() + 120_000;
  let missing: string[] = [...expectSeries];
  while (Date.now() < deadline) {
    if (!prometheus.running()) throw new Error(`prometheus exited: ${cp.logTail("prometheus", 5)}`);
    try {
      const found: string[] = [];
      for (const name of expectSeries) if ((await promQuery(prometheusUrl, `count(${name}{namespace!="",pod!=""})`)).length > 0) found.push(name);
      missing = expectSeries.filter((n) => !found.includes(n));
      if (missing.length === 0) break;
    } catch {
      /* not up yet */
    }
    await sleep(1000);
  }
  if (missing.length > 0) throw new Error(`Prometheus has no per-pod series for ${missing.join(", ")} after 120 s; see ${join(dir, "prometheus.yml")}`);

  // The adapter's configuration file as the chart renders it (templates/configmap.yaml): the
  // custom rules under `rules`, external rules under `externalRules`, resource rules under
  // `resourceRules`, each only when set.
  const r = values.adapter.rules ?? {};
  if (r.default) throw new Error("the adapter values enable the chart's default rules; the harness runs only the stack's own");
  const adapterConfig: Json = {};
  if ((r.custom ?? []).length > 0) adapterConfig.rules = r.custom;
  if ((r.external ?? []).length > 0) adapterConfig.externalRules = r.external;
  if (r.resource && Object.keys(r.resource).length > 0) adapterConfig.resourceRules = r.resource;
  writeFileSync(join(dir, "adapter-config.yaml"), stringify(adapterConfig));
  const port = await freePort();
  const serviceName = "e2e-prometheus-adapter";
  const cert = cp.issueServingCertificate("prometheus-adapter", [`${serviceName}.${SERVICE_NAMESPACE}.svc`]);
  const adapter = cp.startProcess("prometheus-adapter", binaries.adapter, [
    ...extensionServerFlags(cp, port, cert),
    `--lister-kubeconfig=${cp.kubeconfig}`,
    `--prometheus-url=${prometheusUrl}/`,
    // The chart's default.
    `--metrics-relist-interval=${values.adapter.metricsRelistInterval ?? "1m"}`,
    `--config=${join(dir, "adapter-config.yaml")}`,
    "--v=2",
  ]);
  const ownership = await ownApiService(cp, "custom.metrics.k8s.io", serviceName, port);
  try {
    await waitAvailable(cp, ownership.name, adapter, 90_000);
  } catch (error) {
    await adapter.stop();
    await prometheus.stop();
    discovery.server.close();
    await releaseApiService(cp, ownership);
    throw error;
  }
  return { discovery: discovery.server, prometheus, adapter, prometheusUrl, ownership, rules: r.custom ?? [] };
}
