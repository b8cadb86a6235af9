import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as path from "node:path";
import * as semver from "semver";
import {
    kubernetesSupportProblem,
    omniTalosSupport,
    TALOS_MINORS,
    talosKubernetesSupport,
    talosVersionProblem,
} from "../components/core/versions";

// siderolabs/omni v1.10.4 and the Talos machinery it is built with (pkg/machinery/v1.14.0-beta.1): each fact names its file.
const upstream = JSON.parse(
    fs.readFileSync(path.join(__dirname, "fixtures/upstream/talos-support.v1.10.4.json"), "utf8"),
);
const omni = upstream.omni;
const machinery: Record<string, { minimum: string; maximum: string }> = upstream.kubernetes.byTalosMinor;

describe("Talos versions Omni v1.10.4 offers (client/pkg/constants/constants.go, validations/version.go)", () => {
    it("mirrors Omni's minimum, its latest supported minor and its denylist", () => {
        assert.equal(omniTalosSupport.minimum, omni.minTalosVersion.value);
        assert.equal(omniTalosSupport.latestMinor, omni.latestSupportedTalosVersion.value);
        assert.deepEqual(omniTalosSupport.denylisted, omni.denylistedTalosVersions.value);
    });

    it("accepts every minor from the minimum to the latest supported one, and those only", () => {
        const expected = Object.keys(machinery).filter((m) => {
            const v = `${m}.0`;
            return (
                semver.gte(v, omni.minTalosVersion.value) &&
                semver.lte(v, `${omni.latestSupportedTalosVersion.value}.0`)
            );
        });
        assert.deepEqual(TALOS_MINORS, expected);
        assert.deepEqual(expected, ["1.9", "1.10", "1.11", "1.12", "1.13"]);
    });

    it("refuses a version below MinTalosVersion, naming the range", () => {
        for (const v of ["v1.3.0", "v1.6.4", "v1.8.3"])
            assert.match(
                talosVersionProblem(v)!,
                /is no longer supported by Omni v1\.10\.4, which offers Talos 1\.9\.0 to 1\.13\.x: use one of those, e\.g\. v1\.13\.6/,
                v,
            );
    });

    it("refuses a minor beyond LatestSupportedTalosVersion (Omni marks it unsupported)", () => {
        for (const v of ["v1.14.0", "v1.15.2", "v2.0.0"])
            assert.match(
                talosVersionProblem(v)!,
                /is newer than supported by Omni v1\.10\.4, which offers Talos 1\.9\.0 to 1\.13\.x.*or upgrade Omni first/,
                v,
            );
    });

    it("refuses a denylisted release and accepts its neighbours", () => {
        assert.match(
            talosVersionProblem("v1.13.1")!,
            /Talos v1\.13\.1 is withheld by Omni v1\.10\.4.*another 1\.13 patch release/,
        );
        for (const v of ["v1.9.0", "v1.10.7", "v1.13.0", "v1.13.2", "v1.13.6"])
            assert.equal(talosVersionProblem(v), undefined, v);
    });
});

describe("Kubernetes per Talos minor (siderolabs/talos pkg/machinery/compatibility at pkg/machinery/v1.14.0-beta.1)", () => {
    it("mirrors machinery's minimum and maximum for every minor accepted", () => {
        for (const minor of TALOS_MINORS)
            assert.deepEqual(
                talosKubernetesSupport[minor],
                { min: machinery[minor].minimum, max: machinery[minor].maximum },
                minor,
            );
    });

    it("follows SupportedWith: the minimum included, the maximum excluded, at every minor", () => {
        for (const minor of TALOS_MINORS) {
            const min = semver.parse(machinery[minor].minimum)!;
            const max = semver.parse(machinery[minor].maximum)!;
            const talos = `v${minor}.1`;
            const runs = (kubernetes: string) => kubernetesSupportProblem(talos, kubernetes) === undefined;
            const at = `Talos ${talos}`;
            assert.ok(runs(`v${min.version}`), `${at}: its minimum`);
            assert.ok(runs(`v${max.major}.${max.minor}.0`), `${at}: the maximum's minor`);
            assert.ok(!runs(`v${min.major}.${min.minor - 1}.9`), `${at}: below the minimum`);
            assert.ok(!runs(`v${max.version}`), `${at}: the maximum itself (excluded)`);
            assert.ok(!runs(`v${max.major}.${max.minor + 1}.0`), `${at}: the next minor`);
        }
    });

    it("refuses Kubernetes v1.36 on Talos 1.9 and 1.10, naming their ranges", () => {
        assert.match(kubernetesSupportProblem("v1.9.5", "v1.36.2")!, /which supports Kubernetes 1\.27 to 1\.32/);
        assert.match(kubernetesSupportProblem("v1.10.7", "v1.36.2")!, /which supports Kubernetes 1\.28 to 1\.33/);
        assert.match(kubernetesSupportProblem("v1.12.4", "v1.36.2")!, /which supports Kubernetes 1\.30 to 1\.35/);
    });
});
