// A client's integrations: third-party services (IFTTT, Alexa, a team's own backend) that
// users link to their account with OAuth 2.0. List, register, edit, rotate, delete.

import { del, get, patch, post, seg } from '../api.js';
import { h, alertBox, card, copyButton, loading, time, uid } from '../dom.js';
import { confirmDialog } from '../dialog.js';
import { field, form, formError, submitButton, withBusy } from '../forms.js';
import { clientFrame } from './client.js';
import { setTitle } from './layout.js';

/** The scopes an integration may ask a user for (API.md: integration tokens). */
const SCOPES = [
  ['profile:read', "Read the user's profile"],
  ['events:read', "Read the user's events"],
  ['events:write', 'Record events for the user'],
];

/** A labelled group of scope checkboxes, named "scopes", whose errors show below it. */
function scopeField(selected = []) {
  const groupId = uid('scopes');
  const boxes = SCOPES.map(([scope, text], i) => {
    const id = i === 0 ? groupId : uid('scope');
    const box = h('input', { type: 'checkbox', name: 'scopes', value: scope, id, class: 'checkbox', 'aria-describedby': `${groupId}-error` });
    box.checked = selected.includes(scope);
    box.dataset.label = 'Scopes';
    return h('label', { class: 'check', for: id }, box, h('span', {}, h('code', {}, scope), h('span', { class: 'muted' }, ` ${text}`)));
  });
  return h(
    'fieldset',
    { class: 'field fieldset' },
    h('legend', { class: 'label' }, 'Scopes'),
    h('p', { class: 'hint' }, 'What the integration may do for a user who links it. The user sees these on the authorization page.'),
    ...boxes,
    h('p', { class: 'field-error', id: `${groupId}-error`, hidden: true }),
  );
}

/** Reads the form's values in the API's shape. */
function values(f) {
  const data = new FormData(f);
  return {
    name: String(data.get('name') || '').trim(),
    redirect_uris: String(data.get('redirect_uris') || '')
      .split(/\s+/)
      .map((s) => s.trim())
      .filter(Boolean),
    scopes: data.getAll('scopes').map(String),
    ...(String(data.get('ifttt_service_key') || '').trim()
      ? { ifttt_service_key: String(data.get('ifttt_service_key')).trim() }
      : {}),
  };
}

function integrationFields(existing = {}) {
  return [
    field({ label: 'Name', name: 'name', value: existing.name || '', required: true, maxlength: 100, autocomplete: 'off', placeholder: 'IFTTT', hint: 'Users see this name when they link the integration.' }),
    field({
      label: 'Redirect URIs',
      name: 'redirect_uris',
      multiline: true,
      rows: 3,
      mono: true,
      value: (existing.redirect_uris || []).join('\n'),
      spellcheck: 'false',
      autocapitalize: 'off',
      placeholder: 'https://example.com/oauth/callback',
      hint: 'One per line. After the user approves, the authorization page redirects only to an exact match.',
    }),
    scopeField(existing.scopes || ['profile:read']),
    field({
      label: 'IFTTT service key (optional)',
      name: 'ifttt_service_key',
      type: 'password',
      autocomplete: 'off',
      spellcheck: 'false',
      hint: existing.has_ifttt_service_key
        ? 'A key is set. Enter a new one to replace it.'
        : 'For an IFTTT service: the key IFTTT shows you, so IFTTT can call this server’s /ifttt/v1 endpoints.',
    }),
  ];
}

/** The one-time display of an integration's credentials after creating or rotating. */
function secretNotice(title, creds) {
  return alertBox(
    'success',
    h('strong', {}, title),
    h(
      'dl',
      { class: 'creds creds-compact' },
      h('div', { class: 'cred' }, h('dt', {}, 'client_id'), h('dd', {}, h('code', { class: 'secret-value' }, creds.client_id), copyButton(() => creds.client_id))),
      h('div', { class: 'cred' }, h('dt', {}, 'client_secret'), h('dd', {}, h('code', { class: 'secret-value integration-secret' }, creds.client_secret), copyButton(() => creds.client_secret))),
    ),
    h('p', { class: 'small' }, "Give both to the integration's developers over a private channel. Keep the secret out of email and chat."),
  );
}

