/** Types of cache-file.js, which the JavaScript loaders (register.js, skip-unchanged.js) require before any TypeScript. */
export function writeCacheFile(file: string, text: string): boolean;
