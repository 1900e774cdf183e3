import { describe, expect, test } from "bun:test";
import { Window, MAX_WINDOW } from "../../src/initiator/window.ts";

describe("Window", () => {
  test("starts at the advertised buffer count, capped at 128, at least 1", () => {
    expect(new Window(16).size).toBe(16);
    expect(new Window(16).cap).toBe(16);
    expect(new Window(1000).size).toBe(MAX_WINDOW);
    expect(new Window(0).size).toBe(1);
  });

  test("a loss shrinks by a quarter, once per recovery period", () => {
    const w = new Window(64);
    w.lost(0, 50);
    expect(w.size).toBe(48);
    w.lost(10, 50); // same loss event
    expect(w.size).toBe(48);
    w.lost(60, 50);
    expect(w.size).toBe(36);
  });

  test("never below 1", () => {
    const w = new Window(4);
    for (let t = 0; t < 1000; t += 100) w.lost(t, 10);
    expect(w.size).toBe(1);
  });

  test("grows by one per window of replies, back to the cap and no further", () => {
    const w = new Window(8);
    w.lost(0, 1);
    expect(w.size).toBe(6);
    for (let i = 0; i < 6; i++) w.replied();
    expect(w.size).toBe(7);
    for (let i = 0; i < 7; i++) w.replied();
    expect(w.size).toBe(8);
    for (let i = 0; i < 100; i++) w.replied();
    expect(w.size).toBe(8);
  });
});
