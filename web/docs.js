// The API reference at /docs: renders the server's own OpenAPI document (/openapi.json),
// grouped by tag; each operation with its auth, parameters, request and response schemas
// and a curl example. Built from data with h(), never from HTML strings.

import { getPublic } from './api.js';
import { h, alertBox, copyButton, loading } from './dom.js';
import { setTitle } from './views/layout.js';

const METHODS = ['get', 'post', 'put', 'patch', 'delete'];
const MAX_DEPTH = 4;

/** Inline `code` in a line of the document's Markdown, as text and <code> nodes. */
function inline(text) {
  return String(text)
    .split(/(`[^`]+`)/)
    .filter(Boolean)
    .map((part) => (part.startsWith('`') && part.endsWith('`') ? h('code', {}, part.slice(1, -1)) : part));
}

/** The small Markdown subset the document uses: paragraphs, "- " lists, `code`. */
function prose(text, cls = 'docs-prose') {
  if (!text) return null;
  const blocks = [];
  let list = null;
  for (const line of String(text).split('\n')) {
    if (line.startsWith('- ')) {
      if (!list) {
        list = h('ul');
        blocks.push(list);
      }
      list.append(h('li', {}, inline(line.slice(2))));
    } else if (line.trim()) {
      list = null;
      blocks.push(h('p', {}, inline(line)));
    } else {
      list = null;
    }
  }
  return h('div', { class: cls }, blocks);
}

/** Follows a local `$ref` ("#/components/…"); returns [name or null, target]. */
function deref(doc, node) {
  if (!node || typeof node.$ref !== 'string') return [null, node || {}];
  const path = node.$ref.replace(/^#\//, '').split('/');
  let target = doc;
  for (const key of path) target = target ? target[key] : undefined;
  return [path[path.length - 1], target || {}];
}

/** A short type: "string", "integer (1–500)", "array of Event", "User", "string | null". */
function typeLabel(doc, schema) {
  const [name, s] = deref(doc, schema);
  if (name) return name;
  if (s.oneOf || s.anyOf) return (s.oneOf || s.anyOf).map((x) => typeLabel(doc, x)).join(' | ');
  if (s.const !== undefined) return JSON.stringify(s.const);
  if (s.enum) return s.enum.map((v) => JSON.stringify(v)).join(' | ');
  let type = Array.isArray(s.type) ? s.type.join(' | ') : s.type || 'any';
  if (s.type === 'array') type = `array of ${typeLabel(doc, s.items || {})}`;
  if (s.format) type += ` (${s.format})`;
  const range = [s.minimum, s.maximum].some((v) => v !== undefined) ? [s.minimum ?? '', s.maximum ?? ''] : null;
  if (range) type += ` ${range[0]}–${range[1]}`;
  const length = [s.minLength, s.maxLength].some((v) => v !== undefined) ? [s.minLength ?? 0, s.maxLength ?? ''] : null;
  if (length) type += `, ${length[0]}–${length[1]} chars`;
  return type;
}

/** The object schema behind `schema` (through a $ref, nullable oneOf or array items). */
function objectOf(doc, schema) {
  const [, s] = deref(doc, schema);
  if (s.type === 'object' && s.properties && Object.keys(s.properties).length) return s;
  if (s.type === 'array' && s.items) return objectOf(doc, s.items);
  for (const alt of s.oneOf || []) {
    const found = objectOf(doc, alt);
    if (found) return found;
  }
  return null;
}

/** A schema as a table of its fields, nested objects indented below their field. */
function schemaView(doc, schema, depth = 0, seen = new Set()) {
  const [name, s] = deref(doc, schema);
  const obj = objectOf(doc, schema);
  if (!obj || depth > MAX_DEPTH || (name && seen.has(name))) {
    return h('p', { class: 'docs-type' }, h('code', {}, typeLabel(doc, schema)), s.description ? [' — ', inline(s.description)] : null);
  }
  const inner = new Set(seen);
  if (name) inner.add(name);
  const required = new Set(obj.required || []);
  const rows = Object.entries(obj.properties).map(([field, prop]) => {
    const [, p] = deref(doc, prop);
    const nested = objectOf(doc, prop);
    return h(
      'li',
      { class: 'docs-field' },
      h('code', { class: 'docs-field-name' }, field),
      ' ',
      h('span', { class: 'docs-field-type' }, typeLabel(doc, prop)),
      required.has(field) ? h('span', { class: 'badge badge-amber docs-required' }, 'required') : null,
      p.description || prop.description ? h('div', { class: 'docs-field-desc' }, inline(prop.description || p.description)) : null,
      nested && depth < MAX_DEPTH ? schemaView(doc, prop, depth + 1, inner) : null,
    );
  });
  return h(
    'div',
    { class: 'docs-schema' },
    depth === 0 && (name || obj.description) ? h('p', { class: 'docs-type' }, name ? h('code', {}, name) : null, obj.description ? [name ? ' — ' : '', inline(obj.description)] : null) : null,
    h('ul', { class: 'docs-fields' }, rows),
  );
}

const CREDENTIALS = {
  clientBasic: ['-u "$CLIENT_ID:$CLIENT_SECRET"'],
  clientToken: ['-H "Authorization: Bearer $CLIENT_TOKEN"'],
  userToken: ['-H "Authorization: Bearer $ACCESS_TOKEN"'],
  integrationToken: ['-H "Authorization: Bearer $INTEGRATION_TOKEN"'],
  tokenAsBasicUser: ['-u "$ACCESS_TOKEN:"'],
  sessionCookie: ['-b "set_session=$SESSION"'],
  portalHeader: ["-H 'X-Requested-With: set-portal'"],
  iftttServiceKey: ['-H "IFTTT-Service-Key: $SERVICE_KEY"'],
};

const quote = (s) => `'${String(s).replace(/'/g, "'\\''")}'`;

