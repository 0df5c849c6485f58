/**
 * Finds and edits values in the text of a config file (`config/<env>.ts`, `config/services.ts`, or
 * their compiled `.js`), by property path, keeping everything else byte for byte: comments,
 * formatting, the `satisfies` clause. scripts/add-service-from-readme.ts applies README.md's
 * "Adding a service" with it, and the tests edit copies of the project with it.
 *
 * It reads the default export's object literal with a small scanner that knows strings, template
 * literals, comments and bracket nesting — enough for data files, which is what config/ holds. A
 * path that does not lead to an object-literal value is an error naming the path, never a guess.
 */

/** `[start, end)` of a piece of the source text. */
export interface Span {
  readonly start: number;
  readonly end: number;
}

interface Property {
  readonly key: string;
  /** The whole property, key to value, without the separating comma. */
  readonly span: Span;
  readonly value: Span;
}

const OPEN: Record<string, string> = { "{": "}", "[": "]", "(": ")" };

/** Index just past the string, template literal or comment starting at `i`, or `i` when none starts there. */
function skipNonCode(text: string, i: number): number {
  const c = text[i];
  if (c === "/" && text[i + 1] === "/") {
    const end = text.indexOf("\n", i);
    return end < 0 ? text.length : end;
  }
  if (c === "/" && text[i + 1] === "*") {
    const end = text.indexOf("*/", i + 2);
    if (end < 0) throw new Error("unterminated comment");
    return end + 2;
  }
  if (c === '"' || c === "'" || c === "`") {
    for (let j = i + 1; j < text.length; j++) {
      if (text[j] === "\\") j++;
      else if (text[j] === c) return j + 1;
      else if (c === "`" && text[j] === "$" && text[j + 1] === "{") j = matching(text, j + 1) ;
    }
    throw new Error("unterminated string");
  }
  return i;
}

/** Index of the bracket closing the one at `open`. */
function matching(text: string, open: number): number {
  const stack = [OPEN[text[open]!]!];
  for (let i = open + 1; i < text.length; ) {
    const skipped = skipNonCode(text, i);
    if (skipped !== i) {
      i = skipped;
      continue;
    }
    const c = text[i]!;
    if (OPEN[c]) stack.push(OPEN[c]);
    else if (c === stack[stack.length - 1]) {
      stack.pop();
      if (stack.length === 0) return i;
    }
    i++;
  }
  throw new Error(`unbalanced '${text[open]}'`);
}

/** Index of the next character that is code (not whitespace, not a comment), from `i`. */
function nextCode(text: string, i: number): number {
  while (i < text.length) {
    if (/\s/.test(text[i]!)) i++;
    else if (text[i] === "/" && (text[i + 1] === "/" || text[i + 1] === "*")) i = skipNonCode(text, i);
    else break;
  }
  return i;
}

/** The direct properties of the object literal whose `{` is at `open`. */
function properties(text: string, open: number): Property[] {
  const close = matching(text, open);
  const out: Property[] = [];
  let i = nextCode(text, open + 1);
  while (i < close) {
    const start = i;
    let key: string;
    if (text[i] === '"' || text[i] === "'") {
      const end = skipNonCode(text, i);
      key = JSON.parse(text[i] === '"' ? text.slice(i, end) : `"${text.slice(i + 1, end - 1).replace(/"/g, '\\"')}"`) as string;
      i = end;
    } else {
      const m = /^(\.\.\.)?[A-Za-z_$][\w$]*/.exec(text.slice(i));
      if (!m) throw new Error(`unexpected '${text[i]}' at offset ${i} in an object literal`);
      key = m[0];
      i += m[0].length;
    }
    i = nextCode(text, i);
    let value: Span;
    if (text[i] === ":") {
      const vStart = nextCode(text, i + 1);
      let j = vStart;
      while (j < close && text[j] !== ",") {
        const skipped = skipNonCode(text, j);
        if (skipped !== j) j = skipped;
        else if (OPEN[text[j]!]) j = matching(text, j) + 1;
        else j++;
      }
      let vEnd = j;
      while (vEnd > vStart && /\s/.test(text[vEnd - 1]!)) vEnd--;
      value = { start: vStart, end: vEnd };
      i = j;
    } else {
      // Shorthand (`probes,`) or spread (`...defaults,`): the key is the value.
      value = { start, end: i };
      while (i < close && text[i] !== ",") i++;
    }
    out.push({ key, span: { start, end: value.end }, value });
    if (text[i] === ",") i++;
    i = nextCode(text, i);
  }
  return out;
}

