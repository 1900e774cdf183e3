/** The pure FUSE protocol codec: every byte layout of the kernel protocol, once. */
export * from "./attr.ts";
export * from "./dirent.ts";
export * from "./errno.ts";
export * from "./errors.ts";
export * from "./file.ts";
export * from "./header.ts";
export * from "./init.ts";
export * from "./node.ts";
export * from "./notify.ts";
export * from "./proto.ts";
export * from "./request.ts";
export * from "./statfs.ts";
export * from "./negotiate.ts";
