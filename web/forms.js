// Forms: labelled fields, a submit button that shows progress, and API errors shown
// next to the field they name (or above the form's buttons when they name none).

import { h, uid } from './dom.js';

/**
 * A labelled input. Options: label, name, type, value, autocomplete, required, hint,
 * placeholder, minlength, maxlength, autofocus, multiline (a textarea), rows.
 */
export function field(opts) {
  const id = uid(opts.name);
  const hintId = opts.hint ? `${id}-hint` : null;
  const errorId = `${id}-error`;
  const attrs = {
    id,
    name: opts.name,
    required: opts.required,
    autocomplete: opts.autocomplete,
    placeholder: opts.placeholder,
    minlength: opts.minlength,
    maxlength: opts.maxlength,
    autofocus: opts.autofocus,
    spellcheck: opts.spellcheck,
    autocapitalize: opts.autocapitalize,
    inputmode: opts.inputmode,
    readonly: opts.readonly,
    'aria-describedby': [hintId, errorId].filter(Boolean).join(' '),
    class: ['input', opts.mono && 'mono'],
  };
  const input = opts.multiline
    ? h('textarea', { ...attrs, rows: opts.rows || 3 })
    : h('input', { ...attrs, type: opts.type || 'text' });
  if (opts.value !== undefined && opts.value !== null) input.value = opts.value;
  input.dataset.label = opts.label;
  return h(
    'div',
    { class: 'field' },
    h('label', { for: id, class: 'label' }, opts.label),
    input,
    opts.hint ? h('p', { class: 'hint', id: hintId }, opts.hint) : null,
    h('p', { class: 'field-error', id: errorId, hidden: true }),
  );
}

/** The submit button of a form; `busy` is its label while the request runs. */
export function submitButton(label, { busy, kind = 'primary', cls } = {}) {
  return h('button', { type: 'submit', class: ['btn', `btn-${kind}`, cls], dataset: { busy: busy || 'Working…' } }, label);
}

/** The form-level error slot: placed before the form's buttons. */
export function formError() {
  return h('div', { class: 'form-error alert alert-error', role: 'alert', hidden: true });
}

/** Clears every error shown in `form`. */
export function clearErrors(form) {
  for (const p of form.querySelectorAll('.field-error')) {
    p.hidden = true;
    p.textContent = '';
  }
  for (const el of form.querySelectorAll('[aria-invalid]')) el.removeAttribute('aria-invalid');
  const top = form.querySelector('.form-error');
  if (top) {
    top.hidden = true;
    top.textContent = '';
  }
}

function capitalize(text) {
  return text ? text[0].toUpperCase() + text.slice(1) : text;
}

/**
 * Shows an error in `form`: beside the input named by the error's field when the form
 * has one ("Password must be 10 to 256 characters long"), else in the form-level slot.
 */
export function showError(form, err) {
  const description = err && err.description ? err.description : String(err && err.message ? err.message : err);
  const input = err && err.field ? form.querySelector(`[name="${CSS.escape(err.field)}"]`) : null;
  const slot = input ? form.querySelector(`#${CSS.escape(input.id)}-error`) : null;
  if (input && slot) {
    const label = input.dataset.label || capitalize(err.field);
    const entry = input.tagName === 'TEXTAREA' ? 'line' : 'item';
    slot.textContent = err.index === null ? `${label} ${err.detail}` : `${label}, ${entry} ${err.index + 1}: ${err.detail}`;
    slot.hidden = false;
    input.setAttribute('aria-invalid', 'true');
    input.focus();
    return;
  }
  let top = form.querySelector('.form-error');
  if (!top) {
    top = formError();
    form.prepend(top);
  }
  // A link's token is no field the person can fix: say what is wrong with the link.
  top.textContent = capitalize(err && err.field === 'token' ? err.detail : description);
  top.hidden = false;
}

/**
 * Runs `work()` with `button` disabled and showing its busy label; restores it after.
 * Resolves with what `work()` resolved with.
 */
export async function withBusy(button, work, busyLabel) {
  const label = button.textContent;
  button.disabled = true;
  button.setAttribute('aria-busy', 'true');
  button.classList.add('is-busy');
  button.textContent = busyLabel || button.dataset.busy || 'Working…';
  try {
    return await work();
  } finally {
    button.disabled = false;
    button.removeAttribute('aria-busy');
    button.classList.remove('is-busy');
    button.textContent = label;
  }
}

/**
 * Binds `onSubmit(values, form)` to the form's submit: clears old errors, shows progress
 * on the submit button, and shows any thrown error in the form.
 */
export function bindForm(form, onSubmit) {
  form.noValidate = true;
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const button = form.querySelector('button[type="submit"]');
    if (button && button.disabled) return;
    clearErrors(form);
    const values = Object.fromEntries(new FormData(form).entries());
    try {
      if (button) await withBusy(button, () => onSubmit(values, form));
      else await onSubmit(values, form);
    } catch (err) {
      if (form.isConnected) showError(form, err);
      else console.error(err);
    }
  });
  return form;
}

/** A form with the given children and a submit handler (see bindForm). */
export function form(attrs, children, onSubmit) {
  return bindForm(h('form', { class: 'form', ...attrs }, ...children), onSubmit);
}
