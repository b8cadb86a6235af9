import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as YAML from "yaml";
import { renderClusterTemplate } from "../components/omni/cluster-render";
import { ClusterProps } from "../components/omni/omni-providers";
import { clusterState, kubeconfigOptions } from "../components/omni/omni-state";
import { importStack } from "../src/import/import";

/**
 * A stand-in omnictl on PATH: a shell script that answers each command from files, as omnictl v1.10.4 would
 * (shapes in test/fixtures/upstream/omnictl-v1.10.4 and test/fixtures/import/omnictl). A command is keyed by its
 * arguments without `-f <file>` and `-o yaml`, each non-word character an underscore
 * (`get machineclasses cp -o yaml` → `get_machineclasses_cp`). It answers `<key>.<n>` on the n-th call (0-based) if
 * that file exists, else `<key>`; a missing answer is Omni's NotFound on stderr with exit 1. An answer whose first
 * line is `#!fail` prints the rest on stderr and exits 1; `#!hang` never answers (a child `sleep` holds the pipes,
 * as a wedged process would). `apply` and `cluster template sync|delete` keep the file they were given and then move
 * the files of `then-<verb>/` into place (what Omni answers after the change); `sync --dry-run` only prints its
 * answer. `kubeconfig` and `talosconfig` copy their answer to the path given. Every call is logged with the
 * environment's endpoint and key, and with its omniconfig: like omnictl (`config/config.go` Init with create), it
 * writes a default config at OMNICONFIG when that file is missing, and under $HOME/.talos when OMNICONFIG is unset.
 */
