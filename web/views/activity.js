// Activity: the signed-in developer's own security events, newest first.

import { get } from '../api.js';
import { h, alertBox, card, loading, time } from '../dom.js';
import { developer } from '../state.js';
import { pageHeader, setTitle } from './layout.js';

/** Plain words for each recorded action. */
const LABELS = {
  'login.succeeded': 'Signed in',
  'login.failed': 'Failed sign-in attempt',
  'password.changed': 'Password changed',
  'password.reset': 'Password reset by email link',
  'client.created': 'Client created',
  'client.renamed': 'Client renamed',
  'client.deleted': 'Client deleted',
  'client.secret_rotated': 'Client secret rotated',
  'user.disabled': 'User disabled',
  'user.deleted': 'User deleted',
  'integration.registered': 'Integration registered',
  'integration.updated': 'Integration edited',
  'integration.deleted': 'Integration deleted',
  'integration.secret_rotated': 'Integration secret rotated',
  'integration.linked': 'A user linked an integration',
  'integration.unlinked': 'A user unlinked an integration',
};

/** "You" for the signed-in developer; anyone else by their recorded id. */
function actor(e) {
  const me = developer();
  return me && e.actor === `developer:${me.id}` ? 'You' : e.actor;
}

function row(e) {
  return h(
    'tr',
    {},
    h('td', { 'data-label': 'When' }, time(e.at, true)),
    h('td', { 'data-label': 'What' }, LABELS[e.action] || e.action),
    h('td', { 'data-label': 'Concerns', class: 'mono' }, e.target || '—'),
    h('td', { 'data-label': 'By', class: 'mono' }, actor(e)),
    h('td', { 'data-label': 'From', class: 'mono' }, e.ip || '—'),
  );
}

export async function activityPage(view) {
  setTitle('Activity');
  const body = h('tbody');
  const more = h('button', { type: 'button', class: 'btn btn-secondary', hidden: true }, 'Load more');
  const status = h('div', { 'aria-live': 'polite' }, loading());
  const table = h(
    'div',
    { class: 'table-wrap' },
    h(
      'table',
      { class: 'table', id: 'activity-table' },
      h('thead', {}, h('tr', {}, ...['When', 'What', 'Concerns', 'By', 'From'].map((t) => h('th', { scope: 'col' }, t)))),
      body,
    ),
  );
  view.append(
    pageHeader({ title: 'Activity', subtitle: 'Sign-ins, password changes and every change to your clients, newest first.' }),
    card({}, status, table, h('div', { class: 'table-more' }, more)),
  );
  let next = null;
  async function load() {
    try {
      const page = await get(`/activity?limit=50${next ? `&before=${encodeURIComponent(next)}` : ''}`);
      status.replaceChildren(page.events.length || next ? '' : alertBox('info', 'Nothing yet.'));
      body.append(...page.events.map(row));
      next = page.next;
      more.hidden = !next;
    } catch (err) {
      status.replaceChildren(alertBox('error', err.description));
    }
  }
  more.addEventListener('click', load);
  await load();
}
