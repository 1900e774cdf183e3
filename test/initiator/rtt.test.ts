import { describe, expect, test } from "bun:test";
import { RttEstimator } from "../../src/initiator/rtt.ts";

describe("RttEstimator (Jacobson/Karels)", () => {
  test("before any sample the initial timeout applies", () => {
    const r = new RttEstimator({ initialTimeoutMs: 250 });
    expect(r.timeoutMs()).toBe(250);
  });

  test("first sample sets srtt = r and rttvar = r/2", () => {
    const r = new RttEstimator({ minTimeoutMs: 1 });
    r.sample(40);
    expect(r.srtt).toBe(40);
    expect(r.rttvar).toBe(20);
    expect(r.timeoutMs()).toBe(40 + 4 * 20);
  });

  test("gains 1/8 and 1/4", () => {
    const r = new RttEstimator({ minTimeoutMs: 1 });
    r.sample(40);
    r.sample(80);
    // rttvar += (|40 - 80| - 20) / 4 = 25; srtt += (80 - 40) / 8 = 45
    expect(r.rttvar).toBe(25);
    expect(r.srtt).toBe(45);
  });

  test("steady samples shrink the deviation and the timeout towards the floor", () => {
    const r = new RttEstimator({ minTimeoutMs: 10 });
    for (let i = 0; i < 200; i++) r.sample(1);
    expect(r.srtt).toBeCloseTo(1, 5);
    expect(r.rttvar).toBeLessThan(0.01);
    expect(r.timeoutMs()).toBe(10);
  });

  test("jittery samples keep the timeout above 2 x the mean", () => {
    const r = new RttEstimator({ minTimeoutMs: 1 });
    for (let i = 0; i < 200; i++) r.sample(i % 2 === 0 ? 5 : 45);
    expect(r.timeoutMs()).toBeGreaterThan(2 * 25);
  });

  test("timeouts back off exponentially up to the ceiling; a sample ends the backoff", () => {
    const r = new RttEstimator({ minTimeoutMs: 10, maxTimeoutMs: 100 });
    r.sample(1);
    const base = r.timeoutMs();
    r.timedOut();
    expect(r.timeoutMs()).toBe(base * 2);
    for (let i = 0; i < 20; i++) r.timedOut();
    expect(r.timeoutMs()).toBe(100);
    r.sample(1);
    expect(r.timeoutMs()).toBeLessThanOrEqual(base);
  });

  test("minRtt tracks the smallest sample", () => {
    const r = new RttEstimator();
    for (const s of [5, 2, 9]) r.sample(s);
    expect(r.minRtt).toBe(2);
    expect(r.samples).toBe(3);
  });
});
