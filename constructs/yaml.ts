import { Document, type ToStringOptions } from "yaml";

const OPTIONS = { aliasDuplicateObjects: false, lineWidth: 0 } as const satisfies ToStringOptions & { aliasDuplicateObjects: boolean };

/**
 * One document, reused: building a Document builds its schema, which is most of what `stringify`
 * costs on a small file (about 0.2 ms each, some thirty files per synth). The document carries no
 * state between calls but its contents, which each call replaces; a test holds the output equal
 * to `stringify(value, OPTIONS)` for every file the stacks render.
 */
let document: Document | undefined;

/**
 * YAML as a reviewer wants to read it in a diff: no anchors or aliases for repeated objects, no
 * folded long lines (PromQL stays on one line).
 */
export function toYaml(value: unknown): string {
  document ??= new Document(null, OPTIONS);
  document.contents = document.createNode(value, OPTIONS);
  return document.toString(OPTIONS);
}

/** The options `toYaml` stringifies with, for the test that compares it with `stringify`. */
export const YAML_OPTIONS = OPTIONS;
