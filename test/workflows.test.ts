import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as path from "node:path";
import * as YAML from "yaml";

const REPO = path.join(__dirname, "..");
const DIR = path.join(REPO, ".github/workflows");
const workflows = fs.readdirSync(DIR).map((file) => ({
    file,
    text: fs.readFileSync(path.join(DIR, file), "utf8"),
    doc: YAML.parse(fs.readFileSync(path.join(DIR, file), "utf8")),
}));

interface Step {
    uses?: string;
    run?: string;
    env?: Record<string, string>;
    with?: Record<string, unknown>;
}
interface Job {
    if?: string;
    env?: Record<string, string>;
    environment?: string;
    steps?: Step[];
}
const jobs = (doc: any): [string, Job][] => Object.entries(doc.jobs ?? {});

describe("workflows (.github/workflows): pinned, secrets per step, `up` only from the default branch (issue 30, item 11)", () => {
    it("pins every action by a full commit id, with the tag it carries in a comment", () => {
        for (const { file, text } of workflows) {
            const uses = [...text.matchAll(/^\s*-?\s*uses:\s*(\S+)(.*)$/gm)];
            assert.ok(uses.length > 0, file);
            for (const [, ref, comment] of uses) {
                assert.match(ref, /^[\w.-]+\/[\w.-]+@[0-9a-f]{40}$/, `${file}: ${ref} is not pinned by commit`);
                assert.match(comment, /^ # v\d+\.\d+\.\d+$/, `${file}: ${ref} names no tag`);
            }
        }
    });

    it("installs the Pulumi CLI at mise.toml's pin (the version the SDK dependency is tested with)", () => {
        const pin = /^pulumi = "([^"]+)"$/m.exec(fs.readFileSync(path.join(REPO, "mise.toml"), "utf8"))![1];
        let installs = 0;
        for (const { file, doc } of workflows)
            for (const [name, job] of jobs(doc))
                for (const step of job.steps ?? [])
                    if (step.uses?.startsWith("pulumi/actions@")) {
                        installs++;
                        assert.equal(String(step.with?.["pulumi-version"]), pin, `${file} ${name}`);
                    }
        assert.ok(installs >= 3);
    });

    it("gives secrets to the steps that use them, never to a whole job (npm ci and actions' installs run there)", () => {
        for (const { file, doc } of workflows) {
            assert.doesNotMatch(JSON.stringify(doc.env ?? {}), /secrets\./, `${file}: workflow-level env`);
            for (const [name, job] of jobs(doc)) {
                assert.doesNotMatch(JSON.stringify(job.env ?? {}), /secrets\./, `${file} ${name}: job-level env`);
                for (const step of job.steps ?? [])
                    if (step.uses || /npm ci/.test(step.run ?? ""))
                        assert.doesNotMatch(
                            JSON.stringify(step),
                            /secrets\./,
                            `${file} ${name}: ${step.uses ?? step.run}`,
                        );
            }
        }
    });

    it("runs `pulumi up` only in a job limited to the default branch and run in a protected environment", () => {
        let ups = 0;
        for (const { file, doc } of workflows)
            for (const [name, job] of jobs(doc))
                if ((job.steps ?? []).some((s) => /^\s*pulumi up\b/m.test(s.run ?? ""))) {
                    ups++;
                    assert.ok(
                        job.if?.includes(
                            "github.ref == format('refs/heads/{0}', github.event.repository.default_branch)",
                        ),
                        `${file} ${name}: up from any branch`,
                    );
                    assert.equal(job.environment, "omni-hub", `${file} ${name}: no environment`);
                }
        assert.equal(ups, 1);
    });
});
