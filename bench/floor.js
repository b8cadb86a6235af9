// @ts-check
"use strict";
/**
 * The floor `npm run bench` sets the offline plan against: a node process that loads @pulumi/pulumi and the providers
 * the stacks use, registers one resource under `pulumi.runtime.setMocks` and waits for it. JavaScript, so it loads no
 * TypeScript.
 */
const pulumi = require("@pulumi/pulumi");
require("@pulumi/docker");
require("@pulumi/command");
const random = require("@pulumi/random");
require("@pulumi/tailscale");
require("@muhlba91/pulumi-proxmoxve");

const mocks = {
    /** @param {pulumi.runtime.MockResourceArgs} args */
    newResource: (args) => ({ id: `${args.name}-id`, state: args.inputs }),
    /** @param {pulumi.runtime.MockCallArgs} args */
    call: (args) => args.inputs,
};

pulumi.runtime.setMocks(mocks, "floor", "floor", false, "organization").then(() => {
    const id = new random.RandomId("floor", { byteLength: 8 });
    return new Promise((registered) => id.hex.apply(registered));
});
