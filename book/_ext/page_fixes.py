"""Sphinx extension: two fixes for errors a reader's browser console would show.

1. Repeated <script> tags. sphinx-thebe (which Jupyter Book 1 always loads) registers its
   inline configuration once per `env-before-read-docs` event, which can fire more than once
   a build, so pages declared `const THEBE_JS_URL` twice ("Identifier 'THEBE_JS_URL' has
   already been declared"). We drop exact repeats from each page's scripts.
2. Widgets and MathJax 3. The widget manager that draws the explorers
   (@jupyter-widgets/html-manager, 1.0.6 through 1.0.15) typesets widget labels with
   MathJax 2's `MathJax.Hub.Queue`, but the book loads MathJax 3, which has no `Hub`
   ("Cannot read properties of undefined (reading 'Queue')"). We give MathJax 3 a
   non-enumerable `Hub.Queue` that forwards to its `typesetPromise`.
"""

from sphinx.application import Sphinx

MATHJAX2_SHIM = """(function () {
  function shim(mj) {
    if (mj && typeof mj === "object" && !mj.Hub) {
      Object.defineProperty(mj, "Hub", {configurable: true, enumerable: false, value: {
        Queue: function (job) {
          var element = Array.isArray(job) ? job[2] : undefined;
          if (element && window.MathJax && window.MathJax.typesetPromise) {
            window.MathJax.typesetPromise([element]).catch(function () {});
          }
        }
      }});
    }
    return mj;
  }
  var current = shim(window.MathJax);
  Object.defineProperty(window, "MathJax", {configurable: true, enumerable: true,
    get: function () { return current; }, set: function (value) { current = shim(value); }});
})();"""


def _unique_scripts(app: Sphinx, pagename: str, templatename: str, context: dict, doctree) -> None:
    scripts = context.get("script_files")
    if not scripts:
        return
    seen, unique = set(), []
    for script in scripts:
        attributes = sorted(getattr(script, "attributes", {}).items())
        key = (getattr(script, "filename", None) or "", repr(attributes))  # None and "" alike
        if key not in seen:
            seen.add(key)
            unique.append(script)
    scripts[:] = unique


def setup(app: Sphinx) -> dict:
    app.add_js_file(None, body=MATHJAX2_SHIM, priority=100)  # before MathJax and the widgets
    app.connect("html-page-context", _unique_scripts, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
