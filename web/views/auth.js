// Sign up, "check your email", the verification landing, sign in, and password reset.

import { post } from '../api.js';
import { h, alertBox, loading } from '../dom.js';
import { field, form, formError, submitButton, withBusy } from '../forms.js';
import { navigate, safeNext } from '../router.js';
import { developer, setDeveloper, setFlash } from '../state.js';
import { authShell, setTitle } from './layout.js';

const PASSWORD_HINT = 'At least 10 characters. A few unrelated words make a strong, memorable password.';

function emailField(opts = {}) {
  return field({
    label: 'Email',
    name: 'email',
    type: 'email',
    autocomplete: 'email',
    autocapitalize: 'off',
    spellcheck: 'false',
    required: true,
    ...opts,
  });
}

export function loginPage(view, { query }) {
  setTitle('Sign in');
  const next = safeNext(query.get('next'));
  const f = form(
    { id: 'login-form' },
    [
      emailField({ autofocus: true }),
      field({ label: 'Password', name: 'password', type: 'password', autocomplete: 'current-password', required: true }),
      h('p', { class: 'form-aside' }, h('a', { href: '/forgot-password' }, 'Forgot your password?')),
      formError(),
      submitButton('Sign in', { busy: 'Signing in…', cls: 'btn-block' }),
    ],
    async ({ email, password }) => {
      const res = await post('/login', { email, password });
      setDeveloper(res.developer);
      navigate(next || '/clients', { replace: true });
    },
  );
  view.append(
    authShell(
      { title: 'Sign in to Set', lead: 'Welcome back! Sign in to manage your clients.' },
      f,
      h('p', { class: 'auth-foot' }, 'New to Set? ', h('a', { href: '/signup' }, 'Create an account')),
    ),
  );
}

export function signupPage(view) {
  setTitle('Create your account');
  const f = form(
    { id: 'signup-form' },
    [
      emailField({ autofocus: true }),
      field({
        label: 'Password',
        name: 'password',
        type: 'password',
        autocomplete: 'new-password',
        required: true,
        minlength: 10,
        maxlength: 256,
        hint: PASSWORD_HINT,
      }),
      formError(),
      submitButton('Create account', { busy: 'Creating account…', cls: 'btn-block' }),
    ],
    async ({ email, password }) => {
      await post('/signup', { email, password });
      navigate('/check-email', { state: { email: email.trim() } });
    },
  );
  view.append(
    authShell(
      {
        title: 'Create your Set account',
        lead: "Create clients for your mobile apps and get their credentials in a minute. It's free and it runs on your own server.",
      },
      f,
      h('p', { class: 'auth-foot' }, 'Already have an account? ', h('a', { href: '/login' }, 'Sign in')),
    ),
  );
}

/** The resend form: the address prefilled when known. */
function resendForm(email) {
  const done = h('div', { class: 'resend-done' });
  const f = form(
    { class: 'form form-inline', id: 'resend-form' },
    [
      emailField({ value: email || '', label: 'Your email address' }),
      formError(),
      submitButton('Resend email', { busy: 'Sending…', kind: 'secondary' }),
    ],
    async (values) => {
      await post('/resend-verification', { email: values.email });
      done.replaceChildren(alertBox('success', `If ${values.email.trim()} has an account that is not verified yet, a new link is on its way.`));
    },
  );
  return h('div', { class: 'resend' }, h('h2', { class: 'resend-title' }, "Didn't get the email?"), h('p', { class: 'muted' }, 'Check your spam folder, or send it again.'), f, done);
}

export function checkEmailPage(view, { state }) {
  setTitle('Check your email');
  const email = state && state.email ? state.email : '';
  view.append(
    authShell(
      { title: 'Check your email', icon: 'mail' },
      h(
        'p',
        { class: 'auth-lead' },
        email ? ['We sent a verification link to ', h('strong', {}, email), '. '] : 'We sent you a verification link. ',
        'Click the "Verify Email" button in that email to verify your address.',
      ),
      alertBox(
        'info',
        "You can sign in and create clients right away, but client registration from the SDK will fail until you've verified your email address.",
      ),
      h('div', { class: 'auth-actions' }, h('a', { href: developer() ? '/clients' : '/login', class: 'btn btn-primary btn-block' }, developer() ? 'Go to your clients' : 'Sign in')),
      resendForm(email),
    ),
  );
}