/** A curl command for the operation, with its first way to authenticate and examples. */
function curl(doc, method, path, op) {
  const params = (op.parameters || []).map((p) => deref(doc, p)[1]);
  let url = path.replace(/\{([^}]+)\}/g, (_, name) => {
    const p = params.find((x) => x.name === name && x.in === 'path');
    return p && p.example !== undefined ? encodeURIComponent(p.example) : `{${name}}`;
  });
  const query = params.filter((p) => p.in === 'query' && p.example !== undefined).map((p) => `${encodeURIComponent(p.name)}=${encodeURIComponent(p.example)}`);
  if (query.length) url += `?${query.join('&')}`;
  const parts = ['curl'];
  if (method !== 'get') parts.push(`-X ${method.toUpperCase()}`);
  const auth = (op.security || []).find((req) => Object.keys(req).length) || {};
  for (const scheme of Object.keys(auth)) parts.push(...(CREDENTIALS[scheme] || []));
  const content = op.requestBody ? op.requestBody.content || {} : {};
  const form = content['application/x-www-form-urlencoded'];
  const json = content['application/json'];
  if (form && form.example) {
    parts.push(`-d ${quote(new URLSearchParams(form.example).toString())}`);
  } else if (json && json.example !== undefined) {
    parts.push("-H 'Content-Type: application/json'", `-d ${quote(JSON.stringify(json.example))}`);
  }
  parts.push(quote(`${location.origin}${url}`));
  return parts.join(' \\\n  ');
}

function authLine(doc, op) {
  const reqs = op.security || [];
  if (!reqs.length || reqs.every((r) => !Object.keys(r).length)) return h('p', { class: 'docs-auth' }, h('strong', {}, 'Auth: '), 'none');
  const schemes = (doc.components && doc.components.securitySchemes) || {};
  const ways = reqs.map((req) => {
    const names = Object.keys(req);
    if (!names.length) return 'none';
    return names
      .map((n) => {
        const scopes = req[n].length ? ` (${req[n].join(' ')})` : '';
        return `${n}${scopes}`;
      })
      .join(' + ');
  });
  return h(
    'p',
    { class: 'docs-auth' },
    h('strong', {}, 'Auth: '),
    ways.map((w, i) => [i ? ' or ' : '', h('code', { title: schemes[w.split(' ')[0]] ? schemes[w.split(' ')[0]].description : '' }, w)]),
  );
}

