/* The portal's small behaviours: CSRF header and progress bar for htmx requests, and a
   standard, translated alert when an htmx request fails. No inline script: the CSP forbids it. */
(function () {
  "use strict";

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : null;
  }

  /* -- CSRF: every htmx request that changes something carries the token as X-CSRFToken. */
  document.addEventListener("htmx:configRequest", function (event) {
    var token = csrfToken();
    if (token && event.detail.verb !== "get") {
      event.detail.headers["X-CSRFToken"] = token;
    }
  });

  /* -- Loading: a thin bar at the top while any request runs; the target is aria-busy. */
  var running = 0;
  function setLoading(delta) {
    running = Math.max(0, running + delta);
    document.documentElement.classList.toggle("portal-loading", running > 0);
  }
  document.addEventListener("htmx:beforeRequest", function (event) {
    setLoading(1);
    var target = event.detail.target;
    if (target) target.setAttribute("aria-busy", "true");
  });
  document.addEventListener("htmx:afterRequest", function (event) {
    setLoading(-1);
    var target = event.detail.target;
    if (target) target.removeAttribute("aria-busy");
  });

  /* -- Errors: one dismissible alert per failure, texts from data attributes (translated). */
  var MESSAGES = {
    401: "session",
    403: "forbidden",
    404: "notFound",
    409: "conflict",
    429: "rateLimited",
    502: "unavailable",
    503: "unavailable",
    504: "unavailable"
  };

  function showAlert(kind, supportId) {
    var box = document.getElementById("portal-request-alerts");
    if (!box) return;
    var text = box.dataset["message" + kind.charAt(0).toUpperCase() + kind.slice(1)] || box.dataset.messageError;
    var alert = document.createElement("div");
    alert.className = "alert alert-danger alert-dismissible fade show d-flex align-items-start gap-2";
    alert.setAttribute("role", "alert");
    var icon = document.createElement("i");
    icon.className = "bi bi-x-octagon flex-shrink-0";
    icon.setAttribute("aria-hidden", "true");
    var body = document.createElement("div");
    body.textContent = text;
    if (supportId) {
      var support = document.createElement("div");
      support.className = "small mt-1";
      support.textContent = (box.dataset.messageSupport || "Support ID") + ": " + supportId;
      body.appendChild(support);
    }
    var close = document.createElement("button");
    close.type = "button";
    close.className = "btn-close";
    close.setAttribute("data-bs-dismiss", "alert");
    close.setAttribute("aria-label", box.dataset.messageDismiss || "Dismiss");
    alert.appendChild(icon);
    alert.appendChild(body);
    alert.appendChild(close);
    /* the same failure twice shows one alert, not a growing pile */
    box.replaceChildren(alert);
  }

  function supportIdOf(xhr) {
    if (!xhr) return null;
    var id = xhr.getResponseHeader("X-Support-Id") || xhr.getResponseHeader("X-Request-Id");
    if (id) return id;
    var type = xhr.getResponseHeader("Content-Type") || "";
    if (type.indexOf("json") !== -1) {
      try {
        var problem = JSON.parse(xhr.responseText);
        return problem.support_id || null;
      } catch (e) {
        return null;
      }
    }
    return null;
  }

  document.addEventListener("htmx:responseError", function (event) {
    var xhr = event.detail.xhr;
    var status = xhr ? xhr.status : 0;
    showAlert(MESSAGES[status] || "error", supportIdOf(xhr));
  });
  document.addEventListener("htmx:sendError", function () {
    showAlert("network", null);
  });
  document.addEventListener("htmx:timeout", function () {
    showAlert("network", null);
  });

  /* -- After a swap, clear an earlier request alert: the new content is the answer. */
  document.addEventListener("htmx:afterSwap", function () {
    var box = document.getElementById("portal-request-alerts");
    if (box) box.replaceChildren();
  });
})();
