/**
 * What runs many times per plan. Checks and parses are kept per distinct text: a plan checks a text in its program (a
 * template renders, a patch is validated) and its policy pack reads the same text in several policies; each pays the
 * parse once per process. Errors made only to be caught or never read go without a stack trace.
 */

/** What each `oncePerText` function kept. */
const memos: Map<string, unknown>[] = [];

/**
 * `check` run once per distinct text, e.g. an etcd key that several resources upload or several analyses see. Callers
 * share the result, so they must not change it. `keep` bounds how many texts are kept (the oldest goes first).
 */
export function oncePerText<T>(check: (text: string) => T, keep = Infinity): (text: string) => T {
    const results = new Map<string, T>();
    memos.push(results);
    return (text) => {
        let result = results.get(text);
        if (result === undefined && !results.has(text)) {
            result = check(text);
            if (results.size >= keep) results.delete(results.keys().next().value!);
            results.set(text, result);
        }
        return result as T;
    };
}

/**
 * Forgets what every `oncePerText` function kept. A pack process analyzes one preview, so it parses each text once; the
 * bench's repeated in-process rounds call this before each, so that each round pays those parses as well.
 */
export function forgetTexts(): void {
    for (const results of memos) results.clear();
}

/** `make()` with no stack trace recorded for an Error it creates (one nobody reads: it costs more than the rest). */
export function withoutStackTrace<T>(make: () => T): T {
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    try {
        return make();
    } finally {
        Error.stackTraceLimit = limit;
    }
}