/** The `{` of the file's default export: `export default {` (TypeScript) or `exports.default = {` (compiled). */
function defaultExport(text: string): number {
  const m = /export\s+default\s+\{|exports\.default\s*=\s*\{/.exec(text);
  if (!m) throw new Error("no `export default { … }` object in the file");
  return m.index + m[0].length - 1;
}

const shown = (path: readonly string[]) => (path.length === 0 ? "(the exported object)" : path.join("."));

/** The span of the object literal at `path` (its `{` … `}`), from the default export down. */
export function objectAt(text: string, path: readonly string[]): Span {
  let open = defaultExport(text);
  for (const [depth, key] of path.entries()) {
    const found = properties(text, open).find((p) => p.key === key);
    if (!found) throw new Error(`${shown(path.slice(0, depth + 1))} is not in the file`);
    if (text[found.value.start] !== "{") throw new Error(`${shown(path.slice(0, depth + 1))} is not written as an object literal ({ … }) in the file`);
    open = found.value.start;
  }
  return { start: open, end: matching(text, open) + 1 };
}

/** The span of the value at `path` (a property of an object literal). */
export function valueAt(text: string, path: readonly string[]): Span {
  const parent = objectAt(text, path.slice(0, -1));
  const key = path[path.length - 1]!;
  const found = properties(text, parent.start).find((p) => p.key === key);
  if (!found) throw new Error(`${shown(path)} is not in the file`);
  return found.value;
}

/** The names of the direct properties of the object at `path`, in the file's order. */
export function keysAt(text: string, path: readonly string[]): string[] {
  return properties(text, objectAt(text, path).start).map((p) => p.key);
}

/** `text` with the value at `path` replaced by `value` (source text, such as `"500mb"` or `{ tag: "1.1.0" }`). */
export function replaceValue(text: string, path: readonly string[], value: string): string {
  const span = valueAt(text, path);
  return text.slice(0, span.start) + value + text.slice(span.end);
}

/**
 * `text` with `entry` (one or more properties, as source text) added at the end of the object at
 * `path`, re-indented like the object's other properties, with the commas the object needs.
 */
export function addProperties(text: string, path: readonly string[], entry: string): string {
  const object = objectAt(text, path);
  const props = properties(text, object.start);
  const last = props[props.length - 1];
  const indentOf = (i: number) => /^[ \t]*/.exec(text.slice(text.lastIndexOf("\n", i - 1) + 1))![0];
  const indent = last ? indentOf(last.span.start) : `${indentOf(object.start)}  `;
  const lines = entry.replace(/^\s*\n|\s+$/g, "").replace(/,$/, "").split("\n");
  const common = Math.min(...lines.filter((l) => l.trim() !== "").map((l) => /^ */.exec(l)![0].length));
  const body = lines.map((l) => (l.trim() === "" ? "" : indent + l.slice(common))).join("\n");
  if (!last) return `${text.slice(0, object.start + 1)}\n${body},\n${text.slice(object.start + 1)}`;
  // After the last property, and after its trailing comma when the file has one.
  let at = last.span.end;
  const comma = text[nextCode(text, at)] === ",";
  if (comma) at = nextCode(text, at) + 1;
  // A comment on the rest of that line stays with the property it follows.
  const rest = /^[ \t]*(\/\/[^\n]*)?/.exec(text.slice(at))![0];
  at += rest.length;
  return `${text.slice(0, at)}${comma ? "" : ","}\n${body},${text.slice(at)}`;
}

/**
 * `text` with `item` (source text, such as `"memory-service"`) appended to the array at `path`;
 * an absent array property is created, holding only the item.
 */
export function appendToArray(text: string, path: readonly string[], item: string): string {
  const parent = objectAt(text, path.slice(0, -1));
  const key = path[path.length - 1]!;
  const found = properties(text, parent.start).find((p) => p.key === key);
  if (!found) return addProperties(text, path.slice(0, -1), `${key}: [${item}]`);
  if (text[found.value.start] !== "[") throw new Error(`${shown(path)} is not written as an array literal ([ … ]) in the file`);
  const close = matching(text, found.value.start);
  const inner = text.slice(found.value.start + 1, close);
  const trimmed = inner.replace(/\s+$/, "");
  if (trimmed.trim() === "") return `${text.slice(0, found.value.start + 1)}${item}${text.slice(close)}`;
  const separator = trimmed.endsWith(",") ? " " : ", ";
  return `${text.slice(0, found.value.start + 1)}${trimmed}${separator}${item}${inner.slice(trimmed.length)}${text.slice(close)}`;
}

/** `text` with the key of the property at `path` spelt `key` instead (its value untouched). */
export function renameKey(text: string, path: readonly string[], key: string): string {
  const parent = objectAt(text, path.slice(0, -1));
  const found = properties(text, parent.start).find((p) => p.key === path[path.length - 1]);
  if (!found) throw new Error(`${shown(path)} is not in the file`);
  const colon = text.lastIndexOf(":", found.value.start);
  return `${text.slice(0, found.span.start)}${key}${text.slice(colon)}`;
}
