import * as semver from "semver";
import { z } from "zod";
import { refineWith } from "./validation";

/** A parsed container image reference: `[registry/]repository[:tag][@digest]`. */
export interface ImageRef {
    repository: string;
    tag?: string;
    digest?: string;
}

export function parseImageRef(image: string): ImageRef {
    const [nameAndTag, digest] = image.split("@", 2);
    // A colon after the last slash separates the tag; one before it is a registry port.
    const lastSlash = nameAndTag.lastIndexOf("/");
    const colon = nameAndTag.indexOf(":", lastSlash + 1);
    const repository = colon === -1 ? nameAndTag : nameAndTag.slice(0, colon);
    const tag = colon === -1 ? undefined : nameAndTag.slice(colon + 1);
    return { repository, tag: tag || undefined, digest: digest || undefined };
}

/** Why an image reference is not pinned, or undefined when it is (a digest, or a tag other than `latest`). */
export function imagePinProblem(image: string): string | undefined {
    const ref = parseImageRef(image);
    if (ref.digest) {
        return /^sha256:[0-9a-f]{64}$/.test(ref.digest) ? undefined : `digest "${ref.digest}" is not a sha256 digest`;
    }
    if (!ref.tag) return `image "${image}" has no tag, so it floats with "latest"; pin a version tag or a digest`;
    if (ref.tag === "latest") return `image "${image}" uses "latest"; pin a version tag or a digest`;
    return undefined;
}

/** The tag as a semantic version (`v0.3.0` → `0.3.0`), or undefined when the tag is not one. */
export function tagVersion(image: string): string | undefined {
    const tag = parseImageRef(image).tag;
    return (tag && semver.clean(tag)) || undefined;
}

export interface ProviderImageRules {
    /** Tags of the locally patched build (the seed's `local-fix`). */
    patchedTags: string[];
    /** First upstream release without the conflicting hostname patch (omni-infra-provider-proxmox 559954c, first released in v0.1.0; docs/TROUBLESHOOTING.md "static hostname is already set"). */
    minimumVersion: string;
}

export const defaultProviderImageRules: ProviderImageRules = { patchedTags: ["local-fix"], minimumVersion: "0.1.0" };

/**
 * Why a Proxmox infra provider image may still carry the hostname patch that conflicts with Omni
 * (`static hostname is already set`), or undefined when it is safe: a digest, a patched tag, or a release ≥ minimumVersion.
 */
export function providerImageProblem(
    image: string,
    rules: ProviderImageRules = defaultProviderImageRules,
): string | undefined {
    const pin = imagePinProblem(image);
    if (pin) return pin;
    const ref = parseImageRef(image);
    if (ref.digest || rules.patchedTags.includes(ref.tag!)) return undefined;
    const version = tagVersion(image);
    if (!version) {
        return `provider image tag "${ref.tag}" is neither a patched tag (${rules.patchedTags.join(", ")}) nor a release version; use v${rules.minimumVersion} or later`;
    }
    if (semver.lt(version, rules.minimumVersion)) {
        return `provider image ${ref.tag} predates v${rules.minimumVersion}, which removed the hostname patch that breaks Talos ≥ 1.12; use v${rules.minimumVersion} or later`;
    }
    return undefined;
}

/** An image reference pinned to a version tag or digest (see imagePinProblem). */
export const PinnedImageSchema = z.string().superRefine(refineWith(imagePinProblem));
