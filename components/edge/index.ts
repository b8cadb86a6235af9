// The hub's public edge: the Cloudflare DNS record, the ACME certificate and the TLS checks that a Go client makes.
// The two components load their providers (@pulumi/cloudflare, @pulumiverse/acme) only when constructed.
export * from "./cloudflare-record";
export * from "./acme-certificate";
export { tlsProblems } from "./tls";
export type { CertificateSummary } from "./tls";
export { CLOUDFLARE_TOKEN_PERMISSIONS, cloudflareEnvOverride } from "./acme-certificate-render";
export { hubTailnetIpv4 } from "./cloudflare-record-render";
