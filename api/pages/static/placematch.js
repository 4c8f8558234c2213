// placematch: small helpers for the pages. Everything works without this file (forms post and
// pages reload); it only adds the live view of a running match job.
(function () {
  "use strict";
  // A running match job: poll its status every second and reload when it has finished.
  var watch = document.querySelector("[data-watch-run]");
  if (watch) {
    // The pages' own status route: the JSON API takes bearer tokens, not the page's cookie.
    var url = "/panel/runs/" + watch.getAttribute("data-watch-run") + "/status";
    var tick = function () {
      fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (run) {
          if (!run) { return; }
          var p = run.progress || {};
          // The words come from the server (models.glossary): this file holds none of its own.
          var text = (p.stage_words ? "Running: " + p.stage_words : "Waiting to start");
          if (p.young_people !== undefined) { text += " - " + p.young_people + " young people, " + p.vacancies + " vacancies"; }
          if (p.best_so_far) { text += " - the best proposal so far places " + p.best_so_far.placed; }
          watch.textContent = text;
          if (["succeeded", "failed", "cancelled"].indexOf(run.status) >= 0) { window.location.reload(); }
          else { window.setTimeout(tick, 1000); }
        });
    };
    window.setTimeout(tick, 500);
  }
})();
// A form drawn again with errors: move focus to its error summary, as GOV.UK pages do, so a
// screen reader announces what went wrong and the first link leads to the field.
(function () {
  "use strict";
  var summary = document.querySelector(".error-summary[data-autofocus]");
  if (summary) { summary.focus(); }
})();
// Commissioners' pages: a tender scenario run that is working. Poll its status every second,
// show how far it has gone (replications done, months simulated, time left), and reload the
// page when it has finished, failed or been cancelled.
(function () {
  "use strict";
  var watched = document.querySelectorAll("[data-watch-scenario]");
  Array.prototype.forEach.call(watched, function (element) {
    var url = "/tender-page/runs/" + element.getAttribute("data-watch-scenario") + "/status";
    var tick = function () {
      fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (run) {
          if (!run) { return; }
          element.textContent = run.text;
          if (run.finished) { window.location.reload(); } else { window.setTimeout(tick, 1000); }
        })
        .catch(function () { window.setTimeout(tick, 5000); });
    };
    window.setTimeout(tick, 1000);
  });
})();
// The map (api/pages/panel_map.py): a line and its row in the list below light up together
// when either is pointed at or focused; Enter on a line follows its row's link. Without this
// file the map still shows each line's 20-mile ring on focus and hover (placematch.css).
(function () {
  "use strict";
  var lines = document.querySelectorAll("svg.map g.pair[data-item]");
  Array.prototype.forEach.call(lines, function (line) {
    var item = document.getElementById(line.getAttribute("data-item"));
    if (!item) { return; }
    var on = function () { line.classList.add("is-linked"); item.classList.add("is-linked"); };
    var off = function () { line.classList.remove("is-linked"); item.classList.remove("is-linked"); };
    [line, item].forEach(function (el) {
      el.addEventListener("mouseenter", on);
      el.addEventListener("mouseleave", off);
      el.addEventListener("focusin", on);
      el.addEventListener("focusout", off);
    });
    line.addEventListener("keydown", function (event) {
      var link = item.querySelector("a[href]");
      if (event.key === "Enter" && link) { link.click(); }
    });
    line.addEventListener("click", function () { item.scrollIntoView({ block: "nearest" }); });
  });
})();
