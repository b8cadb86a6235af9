// Rules every domain shares: config errors, address checks, image pins, version pins and upgrade steps.
export { auth0DomainProblem, wireguardAddrProblem } from "./addresses";
export { imagePinProblem, providerImageProblem } from "./images";
export { sshHostKeyProblem } from "./ssh";
export { omniUpgradeProblem, clusterUpgradeProblem, hubEndpointProblems, IMMUTABLE_HUB_OUTPUTS } from "./upgrades";
export type { ClusterVersions } from "./upgrades";
export { ConfigError } from "./validation";
export type { ConfigIssue } from "./validation";
export { versions, images } from "./versions";