function parametersView(doc, op) {
  const params = (op.parameters || []).map((p) => deref(doc, p)[1]);
  if (!params.length) return null;
  return h(
    'div',
    { class: 'docs-block' },
    h('h4', {}, 'Parameters'),
    h(
      'ul',
      { class: 'docs-fields' },
      params.map((p) =>
        h(
          'li',
          { class: 'docs-field' },
          h('code', { class: 'docs-field-name' }, p.name),
          ' ',
          h('span', { class: 'docs-field-type' }, `${p.in} · ${typeLabel(doc, p.schema || {})}`),
          p.required ? h('span', { class: 'badge badge-amber docs-required' }, 'required') : null,
          p.description ? h('div', { class: 'docs-field-desc' }, inline(p.description)) : null,
        ),
      ),
    ),
  );
}

function bodyView(doc, op) {
  if (!op.requestBody) return null;
  const [, body] = deref(doc, op.requestBody);
  const types = Object.keys(body.content || {});
  const first = (body.content || {})[types[0]] || {};
  return h(
    'div',
    { class: 'docs-block' },
    h('h4', {}, 'Request body ', h('span', { class: 'muted small' }, `${types.join(' or ')}${body.required ? '' : ' (optional)'}`)),
    schemaView(doc, first.schema || {}),
  );
}

function responsesView(doc, op) {
  return h(
    'div',
    { class: 'docs-block' },
    h('h4', {}, 'Responses'),
    h(
      'ul',
      { class: 'docs-responses' },
      Object.entries(op.responses || {}).map(([status, raw]) => {
        const [, r] = deref(doc, raw);
        const types = Object.keys(r.content || {});
        const schema = types.length ? r.content[types[0]].schema : null;
        const ok = status.startsWith('2') || status.startsWith('3');
        return h(
          'li',
          { class: 'docs-response' },
          h('details', {}, h('summary', {}, h('span', { class: ['docs-status', ok ? 'is-ok' : 'is-error'] }, status), ' ', inline(r.description || '')), schema ? schemaView(doc, schema) : h('p', { class: 'muted small' }, types.length ? types.join(', ') : 'No body.')),
        );
      }),
    ),
  );
}

function operationView(doc, method, path, op) {
  const example = curl(doc, method, path, op);
  const id = `op-${op.operationId}`;
  const details = h(
    'details',
    { class: 'docs-op', id, dataset: { search: `${method} ${path} ${op.summary || ''}`.toLowerCase() } },
    h(
      'summary',
      { class: 'docs-op-head' },
      h('span', { class: ['docs-method', `docs-method-${method}`] }, method.toUpperCase()),
      h('code', { class: 'docs-path' }, path),
      h('span', { class: 'docs-summary' }, op.summary || ''),
      h('a', { href: `#${id}`, class: 'docs-anchor', 'aria-label': `Link to ${method.toUpperCase()} ${path}` }, '#'),
    ),
    h(
      'div',
      { class: 'docs-op-body' },
      prose(op.description),
      authLine(doc, op),
      parametersView(doc, op),
      bodyView(doc, op),
      responsesView(doc, op),
      h('div', { class: 'docs-block' }, h('h4', {}, 'Example'), h('div', { class: 'codeblock' }, h('pre', {}, h('code', {}, example)), h('div', { class: 'codeblock-actions' }, copyButton(() => example, 'Copy', { 'aria-label': `Copy the curl command for ${method.toUpperCase()} ${path}` })))),
    ),
  );
  return details;
}

/** Operations grouped by their first tag, in the document's tag order. */
function groups(doc) {
  const byTag = new Map((doc.tags || []).map((t) => [t.name, { tag: t, ops: [] }]));
  for (const [path, item] of Object.entries(doc.paths || {})) {
    for (const method of METHODS) {
      const op = item[method];
      if (!op) continue;
      const name = (op.tags && op.tags[0]) || 'Other';
      if (!byTag.has(name)) byTag.set(name, { tag: { name }, ops: [] });
      byTag.get(name).ops.push({ method, path, op });
    }
  }
  return [...byTag.values()].filter((g) => g.ops.length);
}

