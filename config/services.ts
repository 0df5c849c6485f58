/**
 * The service catalogue: what each platform service is, the same in every environment.
 * Sizing, tags and replicas live in the per-environment files (config/<environment>.ts).
 *
 * `calls` is the call graph. It opens exactly the network paths it names: egress from the caller
 * and ingress to the callee. A call that is not listed here is dropped by the NetworkPolicies.
 */
import type { CatalogInput } from "./schema";

const probes = { liveness: "/health/live", readiness: "/health/ready", startup: "/health/startup" };

export default {
  "api-gateway": {
    displayName: "API Gateway",
    imageRepository: "ghcr.io/berrys-agents/api-gateway",
    port: 8080,
    probes,
    usesDatabase: true,
    exposure: "public",
    calls: ["agent-orchestrator", "model-orchestration", "tool-integration"],
  },
  "agent-orchestrator": {
    displayName: "Agent Orchestrator",
    imageRepository: "ghcr.io/berrys-agents/agent-orchestrator",
    port: 8080,
    probes,
    usesDatabase: true,
    exposure: "internal",
    calls: ["model-orchestration", "tool-integration"],
  },
  "model-orchestration": {
    displayName: "Model Orchestration",
    imageRepository: "ghcr.io/berrys-agents/model-orchestration",
    port: 8080,
    probes,
    usesDatabase: true,
    exposure: "internal",
    // Model providers' APIs are on the internet.
    internetEgress: true,
  },
  "tool-integration": {
    displayName: "Tool Integration",
    imageRepository: "ghcr.io/berrys-agents/tool-integration",
    port: 8080,
    probes,
    usesDatabase: true,
    exposure: "internal",
    // Third-party tool APIs are on the internet.
    internetEgress: true,
  },
  "web-dashboard": {
    displayName: "Web Dashboard",
    imageRepository: "ghcr.io/berrys-agents/web-dashboard",
    port: 3000,
    probes,
    exposure: "public",
    calls: ["api-gateway"],
  },
} satisfies CatalogInput;
