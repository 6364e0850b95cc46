// One client: its Overview (credentials, quick start, charts, rename, delete) and Users.

import { del, get, patch, post, seg } from '../api.js';
import { h, alertBox, card, copyButton, loading, time } from '../dom.js';
import { mountChart, series } from '../chart.js';
import { confirmDialog } from '../dialog.js';
import { field, form, formError, submitButton, withBusy } from '../forms.js';
import { navigate } from '../router.js';
import { developer, setFlash } from '../state.js';
import { pageHeader, setTitle } from './layout.js';

const MASK = '•'.repeat(24);

/**
 * Loads the client and draws its header and tabs into `view`. Resolves with
 * `{ client, body, setName }`, or null when the client could not be loaded (the error is
 * shown).
 */
export async function clientFrame(view, id, active) {
  const base = `/clients/${seg(id)}`;
  const placeholder = h('div', {}, loading('Loading the client…'));
  view.append(placeholder);
  let client;
  try {
    client = await get(base);
  } catch (err) {
    placeholder.replaceChildren(
      pageHeader({ title: 'Client not available', crumbs: [{ href: '/clients', label: 'Clients' }, { label: id }] }),
      alertBox('error', err.description),
      h('p', {}, h('a', { href: '/clients', class: 'btn btn-secondary' }, 'Back to your clients')),
    );
    return null;
  }
  const tabs = [
    ['Overview', base, 'overview'],
    ['Users', `${base}/users`, 'users'],
    ['Integrations', `${base}/integrations`, 'integrations'],
  ];
  const head = pageHeader({
    title: client.name,
    crumbs: [{ href: '/clients', label: 'Clients' }, { label: client.name }],
    meta: h('p', { class: 'page-meta' }, h('code', { class: 'pill' }, client.client_id), h('span', {}, 'Created ', time(client.created_at))),
  });
  const nav = h(
    'nav',
    { class: 'tabs', 'aria-label': 'Client sections' },
    tabs.map(([label, href, key]) =>
      h('a', { href, class: ['tab', key === active && 'is-active'], 'aria-current': key === active ? 'page' : null }, label),
    ),
  );
  const body = h('div', { class: 'client-body' });
  placeholder.replaceWith(head, nav, body);
  const setName = (name) => {
    client.name = name;
    head.querySelector('.page-title').textContent = name;
    head.querySelector('.crumbs [aria-current]').textContent = name;
  };
  return { client, body, base, setName };
}

function stat(label, value, id) {
  return h('div', { class: 'stat' }, h('div', { class: 'stat-label' }, label), h('div', { class: 'stat-value', id }, value));
}

/** The two SDK calls as curl commands, with the secret shown only when revealed. */
function quickStart(client, state) {
  const origin = location.origin;
  const register = (secret) => `curl -u ${client.client_id}:${secret} -X POST ${origin}/v1/client/register`;
  const createUser = `curl -H "Authorization: Bearer <access_token>" -X POST ${origin}/v1/users -H 'Content-Type: application/json' -d '{"metadata":{}}'`;
  const registerCode = h('code', { id: 'quickstart-register' });
  const update = () => {
    registerCode.textContent = register(state.revealed ? client.client_secret : MASK);
  };
  update();
  const step = (n, title, text, code, copy) =>
    h(
      'li',
      { class: 'step' },
      h('div', { class: 'step-num', 'aria-hidden': 'true' }, String(n)),
      h(
        'div',
        { class: 'step-body' },
        h('h3', { class: 'step-title' }, title),
        h('p', { class: 'muted' }, text),
        h('div', { class: 'codeblock' }, h('pre', {}, code), h('div', { class: 'codeblock-actions' }, copy)),
      ),
    );
  const section = card(
    {
      title: 'Quick start',
      description: h('span', {}, 'The SDK makes these two calls for you. To try them from a terminal (every other call is in the ', h('a', { href: '/docs', id: 'quickstart-docs' }, 'API reference'), '):'),
      id: 'quickstart',
    },
    h(
      'ol',
      { class: 'steps' },
      step(1, 'Register your client', 'Exchange the clientId and clientSecret for a client token. Its access_token may only create users.', registerCode, copyButton(() => register(client.client_secret), 'Copy', { 'aria-label': 'Copy the register command' })),
      step(
        2,
        'Create a user',
        'With the access_token from step 1. The answer holds the new user and their own access and refresh tokens.',
        h('code', { id: 'quickstart-user' }, createUser),
        copyButton(() => createUser, 'Copy', { 'aria-label': 'Copy the create-user command' }),
      ),
    ),
  );
  return { section, update };
}

