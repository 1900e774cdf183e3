/** The version printed by `aoede --version`; kept in step with package.json by scripts/build.ts. */
export const VERSION = "0.1.0";
