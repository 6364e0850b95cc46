// The Set Developer Portal: boots the session, draws the header and the unverified-email
// banner, and renders the page for the current URL.

import { get, post, onUnauthorized } from './api.js';
import { h, alertBox } from './dom.js';
import { withBusy } from './forms.js';
import { route, match, navigate, start, safeNext } from './router.js';
import { developer, setDeveloper, onDeveloperChange, setFlash, takeFlash } from './state.js';
import * as auth from './views/auth.js';
import * as clients from './views/clients.js';
import * as client from './views/client.js';
import * as integrations from './views/integrations.js';
import * as settings from './views/settings.js';
import { docsPage } from './docs.js';
import * as activity from './views/activity.js';

const SIGNED_IN = { auth: 'required' };
const GUEST = { auth: 'guest' };

route('/', () => navigate(developer() ? '/clients' : '/login', { replace: true }));
route('/login', auth.loginPage, GUEST);
route('/signup', auth.signupPage, GUEST);
route('/check-email', auth.checkEmailPage);
route('/verify-email', auth.verifyEmailPage);
route('/forgot-password', auth.forgotPasswordPage);
route('/reset-password', auth.resetPasswordPage);
route('/clients', clients.clientListPage, SIGNED_IN);
route('/clients/new', clients.newClientPage, SIGNED_IN);
route('/clients/:id', client.overviewPage, SIGNED_IN);
route('/clients/:id/users', client.usersPage, SIGNED_IN);
route('/clients/:id/integrations', integrations.integrationsPage, SIGNED_IN);
route('/settings', settings.settingsPage, SIGNED_IN);
route('/docs', docsPage);
route('/activity', activity.activityPage, SIGNED_IN);

const main = document.getElementById('main');
const nav = document.getElementById('topnav');
const banner = document.getElementById('banner');
let renders = 0;

function navLink(href, label, current) {
  const active = current === href || current.startsWith(`${href}/`);
  return h('a', { href, class: ['topnav-link', active && 'is-active'], 'aria-current': active ? 'page' : null }, label);
}

function drawNav() {
  const path = location.pathname;
  const dev = developer();
  if (!dev) {
    nav.replaceChildren(
      h('a', { href: '/login', class: 'topnav-link' }, 'Sign in'),
      h('a', { href: '/signup', class: 'btn btn-primary btn-small' }, 'Create account'),
    );
    return;
  }
  const signOut = h('button', { type: 'button', class: 'btn btn-ghost btn-small', dataset: { busy: 'Signing out…' } }, 'Sign out');
  signOut.addEventListener('click', () =>
    withBusy(signOut, async () => {
      try {
        await post('/logout');
      } catch {
        // The session is gone either way; the cookie is cleared by the server when it can.
      }
      setDeveloper(null);
      setFlash('success', 'You have signed out.');
      navigate('/login');
    }),
  );
  nav.replaceChildren(
    navLink('/clients', 'Clients', path),
    navLink('/activity', 'Activity', path),
    navLink('/settings', 'Settings', path),
    h('span', { class: 'topnav-email', title: dev.email }, dev.email),
    signOut,
  );
}

function drawBanner() {
  const dev = developer();
  if (!dev || dev.email_verified) {
    banner.replaceChildren();
    return;
  }
  const message = h('span', { class: 'banner-text' });
  const resend = h('button', { type: 'button', class: 'btn btn-small btn-banner', dataset: { busy: 'Sending…' } }, 'Resend');
  const reset = () =>
    message.replaceChildren(
      h('strong', {}, 'Verify your email address. '),
      `Client registration from the SDK will fail until you click the "Verify Email" button in the email we sent to ${dev.email}.`,
    );
  reset();
  resend.addEventListener('click', () =>
    withBusy(resend, async () => {
      try {
        await post('/resend-verification', { email: dev.email });
        message.replaceChildren(h('strong', {}, 'Sent! '), `Check ${dev.email} for a new verification link.`);
      } catch (err) {
        message.replaceChildren(h('strong', { class: 'banner-error' }, 'Not sent: '), err.description);
      }
    }),
  );
  banner.replaceChildren(
    h('div', { class: 'banner', role: 'status', id: 'verify-banner' }, h('div', { class: 'banner-inner' }, message, resend)),
  );
}

function notFoundPage(view) {
  document.title = 'Page not found · Set';
  view.append(
    h(
      'div',
      { class: 'empty' },
      h('h1', { class: 'page-title' }, 'Page not found'),
      h('p', { class: 'muted' }, 'There is nothing at this address.'),
      h('a', { href: '/', class: 'btn btn-primary' }, 'Go to the portal'),
    ),
  );
}

async function render() {
  const url = new URL(location.href);
  const found = match(url.pathname);
  const options = found ? found.options : {};
  if (options.auth === 'required' && !developer()) {
    navigate(`/login?next=${encodeURIComponent(url.pathname + url.search)}`, { replace: true });
    return;
  }
  if (options.auth === 'guest' && developer()) {
    navigate(safeNext(url.searchParams.get('next')) || '/clients', { replace: true });
    return;
  }
  renders += 1;
  const seq = renders;
  drawNav();
  const flash = takeFlash();
  const view = h('div', { class: 'view' });
  main.replaceChildren(...(flash ? [h('div', { class: 'flash' }, alertBox(flash.kind, flash.text))] : []), view);
  window.scrollTo(0, 0);
  try {
    if (found) await found.handler(view, { params: found.params, query: url.searchParams, state: history.state });
    else notFoundPage(view);
  } catch (err) {
    if (seq === renders && view.isConnected) {
      view.append(alertBox('error', err && err.description ? err.description : String(err)));
    }
  }
  // After a page change, keyboard and screen-reader users start at the new page: its
  // first field when it has one marked, else its heading.
  if (seq === renders && !main.contains(document.activeElement)) {
    const field = main.querySelector('[autofocus]');
    const heading = seq > 1 ? main.querySelector('h1') : null;
    if (field) field.focus({ preventScroll: true });
    else if (heading) {
      heading.setAttribute('tabindex', '-1');
      heading.focus({ preventScroll: true });
    }
  }
}

onDeveloperChange(() => {
  drawNav();
  drawBanner();
});

onUnauthorized(() => {
  if (!developer()) return;
  setDeveloper(null);
  setFlash('info', 'Your session has ended. Sign in again to continue.');
  navigate(`/login?next=${encodeURIComponent(location.pathname)}`, { replace: true });
});

async function boot() {
  try {
    const me = await get('/me');
    setDeveloper(me.developer);
  } catch {
    setDeveloper(null);
  }
  start(render);
}

boot();
