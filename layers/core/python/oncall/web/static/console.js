// Tocsin console, progressive enhancement only: every page works without it.
// - <button data-copy="ID" hidden> is shown and copies the text of the element #ID (a secret shown once);
//   the result is announced in #copy-status (role="status").
// - <form data-confirm="question"> asks before it is submitted.
// - the alert group list: while rows are selected for a bulk action (checkboxes of the form #bulk), its
//   every-2-s refresh pauses, so the selection is not swapped away; #selected-count says how many.
// - a 400 answer to an htmx request (a message) is swapped in like a 200.
(function () {
  "use strict";

  function announce(text) {
    var status = document.getElementById("copy-status");
    if (status) {
      status.textContent = "";
      window.setTimeout(function () { status.textContent = text; }, 50);
    }
  }

  function copyButtons() {
    if (!navigator.clipboard || !window.isSecureContext) {
      return; // the text stays selectable: copy it by hand
    }
    document.querySelectorAll("button[data-copy]").forEach(function (button) {
      var source = document.getElementById(button.getAttribute("data-copy"));
      if (!source) {
        return;
      }
      button.hidden = false;
      button.addEventListener("click", function () {
        var what = button.getAttribute("data-copy-name") || "text";
        navigator.clipboard.writeText(source.textContent.trim()).then(
          function () { announce("Copied the " + what + "."); },
          function () { announce("Could not copy the " + what + ": select it and copy it."); }
        );
      });
    });
  }

  function confirmations() {
    document.querySelectorAll("form[data-confirm]").forEach(function (form) {
      form.addEventListener("submit", function (event) {
        if (!window.confirm(form.getAttribute("data-confirm"))) {
          event.preventDefault();
        }
      });
    });
  }

  function selected() {
    return document.querySelectorAll('input[form="bulk"][name="ids"]:checked').length;
  }

  function bulkSelection() {
    var count = document.getElementById("selected-count");
    if (!count) {
      return;
    }
    document.addEventListener("change", function (event) {
      if (event.target && event.target.getAttribute("form") === "bulk") {
        count.textContent = "Selected: " + selected();
      }
    });
    document.body.addEventListener("htmx:beforeRequest", function (event) {
      if (event.detail.elt && event.detail.elt.id === "groups-table" && selected() > 0) {
        event.preventDefault(); // keep the selection; the next tick refreshes once it is acted on or cleared
      }
    });
  }

  // htmx leaves 4xx answers out; a 400 of the console is a page fragment with its message (a refused payload in
  // the template preview), so show it where a 200 would go.
  function showRefusals() {
    document.body.addEventListener("htmx:beforeSwap", function (event) {
      if (event.detail.xhr.status === 400) {
        event.detail.shouldSwap = true;
        event.detail.isError = false;
      }
    });
  }

  function start() {
    copyButtons();
    confirmations();
    bulkSelection();
    showRefusals();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
