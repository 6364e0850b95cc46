// The client list (with the big green button when there is none) and "Create a new client".

import { get, post, seg } from '../api.js';
import { h, alertBox, loading, time } from '../dom.js';
import { field, form, formError, submitButton } from '../forms.js';
import { navigate } from '../router.js';
import { setFlash } from '../state.js';
import { icon } from '../icons.js';
import { pageHeader, setTitle } from './layout.js';

const CLIENT_IS = 'A client corresponds to one mobile app, with its own clientId and clientSecret pair and its own set of users.';

function plural(n, one, many) {
  return `${n} ${n === 1 ? one : many}`;
}

function emptyState() {
  return h(
    'section',
    { class: 'card empty-state' },
    h('div', { class: 'empty-icon' }, icon('phone', 36)),
    h('h2', { class: 'empty-title' }, "You don't have any clients yet"),
    h('p', { class: 'empty-text' }, `${CLIENT_IS} Create one to get the credentials your app passes to the SDK.`),
    h('a', { href: '/clients/new', class: 'btn btn-primary btn-large', id: 'create-first-client' }, 'Create your first client'),
  );
}

function clientRow(c) {
  return h(
    'li',
    { class: 'client-item' },
    h(
      'a',
      { href: `/clients/${seg(c.client_id)}`, class: 'client-link' },
      h('span', { class: 'client-avatar', 'aria-hidden': 'true' }, (c.name || '?').trim().charAt(0).toUpperCase()),
      h('span', { class: 'client-main' }, h('span', { class: 'client-name' }, c.name), h('code', { class: 'client-id' }, c.client_id)),
      h(
        'span',
        { class: 'client-meta' },
        h('span', { class: 'client-users' }, plural(Number(c.user_count) || 0, 'user', 'users')),
        h('span', { class: 'client-created' }, 'Created ', time(c.created_at)),
      ),
      h('span', { class: 'client-chevron', 'aria-hidden': 'true' }, '›'),
    ),
  );
}

export async function clientListPage(view) {
  setTitle('Clients');
  const head = pageHeader({ title: 'Clients', subtitle: CLIENT_IS });
  const body = h('div', {}, loading('Loading your clients…'));
  view.append(head, body);
  let list;
  try {
    list = (await get('/clients')).clients || [];
  } catch (err) {
    body.replaceChildren(alertBox('error', err.description));
    return;
  }
  if (list.length === 0) {
    body.replaceChildren(emptyState());
    return;
  }
  head.querySelector('.page-head-row').append(h('div', { class: 'page-actions' }, h('a', { href: '/clients/new', class: 'btn btn-primary', id: 'new-client' }, 'New client')));
  body.replaceChildren(h('ul', { class: 'client-list card', id: 'client-list' }, list.map(clientRow)));
}

export function newClientPage(view) {
  setTitle('Create a new client');
  const f = form(
    { id: 'new-client-form' },
    [
      field({
        label: 'Client name',
        name: 'name',
        required: true,
        autofocus: true,
        maxlength: 100,
        autocomplete: 'off',
        placeholder: 'My App for iOS',
        hint: 'The name of your mobile app, as you want to see it in this portal.',
      }),
      formError(),
      h('div', { class: 'form-actions' }, h('a', { href: '/clients', class: 'btn btn-secondary' }, 'Cancel'), submitButton('Create Client', { busy: 'Creating…' })),
    ],
    async ({ name }) => {
      const created = await post('/clients', { name: name.trim() });
      setFlash('success', `Your client "${created.name}" is ready. Its clientId and clientSecret are below.`);
      navigate(`/clients/${seg(created.client_id)}`);
    },
  );
  view.append(
    pageHeader({ title: 'Create a new client', crumbs: [{ href: '/clients', label: 'Clients' }, { label: 'New client' }] }),
    h('section', { class: 'card card-narrow' }, h('p', { class: 'card-desc' }, `${CLIENT_IS} You may create however many clients you desire.`), f),
  );
}
