/** The pure AoE r11 codec: every byte layout of AoE and the ATA it carries. */
export * from "./errors.ts";
export * from "./constants.ts";
export * from "./mac.ts";
export * from "./header.ts";
export * from "./ata.ts";
export * from "./config.ts";
export * from "./macmask.ts";
export * from "./reserve.ts";
export * from "./identify.ts";
export * from "./frame.ts";
