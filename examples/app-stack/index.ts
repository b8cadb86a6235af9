import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";

/**
 * An application stack that deploys into a cluster of an omni-scale workload stack (docs/OPERATIONS.md "The
 * downstream stack"). The cluster's kubeconfig comes through a StackReference and stays a secret: it reaches only
 * the Kubernetes provider, never an output or the console.
 *
 *   pulumi config set workloadsStack organization/omni-scale/matrix
 *   pulumi config set cluster talos-prod-01
 */
const config = new pulumi.Config();
const workloads = new pulumi.StackReference(config.require("workloadsStack"));
const clusterName = config.get("cluster") ?? "talos-prod-01";

// `kubeconfigs` is a secret output of the workload stack: each value read from it is a secret too.
const kubeconfig = workloads.requireOutput("kubeconfigs").apply((all: Record<string, string | undefined>) => {
    const k = all?.[clusterName];
    if (!k)
        throw new Error(
            `workload stack ${workloads.name} has no cluster ${clusterName} (its clusters: ${Object.keys(all ?? {}).join(", ")})`,
        );
    return k;
});
const cluster = workloads
    .requireOutput("clusterStatus")
    .apply((all: Record<string, { ready?: boolean; kubernetesVersion?: string }>) => all[clusterName]);

const provider = new k8s.Provider(clusterName, { kubeconfig: pulumi.secret(kubeconfig) });

const labels = { app: "hello" };
const deployment = new k8s.apps.v1.Deployment(
    "hello",
    {
        metadata: { name: "hello", namespace: "default", labels },
        spec: {
            replicas: 2,
            selector: { matchLabels: labels },
            template: {
                metadata: { labels },
                spec: {
                    containers: [
                        {
                            name: "hello",
                            image: "nginxinc/nginx-unprivileged:1.27-alpine",
                            ports: [{ containerPort: 8080 }],
                        },
                    ],
                },
            },
        },
    },
    { provider },
);

export const deploymentName = deployment.metadata.name;
export const kubernetesVersion = cluster.apply((c) => c?.kubernetesVersion);
