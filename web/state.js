// What the pages share: the signed-in developer and a one-shot message for the next page.

const state = { developer: null, flash: null };
const listeners = [];

/** The signed-in developer ({id, email, email_verified, created_at}) or null. */
export function developer() {
  return state.developer;
}

/** Sets (or clears, with null) the signed-in developer and updates the header and banner. */
export function setDeveloper(dev) {
  state.developer = dev || null;
  for (const fn of listeners) fn(state.developer);
}

/** Calls `fn(developer)` whenever the developer changes. */
export function onDeveloperChange(fn) {
  listeners.push(fn);
}

/** Leaves a message ('success' | 'info' | 'error') for the next page shown. */
export function setFlash(kind, text) {
  state.flash = { kind, text };
}

/** The pending message, once. */
export function takeFlash() {
  const f = state.flash;
  state.flash = null;
  return f;
}
