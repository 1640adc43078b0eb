"""Drop repeated inline scripts from every page.

sphinx-thebe 0.3.1 under Sphinx 7.4 registers its inline configuration script twice; the second copy
re-declares ``const THEBE_JS_URL`` and throws a JavaScript error on every page (caught by
tests/test_book_browser.py).
"""


def _unique_scripts(app, pagename, templatename, context, doctree):
    seen, kept = set(), []
    for script in context.get("script_files", []):
        body = getattr(script, "attributes", {}).get("body") if not isinstance(script, str) else None
        key = ("body", body) if body else ("file", str(script))
        if key not in seen:
            seen.add(key)
            kept.append(script)
    context["script_files"] = kept


def setup(app):
    app.connect("html-page-context", _unique_scripts, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
