import {
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidation,
    ResourceValidationPolicy,
    validateResourceOfType,
} from "@pulumi/policy";
import {
    defaultProviderImageRules,
    imagePinProblem,
    parseImageRef,
    providerImageProblem,
    ProviderImageRules,
} from "../components/core/images";
import { configOf, ConfigSource } from "./config";
import { known } from "./props";
import { docker } from "./providers";

/** What a Container gets from `remoteImage.imageId`: an id, not a reference; the RemoteImage is checked instead. */
const IMAGE_ID = /^sha256:[0-9a-f]{64}$/;

/** Runs `check` on every image reference: RemoteImage names, and Container images that are references. */
function forEachImage(
    check: (image: string, args: ConfigSource, report: ReportViolation) => void,
): ResourceValidation[] {
    return [
        validateResourceOfType(docker.RemoteImage, (image, args, report) => check(image.name, args, report)),
        validateResourceOfType(docker.Container, (container, args, report) => {
            // During preview an image id from a RemoteImage is unknown; that RemoteImage is checked itself.
            const image = known(() => container.image);
            if (image && !IMAGE_ID.test(image)) check(image, args, report);
        }),
    ];
}

export const imagesPinned: ResourceValidationPolicy = {
    name: "images-pinned",
    description: "Container images are pinned to a version tag or a digest (no `latest`, no missing tag).",
    severity: "medium",
    remediationSteps:
        "Use a version tag (e.g. ghcr.io/siderolabs/omni:v1.10.4) or a digest (`image@sha256:…`); bump versions in components/core/versions.ts.",
    validateResource: forEachImage((image, _args, report) => {
        const problem = imagePinProblem(image);
        if (problem) report(problem);
    }),
};

const PROVIDER_REPOSITORY = "omni-infra-provider-proxmox";

const patchedTagSchema: PolicyConfigSchema = {
    properties: {
        patchedTags: {
            type: "array",
            items: { type: "string", minLength: 1 },
            default: defaultProviderImageRules.patchedTags,
            description: "Tags of locally patched provider builds that are accepted as they are.",
        },
        minimumVersion: {
            type: "string",
            pattern: "^v?\\d+\\.\\d+\\.\\d+$",
            default: defaultProviderImageRules.minimumVersion,
            description:
                "First upstream provider release accepted (it must not carry the hostname patch that breaks Talos ≥ 1.12).",
        },
    },
};

export const proxmoxProviderPatchedTag: ResourceValidationPolicy = {
    name: "proxmox-provider-patched-tag",
    description:
        "The Omni Proxmox infra provider image is a patched build, an upstream release without the hostname patch (v0.1.0+), or a digest.",
    severity: "high",
    remediationSteps:
        "Set the provider image to ghcr.io/siderolabs/omni-infra-provider-proxmox:v0.1.0 or later (components/core/versions.ts), or to your patched tag " +
        "(policy config `patchedTags`, default local-fix); never `latest` or an untagged image.",
    configSchema: patchedTagSchema,
    validateResource: forEachImage((image, args, report) => {
        if (parseImageRef(image).repository.split("/").pop() !== PROVIDER_REPOSITORY) return;
        const config = configOf<{ patchedTags: string[]; minimumVersion: string }>(args, patchedTagSchema);
        const rules: ProviderImageRules = {
            patchedTags: config.patchedTags,
            minimumVersion: config.minimumVersion.replace(/^v/, ""),
        };
        const problem = providerImageProblem(image, rules);
        if (problem) report(problem);
    }),
};

export const imagePolicies = [imagesPinned, proxmoxProviderPatchedTag];
