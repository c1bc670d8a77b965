// The inspector's own script: stage panels on node clicks, live runs list. An exported page has no htmx: its
// stage panels are <template data-stage> elements of the page itself.
(function () {
  "use strict";

  function select(node) {
    document.querySelectorAll("svg.dag g.node.selected").forEach(function (g) { g.classList.remove("selected"); });
    var g = document.querySelector('svg.dag g.node[data-node="' + CSS.escape(node) + '"]');
    if (g) g.classList.add("selected");
    var panel = document.getElementById("stage");
    if (!panel) return;
    var kept = document.querySelector('template[data-stage="' + CSS.escape(node) + '"]');
    if (kept) {
      panel.replaceChildren(kept.content.cloneNode(true));
    } else if (window.htmx && panel.dataset.stageUrl) {
      htmx.ajax("GET", panel.dataset.stageUrl + encodeURIComponent(node), { target: "#stage", swap: "innerHTML" });
      var url = new URL(window.location.href);
      url.searchParams.set("node", node);
      history.replaceState(null, "", url);
    } else {
      panel.innerHTML = "<p class=\"hint\">This run did not reach this node.</p>";
    }
  }

  document.addEventListener("click", function (event) {
    var g = event.target.closest && event.target.closest("svg.dag g.node");
    if (g) select(g.dataset.node);
  });
  document.addEventListener("keydown", function (event) {
    var g = event.target.closest && event.target.closest("svg.dag g.node");
    if (g && (event.key === "Enter" || event.key === " ")) { event.preventDefault(); select(g.dataset.node); }
  });

  document.addEventListener("DOMContentLoaded", function () {
    var selected = new URL(window.location.href).searchParams.get("node");
    if (selected) {
      var g = document.querySelector('svg.dag g.node[data-node="' + CSS.escape(selected) + '"]');
      if (g) { g.classList.add("selected"); g.scrollIntoView({ block: "center" }); }
    }
    var live = document.querySelector("[data-live]");
    if (live && window.EventSource && window.htmx) {
      var source = new EventSource(live.dataset.live);
      source.addEventListener("runs", function () { htmx.trigger("#runs-form", "refresh"); });
    }
  });
})();
