// Building DOM nodes from data, never from HTML strings: text is always text, never markup.

/**
 * Creates an element. `attrs` keys: `class`, `text`, `on<Event>` (listeners),
 * `dataset` (object), boolean attributes as true/false, anything else as an attribute.
 * Children may be nodes, strings, numbers, arrays of them, or null/false (skipped).
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

const SVG_NS = 'http://www.w3.org/2000/svg';

/** Creates an SVG element (attributes are set as given). */
export function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

function setAttrs(el, attrs) {
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === 'class') {
      el.setAttribute('class', Array.isArray(value) ? value.filter(Boolean).join(' ') : value);
    } else if (key === 'text') {
      el.textContent = value;
    } else if (key === 'dataset') {
      Object.assign(el.dataset, value);
    } else if (key.startsWith('on') && typeof value === 'function') {
      el.addEventListener(key.slice(2).toLowerCase(), value);
    } else if (value === true) {
      el.setAttribute(key, '');
    } else {
      el.setAttribute(key, String(value));
    }
  }
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

let counter = 0;

/** A fresh id for label/input pairs. */
export function uid(prefix = 'f') {
  counter += 1;
  return `${prefix}-${counter}`;
}

const dateFormat = new Intl.DateTimeFormat('en-US', {
  year: 'numeric',
  month: 'short',
  day: 'numeric',
});
const dateTimeFormat = new Intl.DateTimeFormat('en-US', {
  year: 'numeric',
  month: 'short',
  day: 'numeric',
  hour: 'numeric',
  minute: '2-digit',
});

/** "Mar 4, 2025" from an RFC 3339 string (the input itself if it does not parse). */
export function formatDate(value) {
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? String(value ?? '') : dateFormat.format(d);
}

/** "Mar 4, 2025, 3:07 PM". */
export function formatDateTime(value) {
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? String(value ?? '') : dateTimeFormat.format(d);
}

/** A <time> element showing the date, with the full timestamp on hover. */
export function time(value, withTime = false) {
  return h('time', {
    datetime: value,
    title: formatDateTime(value),
    text: withTime ? formatDateTime(value) : formatDate(value),
  });
}

/** Copies text to the clipboard; falls back to a hidden textarea where the API is missing. */
export async function copyText(text) {
  if (navigator.clipboard && window.isSecureContext) {
    try {
      await navigator.clipboard.writeText(text);
      return true;
    } catch {
      // Denied (e.g. no user gesture): fall through to the old way.
    }
  }
  const area = h('textarea', { class: 'visually-hidden', readonly: true, 'aria-hidden': 'true' });
  area.value = text;
  document.body.append(area);
  area.select();
  let ok = false;
  try {
    ok = document.execCommand('copy');
  } catch {
    ok = false;
  }
  area.remove();
  return ok;
}

/** A "Copy" button that copies `getText()` and says so for a moment. */
export function copyButton(getText, label = 'Copy', attrs = {}) {
  const button = h('button', { type: 'button', class: 'btn btn-small btn-secondary', ...attrs }, label);
  button.addEventListener('click', async () => {
    const ok = await copyText(getText());
    button.textContent = ok ? 'Copied!' : 'Copy failed';
    button.classList.toggle('is-done', ok);
    setTimeout(() => {
      button.textContent = label;
      button.classList.remove('is-done');
    }, 1600);
  });
  return button;
}

/** An alert box: kind is 'error', 'success', 'info' or 'warning'. */
export function alertBox(kind, ...children) {
  return h(
    'div',
    { class: ['alert', `alert-${kind}`], role: kind === 'error' ? 'alert' : 'status' },
    ...children,
  );
}

/** A card with an optional title and description. */
export function card({ title, description, actions, cls, id } = {}, ...children) {
  const head =
    title || actions
      ? h(
          'div',
          { class: 'card-head' },
          h('div', {}, title ? h('h2', { class: 'card-title' }, title) : null,
            description ? h('p', { class: 'card-desc' }, description) : null),
          actions ? h('div', { class: 'card-actions' }, actions) : null,
        )
      : null;
  return h('section', { class: ['card', cls], id }, head, ...children);
}

/** A spinner line while something loads. */
export function loading(text = 'Loading…') {
  return h('p', { class: 'loading', role: 'status' }, h('span', { class: 'spinner', 'aria-hidden': 'true' }), text);
}
