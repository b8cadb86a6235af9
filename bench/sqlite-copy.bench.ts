/**
 * `node -r ./src/plan/register.js bench/sqlite-copy.bench.ts [--mb 40] [--limit 60]`: how long the hub backup's SQLite
 * copy takes while a writer commits every 20 ms (what Omni does with machine logs), for the old `.backup` (the
 * online backup API, restarted by every commit of another connection) and the current `VACUUM INTO` (one read
 * transaction). Each copy runs with the real sqlite3, read-only, and is killed after --limit seconds.
 */
import { ChildProcess, execFileSync, spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parseArgs } from "node:util";

const { values } = parseArgs({
    options: { mb: { type: "string", default: "40" }, limit: { type: "string", default: "60" } },
});
const rows = Math.round((Number(values.mb) * 1e6) / 4000);
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "sqlite-copy-bench-"));
const db = path.join(tmp, "omni.db");
execFileSync("sqlite3", [
    db,
    "PRAGMA journal_mode=WAL; CREATE TABLE machine_logs(id INTEGER PRIMARY KEY, line TEXT NOT NULL); " +
        `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ${rows}) ` +
        "INSERT INTO machine_logs(line) SELECT hex(randomblob(2000)) FROM n;",
]);
const writer: ChildProcess = spawn(
    "sh",
    [
        "-c",
        `(i=0; while :; do i=$((i+1)); echo "INSERT INTO machine_logs(line) VALUES('line $i');"; sleep 0.02; done) | sqlite3 '${db}'`,
    ],
    { stdio: "ignore", detached: true },
);

function copy(label: string, sql: string): void {
    const started = Date.now();
    const r = spawnSync(
        "timeout",
        [values.limit!, "sqlite3", "-bail", "-readonly", "-cmd", ".timeout 60000", db, sql],
        {
            encoding: "utf8",
        },
    );
    const seconds = ((Date.now() - started) / 1000).toFixed(2);
    const outcome =
        r.status === 0
            ? "done"
            : r.status === 124
              ? `killed at the ${values.limit}s limit`
              : `exit ${r.status}: ${r.stderr.trim()}`;
    console.log(`${label.padEnd(12)} ${seconds.padStart(7)} s  ${outcome}`);
}

try {
    execFileSync("sleep", ["0.5"]);
    console.log(`database ${(fs.statSync(db).size / 1e6).toFixed(1)} MB, a commit every 20 ms`);
    copy("VACUUM INTO", `VACUUM INTO '${path.join(tmp, "vacuum.db")}'`);
    copy(".backup", `.backup main '${path.join(tmp, "backup.db")}'`);
} finally {
    process.kill(-writer.pid!, "SIGTERM");
    fs.rmSync(tmp, { recursive: true, force: true });
}