const slug = (name) => `tag-${name.toLowerCase().replace(/[^a-z0-9]+/g, '-')}`;

function securityView(doc) {
  const schemes = (doc.components && doc.components.securitySchemes) || {};
  return h(
    'section',
    { class: 'card docs-section', id: 'authentication' },
    h('h2', { class: 'card-title' }, 'Authentication'),
    h(
      'ul',
      { class: 'docs-fields' },
      Object.entries(schemes).map(([name, s]) =>
        h(
          'li',
          { class: 'docs-field' },
          h('code', { class: 'docs-field-name' }, name),
          ' ',
          h('span', { class: 'docs-field-type' }, s.type === 'http' ? `HTTP ${s.scheme}` : `${s.in} ${s.name}`),
          s.description ? h('div', { class: 'docs-field-desc' }, inline(s.description)) : null,
        ),
      ),
    ),
  );
}

/** Opens and scrolls to the operation or section named by the URL's fragment. */
function revealHash() {
  const id = decodeURIComponent(location.hash.slice(1));
  const target = id ? document.getElementById(id) : null;
  if (!target) return;
  if (target.tagName === 'DETAILS') target.open = true;
  target.scrollIntoView({ block: 'start' });
}

export async function docsPage(view) {
  setTitle('API reference');
  const status = h('div', {}, loading('Loading the API document…'));
  view.append(status);
  let doc;
  try {
    doc = await getPublic('/openapi.json');
  } catch (err) {
    status.replaceChildren(alertBox('error', `The API document could not be loaded: ${err.description || err}`));
    return;
  }
  const info = doc.info || {};
  const all = groups(doc);
  const filter = h('input', { type: 'search', class: 'input docs-filter', placeholder: 'Filter by path or summary', 'aria-label': 'Filter operations' });
  const sections = all.map(({ tag, ops }) =>
    h(
      'section',
      { class: 'card docs-section', id: slug(tag.name) },
      h('h2', { class: 'card-title' }, tag.name),
      tag.description ? h('p', { class: 'card-desc' }, inline(tag.description)) : null,
      ops.map(({ method, path, op }) => operationView(doc, method, path, op)),
    ),
  );
  filter.addEventListener('input', () => {
    const q = filter.value.trim().toLowerCase();
    for (const section of sections) {
      let shown = 0;
      for (const op of section.querySelectorAll('.docs-op')) {
        const match = !q || op.dataset.search.includes(q);
        op.hidden = !match;
        if (match) shown += 1;
      }
      section.hidden = shown === 0;
    }
  });
  // In-page links: the router would swallow a same-page link, so these scroll here.
  const onAnchor = (event) => {
    const a = event.target instanceof Element ? event.target.closest('a[href^="#"]') : null;
    if (!a) return;
    event.preventDefault();
    history.replaceState(history.state, '', a.getAttribute('href'));
    revealHash();
  };
  status.replaceWith(
    h(
      'div',
      { class: 'docs', onClick: onAnchor },
      h(
        'div',
        { class: 'page-head' },
        h('h1', { class: 'page-title' }, info.title || 'API reference'),
        h('p', { class: 'page-subtitle' }, info.summary || '', ' ', h('a', { href: '/openapi.json', dataset: { external: 'true' } }, 'OpenAPI document'), ` (version ${info.version || '?'}).`),
      ),
      h('section', { class: 'card docs-section' }, prose(info.description)),
      h('nav', { class: 'docs-toc', 'aria-label': 'API sections' }, h('a', { href: '#authentication' }, 'Authentication'), all.map(({ tag }) => h('a', { href: `#${slug(tag.name)}` }, tag.name))),
      filter,
      securityView(doc),
      sections,
    ),
  );
  revealHash();
}
