// Says whether the board is live. The board itself is swapped in by htmx's SSE extension.
(function () {
  "use strict";
  function say(state, text) {
    var element = document.getElementById("live");
    if (element) {
      element.setAttribute("data-state", state);
      element.textContent = text;
    }
  }
  document.addEventListener("htmx:sseOpen", function () {
    say("live", "Live: this page updates by itself as steps are marked.");
  });
  document.addEventListener("htmx:sseError", function () {
    say("reconnecting", "Reconnecting… (the board shown may be out of date)");
  });
  document.addEventListener("htmx:sseMessage", function () {
    document.body.setAttribute("data-updated", String(Date.now()));
  });
})();
