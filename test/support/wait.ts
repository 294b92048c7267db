/** Polls until `condition` holds or the time is up, then asserts it: bounded, never a bare sleep loop. */
export async function waitFor(
  condition: () => boolean,
  timeoutMs = 2000,
  stepMs = 10,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition() && Date.now() < deadline) await new Promise((r) => setTimeout(r, stepMs));
  expect(condition()).toBe(true);
}
