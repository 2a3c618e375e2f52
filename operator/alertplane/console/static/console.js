// alertplane console: progressive enhancement only. Every page works without it.
(function () {
  "use strict";

  // Parts of a page that refresh themselves from a server-rendered fragment:
  // data-refresh-url, data-refresh-every (seconds); with data-refresh-while-pending the
  // refresh stops once nothing in the part is Pending any more.
  function refresher(el) {
    var url = el.getAttribute("data-refresh-url");
    var every = Math.max(1, parseFloat(el.getAttribute("data-refresh-every") || "5")) * 1000;
    var whilePending = el.hasAttribute("data-refresh-while-pending");
    var stamp = document.querySelector('[data-refresh-stamp="' + el.id + '"]');

    function pending() { return el.querySelector('[data-phase="Pending"]') !== null; }

    function tick() {
      if (whilePending && !pending()) { return; }
      // Never swap the content under a keyboard user's focus, or while the tab is hidden.
      if (document.hidden || el.contains(document.activeElement)) { schedule(); return; }
      fetch(url, { credentials: "same-origin", headers: { "X-Console-Fragment": "1" } })
        .then(function (resp) { return resp.text().then(function (body) { return [resp, body]; }); })
        .then(function (pair) {
          el.innerHTML = pair[1];
          el.setAttribute("data-refresh-status", String(pair[0].status));
          if (stamp) { stamp.textContent = "Updated " + new Date().toLocaleTimeString() + "; refreshes every " + every / 1000 + " seconds."; }
          if (pair[0].status !== 401) { schedule(); }
        })
        .catch(function () {
          if (stamp) { stamp.textContent = "The console is unreachable; retrying."; }
          schedule();
        });
    }
    function schedule() { window.setTimeout(tick, every); }
    schedule();
  }

  // Forms answered with a fragment in place (data-enhance="fragment", data-target).
  function enhance(form) {
    var target = document.querySelector(form.getAttribute("data-target"));
    if (!target) { return; }
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var button = form.querySelector('button[type="submit"]');
      if (button) { button.disabled = true; }
      fetch(form.action, {
        method: "POST",
        credentials: "same-origin",
        headers: { "X-Console-Fragment": "1", "Content-Type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams(new FormData(form)).toString()
      })
        .then(function (resp) { return resp.text(); })
        .then(function (body) { target.innerHTML = body; })
        .catch(function () { target.textContent = "The console is unreachable; try again."; })
        .then(function () { if (button) { button.disabled = false; } });
    });
  }

  function confirmFirst(form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.getAttribute("data-confirm"))) { event.preventDefault(); }
    });
  }

  // A file input that fills a text area (data-fills="<id>"): the import page's file is
  // read here, so its form stays urlencoded like every console form.
  function fills(input) {
    var area = document.getElementById(input.getAttribute("data-fills"));
    if (!area) { return; }
    input.addEventListener("change", function () {
      var file = input.files && input.files[0];
      if (!file) { return; }
      file.text().then(function (text) { area.value = text; area.focus(); });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    Array.prototype.forEach.call(document.querySelectorAll("input[data-fills]"), fills);
    Array.prototype.forEach.call(document.querySelectorAll("[data-refresh-url]"), refresher);
    Array.prototype.forEach.call(document.querySelectorAll('form[data-enhance="fragment"]'), enhance);
    Array.prototype.forEach.call(document.querySelectorAll("form[data-confirm]"), confirmFirst);
    // After a failed submit, take the keyboard to the list of problems.
    var problems = document.getElementById("problems");
    if (problems) { problems.setAttribute("tabindex", "-1"); problems.focus(); }
    // After Preview, take the keyboard (and the view) to its answer.
    var answer = document.getElementById("alert-preview");
    if (answer && !problems) { answer.focus(); }
  });
})();
