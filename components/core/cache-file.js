// @ts-check
"use strict";
const fs = require("node:fs");
const path = require("node:path");

/**
 * Writes a file of the package's caches (cache-dir.ts; the loader's under .build) whole: into a temporary file renamed
 * into place, so a concurrent reader sees all of it or none. Where it cannot be written (a read-only checkout, a full disk) it is not, and the
 * caller runs uncached: slower, not broken. Returns whether it was written.
 * @param {string} file
 * @param {string} text
 */
function writeCacheFile(file, text) {
    try {
        fs.mkdirSync(path.dirname(file), { recursive: true });
        const tmp = `${file}.${process.pid}.tmp`;
        fs.writeFileSync(tmp, text);
        fs.renameSync(tmp, file);
        return true;
    } catch {
        return false;
    }
}

module.exports = { writeCacheFile };
