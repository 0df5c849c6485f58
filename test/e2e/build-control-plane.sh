#!/usr/bin/env bash
# Builds the control plane the end-to-end check runs (kube-apiserver, kube-controller-manager,
# kube-scheduler and the matching kubectl from k8s.io/kubernetes; kwok from sigs.k8s.io/kwok;
# metrics-server from sigs.k8s.io/metrics-server), from the Go module proxy, into a cache keyed by
# version. A second call with the binaries present does nothing.
#
#   test/e2e/build-control-plane.sh [cache dir]
#
# k8s.io/kubernetes cannot be `go install`ed directly: its go.mod replaces every k8s.io/* staging
# module with a path inside its own tree. A small wrapper module requires the release and
# replaces each staging module with its published v0.x.y twin instead (the same code).
# On 2 cores: about 11 min for kube-apiserver, +1 min for the other two, a few more for kubectl,
# ~2.5 min for kwok, a few minutes for metrics-server. Also cert-manager's CRDs (no controller) from
# github.com/cert-manager/cert-manager: the database operator's backup plugin needs them.
set -euo pipefail

KUBERNETES_VERSION="${KUBERNETES_VERSION:-v1.35.4}"
KWOK_VERSION="${KWOK_VERSION:-v0.8.0}"
METRICS_SERVER_VERSION="${METRICS_SERVER_VERSION:-v0.8.0}"
# cert-manager's CRDs only (no controller): the Barman Cloud plugin's chart creates an Issuer and
# Certificates, which the API server admits only where cert-manager's CRDs exist.
CERT_MANAGER_VERSION="${CERT_MANAGER_VERSION:-v1.19.2}"
CACHE="${1:-${XDG_CACHE_HOME:-${HOME}/.cache}/agent-platform/control-plane}"
BIN="${CACHE}/kubernetes-${KUBERNETES_VERSION}"
KWOK_BIN="${CACHE}/kwok-${KWOK_VERSION}"
METRICS_SERVER_BIN="${CACHE}/metrics-server-${METRICS_SERVER_VERSION}"
CERT_MANAGER_CRDS="${CACHE}/cert-manager-${CERT_MANAGER_VERSION}"
mkdir -p "${BIN}" "${KWOK_BIN}" "${METRICS_SERVER_BIN}" "${CERT_MANAGER_CRDS}"

have() { [[ -x "$1" ]]; }

