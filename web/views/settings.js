// Account settings: who you are, change password, delete the account.

import { del, post } from '../api.js';
import { h, alertBox, card, time } from '../dom.js';
import { confirmDialog } from '../dialog.js';
import { field, form, formError, submitButton, withBusy } from '../forms.js';
import { navigate } from '../router.js';
import { developer, setDeveloper, setFlash } from '../state.js';
import { pageHeader, setTitle } from './layout.js';

function accountCard(dev) {
  const status = dev.email_verified
    ? h('span', { class: 'badge badge-green' }, 'Verified')
    : h('span', { class: 'badge badge-amber' }, 'Not verified');
  const extra = h('div', { 'aria-live': 'polite' });
  let resend = null;
  if (!dev.email_verified) {
    resend = h('button', { type: 'button', class: 'btn btn-small btn-secondary', dataset: { busy: 'Sending…' } }, 'Resend verification email');
    resend.addEventListener('click', () =>
      withBusy(resend, async () => {
        try {
          await post('/resend-verification', { email: dev.email });
          extra.replaceChildren(alertBox('success', `A new verification link is on its way to ${dev.email}.`));
        } catch (err) {
          extra.replaceChildren(alertBox('error', err.description));
        }
      }),
    );
  }
  return card(
    { title: 'Account' },
    h(
      'dl',
      { class: 'props' },
      h('div', {}, h('dt', {}, 'Email'), h('dd', {}, h('span', { id: 'account-email' }, dev.email), ' ', status, resend ? [' ', resend] : null)),
      h('div', {}, h('dt', {}, 'Member since'), h('dd', {}, time(dev.created_at))),
    ),
    extra,
  );
}

function passwordCard() {
  const done = h('div', { 'aria-live': 'polite' });
  const f = form(
    { id: 'password-form', class: 'form form-narrow' },
    [
      field({ label: 'Current password', name: 'current_password', type: 'password', autocomplete: 'current-password', required: true }),
      field({
        label: 'New password',
        name: 'new_password',
        type: 'password',
        autocomplete: 'new-password',
        required: true,
        minlength: 10,
        maxlength: 256,
        hint: 'At least 10 characters.',
      }),
      formError(),
      h('div', { class: 'form-actions form-actions-start' }, submitButton('Change password', { busy: 'Changing…' })),
    ],
    async ({ current_password, new_password }, formEl) => {
      done.replaceChildren();
      await post('/password/change', { current_password, new_password });
      formEl.reset();
      done.replaceChildren(alertBox('success', 'Your password was changed. Your other sessions were signed out.'));
    },
  );
  return card({ title: 'Change password', description: 'Changing it signs you out everywhere else.' }, f, done);
}

function deleteCard(dev) {
  const button = h('button', { type: 'button', class: 'btn btn-danger', id: 'delete-account' }, 'Delete account');
  button.addEventListener('click', async () => {
    const ok = await confirmDialog({
      title: 'Delete your Set account?',
      body: h('p', {}, 'Your account and every client you own are deleted, with their users, tokens and integrations. Apps using those clients stop working. This cannot be undone.'),
      typeToConfirm: { label: `Type your email (${dev.email}) to confirm`, value: dev.email },
      confirmLabel: 'Delete my account',
      busyLabel: 'Deleting…',
      danger: true,
      action: () => del('/me'),
    });
    if (!ok) return;
    setDeveloper(null);
    setFlash('success', 'Your account was deleted. Thanks for trying Set.');
    navigate('/signup', { replace: true });
  });
  return card(
    { title: 'Delete account', cls: 'card-danger' },
    h('div', { class: 'danger-row' }, h('p', { class: 'muted' }, 'Deletes your account and all your clients, for good.'), button),
  );
}

export function settingsPage(view) {
  setTitle('Account settings');
  const dev = developer();
  view.append(pageHeader({ title: 'Account settings' }), h('div', { class: 'stack' }, accountCard(dev), passwordCard(), deleteCard(dev)));
}
