// What every page's forms share: asking before a destructive form is sent (forms
// carrying data-confirm), and, after a refused post, the focus on the first bad
// field (browsers skip autofocus when the address has a #fragment).
document.querySelectorAll("form[data-confirm]").forEach(function (form) {
  form.addEventListener("submit", function (event) {
    if (!window.confirm(form.dataset.confirm)) event.preventDefault();
  });
});
// After the load event: the scroll to the #fragment, which comes first, would
// otherwise take the focus away again.
window.addEventListener("load", function () {
  setTimeout(function () {
    var first = document.querySelector("[autofocus][aria-invalid='true']");
    if (first && document.activeElement !== first) {
      first.focus();
      first.scrollIntoView({ block: "center" });
    }
  }, 0);
});

// A plant form shows the storage and location settings only for the kinds they
// apply to (or when they hold something); without JavaScript all are shown.
document.querySelectorAll("select[name='kind']").forEach(function (select) {
  var form = select.form;
  function show() {
    form.querySelectorAll("fieldset[data-kinds]").forEach(function (set) {
      var applies = set.dataset.kinds.split(" ").indexOf(select.value) >= 0;
      var filled = Array.prototype.some.call(set.querySelectorAll("input"), function (input) {
        return input.value.trim() !== "" || input.getAttribute("aria-invalid") === "true";
      });
      set.hidden = !(applies || filled);
    });
  }
  select.addEventListener("change", show);
  show();
});
