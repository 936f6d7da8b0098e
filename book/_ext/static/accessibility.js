// See book/_ext/accessibility.py, points 2, 3, 5 and 7: the widget manager draws explorers after
// the page has loaded, and solutions open later, so we watch the page and fix what it adds.
(function () {
  var VIEW = 'script[type="application/vnd.jupyter.widget-view+json"][data-alt]';

  function nameSliderHandles() {
    document.querySelectorAll('[role="slider"]:not([aria-label])').forEach(function (handle) {
      var widget = handle.closest(".widget-slider");
      var label = widget && widget.querySelector(".widget-label");
      var name = label && label.textContent.trim();
      if (name) handle.setAttribute("aria-label", name);
    });
  }

  function describeWidgetFigures() {
    document.querySelectorAll(VIEW).forEach(function (script) {
      var view = script.previousElementSibling;  // the widget manager draws just before it
      if (!view || !view.classList.contains("widget-subarea")) return;
      view.querySelectorAll("img:not([alt])").forEach(function (img) {
        img.setAttribute("alt", script.dataset.alt);
      });
    });
  }

  function tabStopsForScrollableCode() {
    document.querySelectorAll('pre[tabindex="-1"]').forEach(function (pre) {
      if (pre.scrollWidth > pre.clientWidth || pre.scrollHeight > pre.clientHeight) {
        pre.setAttribute("tabindex", "0");
      }
    });
  }

  function moduleIndexTogglers() {
    document.querySelectorAll("img.toggler:not([role])").forEach(function (img) {
      img.setAttribute("alt", "Show or hide the modules of this package");
      img.setAttribute("role", "button");
      img.setAttribute("tabindex", "0");
      img.addEventListener("keydown", function (event) {
        if (event.key === "Enter" || event.key === " ") {
          event.preventDefault();
          img.click();
        }
      });
    });
  }

  function fix() {
    nameSliderHandles();
    describeWidgetFigures();
    tabStopsForScrollableCode();
    moduleIndexTogglers();
  }

  // "class" changes when a solution's toggle opens it, "open" when a dropdown (<details>) does.
  var watched = {childList: true, subtree: true, attributes: true, attributeFilter: ["class", "open"]};
  new MutationObserver(fix).observe(document.documentElement, watched);
  document.addEventListener("DOMContentLoaded", fix);
})();
