// How long a live document waits before it reconnects (issue 21). Pure, so that it can be
// tested on its own (web/e2e/backoff.test.mjs).

/** The ceiling of the first wait; it doubles with every failed attempt. */
export const RECONNECT_BASE_MS = 2_000
/** The largest ceiling: someone whose connection comes back waits at most this long. */
export const RECONNECT_CAP_MS = 20_000

/**
 * The wait before reconnect attempt `attempt` (0 for the first after a connection closed):
 * "full jitter", a uniformly random time below min(cap, base·2^attempt). When a server
 * restarts, every open editor loses its connection in the same moment; without jitter
 * (y-websocket waits min(2^n·100 ms, 2.5 s)) they would all come back in the same moment
 * too. With it, 2,000 editors spread over the first two seconds, and whoever fails again
 * over a window twice as long.
 */
export function reconnectDelay(attempt: number, random: () => number = Math.random): number {
  const ceiling = Math.min(RECONNECT_CAP_MS, RECONNECT_BASE_MS * 2 ** Math.max(0, attempt))
  return Math.floor(random() * ceiling)
}
