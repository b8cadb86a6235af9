process.once("SIGINT", () => process.exit(130));
process.once("SIGTERM", () => process.exit(143));
// eslint-disable-next-line @typescript-eslint/no-var-requires
const { main } = require("/work/main/src/plan/cli");
main(process.argv.slice(2), process.env).then((code: number) => process.exit(code));
