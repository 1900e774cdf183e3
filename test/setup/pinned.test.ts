/**
 * Setup that cannot rot: every dependency in package.json names one exact version,
 * and package-lock.json agrees with it. A range or a tag ("latest", "^5", "~1.2")
 * lets `npm ci` reject the committed lock the day a new version is published, and
 * a fresh clone then cannot install at all (this happened with `@types/bun: latest`).
 */
import { describe, expect, test } from "bun:test";
import fs from "node:fs";
import path from "node:path";

const root = path.join(import.meta.dir, "..", "..");
const pkg = JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8"));
const lock = JSON.parse(fs.readFileSync(path.join(root, "package-lock.json"), "utf8"));

/** x.y.z with an optional pre-release or build: nothing npm could resolve to another version. */
const EXACT = /^\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$/;

const sections = ["dependencies", "devDependencies", "optionalDependencies", "peerDependencies"] as const;
const declared = sections.flatMap((s) => Object.entries((pkg[s] ?? {}) as Record<string, string>).map(([name, spec]) => ({ section: s, name, spec })));

describe("package.json pins every dependency", () => {
  test("there are dependencies to check", () => {
    expect(declared.length).toBeGreaterThan(0);
  });
  test.each(declared.map((d) => [`${d.section} ${d.name}`, d.spec]))("%s is an exact version", (_what, spec) => {
    expect(spec).toMatch(EXACT);
  });
  test("the exactness check itself rejects ranges and tags", () => {
    for (const bad of ["latest", "^5.6.0", "~1.2.3", ">=1.0.0", "1.x", "*", "1.2", "next"]) expect(bad).not.toMatch(EXACT);
  });
});

describe("package-lock.json is in step with package.json", () => {
  const lockRoot = lock.packages?.[""] ?? {};
  test.each(sections.map((s) => [s]))("the lock's root %s are package.json's", (s) => {
    expect(lockRoot[s] ?? {}).toEqual(pkg[s] ?? {});
  });
  test.each(declared.map((d) => [d.name, d.spec]))("node_modules/%s is locked at %s", (name, spec) => {
    expect(lock.packages[`node_modules/${name}`]?.version).toBe(spec);
  });
  test("every locked package has an exact version and an integrity hash", () => {
    const loose = Object.entries(lock.packages as Record<string, { version?: string; integrity?: string; link?: boolean }>)
      .filter(([k, v]) => k !== "" && !v.link && (!EXACT.test(v.version ?? "") || !v.integrity))
      .map(([k]) => k);
    expect(loose).toEqual([]);
  });
});
