// Page furniture shared by the views: titles, page headers, the centred auth card.

import { h } from '../dom.js';

/** Sets the document title: "<page> · Set Developer Portal". */
export function setTitle(page) {
  document.title = page ? `${page} · Set Developer Portal` : 'Set Developer Portal';
}

/** A page header: optional breadcrumbs ([{href, label}]), title, subtitle and actions. */
export function pageHeader({ title, subtitle, actions, crumbs, meta }) {
  return h(
    'div',
    { class: 'page-head' },
    crumbs && crumbs.length
      ? h(
          'nav',
          { class: 'crumbs', 'aria-label': 'Breadcrumb' },
          h(
            'ol',
            {},
            crumbs.map((c) => h('li', {}, c.href ? h('a', { href: c.href }, c.label) : h('span', { 'aria-current': 'page' }, c.label))),
          ),
        )
      : null,
    h(
      'div',
      { class: 'page-head-row' },
      h('div', { class: 'page-head-text' }, h('h1', { class: 'page-title' }, title), subtitle ? h('p', { class: 'page-subtitle' }, subtitle) : null, meta || null),
      actions ? h('div', { class: 'page-actions' }, actions) : null,
    ),
  );
}

/** The centred card of the sign-in, sign-up and email pages. */
export function authShell({ title, lead, icon }, ...children) {
  return h(
    'div',
    { class: 'auth' },
    h(
      'div',
      { class: 'auth-card card' },
      icon ? h('div', { class: ['auth-icon', `auth-icon-${icon}`], 'aria-hidden': 'true' }, icon === 'ok' ? '✓' : icon === 'mail' ? '✉' : '!') : null,
      h('h1', { class: 'auth-title' }, title),
      lead ? h('p', { class: 'auth-lead' }, lead) : null,
      ...children,
    ),
  );
}
