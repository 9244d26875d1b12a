// Cross-device login: ask every few seconds whether the phone has answered (plain polling, no
// WebSockets). Once it has, submit the page's own form: the server finishes the login or shows
// the outcome. Without JavaScript the same form is the "Check now" button.
(function () {
  "use strict";
  var page = document.getElementById("crossdevice");
  var form = document.getElementById("crossdevice-complete");
  if (!page || !form) {
    return;
  }
  if (page.getAttribute("data-status") === "approved") {
    form.submit();
    return;
  }
  if (!window.fetch) {
    return;
  }
  var url = page.getAttribute("data-status-url");
  var delay = 2000;
  var polls = 0;

  function poll() {
    polls += 1;
    if (polls > 150) {  // five minutes: the code has long expired; the button still works
      return;
    }
    fetch(url, { credentials: "same-origin", cache: "no-store", headers: { Accept: "application/json" } })
      .then(function (response) {
        return response.ok ? response.json() : { status: "gone" };
      })
      .then(function (body) {
        if (body.status === "pending") {
          window.setTimeout(poll, delay);
        } else {
          form.submit();
        }
      })
      .catch(function () {
        window.setTimeout(poll, delay * 2);  // a network hiccup: try again, a little later
      });
  }

  window.setTimeout(poll, delay);
})();