function credentials(client, state, quick) {
  const idCode = h('code', { class: 'secret-value', id: 'client-id' }, client.client_id);
  const secretCode = h('code', { class: 'secret-value', id: 'client-secret' });
  const reveal = h('button', { type: 'button', class: 'btn btn-small btn-secondary', id: 'reveal-secret', 'aria-controls': 'client-secret', 'aria-pressed': 'false' }, 'Reveal');
  const notice = h('div', { class: 'cred-notice', 'aria-live': 'polite' });
  const drawSecret = () => {
    secretCode.textContent = state.revealed ? client.client_secret : MASK;
    secretCode.classList.toggle('is-masked', !state.revealed);
    reveal.textContent = state.revealed ? 'Hide' : 'Reveal';
    reveal.setAttribute('aria-pressed', String(state.revealed));
    secretCode.setAttribute('aria-label', state.revealed ? 'clientSecret' : 'clientSecret (hidden)');
    quick.update();
  };
  reveal.addEventListener('click', () => {
    state.revealed = !state.revealed;
    drawSecret();
  });
  drawSecret();
  const rotate = h('button', { type: 'button', class: 'btn btn-danger-outline', id: 'rotate-secret' }, 'Rotate secret');
  rotate.addEventListener('click', async () => {
    const result = await confirmDialog({
      title: 'Rotate the client secret?',
      body: [
        h('p', {}, 'A new clientSecret replaces the current one at once. Apps that still use the old secret can no longer register, and the tokens issued through it stop working.'),
        h('p', {}, 'Ship the new secret in your app before its users need to register again.'),
      ],
      confirmLabel: 'Rotate secret',
      busyLabel: 'Rotating…',
      danger: true,
      action: () => post(`/clients/${seg(client.client_id)}/rotate-secret`),
    });
    if (!result) return;
    client.client_secret = result.client_secret;
    state.revealed = true;
    drawSecret();
    notice.replaceChildren(alertBox('success', 'The secret was rotated. Update your apps with the new clientSecret.'));
    secretCode.focus();
  });
  secretCode.setAttribute('tabindex', '-1');
  const unverified = developer() && !developer().email_verified;
  return card(
    {
      title: 'Client credentials',
      description: "Pass the clientId and clientSecret pair to the SDK at launch. They are only used to register your client, at which point they're exchanged for scoped tokens. Don't share your client credentials!",
      id: 'credentials',
    },
    unverified ? alertBox('warning', "Client registration from the SDK will fail until you've verified your email address.") : null,
    h(
      'dl',
      { class: 'creds' },
      h('div', { class: 'cred' }, h('dt', {}, 'clientId'), h('dd', {}, idCode, h('div', { class: 'cred-actions' }, copyButton(() => client.client_id, 'Copy', { 'aria-label': 'Copy clientId', id: 'copy-client-id' })))),
      h(
        'div',
        { class: 'cred' },
        h('dt', {}, 'clientSecret'),
        h('dd', {}, secretCode, h('div', { class: 'cred-actions' }, reveal, copyButton(() => client.client_secret, 'Copy', { 'aria-label': 'Copy clientSecret', id: 'copy-client-secret' }))),
      ),
    ),
    notice,
    h('div', { class: 'card-foot' }, h('p', { class: 'muted small' }, 'Think the secret leaked? Rotate it.'), rotate),
  );
}

function chartCard(title, id, tone, points, [one, many]) {
  const total = points.reduce((s, p) => s + p.value, 0);
  const area = h('div', { class: 'chart-area' });
  mountChart(area, points, { label: many, one, tone, emptyText: `No ${many} yet` });
  return h(
    'section',
    { class: 'card chart-card', id },
    h(
      'div',
      { class: 'chart-head' },
      h('h2', { class: 'card-title' }, title),
      h('p', { class: 'chart-total' }, h('span', { class: 'chart-total-value' }, total.toLocaleString('en-US')), h('span', { class: 'muted small' }, ' in the last 30 days')),
    ),
    area,
  );
}

