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
          var text = "Status: " + run.status + (p.stage && p.stage !== run.status ? " - " + p.stage : "");
          if (p.young_people !== undefined) { text += " - " + p.young_people + " young people, " + p.vacancies + " vacancies"; }
          if (p.best_so_far) { text += " - best so far places " + p.best_so_far.placed; }
          watch.textContent = text;
          if (["succeeded", "failed", "cancelled"].indexOf(run.status) >= 0) { window.location.reload(); }
          else { window.setTimeout(tick, 1000); }
        });
    };
    window.setTimeout(tick, 500);
  }
})();
