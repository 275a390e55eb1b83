// The leaderboard page's two behaviours, inlined into index.html: the verdict filter, and opening the
// collapsed list a link points into. Without JavaScript the page shows everything.
(function () {
  "use strict";
  var hidden = {};
  var buttons = document.querySelectorAll("[data-filter]");

  function apply() {
    buttons.forEach(function (b) {
      var key = b.getAttribute("data-filter");
      var off = !!hidden[key];
      document.body.classList.toggle("hide-" + b.getAttribute("data-slug"), off);
      b.setAttribute("aria-pressed", off ? "false" : "true");
    });
  }

  buttons.forEach(function (b) {
    b.addEventListener("click", function () {
      var key = b.getAttribute("data-filter");
      hidden[key] = !hidden[key];
      apply();
    });
  });
  var reset = document.querySelector("[data-filter-reset]");
  if (reset) {
    reset.addEventListener("click", function () {
      hidden = {};
      apply();
    });
  }

  function reveal() {
    var id = decodeURIComponent(window.location.hash.slice(1));
    var el = id && document.getElementById(id);
    if (!el) return;
    for (var d = el.closest("details"); d; d = d.parentElement && d.parentElement.closest("details")) {
      d.open = true;
    }
    el.scrollIntoView({ block: "center" });
    el.classList.remove("flash");
    void el.offsetWidth; // restart the highlight
    el.classList.add("flash");
  }

  window.addEventListener("hashchange", reveal);
  reveal();
})();