const SCRIPT = `#!/bin/sh
d="$OMNICTL_STANDIN"
printf '%s\\n' "$*" >> "$d/calls"
printf '%s %s\\n' "$OMNI_ENDPOINT" "$OMNI_SERVICE_ACCOUNT_KEY" >> "$d/env"
if [ -z "$OMNICONFIG" ]; then
  mkdir -p "$HOME/.talos/omni"; printf 'context: default\\n' > "$HOME/.talos/omni/config"
  echo "(none)" >> "$d/omniconfigs"
elif [ -f "$OMNICONFIG" ]; then
  joined=""; while IFS= read -r l; do joined="$joined$l "; done < "$OMNICONFIG"
  printf '%s %s\\n' "$OMNICONFIG" "$joined$l" >> "$d/omniconfigs"
else
  printf 'context: default\\n' > "$OMNICONFIG"; echo "$OMNICONFIG (written)" >> "$d/omniconfigs"
fi
file=""; args=""; prev=""
for a in "$@"; do
  if [ "$prev" = "-f" ]; then file="$a"; prev=""; continue; fi
  if [ "$a" = "-f" ]; then prev="-f"; continue; fi
  args="$args $a"
done
# In the shell alone, where a process per step would do: the stand-in answers hundreds of calls a run.
rest=\${args% -o yaml}; rest=\${rest# }; key=""
while [ -n "$rest" ]; do
  c=\${rest%"\${rest#?}"}; rest=\${rest#?}
  case "$c" in [A-Za-z0-9.=-]) key="$key$c" ;; *) key="\${key}_" ;; esac
done
promote() { if [ -d "$d/then-$1" ]; then mv "$d/then-$1"/* "$d/" 2>/dev/null; rmdir "$d/then-$1"; fi; }
n=-1; while IFS= read -r l; do [ "$l" = "$*" ] && n=$((n + 1)); done < "$d/calls"
ans=""
if [ -f "$d/$key.$n" ]; then ans="$d/$key.$n"; elif [ -f "$d/$key" ]; then ans="$d/$key"; fi
if [ -n "$ans" ]; then
  first=""; read -r first < "$ans"
  case "$first" in
    "#!hang") sleep 600; exit 0 ;;
    "#!fail") tail -n +2 "$ans" >&2; exit 1 ;;
  esac
fi
case "$1 $2 $3 $4" in
  "apply "*) cp "$file" "$d/applied.yaml"; promote apply; exit 0 ;;
  "cluster template sync --dry-run") [ -n "$ans" ] && cat "$ans"; exit 0 ;;
  "cluster template sync "*) cp "$file" "$d/synced.yaml"; promote sync; exit 0 ;;
  "cluster template delete"*) cp "$file" "$d/deleted.yaml"; promote delete; exit 0 ;;
esac
case "$1" in
  kubeconfig|talosconfig) cp "$d/$1" "$2"; exit 0 ;;
esac
if [ -n "$ans" ]; then cat "$ans"; exit 0; fi
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
    /** HOME while the stand-in is on PATH: omnictl would write its default config there. */
    readonly home = path.join(this.dir, "home");
    private readonly saved = {
        PATH: process.env.PATH,
        OMNICTL_STANDIN: process.env.OMNICTL_STANDIN,
        HOME: process.env.HOME,
        OMNICONFIG: process.env.OMNICONFIG,
    };

    constructor() {
        fs.mkdirSync(this.bin);
        fs.mkdirSync(this.state);
        fs.mkdirSync(this.home);
        process.env.HOME = this.home;
        // A user's own omniconfig must not be what the providers run with.
        process.env.OMNICONFIG = path.join(this.home, "users-omniconfig");
        fs.writeFileSync(path.join(this.bin, "omnictl"), SCRIPT, { mode: 0o755 });
        fs.writeFileSync(path.join(this.state, "calls"), "");
        process.env.PATH = `${this.bin}${path.delimiter}${process.env.PATH}`;
        process.env.OMNICTL_STANDIN = this.state;
    }

    /** What each call ran with: `<OMNICONFIG> <its content>`, `(none)`, or `<path> (written)` when it was missing. */
    omniconfigs(): string[] {
        return this.read("omniconfigs").split("\n").filter(Boolean);
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

// ---- the cluster talos-prod-01 of the import fixtures, as the provider tests drive it ----

export const access = {
    omniEndpoint: "https://omni.example.internal",
    serviceAccountKey: "offline-fake-service-account-key",
};
export const exported = fs.readFileSync(path.join(IMPORTED, "talos-prod-01.yaml"), "utf8");
export const EXPORT = "cluster_template_export_-c_talos-prod-01";
export const STATUS = "get_clusterstatuses_talos-prod-01";
export const SETS = "get_machinesetstatuses_-l_omni.sidero.dev_cluster=talos-prod-01";

/** Omni's statuses of talos-prod-01 as the export describes it (3 control planes, 2 golf workers), all settled. */
export function settled(omni: StandIn, then?: "sync") {
    omni.answer(STATUS, upstream("clusterstatus-running.yaml"), then);
    omni.answer(SETS, upstream("machinesetstatuses-running.yaml"), then);
    omni.answer("get_talosupgradestatuses_talos-prod-01", upstream("talosupgradestatus-done.yaml"), then);
    omni.answer("get_kubernetesupgradestatuses_talos-prod-01", upstream("kubernetesupgradestatus-done.yaml"), then);
}

/** The cluster this project renders from Omni's own export (what an operator gets from `npm run import`). */
export function clusterProps(readyTimeout = "2s"): ClusterProps {
    const { config } = importStack({
        projectDir: path.join(__dirname, ".."),
        stack: "matrix",
        hubStack: "quantum",
        machineClasses: [path.join(IMPORTED, "machineclasses.yaml")],
        clusters: [path.join(IMPORTED, "talos-prod-01.yaml")],
    });
    const classes = (config.workloads!.machineClasses as { name: string }[]).map((c) => c.name);
    const yaml = renderClusterTemplate((config.workloads!.clusters as any[])[0], classes).yaml;
    return {
        kind: "omni-cluster",
        name: "talos-prod-01",
        yaml,
        state: clusterState(yaml),
        readyTimeout,
        kubeconfigOptions: kubeconfigOptions(),
        kubeconfigRotation: 0,
        ...access,
    };
}

/** Runs `fn` capturing what the provider prints (its progress, which the engine shows for a dynamic provider). */
export async function printed<T>(fn: () => Promise<T>): Promise<{ result: T; lines: string[] }> {
    const lines: string[] = [];
    const write = process.stdout.write;
    process.stdout.write = ((chunk: string) => {
        lines.push(...String(chunk).split("\n").filter(Boolean));
        return true;
    }) as typeof process.stdout.write;
    try {
        return { result: await fn(), lines };
    } finally {
        process.stdout.write = write;
    }
}
