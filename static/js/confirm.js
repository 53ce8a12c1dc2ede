// Buttons that destroy something ask first, saying what will happen (their data-confirm text). When
// this script does not run, the server asks on a page of its own instead.
document.addEventListener("click", (e) => {
  const button = e.target.closest("button[data-confirm]");
  if (!button) return;
  if (!window.confirm(button.dataset.confirm)) {
    e.preventDefault();
    return;
  }
  const form = button.form;
  if (form && !form.querySelector("input[name=confirmed]")) {
    const confirmed = document.createElement("input");
    Object.assign(confirmed, { type: "hidden", name: "confirmed", value: "1" });
    form.append(confirmed);
  }
});
