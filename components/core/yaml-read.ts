// `import = require`: the module itself, which Pulumi's closure serializer (dynamic providers use these functions)
// writes as require("js-yaml"), where `import * as` would hand it a copy to serialize by value.
import jsYaml = require("js-yaml");

/**
 * Reading YAML as the Go programs that read it do (go-yaml v3: the Pulumi CLI's stack files, omnictl's templates and
 * machine classes): YAML 1.2's core types, merge keys (`<<: *anchor`), no timestamps (a date stays text), duplicate
 * keys refused. js-yaml, which @pulumi/pulumi already installs, reads the small documents of a plan four to eight times
 * faster than the `yaml` package (cold, as a pack process reads each once); `yaml` still writes what we render, and
 * talos-yaml.ts reads Talos patches with its token-level detail.
 */
const options = (): jsYaml.LoadOptions => ({
    // Made per call (about 20 µs): a schema kept in this module would be serialized with every dynamic provider.
    schema: jsYaml.CORE_SCHEMA.extend({
        implicit: [(jsYaml as unknown as { types: { merge: jsYaml.Type } }).types.merge],
    }),
});

/** One document (null when empty). Throws a YAMLException whose message's first line names line and column. */
export const readYaml = (text: string): unknown => jsYaml.load(text, options()) ?? null;

/** Every document of a multi-document text, an empty one as null. Throws as readYaml does. */
export const readYamlDocuments = (text: string): unknown[] => jsYaml.loadAll(text, null, options());

/** The first line of a YAMLException's message (the rest is a snippet of the text). */
export const yamlErrorLine = (e: unknown): string => String((e as Error).message).split("\n")[0];