async function charts(client, container, tiles) {
  container.append(loading('Loading activity…'));
  let days;
  try {
    days = (await get(`/clients/${seg(client.client_id)}/stats?days=30`)).days || [];
  } catch (err) {
    container.replaceChildren(card({ title: 'Activity' }, alertBox('error', err.description)));
    return;
  }
  const newUsers = series(days, 'new_users');
  const tokens = series(days, 'tokens_issued');
  const sum = (pts) => pts.reduce((s, p) => s + p.value, 0);
  tiles.newUsers.textContent = sum(newUsers).toLocaleString('en-US');
  tiles.tokens.textContent = sum(tokens).toLocaleString('en-US');
  container.replaceChildren(
    chartCard('New users', 'chart-new-users', 'green', newUsers, ['new user', 'new users']),
    chartCard('Tokens issued', 'chart-tokens', 'blue', tokens, ['token issued', 'tokens issued']),
  );
}

function renameCard(client, setName) {
  const done = h('div', { 'aria-live': 'polite' });
  const f = form(
    { id: 'rename-form', class: 'form form-inline' },
    [field({ label: 'Client name', name: 'name', value: client.name, required: true, maxlength: 100, autocomplete: 'off' }), formError(), submitButton('Save', { busy: 'Saving…', kind: 'secondary' })],
    async ({ name }) => {
      done.replaceChildren();
      const updated = await patch(`/clients/${seg(client.client_id)}`, { name: name.trim() });
      setName(updated.name);
      done.replaceChildren(alertBox('success', 'Saved.'));
    },
  );
  return card({ title: 'Client name', description: 'Only you see it, here in the portal.' }, f, done);
}

function dangerCard(client) {
  const button = h('button', { type: 'button', class: 'btn btn-danger', id: 'delete-client' }, 'Delete client');
  button.addEventListener('click', async () => {
    const ok = await confirmDialog({
      title: `Delete ${client.name}?`,
      body: h('p', {}, 'Its users, their tokens and its integrations are deleted with it, and apps using its credentials stop working. This cannot be undone.'),
      typeToConfirm: { label: `Type the client name (${client.name}) to confirm`, value: client.name },
      confirmLabel: 'Delete client',
      busyLabel: 'Deleting…',
      danger: true,
      action: () => del(`/clients/${seg(client.client_id)}`),
    });
    if (!ok) return;
    setFlash('success', `The client "${client.name}" was deleted.`);
    navigate('/clients');
  });
  return card(
    { title: 'Delete this client', cls: 'card-danger' },
    h('div', { class: 'danger-row' }, h('p', { class: 'muted' }, 'Removes the client with its users, tokens and integrations, for good.'), button),
  );
}

export async function overviewPage(view, { params }) {
  setTitle('Overview');
  const frame = await clientFrame(view, params.id, 'overview');
  if (!frame) return;
  const { client, body, setName } = frame;
  setTitle(`${client.name} · Overview`);
  const state = { revealed: false };
  const qs = quickStart(client, state);
  const tiles = { newUsers: h('span', {}, '–'), tokens: h('span', {}, '–') };
  const chartArea = h('div', { class: 'chart-grid' });
  body.append(
    h(
      'div',
      { class: 'stats' },
      stat('Users', String(Number(client.user_count) || 0), 'user-count'),
      stat('New users, 30 days', tiles.newUsers),
      stat('Tokens issued, 30 days', tiles.tokens),
      stat('Created', time(client.created_at)),
    ),
    credentials(client, state, qs),
    qs.section,
    chartArea,
    h('div', { class: 'grid-2' }, renameCard(client, setName), dangerCard(client)),
  );
  await charts(client, chartArea, tiles);
}

function metadataText(metadata) {
  if (metadata === null || metadata === undefined) return '';
  const text = JSON.stringify(metadata);
  return text === '{}' ? '' : text;
}

