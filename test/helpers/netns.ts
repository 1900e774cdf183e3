/**
 * Tests build their private worlds with the same code as `aoede demo`: namespaces
 * and veth pairs with names of their own, removed on dispose and on exit.
 */
export * from "../../src/net/netns.ts";
