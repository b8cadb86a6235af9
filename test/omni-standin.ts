import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as YAML from "yaml";

/**
 * A stand-in omnictl on PATH: a shell script that answers each command from files, as omnictl v1.10.4 would
 * (shapes in test/fixtures/upstream/omnictl-v1.10.4 and test/fixtures/import/omnictl). A command is keyed by its
 * arguments without `-f <file>` and `-o yaml`, each non-word character an underscore
 * (`get machineclasses cp -o yaml` → `get_machineclasses_cp`). It answers `<key>.<n>` on the n-th call (0-based) if
 * that file exists, else `<key>`; a missing answer is Omni's NotFound on stderr with exit 1. `apply` and
 * `cluster template sync|delete` keep the file they were given and then move the files of `then-<verb>/` into
 * place (what Omni answers after the change). `kubeconfig` and `talosconfig` copy their answer to the path given.
 * Every call is logged with the environment's endpoint and key.
 */
const SCRIPT = `#!/bin/sh
d="$OMNICTL_STANDIN"
printf '%s\\n' "$*" >> "$d/calls"
printf '%s %s\\n' "$OMNI_ENDPOINT" "$OMNI_SERVICE_ACCOUNT_KEY" >> "$d/env"
file=""; args=""; prev=""
for a in "$@"; do
  if [ "$prev" = "-f" ]; then file="$a"; prev=""; continue; fi
  if [ "$a" = "-f" ]; then prev="-f"; continue; fi
  args="$args $a"
done
key=$(printf '%s' "$args" | sed 's/ -o yaml$//; s/^ //' | tr -c 'A-Za-z0-9.=-' '_')
promote() { if [ -d "$d/then-$1" ]; then mv "$d/then-$1"/* "$d/" 2>/dev/null; rmdir "$d/then-$1"; fi; }
case "$1 $2 $3" in
  "apply "*) cp "$file" "$d/applied.yaml"; promote apply; exit 0 ;;
  "cluster template sync") cp "$file" "$d/synced.yaml"; promote sync; exit 0 ;;
  "cluster template delete") cp "$file" "$d/deleted.yaml"; promote delete; exit 0 ;;
esac
case "$1" in
  kubeconfig|talosconfig) cp "$d/$1" "$2"; exit 0 ;;
esac
n=$(grep -c -x -F -- "$*" "$d/calls"); n=$((n - 1))
if [ -f "$d/$key.$n" ]; then cat "$d/$key.$n"; exit 0; fi
if [ -f "$d/$key" ]; then cat "$d/$key"; exit 0; fi
echo "Error: rpc error: code = NotFound desc = resource $key doesn't exist" >&2
exit 1
`;

export const UPSTREAM = path.join(__dirname, "fixtures", "upstream", "omnictl-v1.10.4");
export const IMPORTED = path.join(__dirname, "fixtures", "import", "omnictl");
export const upstream = (file: string) => fs.readFileSync(path.join(UPSTREAM, file), "utf8");

export class StandIn {
    readonly dir = fs.mkdtempSync(path.join(os.tmpdir(), "omnictl-standin-"));
    private readonly bin = path.join(this.dir, "bin");
    readonly state = path.join(this.dir, "state");
    private readonly saved = { PATH: process.env.PATH, OMNICTL_STANDIN: process.env.OMNICTL_STANDIN };

    constructor() {
        fs.mkdirSync(this.bin);
        fs.mkdirSync(this.state);
        fs.writeFileSync(path.join(this.bin, "omnictl"), SCRIPT, { mode: 0o755 });
        fs.writeFileSync(path.join(this.state, "calls"), "");
        process.env.PATH = `${this.bin}${path.delimiter}${process.env.PATH}`;
        process.env.OMNICTL_STANDIN = this.state;
    }

    /** Sets the answer to a command now, or (`then`) after the next apply/sync/delete. */
    answer(key: string, text: string, then?: "apply" | "sync" | "delete") {
        const dir = then ? path.join(this.state, `then-${then}`) : this.state;
        fs.mkdirSync(dir, { recursive: true });
        fs.writeFileSync(path.join(dir, key), text);
    }

    calls(): string[] {
        return fs.readFileSync(path.join(this.state, "calls"), "utf8").split("\n").filter(Boolean);
    }

    environments(): string[] {
        return fs.readFileSync(path.join(this.state, "env"), "utf8").split("\n").filter(Boolean);
    }

    read(file: string): string {
        return fs.readFileSync(path.join(this.state, file), "utf8");
    }

    restore() {
        for (const [k, v] of Object.entries(this.saved)) {
            if (v === undefined) delete process.env[k];
            else process.env[k] = v;
        }
        fs.rmSync(this.dir, { recursive: true, force: true });
    }
}

/**
 * A rendered MachineClass as `omnictl get machineclasses <id> -o yaml` prints it once Omni holds it: Omni's
 * metadata, 4-space indent, the spec as applied (test/fixtures/import/omnictl/machineclasses.yaml).
 */
export function classAsOmniPrints(rendered: string, version = 1): string {
    const doc = YAML.parse(rendered);
    const metadata = {
        ...doc.metadata,
        version,
        owner: null,
        phase: "running",
        created: "2026-07-02T09:14:51Z",
        updated: "2026-07-02T09:14:51Z",
    };
    return YAML.stringify({ metadata, spec: { matchlabels: [], ...doc.spec } }, { indent: 4 });
}
