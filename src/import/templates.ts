import * as path from "node:path";
import { Findings } from "./findings";
import { pathFrom } from "./sources";

/**
 * An Omni cluster template (`omnictl cluster template export`, or the seed's clusters/*.yaml) → an
 * `omni-scale:clusters` entry. Every field is carried to the setting of the same meaning, also the ones this
 * project refuses (kernelArgs, Machine documents, machine lists): the schema then refuses them with its reason,
 * exactly as in a stack file. `file:` paths are rewritten relative to the project directory, and each file patch
 * keeps the name Omni gave it (its original path), so the ids of the patches in Omni do not change.
 */

type Doc = Record<string, unknown>;

/**
 * `file:` of a patch, manifest or healthcheck: resolved against the template's directory (as omnictl does), written
 * relative to the project when inside it, else absolute (a seed kit beside the project, not a `../../` chain).
 */
function rebase(item: unknown, templateDir: string, projectDir: string | undefined, keepName: boolean): unknown {
    const it = item as Doc | null;
    if (typeof it?.file !== "string") return item;
    const file = pathFrom(projectDir, path.resolve(templateDir, it.file));
    return { ...(keepName ? { name: it.name ?? it.file } : {}), ...it, file };
}

const rebaseAll = (list: unknown, templateDir: string, projectDir: string | undefined, keepName: boolean) =>
    Array.isArray(list) ? list.map((i) => rebase(i, templateDir, projectDir, keepName)) : list;

/** Keys of a Workers or ControlPlane document, as the cluster setting names them (the same names, machineClass flattened). */
function machineSet(doc: Doc, templateDir: string, projectDir: string | undefined): Doc {
    const { kind: _kind, machineClass, patches, ...rest } = doc;
    const mc = machineClass as { name?: unknown; size?: unknown } | undefined;
    return {
        ...rest,
        ...(mc ? { machineClass: mc.name, size: mc.size } : {}),
        ...(patches === undefined ? {} : { patches: rebaseAll(patches, templateDir, projectDir, true) }),
    };
}

/** The cluster entry of one template file, or undefined when the file is no template (named in `f`). */
export function clusterFromTemplate(
    docs: unknown[],
    file: string,
    projectDir: string | undefined,
    f: Findings,
): Doc | undefined {
    const templateDir = path.dirname(path.resolve(file));
    const all = docs as Doc[];
    const of = (kind: string) => all.filter((d) => d?.kind === kind);
    const [cluster, controlPlane] = [of("Cluster"), of("ControlPlane")];
    if (cluster.length !== 1 || controlPlane.length !== 1) {
        f.issues.push({
            key: file,
            message: `a cluster template needs exactly 1 Cluster and 1 ControlPlane document, got ${cluster.length} and ${controlPlane.length} (omni v1.10.4 models/list.go)`,
        });
        return undefined;
    }
    for (const d of all.filter((d) => !["Cluster", "ControlPlane", "Workers", "Machine"].includes(String(d?.kind)))) {
        f.unexpressed.push({
            source: file,
            message: `document of kind ${JSON.stringify(d?.kind)} is not part of a cluster template (Cluster, ControlPlane, Workers, Machine): left out`,
        });
    }

    const { kind: _kind, kubernetes, talos, features, patches, ...rest } = cluster[0];
    const k8s = (kubernetes ?? {}) as Doc;
    const { version: kubernetesVersion, manifests, healthchecks, ...k8sRest } = k8s;
    const { backupConfiguration, ...featureRest } = (features ?? {}) as Doc;
    const interval = (backupConfiguration as { interval?: unknown } | undefined)?.interval;
    const machines = of("Machine").map(({ kind: _k, ...m }) => m);
    const spec: Doc = {
        ...rest,
        kubernetesVersion,
        talosVersion: (talos as { version?: unknown } | undefined)?.version,
        // Unknown keys under kubernetes: are kept under their own name, so the schema names them.
        ...Object.fromEntries(Object.entries(k8sRest).map(([key, v]) => [`kubernetes.${key}`, v])),
        ...(manifests === undefined
            ? {}
            : { kubernetesManifests: rebaseAll(manifests, templateDir, projectDir, true) }),
        ...(healthchecks === undefined
            ? {}
            : { kubernetesHealthchecks: rebaseAll(healthchecks, templateDir, projectDir, false) }),
        ...(features === undefined
            ? {}
            : {
                  features: { ...featureRest, ...(interval === undefined ? {} : { backupInterval: String(interval) }) },
              }),
        ...(patches === undefined ? {} : { patches: rebaseAll(patches, templateDir, projectDir, true) }),
        controlPlane: machineSet(controlPlane[0], templateDir, projectDir),
        workers: of("Workers").map((w) => machineSet(w, templateDir, projectDir)),
        ...(machines.length > 0 ? { machines } : {}),
        // The template's own patches come as they are; the generated Cilium patch would be one more (docs/guides/CILIUM.md).
        cni: "default",
    };
    f.notes.push({
        source: file,
        message:
            `cluster ${String(rest.name)} is imported with cni: default, so its template renders exactly as it is (its own CNI patches included); ` +
            "cni: cilium would add the generated omni-scale-cilium-cni patch and print Cilium's Helm values",
    });
    return spec;
}
