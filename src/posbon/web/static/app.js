// posbon review: keyboard shortcuts, removal-order countdowns, click-to-reveal media.
// A static file because the Content-Security-Policy forbids inline script.
(function () {
  "use strict";

  function pad(n) { return String(n).padStart(2, "0"); }

  function formatSpan(ms) {
    var s = Math.floor(Math.abs(ms) / 1000);
    var h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
    return (h > 0 ? h + ":" + pad(m) : String(m)) + ":" + pad(sec);
  }

  // Every element with data-deadline (an ISO time written by the server) counts down to it.
  function tickDeadlines() {
    var now = Date.now();
    document.querySelectorAll("[data-deadline]").forEach(function (el) {
      var due = Date.parse(el.getAttribute("data-deadline"));
      if (isNaN(due)) { return; }
      if (el.hasAttribute("data-actioned")) { return; }
      var left = due - now;
      var row = el.closest("tr");
      if (left <= 0) {
        el.textContent = "OVERDUE by " + formatSpan(left);
        el.classList.add("overdue");
        if (row) { row.classList.add("overdue"); }
      } else {
        el.textContent = formatSpan(left) + " left";
        el.classList.remove("overdue");
      }
    });
  }

  // Media are blurred and greyscale until the reviewer clicks them.
  function setupMedia() {
    document.querySelectorAll(".media-tile button.reveal").forEach(function (btn) {
      btn.addEventListener("click", function () {
        var tile = btn.closest(".media-tile");
        var revealed = tile.classList.toggle("revealed");
        btn.setAttribute("aria-pressed", revealed ? "true" : "false");
      });
    });
  }

  function typing(target) {
    var tag = target && target.tagName;
    return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || (target && target.isContentEditable);
  }

  // Queue page: j/k move the selection, Enter (or o) opens it.
  function setupQueueKeys() {
    var rows = Array.prototype.slice.call(document.querySelectorAll("tr[data-item-url]"));
    if (!rows.length) { return false; }
    var current = 0;
    function select(i) {
      rows[current].classList.remove("selected");
      current = Math.max(0, Math.min(rows.length - 1, i));
      rows[current].classList.add("selected");
      rows[current].scrollIntoView({ block: "nearest" });
    }
    rows[0].classList.add("selected");
    document.addEventListener("keydown", function (ev) {
      if (typing(ev.target) || ev.ctrlKey || ev.metaKey || ev.altKey) { return; }
      if (ev.key === "j") { select(current + 1); ev.preventDefault(); }
      else if (ev.key === "k") { select(current - 1); ev.preventDefault(); }
      else if (ev.key === "Enter" || ev.key === "o") {
        window.location.assign(rows[current].getAttribute("data-item-url")); ev.preventDefault();
      }
    });
    return true;
  }

  // Item page: r/g/l/n/e press the matching decision button; j/k go to the next/previous queued item.
  function setupItemKeys() {
    var form = document.getElementById("decision-form");
    document.addEventListener("keydown", function (ev) {
      if (typing(ev.target) || ev.ctrlKey || ev.metaKey || ev.altKey) { return; }
      if (form) {
        var button = form.querySelector('button[data-key="' + ev.key + '"]');
        if (button) { ev.preventDefault(); form.requestSubmit(button); return; }
      }
      var nav = document.querySelector('a[data-key="' + ev.key + '"]');
      if (nav) { ev.preventDefault(); window.location.assign(nav.getAttribute("href")); }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    setupMedia();
    if (!setupQueueKeys()) { setupItemKeys(); }
    tickDeadlines();
    if (document.querySelector("[data-deadline]")) { window.setInterval(tickDeadlines, 1000); }
  });
})();
