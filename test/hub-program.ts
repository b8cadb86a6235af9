import { strict as assert } from "node:assert";
import * as path from "node:path";
import { Mocks } from "@pulumi/pulumi/runtime";
import { ConfigError } from "../components/core/validation";
import { loadStackConfig, RawConfig } from "../src/config";
import { CapturedResource, runProgram } from "../src/plan/capture";
import { offlineMocks, StackReferenceOutputs } from "../src/plan/mocks";
import { readStackFile } from "../src/plan/plan";
import { programFor } from "../src/programs";

/** Obviously fake; only ever handed to mocks. */
export const FAKE_TOKEN = "offline-cloudflare-token-not-real";
export const ZONE_ID = "0123456789abcdef0123456789abcdef";

/** The example hub's settings with `edit` applied, as raw config (secrets given as `omni-scale:<key>` → value). */
export function hubConfig(
    edit: (hub: any) => void,
    secrets: Record<string, string> = {},
): { raw: RawConfig; secretKeys: string[] } {
    const { config } = readStackFile(path.join(__dirname, "..", "Pulumi.quantum.yaml"));
    const hub = JSON.parse(config["omni-scale:hub"]);
    edit(hub);
    const secretEntries = Object.entries(secrets).map(([k, v]) => [`omni-scale:${k}`, v]);
    return {
        raw: { ...config, "omni-scale:hub": JSON.stringify(hub), ...Object.fromEntries(secretEntries) },
        secretKeys: secretEntries.map(([k]) => k),
    };
}

/** Runs the hub program on the edited example under the offline mocks, or `wrap`'s changes to them. */
/** The config issues (`key: message`) of the example hub with `edit` applied; none when it loads. */
export function hubConfigIssues(edit: (hub: any) => void, secrets: Record<string, string> = {}): string[] {
    const { raw, secretKeys } = hubConfig(edit, secrets);
    try {
        loadStackConfig(raw, new Set(secretKeys));
        return [];
    } catch (e) {
        assert.ok(e instanceof ConfigError);
        return e.issues.map((i) => `${i.key}: ${i.message}`);
    }
}

export async function runHub(edit: (hub: any) => void, secrets: Record<string, string>, wrap?: (base: Mocks) => Mocks) {
    const { raw, secretKeys } = hubConfig(edit, secrets);
    const config = loadStackConfig(raw, new Set(secretKeys));
    const refs: Record<string, StackReferenceOutputs> = {
        "organization/omni-scale/quantum": { outputs: {}, secretOutputNames: [] },
    };
    const base = offlineMocks(refs);
    const result = await runProgram(() => programFor(config), {
        stack: "quantum",
        config: raw,
        secretKeys,
        mocks: wrap ? wrap(base) : base,
    });
    const find = (pred: (r: CapturedResource) => boolean, what: string): CapturedResource => {
        const r = result.resources.find(pred);
        if (!r) throw new Error(`${what} was not registered`);
        return r;
    };
    return { ...result, find };
}

/** Cloudflare settings of the hub, plus the token as a secret. */
export const withCloudflare = (hub: any, extra: Record<string, unknown> = {}) => {
    hub.dns = { cloudflare: { zoneId: ZONE_ID, ...extra } };
};