export async function verifyEmailPage(view, { query }) {
  setTitle('Verify your email');
  const token = query.get('token');
  // The token must not linger in the address bar, the history or a bookmark.
  if (token !== null) history.replaceState(null, '', '/verify-email');
  const status = h('div', { class: 'verify-status' }, loading('Verifying your email address…'));
  view.append(status);
  if (!token) {
    status.replaceChildren(failure('This page needs the link from your verification email. Open the email and click "Verify Email" again.'));
    return;
  }
  try {
    const res = await post('/verify-email', { token });
    const dev = developer();
    if (dev && res.developer && dev.id === res.developer.id) setDeveloper({ ...dev, ...res.developer, email_verified: true });
    const signedIn = Boolean(developer());
    status.replaceChildren(
      authShell(
        { title: 'Email verified', icon: 'ok' },
        h('p', { class: 'auth-lead', id: 'verify-result' }, 'Thanks! ', h('strong', {}, res.developer ? res.developer.email : 'Your email address'), ' is verified. Your apps can now register with Set.'),
        h('div', { class: 'auth-actions' }, h('a', { href: signedIn ? '/clients' : '/login', class: 'btn btn-primary btn-block', id: 'verify-continue' }, signedIn ? 'Go to your clients' : 'Sign in')),
      ),
    );
  } catch (err) {
    status.replaceChildren(failure(err.field === 'token' ? capitalize(err.detail) : err.description));
  }
}

function capitalize(text) {
  return text ? text[0].toUpperCase() + text.slice(1) : text;
}

function failure(message) {
  const dev = developer();
  const actions = h('div', { class: 'auth-actions' });
  if (dev && !dev.email_verified) {
    const resend = h('button', { type: 'button', class: 'btn btn-primary btn-block', dataset: { busy: 'Sending…' } }, 'Send a new link');
    const note = h('div');
    resend.addEventListener('click', () =>
      withBusy(resend, async () => {
        try {
          await post('/resend-verification', { email: dev.email });
          note.replaceChildren(alertBox('success', `A new link is on its way to ${dev.email}.`));
        } catch (err) {
          note.replaceChildren(alertBox('error', err.description));
        }
      }),
    );
    actions.append(resend, note);
  } else if (dev) {
    actions.append(h('a', { href: '/clients', class: 'btn btn-primary btn-block' }, 'Go to your clients'));
  } else {
    actions.append(h('a', { href: '/login', class: 'btn btn-primary btn-block' }, 'Sign in to ask for a new link'));
  }
  return authShell({ title: "This link didn't work", icon: 'warn' }, alertBox('error', h('span', { id: 'verify-error' }, message)), actions);
}

export function forgotPasswordPage(view) {
  setTitle('Reset your password');
  const body = h('div');
  const f = form(
    { id: 'forgot-form' },
    [emailField({ autofocus: true }), formError(), submitButton('Send reset link', { busy: 'Sending…', cls: 'btn-block' })],
    async ({ email }) => {
      await post('/password/forgot', { email });
      body.replaceChildren(
        alertBox('success', 'If ', h('strong', {}, email.trim()), ' has a Set account, we sent it a link to choose a new password. The link can be used once and expires soon.'),
        h('p', { class: 'auth-foot' }, h('a', { href: '/login' }, 'Back to sign in')),
      );
    },
  );
  body.append(f, h('p', { class: 'auth-foot' }, 'Remembered it? ', h('a', { href: '/login' }, 'Sign in')));
  view.append(authShell({ title: 'Reset your password', lead: "Enter your account's email address and we'll send you a link to choose a new password." }, body));
}

export function resetPasswordPage(view, { query }) {
  setTitle('Choose a new password');
  const token = query.get('token');
  if (token !== null) history.replaceState(null, '', '/reset-password');
  if (!token) {
    view.append(
      authShell(
        { title: 'Choose a new password', icon: 'warn' },
        alertBox('error', 'This page needs the link from your password reset email.'),
        h('div', { class: 'auth-actions' }, h('a', { href: '/forgot-password', class: 'btn btn-primary btn-block' }, 'Ask for a new link')),
      ),
    );
    return;
  }
  const f = form(
    { id: 'reset-form' },
    [
      field({
        label: 'New password',
        name: 'password',
        type: 'password',
        autocomplete: 'new-password',
        required: true,
        autofocus: true,
        minlength: 10,
        maxlength: 256,
        hint: PASSWORD_HINT,
      }),
      formError(),
      submitButton('Set new password', { busy: 'Saving…', cls: 'btn-block' }),
    ],
    async ({ password }) => {
      await post('/password/reset', { token, password });
      // A reset ends every session, this browser's included.
      setDeveloper(null);
      setFlash('success', 'Your password was reset. Sign in with your new password.');
      navigate('/login', { replace: true });
    },
  );
  view.append(
    authShell(
      { title: 'Choose a new password', lead: 'Pick a new password for your Set account. Signing in elsewhere will need it too.' },
      f,
      h('p', { class: 'auth-foot' }, 'Link expired? ', h('a', { href: '/forgot-password' }, 'Ask for a new one')),
    ),
  );
}
