// The live alert board (console/board.py): polls its fragments, silences in place.
// Progressive enhancement: without it the board is a page, the forms post and redirect.
(function () {
  "use strict";

  // A refresh keeps the keyboard user's place: the focused control's id is looked up in
  // the new content and focused again. While a <select> has focus (a duration being
  // chosen) the swap waits for the next tick. A failed refresh keeps what is shown.
  function poller(el) {
    var url = el.getAttribute("data-board-url");
    var every = Math.max(1, parseFloat(el.getAttribute("data-board-every") || "5")) * 1000;
    var stamp = document.querySelector('[data-board-stamp="' + el.id + '"]');
    var timer = null;

    function say(text) { if (stamp) { stamp.textContent = text; } }

    function swap(body) {
      var focused = document.activeElement;
      var keep = focused && el.contains(focused) ? focused.id : "";
      el.innerHTML = body;
      if (keep) {
        var again = document.getElementById(keep);
        if (again) { again.focus(); }
      }
    }

    function tick() {
      timer = null;
      var active = document.activeElement;
      if (document.hidden || (active && active.tagName === "SELECT" && el.contains(active))) {
        schedule();
        return;
      }
      fetch(url, { credentials: "same-origin", headers: { "X-Console-Fragment": "1" } })
        .then(function (resp) { return resp.text().then(function (body) { return [resp, body]; }); })
        .then(function (pair) {
          if (pair[0].status === 401) { say("Your session has ended: reload the page to sign in."); return; }
          if (pair[0].ok) {
            swap(pair[1]);
            say("Updated " + new Date().toLocaleTimeString() + "; refreshes every " + every / 1000 + " seconds.");
          } else {
            say("Could not refresh (HTTP " + pair[0].status + "); retrying.");
          }
          schedule();
        })
        .catch(function () { say("The console is unreachable; retrying."); schedule(); });
    }
    function schedule() { if (!timer) { timer = window.setTimeout(tick, every); } }
    el.boardRefresh = function () { if (timer) { window.clearTimeout(timer); timer = null; } tick(); };
    if (url) { schedule(); }
  }

  // Silence / unsilence in place: the answer is a notice; the board refreshes at once and
  // the keyboard lands on the notice (the button it pressed may have changed).
  function act(event) {
    var form = event.target;
    if (!form.hasAttribute || !form.hasAttribute("data-board-action")) { return; }
    event.preventDefault();
    var notice = document.getElementById("board-notice");
    var board = document.getElementById("board");
    var button = form.querySelector('button[type="submit"]');
    if (button) { button.disabled = true; }
    fetch(form.action, {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-Console-Fragment": "1", "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams(new FormData(form)).toString()
    })
      .then(function (resp) { return resp.text(); })
      .then(function (body) { if (notice) { notice.innerHTML = body; notice.focus(); } })
      .catch(function () { if (notice) { notice.textContent = "The console is unreachable; try again."; notice.focus(); } })
      .then(function () {
        if (button) { button.disabled = false; }
        if (board && board.boardRefresh) { board.boardRefresh(); }
      });
  }

  document.addEventListener("DOMContentLoaded", function () {
    Array.prototype.forEach.call(document.querySelectorAll("[data-board-url]"), poller);
    document.addEventListener("submit", act);
  });
})();
