// Confirmation dialogs on the native <dialog> element: focus is trapped and Escape
// cancels, with no extra code. The confirm action runs inside the dialog, so its error
// (if any) is shown there and the dialog stays open.

import { h } from './dom.js';
import { field, formError, showError, clearErrors, withBusy } from './forms.js';

/**
 * Asks for confirmation. Options: title, body (nodes or text), confirmLabel, busyLabel,
 * danger (a red button), typeToConfirm ({ label, value }: the button stays disabled until
 * the value is typed), action (async; its error is shown in the dialog).
 * Resolves with the action's result (true when it has none), or null when cancelled.
 */
export function confirmDialog(opts) {
  return new Promise((resolve) => {
    let settled = false;
    const confirmBtn = h(
      'button',
      { type: 'submit', class: ['btn', opts.danger ? 'btn-danger' : 'btn-primary'], dataset: { busy: opts.busyLabel || 'Working…' } },
      opts.confirmLabel || 'Confirm',
    );
    const cancelBtn = h('button', { type: 'button', class: 'btn btn-secondary' }, 'Cancel');
    const typed = opts.typeToConfirm
      ? field({
          label: opts.typeToConfirm.label,
          name: 'confirm',
          autocomplete: 'off',
          spellcheck: 'false',
          autocapitalize: 'off',
        })
      : null;
    const titleId = `dlg-${Math.random().toString(36).slice(2)}`;
    const form = h(
      'form',
      { class: 'dialog-form', method: 'dialog' },
      h('h2', { class: 'dialog-title', id: titleId }, opts.title),
      h('div', { class: 'dialog-body' }, opts.body),
      typed,
      formError(),
      h('div', { class: 'dialog-actions' }, cancelBtn, confirmBtn),
    );
    form.noValidate = true;
    const dialog = h('dialog', { class: 'dialog', 'aria-labelledby': titleId }, form);

    const finish = (value) => {
      if (settled) return;
      settled = true;
      dialog.close();
      dialog.remove();
      resolve(value);
    };

    if (typed) {
      const input = typed.querySelector('input');
      const check = () => {
        confirmBtn.disabled = input.value.trim() !== opts.typeToConfirm.value;
      };
      input.addEventListener('input', check);
      check();
    }
    cancelBtn.addEventListener('click', () => finish(null));
    dialog.addEventListener('cancel', (event) => {
      if (confirmBtn.getAttribute('aria-busy')) event.preventDefault();
      else finish(null);
    });
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      if (confirmBtn.disabled) return;
      clearErrors(form);
      try {
        const result = opts.action ? await withBusy(confirmBtn, () => opts.action()) : true;
        // A 204 answers null: done all the same.
        finish(result === undefined || result === null ? true : result);
      } catch (err) {
        showError(form, err);
        if (typed) typed.querySelector('input').dispatchEvent(new Event('input'));
      }
    });

    document.body.append(dialog);
    dialog.showModal();
    const first = typed ? typed.querySelector('input') : cancelBtn;
    first.focus();
  });
}
