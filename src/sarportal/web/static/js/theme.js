/* Colour scheme: light, dark or as on this device ("auto"), remembered in localStorage.
   Loaded in <head> without defer so the page never flashes in the wrong scheme. */
(function () {
  "use strict";
  var KEY = "sarportal-theme";
  var media = window.matchMedia("(prefers-color-scheme: dark)");

  function stored() {
    try {
      var value = window.localStorage.getItem(KEY);
      return value === "light" || value === "dark" ? value : "auto";
    } catch (e) {
      return "auto";
    }
  }

  function resolve(choice) {
    return choice === "auto" ? (media.matches ? "dark" : "light") : choice;
  }

  function apply(choice) {
    var theme = resolve(choice);
    document.documentElement.setAttribute("data-bs-theme", theme);
    document.dispatchEvent(new CustomEvent("portal:themechange", { detail: { theme: theme, choice: choice } }));
  }

  function mark(choice) {
    var buttons = document.querySelectorAll("[data-theme-value]");
    var icon = document.querySelector("[data-theme-icon]");
    buttons.forEach(function (button) {
      var on = button.getAttribute("data-theme-value") === choice;
      button.classList.toggle("active", on);
      button.setAttribute("aria-pressed", on ? "true" : "false");
      if (on && icon) {
        var chosen = button.querySelector(".bi");
        if (chosen) icon.className = chosen.className;
      }
    });
  }

  document.documentElement.classList.add("js");
  apply(stored());

  media.addEventListener("change", function () {
    if (stored() === "auto") apply("auto");
  });

  document.addEventListener("DOMContentLoaded", function () {
    mark(stored());
    document.addEventListener("click", function (event) {
      var button = event.target.closest("[data-theme-value]");
      if (!button) return;
      var choice = button.getAttribute("data-theme-value");
      try {
        window.localStorage.setItem(KEY, choice);
      } catch (e) { /* private mode: the choice lasts for this page only */ }
      apply(choice);
      mark(choice);
    });
  });

  window.portalTheme = { current: function () { return resolve(stored()); } };
})();
