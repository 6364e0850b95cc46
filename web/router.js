// A tiny history-API router: patterns like "/clients/:id/users", same-origin link
// clicks handled in place, back and forward buttons re-render.

const routes = [];
let onChange = null;

/** Adds a route; `pattern` segments starting with ":" are parameters. */
export function route(pattern, handler, options = {}) {
  routes.push({ parts: pattern.split('/').filter(Boolean), handler, options });
}

/** The route for `pathname` with its parameters, or null. */
export function match(pathname) {
  const parts = pathname.split('/').filter(Boolean);
  for (const r of routes) {
    if (r.parts.length !== parts.length) continue;
    const params = {};
    let ok = true;
    for (let i = 0; i < parts.length; i += 1) {
      const p = r.parts[i];
      let value;
      try {
        value = decodeURIComponent(parts[i]);
      } catch {
        ok = false;
        break;
      }
      if (p.startsWith(':')) params[p.slice(1)] = value;
      else if (p !== value) {
        ok = false;
        break;
      }
    }
    if (ok) return { handler: r.handler, options: r.options, params };
  }
  return null;
}

/** Goes to `to` (a path with an optional query), adding a history entry unless `replace`. */
export function navigate(to, { replace = false, state = null } = {}) {
  if (replace) history.replaceState(state, '', to);
  else history.pushState(state, '', to);
  if (onChange) onChange();
}

/** Whether a click on `a` should be handled here rather than by the browser. */
function ownLink(event, a) {
  return (
    a &&
    !event.defaultPrevented &&
    event.button === 0 &&
    !event.metaKey &&
    !event.ctrlKey &&
    !event.shiftKey &&
    !event.altKey &&
    a.origin === location.origin &&
    !a.hasAttribute('download') &&
    !a.target &&
    !a.dataset.external &&
    !/^\/(api|v1|oauth|\.well-known)(\/|$)/.test(a.pathname)
  );
}

/** Starts listening and renders the current location through `render()`. */
export function start(render) {
  onChange = render;
  window.addEventListener('popstate', () => render());
  document.addEventListener('click', (event) => {
    const a = event.target instanceof Element ? event.target.closest('a[href]') : null;
    if (!ownLink(event, a)) return;
    event.preventDefault();
    if (a.pathname + a.search === location.pathname + location.search) return;
    navigate(a.pathname + a.search + a.hash);
  });
  render();
}

/** A same-origin path to go to after signing in, or null. */
export function safeNext(value) {
  return value && value.startsWith('/') && !value.startsWith('//') && !value.startsWith('/\\') ? value : null;
}
