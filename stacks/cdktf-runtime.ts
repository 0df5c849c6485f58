/**
 * One runtime adjustment to cdktf 0.21.0 (archived upstream, final), applied by main.ts before any
 * construct exists, never to the files in node_modules.
 *
 * cdktf captures a full stack trace (`Error.stackTraceLimit = Infinity`, then formats it) for every
 * token it creates — every reference, every `Lazy` — whatever `App({ stackTraces: false })` says;
 * the trace is only ever read to explain a token that fails to resolve. On this program that is
 * thousands of traces per synth, about half of construct creation. With PLATFORM_DEBUG=1, main.ts
 * leaves them on, for a failure that needs them.
 *
 * The consumers read `captureStackTrace` from the module's exports object at each call
 * (`(0, stack_trace_1.captureStackTrace)()`), so replacing the export reaches every one of them.
 * test/stacks/cdktf-runtime.test.ts proves both that and that the output does not change.
 */

interface StackTraceModule {
  captureStackTrace: (below?: unknown) => string[];
}

const stackTraceModule = (): StackTraceModule => require("cdktf/lib/tokens/private/stack-trace") as StackTraceModule;

let original: StackTraceModule["captureStackTrace"] | undefined;

/** Makes cdktf's per-token stack traces empty. Idempotent. */
export function disableTokenStackTraces(): void {
  const mod = stackTraceModule();
  if (original) return;
  original = mod.captureStackTrace;
  mod.captureStackTrace = () => [];
}

/** Undoes {@link disableTokenStackTraces} (for tests). */
export function restoreTokenStackTraces(): void {
  if (!original) return;
  stackTraceModule().captureStackTrace = original;
  original = undefined;
}