function userRow(client, user, onGone, onChange) {
  const meta = metadataText(user.metadata);
  const status = user.disabled ? h('span', { class: 'badge badge-muted' }, 'Disabled') : h('span', { class: 'badge badge-green' }, 'Active');
  const actions = h('div', { class: 'row-actions' });
  const path = `/clients/${seg(client.client_id)}/users/${seg(user.id)}`;
  if (!user.disabled) {
    const disable = h('button', { type: 'button', class: 'btn btn-small btn-secondary' }, 'Disable');
    disable.addEventListener('click', async () => {
      const res = await confirmDialog({
        title: 'Disable this user?',
        body: h('p', {}, 'Their tokens stop working at once and they can no longer sign in through your app. Their data is kept.'),
        confirmLabel: 'Disable user',
        busyLabel: 'Disabling…',
        danger: true,
        action: () => post(`${path}/disable`),
      });
      if (res) onChange({ ...user, ...(res.user || res), disabled: true });
    });
    actions.append(disable);
  }
  const remove = h('button', { type: 'button', class: 'btn btn-small btn-danger-outline' }, 'Delete');
  remove.addEventListener('click', async () => {
    const ok = await confirmDialog({
      title: 'Delete this user?',
      body: h('p', {}, 'The user, their events and their integration links are erased, and their tokens stop working. This cannot be undone.'),
      confirmLabel: 'Delete user',
      busyLabel: 'Deleting…',
      danger: true,
      action: () => del(path),
    });
    if (ok) onGone();
  });
  actions.append(remove);
  return h(
    'tr',
    { dataset: { userId: user.id } },
    h('td', { dataset: { label: 'User ID' } }, h('code', { class: 'user-id' }, user.id)),
    h('td', { dataset: { label: 'Created' } }, time(user.created_at, true)),
    h('td', { class: 'meta-cell', dataset: { label: 'Metadata' } }, meta ? h('code', { title: meta }, meta.length > 60 ? `${meta.slice(0, 57)}…` : meta) : h('span', { class: 'muted' }, '—')),
    h('td', { dataset: { label: 'Status' } }, status),
    h('td', { class: 'actions-cell' }, actions),
  );
}

export async function usersPage(view, { params }) {
  setTitle('Users');
  const frame = await clientFrame(view, params.id, 'users');
  if (!frame) return;
  const { client, body } = frame;
  setTitle(`${client.name} · Users`);
  const tbody = h('tbody');
  const count = h('span', {}, String(Number(client.user_count) || 0));
  const table = h(
    'div',
    { class: 'table-wrap' },
    h('table', { class: 'table', id: 'users-table' }, h('thead', {}, h('tr', {}, ['User ID', 'Created', 'Metadata', 'Status', ''].map((t) => h('th', { scope: 'col' }, t)))), tbody),
  );
  const more = h('button', { type: 'button', class: 'btn btn-secondary', dataset: { busy: 'Loading…' }, hidden: true }, 'Load more');
  const status = h('div', { 'aria-live': 'polite' });
  const empty = h(
    'div',
    { class: 'empty-inline', hidden: true },
    h('h2', { class: 'empty-title' }, 'No users yet'),
    h('p', { class: 'muted' }, 'Users appear here once your app creates them through the SDK (POST /v1/users).'),
  );
  body.append(
    card({ title: 'Users', description: h('span', {}, count, ' in total. Each user belongs to this client only.') }, status, empty, table, h('div', { class: 'table-more' }, more)),
  );
  let next = null;
  const setCount = (delta) => {
    client.user_count = Math.max(0, (Number(client.user_count) || 0) + delta);
    count.textContent = String(client.user_count);
  };
  const add = (user) => {
    let row;
    const replace = (u) => {
      const fresh = userRow(client, u, gone, replace);
      row.replaceWith(fresh);
      row = fresh;
    };
    const gone = () => {
      row.remove();
      setCount(-1);
      if (!tbody.children.length && !next) {
        table.hidden = true;
        empty.hidden = false;
      }
    };
    row = userRow(client, user, gone, replace);
    tbody.append(row);
  };
  const loadPage = async () => {
    const query = new URLSearchParams({ limit: '50' });
    if (next) query.set('after', next);
    const page = await get(`/clients/${seg(client.client_id)}/users?${query}`);
    (page.users || []).forEach(add);
    next = page.next || null;
    more.hidden = !next;
    const none = tbody.children.length === 0;
    table.hidden = none;
    empty.hidden = !none;
  };
  more.addEventListener('click', () =>
    withBusy(more, async () => {
      try {
        await loadPage();
      } catch (err) {
        status.replaceChildren(alertBox('error', err.description));
      }
    }),
  );
  status.append(loading('Loading users…'));
  try {
    await loadPage();
    status.replaceChildren();
  } catch (err) {
    table.hidden = true;
    status.replaceChildren(alertBox('error', err.description));
  }
}