function integrationCard(base, integration, onDelete) {
  const path = `${base}/integrations/${seg(integration.id)}`;
  const notice = h('div', { 'aria-live': 'polite' });
  const content = h('div');
  const el = h('section', { class: 'card integration', dataset: { integrationId: integration.id } }, content, notice);

  const show = () => {
    const edit = h('button', { type: 'button', class: 'btn btn-small btn-secondary' }, 'Edit');
    const reveal = h('button', { type: 'button', class: 'btn btn-small btn-secondary', dataset: { busy: 'Loading…' } }, 'Show secret');
    reveal.addEventListener('click', () =>
      withBusy(reveal, async () => {
        try {
          const full = await get(path);
          notice.replaceChildren(secretNotice(`Credentials of ${integration.name}`, full));
        } catch (err) {
          notice.replaceChildren(alertBox('error', err.description));
        }
      }),
    );
    const rotate = h('button', { type: 'button', class: 'btn btn-small btn-secondary' }, 'Rotate secret');
    const remove = h('button', { type: 'button', class: 'btn btn-small btn-danger-outline' }, 'Delete');
    edit.addEventListener('click', showEdit);
    rotate.addEventListener('click', async () => {
      const res = await confirmDialog({
        title: `Rotate the secret of ${integration.name}?`,
        body: h('p', {}, 'The current client_secret stops working at once. The integration needs the new one to exchange codes and refresh tokens.'),
        confirmLabel: 'Rotate secret',
        busyLabel: 'Rotating…',
        danger: true,
        action: () => post(`${path}/rotate-secret`),
      });
      if (res) notice.replaceChildren(secretNotice('New client secret', { client_id: res.client_id || integration.client_id, client_secret: res.client_secret }));
    });
    remove.addEventListener('click', async () => {
      const ok = await confirmDialog({
        title: `Delete ${integration.name}?`,
        body: h('p', {}, 'Every user link to it is revoked and its tokens stop working at once. This cannot be undone.'),
        confirmLabel: 'Delete integration',
        busyLabel: 'Deleting…',
        danger: true,
        action: () => del(path),
      });
      if (ok) onDelete(el);
    });
    const uris = integration.redirect_uris || [];
    const scopes = integration.scopes || [];
    content.replaceChildren(
      h(
        'div',
        { class: 'card-head' },
        h(
          'div',
          {},
          h('h3', { class: 'card-title' }, integration.name),
          h(
            'p',
            { class: 'card-desc' },
            'Registered ',
            time(integration.created_at),
            typeof integration.linked_users === 'number' ? ` · ${integration.linked_users} linked ${integration.linked_users === 1 ? 'user' : 'users'}` : null,
          ),
        ),
        h('div', { class: 'card-actions' }, reveal, edit, rotate, remove),
      ),
      h(
        'dl',
        { class: 'props' },
        h('div', {}, h('dt', {}, 'client_id'), h('dd', {}, h('code', {}, integration.client_id), copyButton(() => integration.client_id))),
        h('div', {}, h('dt', {}, 'Redirect URIs'), h('dd', {}, uris.length ? h('ul', { class: 'plain-list' }, uris.map((u) => h('li', {}, h('code', {}, u)))) : h('span', { class: 'muted' }, 'None'))),
        h('div', {}, h('dt', {}, 'Scopes'), h('dd', {}, scopes.length ? scopes.map((s) => h('span', { class: 'badge' }, s)) : h('span', { class: 'muted' }, 'None'))),
      ),
    );
  };

  const showEdit = () => {
    notice.replaceChildren();
    const cancel = h('button', { type: 'button', class: 'btn btn-secondary' }, 'Cancel');
    cancel.addEventListener('click', show);
    const f = form({ class: 'form' }, [...integrationFields(integration), formError(), h('div', { class: 'form-actions' }, cancel, submitButton('Save changes', { busy: 'Saving…' }))], async (_, formEl) => {
      const updated = await patch(path, values(formEl));
      Object.assign(integration, updated);
      show();
      notice.replaceChildren(alertBox('success', 'Saved.'));
    });
    content.replaceChildren(h('h3', { class: 'card-title' }, `Edit ${integration.name}`), f);
    f.querySelector('input').focus();
  };

  show();
  return el;
}

export async function integrationsPage(view, { params }) {
  setTitle('Integrations');
  const frame = await clientFrame(view, params.id, 'integrations');
  if (!frame) return;
  const { client, body } = frame;
  setTitle(`${client.name} · Integrations`);
  const apiBase = `/clients/${seg(client.client_id)}`;
  const list = h('div', { class: 'integration-list', id: 'integration-list' });
  const empty = h(
    'div',
    { class: 'card empty-inline', hidden: true },
    h('h2', { class: 'empty-title' }, 'No integrations yet'),
    h('p', { class: 'muted' }, 'Register a service such as IFTTT, Alexa or your own backend, and your users can link it to their account.'),
  );
  const created = h('div', { 'aria-live': 'polite' });
  const openBtn = h('button', { type: 'button', class: 'btn btn-primary', id: 'register-integration', 'aria-expanded': 'false' }, 'Register integration');
  const formSlot = h('div');
  const refreshEmpty = () => {
    empty.hidden = list.children.length > 0;
  };
  const onDelete = (el) => {
    el.remove();
    refreshEmpty();
  };
  const closeForm = () => {
    formSlot.replaceChildren();
    openBtn.hidden = false;
    openBtn.setAttribute('aria-expanded', 'false');
  };
  openBtn.addEventListener('click', () => {
    created.replaceChildren();
    const cancel = h('button', { type: 'button', class: 'btn btn-secondary' }, 'Cancel');
    cancel.addEventListener('click', closeForm);
    const f = form({ id: 'integration-form' }, [...integrationFields(), formError(), h('div', { class: 'form-actions' }, cancel, submitButton('Register integration', { busy: 'Registering…' }))], async (_, formEl) => {
      const res = await post(`${apiBase}/integrations`, values(formEl));
      closeForm();
      created.replaceChildren(secretNotice(`${res.name} is registered`, res));
      list.prepend(integrationCard(apiBase, res, onDelete));
      refreshEmpty();
    });
    formSlot.replaceChildren(card({ title: 'Register an integration' }, f));
    openBtn.hidden = true;
    openBtn.setAttribute('aria-expanded', 'true');
    f.querySelector('input').focus();
  });

  body.append(
    h(
      'div',
      { class: 'section-head' },
      h('p', { class: 'muted' }, 'Integrations are OAuth 2.0 clients of this app: third-party services your users link to their account.'),
      openBtn,
    ),
    formSlot,
    created,
    empty,
    list,
  );
  list.append(loading('Loading integrations…'));
  try {
    const res = await get(`${apiBase}/integrations`);
    list.replaceChildren(...(res.integrations || []).map((i) => integrationCard(apiBase, i, onDelete)));
    refreshEmpty();
  } catch (err) {
    list.replaceChildren(alertBox('error', err.description));
  }
}
