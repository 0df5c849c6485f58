import { stringify } from "yaml";

/**
 * YAML as a reviewer wants to read it in a diff: no anchors or aliases for repeated objects, no
 * folded long lines (PromQL stays on one line).
 */
export function toYaml(value: unknown): string {
  return stringify(value, { aliasDuplicateObjects: false, lineWidth: 0 });
}