if ! { have "${BIN}/kube-apiserver" && have "${BIN}/kube-controller-manager" && have "${BIN}/kube-scheduler" && have "${BIN}/kubectl"; }; then
  work="$(mktemp -d)"
  trap 'rm -rf "${work}"' EXIT
  minor="${KUBERNETES_VERSION#v1.}"
  staging_version="v0.${minor}"
  # The release's own go.mod names the staging modules it replaces.
  gomod="$(GOFLAGS=-mod=mod go mod download -json "k8s.io/kubernetes@${KUBERNETES_VERSION}" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",\{0,1\}$/\1/p')"
  [[ -f "${gomod}" ]] || { echo "build-control-plane: could not download k8s.io/kubernetes@${KUBERNETES_VERSION}" >&2; exit 1; }
  mapfile -t staging < <(sed -n 's#^[[:space:]]*\(k8s.io/[^ ]*\) => ./staging/.*#\1#p' "${gomod}")
  ((${#staging[@]} > 0)) || { echo "build-control-plane: no staging modules found in ${gomod}" >&2; exit 1; }
  {
    echo "module local/control-plane"
    echo
    sed -n 's/^go \(.*\)$/go \1/p' "${gomod}"
    echo
    echo "require k8s.io/kubernetes ${KUBERNETES_VERSION}"
    echo
    echo "replace ("
    for m in "${staging[@]}"; do echo "	${m} => ${m} ${staging_version}"; done
    echo ")"
  } >"${work}/go.mod"
  cat >"${work}/tools.go" <<'GO'
//go:build tools

package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
GO
  (cd "${work}" && GOFLAGS=-mod=mod go mod tidy -e >/dev/null 2>&1) || true
  ldflags="-s -w -X k8s.io/component-base/version.gitVersion=${KUBERNETES_VERSION}"
  ldflags+=" -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=${minor%%.*}"
  ldflags+=" -X k8s.io/client-go/pkg/version.gitVersion=${KUBERNETES_VERSION}"
  for cmd in kube-apiserver kube-controller-manager kube-scheduler kubectl; do
    have "${BIN}/${cmd}" && continue
    echo "building ${cmd} ${KUBERNETES_VERSION} (minutes; cached afterwards in ${BIN})"
    (cd "${work}" && GOFLAGS=-mod=mod CGO_ENABLED=0 go build -tags tools -trimpath -ldflags "${ldflags}" -o "${BIN}/${cmd}.tmp" "k8s.io/kubernetes/cmd/${cmd}")
    mv "${BIN}/${cmd}.tmp" "${BIN}/${cmd}"
  done
fi

if ! have "${KWOK_BIN}/kwok"; then
  echo "building kwok ${KWOK_VERSION}"
  GOBIN="${KWOK_BIN}" GOFLAGS=-mod=mod CGO_ENABLED=0 go install "sigs.k8s.io/kwok/cmd/kwok@${KWOK_VERSION}"
fi
# kwok's published "fast" stages (node ready, heartbeat, pod ready/complete/delete), from the
# module just built, so pods become Ready and Jobs Succeeded without a kubelet.
if [[ ! -s "${KWOK_BIN}/stages.yaml" ]]; then
  module="$(GOFLAGS=-mod=mod go mod download -json "sigs.k8s.io/kwok@${KWOK_VERSION}" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')"
  stages=()
  for dir in node/fast node/heartbeat pod/fast; do
    for f in "${module}/kustomize/stage/${dir}"/*.yaml; do
      [[ "$(basename "$f")" == kustomization.yaml ]] || stages+=("$f")
    done
  done
  ((${#stages[@]} >= 5)) || { echo "build-control-plane: kwok stages not found in ${module}" >&2; exit 1; }
  for f in "${stages[@]}"; do printf -- '---\n'; cat "$f"; done >"${KWOK_BIN}/stages.yaml.tmp"
  mv "${KWOK_BIN}/stages.yaml.tmp" "${KWOK_BIN}/stages.yaml"
fi
# kwok's kubelet resource-metrics endpoint (Metric), pod CPU and memory from pod annotations
# (ClusterResourceUsage), and its node chaos stage (node-not-ready), for the scaling, drain and
# node-failure scenarios; from the same module.
if [[ ! -s "${KWOK_BIN}/metrics.yaml" || ! -s "${KWOK_BIN}/chaos-stages.yaml" ]]; then
  module="$(GOFLAGS=-mod=mod go mod download -json "sigs.k8s.io/kwok@${KWOK_VERSION}" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')"
  metrics=("${module}/kustomize/metrics/resource/metrics-resource.yaml" "${module}/kustomize/metrics/usage/usage-from-annotation.yaml")
  chaos="${module}/kustomize/stage/node/chaos/node-not-ready.yaml"
  for f in "${metrics[@]}" "${chaos}"; do
    [[ -s "$f" ]] || { echo "build-control-plane: ${f} not found in the kwok module" >&2; exit 1; }
  done
  for f in "${metrics[@]}"; do printf -- '---\n'; cat "$f"; done >"${KWOK_BIN}/metrics.yaml.tmp"
  mv "${KWOK_BIN}/metrics.yaml.tmp" "${KWOK_BIN}/metrics.yaml"
  { printf -- '---\n'; cat "${chaos}"; } >"${KWOK_BIN}/chaos-stages.yaml.tmp"
  mv "${KWOK_BIN}/chaos-stages.yaml.tmp" "${KWOK_BIN}/chaos-stages.yaml"
fi
if ! have "${METRICS_SERVER_BIN}/metrics-server, ${CERT_MANAGER_CRDS}/crds.yaml"; then
  echo "building metrics-server ${METRICS_SERVER_VERSION}"
  GOBIN="${METRICS_SERVER_BIN}" GOFLAGS=-mod=mod CGO_ENABLED=0 go install -trimpath -ldflags "-s -w" "sigs.k8s.io/metrics-server/cmd/metrics-server@${METRICS_SERVER_VERSION}"
fi
# The cert-manager.io CRDs as the module publishes them (deploy/crds), one file.
if [[ ! -s "${CERT_MANAGER_CRDS}/crds.yaml" ]]; then
  module="$(GOFLAGS=-mod=mod go mod download -json "github.com/cert-manager/cert-manager@${CERT_MANAGER_VERSION}" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')"
  crds=("${module}"/deploy/crds/cert-manager.io_*.yaml)
  if ((${#crds[@]} < 4)) || [[ ! -s "${crds[0]}" ]]; then
    echo "build-control-plane: cert-manager.io CRDs not found in ${module}/deploy/crds" >&2
    exit 1
  fi
  for f in "${crds[@]}"; do printf -- '---\n'; sed '/^---$/d' "$f"; done >"${CERT_MANAGER_CRDS}/crds.yaml.tmp"
  mv "${CERT_MANAGER_CRDS}/crds.yaml.tmp" "${CERT_MANAGER_CRDS}/crds.yaml"
fi
echo "control plane: ${BIN} (kube-apiserver, kube-controller-manager, kube-scheduler, kubectl), ${KWOK_BIN}/kwok, ${METRICS_SERVER_BIN}/metrics-server, ${CERT_MANAGER_CRDS}/crds.yaml"
