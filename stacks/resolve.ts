/**
 * Token resolution with a fast path for the parts of a fragment that hold no token.
 *
 * cdktf's resolver builds a context object with two closures and a copy of the key path for every
 * key and element it visits, tokens or not; on these stacks that is most of what synth does after
 * loading its modules. For a value in which no token can be found, cdktf's resolve returns a copy
 * with `undefined` keys and elements dropped, and nothing else — read from cdktf 0.21's
 * `tokens/private/resolve.js`, which is final upstream. So this walks the value itself, copies what
 * is plain, and hands every value that is or may be a token — with cdktf's own tests: string, list,
 * map and number tokens, resolvables, anything unusual — to cdktf's resolve, whole. Only the key
 * path in an error cdktf raises for such a value is shorter. Tests hold the result equal to cdktf's
 * own, byte for byte, on synthetic token mixes and on every stack.
 */
import { Token, Tokenization } from "cdktf";
import { extractTokenDouble } from "cdktf/lib/tokens/private/encoding";

/** Markers every string, list and map token carries (`${TfToken[`, `#{TfToken[`, `&{TfToken[`). */
const TOKEN_MARKER = "TfToken[";

/**
 * Whether cdktf's number-token scan (`[-|\d|.\+]+(e[-|\d|.|e|E|\+]+)`, global) finds anything in
 * `s`: exactly when some character of its first class is followed by `e` and a character of its
 * second class. The same answer in one pass without backtracking, which matters on a dashboard's
 * 50 KB of JSON; a test holds it equal to `TokenString.forNumbers(s).test()`.
 */
export function mayHoldNumberToken(s: string): boolean {
  return /[-|\d.+]e[-|\d.eE+]/.test(s);
}

/** A string cdktf's resolve returns unchanged: no token marker, nothing its number-token scan matches. */
function plainString(s: string): boolean {
  return !s.includes(TOKEN_MARKER) && !mayHoldNumberToken(s) && s !== Token.STRING_MAP_TOKEN_VALUE && s !== Token.ANY_MAP_TOKEN_VALUE;
}

/**
 * `slow(value)` for any value that is or may hold a token; a copy without `undefined` for the
 * rest. `slow` is cdktf's resolve with the stack's scope and resolver.
 */
export function resolveFast(value: unknown, slow: (value: unknown) => unknown): unknown {
  switch (typeof value) {
    case "undefined":
    case "boolean":
      return value;
    case "string":
      return plainString(value) ? value : slow(value);
    case "number":
      return value !== Token.NUMBER_MAP_TOKEN_VALUE && extractTokenDouble(value, false) === undefined ? value : slow(value);
    case "object": {
      if (value === null) return null;
      if (Array.isArray(value)) {
        // cdktf resolves a list holding a list token as a whole; any marker sends the list there.
        for (const element of value) {
          if ((typeof element === "string" && element.includes(TOKEN_MARKER)) || (typeof element === "number" && extractTokenDouble(element, true) !== undefined)) return slow(value);
        }
        const out: unknown[] = [];
        for (const element of value) {
          const resolved = resolveFast(element, slow);
          if (resolved !== undefined) out.push(resolved);
        }
        return out;
      }
      if (Object.getPrototypeOf(value) !== Object.prototype || Tokenization.isResolvable(value)) return slow(value);
      const out: Record<string, unknown> = {};
      for (const [key, element] of Object.entries(value)) {
        // A key with a marker may be a map token, which makes the whole object one: cdktf decides.
        if (!plainString(key)) return slow(value);
        const resolved = resolveFast(element, slow);
        if (resolved !== undefined) out[key] = resolved;
      }
      return out;
    }
    default:
      return slow(value); // functions, symbols, bigints: cdktf decides (it refuses them)
  }
}
