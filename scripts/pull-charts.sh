#!/usr/bin/env bash
# Fills a directory with every Helm chart the stacks pin (CHARTS in config/versions.ts), as
# `helm pull` leaves them: <dir>/<chart>-<version>.tgz, subcharts inside. That directory is
# HELM_CHARTS_DIR for the chart checks in `npm test` and for `npm run e2e`.
#
#   scripts/pull-charts.sh [dir]        # dir defaults to $HELM_CHARTS_DIR
#
# Needs internet access to the chart repositories, helm v3 (HELM, else helm on PATH), Node.js and
# `npm ci` done (the versions are read from the compiled config). Charts already present are kept.
set -euo pipefail

fail() {
  printf 'pull-charts: %s\n' "$*" >&2
  exit 1
}

dir="${1:-${HELM_CHARTS_DIR:-}}"
[[ -n "${dir}" ]] || fail "name the directory to fill: scripts/pull-charts.sh <dir> (or set HELM_CHARTS_DIR)"
# Relative to where it was called from; then the project root, for its config.
mkdir -p "${dir}"
dir="$(cd "${dir}" && pwd)"
cd "$(dirname "$0")/.."
helm="${HELM:-helm}"
version="$("${helm}" version --template '{{.Version}}' 2>/dev/null)" || fail "helm not found (${helm}): install helm v3 or set HELM"
[[ "${version}" == v3.* ]] || fail "${helm} is helm ${version}; the charts are checked with helm v3"

node scripts/compile.cjs tsconfig.build.json dist/config/versions.js >&2 || fail "the TypeScript does not compile: fix the errors above"
charts="$(node -e 'for (const c of Object.values(require("./dist/config/versions").CHARTS)) console.log([c.repository, c.chart, c.version].join(" "))')"

while read -r repository chart chart_version; do
  archive="${dir}/${chart}-${chart_version}.tgz"
  if [[ -s "${archive}" ]]; then
    printf 'have   %s\n' "${archive}"
    continue
  fi
  if [[ "${repository}" == oci://* ]]; then
    "${helm}" pull "${repository%/}/${chart}" --version "${chart_version}" --destination "${dir}" ||
      fail "helm pull ${repository%/}/${chart} ${chart_version} failed"
  else
    "${helm}" pull "${chart}" --repo "${repository}" --version "${chart_version}" --destination "${dir}" ||
      fail "helm pull ${chart} ${chart_version} from ${repository} failed"
  fi
  [[ -s "${archive}" ]] || fail "helm pull left no ${archive}"
  printf 'pulled %s\n' "${archive}"
done <<<"${charts}"
printf 'HELM_CHARTS_DIR=%s holds every pinned chart\n' "${dir}"
