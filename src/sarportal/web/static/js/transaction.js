/* The transaction detail page: focus for the action dialog and for revealed customer fields.
   Everything works without this file (plain forms and links); it only makes the htmx
   version pleasant for keyboard and screen-reader users. No inline script: the CSP forbids it. */
(function () {
  "use strict";

  var DIALOG_CONTENT = "action-dialog-content";

  function focusFirst(container) {
    var target = container.querySelector("[autofocus]") ||
      container.querySelector("input:not([type=hidden]), select, textarea, button");
    if (target) target.focus();
  }

  /* Bootstrap traps the focus inside the dialog only once it has faded in: until then a Tab
     would leave the dialog for the page behind it. So a step that arrives earlier waits for
     "shown" (below) before it takes the focus. */
  function isShown(dialog) {
    return dialog.dataset.portalShown === "true";
  }

  document.addEventListener("htmx:afterSwap", function (event) {
    var target = event.detail.target;
    if (!target || target.id !== DIALOG_CONTENT) return;
    var dialog = target.closest(".modal");
    if (!dialog || isShown(dialog)) focusFirst(target);
  });

  /* A revealed customer field replaces its masked placeholder (same id): move the focus to
     it, so that the reading position does not jump back to the top of the page. Only once
     settled: until then htmx keeps the old element's attributes (class, no tabindex) on it. */
  document.addEventListener("htmx:afterSettle", function (event) {
    var target = event.detail.target;
    if (!target || !target.id || target.id === DIALOG_CONTENT) return;
    var swapped = document.getElementById(target.id);
    if (swapped && swapped.classList.contains("portal-revealed")) swapped.focus();
  });

  /* Bootstrap focuses the dialog itself once it has faded in, which can be after the step
     arrived: then move the focus on to the step's first field, as after a swap. */
  document.addEventListener("shown.bs.modal", function (event) {
    event.target.dataset.portalShown = "true";
    var content = event.target.querySelector("#" + DIALOG_CONTENT);
    if (content && content.querySelector("form")) focusFirst(content);
  });

  /* Closing the dialog forgets its content, so the next opening starts a new intent (and a
     new idempotency key) instead of showing a stale step. */
  document.addEventListener("hide.bs.modal", function (event) {
    delete event.target.dataset.portalShown;
  });

  document.addEventListener("hidden.bs.modal", function (event) {
    var content = event.target.querySelector("#" + DIALOG_CONTENT);
    if (!content) return;
    var placeholder = document.getElementById("action-dialog-placeholder");
    if (placeholder) content.replaceChildren(placeholder.content.cloneNode(true));
  });
})();
