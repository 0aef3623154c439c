/* The transactions table: keep provider-error alerts in place and announce new results.
   No inline script (CSP); the page works without this file. */
(function () {
  "use strict";

  var VIEW = "transactions-view";

  /* A provider failure answers with a real error status (502/503) and an inline alert made for
     the view region (marked X-Portal-Inline-Error): swap it in instead of the generic alert. */
  document.addEventListener("htmx:beforeSwap", function (event) {
    var xhr = event.detail.xhr;
    var target = event.detail.target;
    if (!xhr || !target || target.id !== VIEW) return;
    if (xhr.status >= 400 && xhr.getResponseHeader("X-Portal-Inline-Error") === "1") {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
    if (xhr.status === 400 && (xhr.getResponseHeader("Content-Type") || "").indexOf("text/html") === 0) {
      event.detail.shouldSwap = true; /* the form with its messages */
      event.detail.isError = false;
    }
  });

  /* After a swap: tell screen readers what changed, and move focus to the error summary. */
  document.addEventListener("htmx:afterSwap", function (event) {
    if (!event.detail.target || event.detail.target.id !== VIEW) return;
    var announcer = document.getElementById("transactions-announcer");
    var errors = document.getElementById("transactions-errors");
    var alert = document.getElementById("transactions-alert");
    var empty = document.getElementById("transactions-empty");
    var count = document.getElementById("transactions-count");
    if (errors) {
      errors.focus();
      return;
    }
    var source = alert || empty || count;
    if (announcer && source) announcer.textContent = source.textContent.replace(/\s+/g, " ").trim();
  });
})();
