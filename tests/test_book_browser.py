"""The built book as a reader meets it: every page of the table of contents opened in headless Chromium.

Needs a built book (``make book`` or ``make test``) and Chromium (Debian's ``chromium`` package, or the
browser named by ``GNGAN_CHROMIUM``). Run with ``make browser-test`` (``pytest -m browser``); the
default ``pytest`` run skips these tests. Screenshots are written to ``book/_build/screenshots/``.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest
import yaml

from gngan.verdicts import VERDICT_WORDS

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent
BOOK = ROOT / "book"
HTML = BOOK / "_build" / "html"
SCREENSHOTS = BOOK / "_build" / "screenshots"


def toc_pages() -> list[str]:
    """The document names of ``book/_toc.yml``, root first (e.g. ``"chapters/01_1d"``)."""
    toc = yaml.safe_load((BOOK / "_toc.yml").read_text())
    pages = [toc["root"]]

    def walk(entries):
        for entry in entries:
            if "file" in entry:
                pages.append(entry["file"])
            walk(entry.get("sections", []))

    walk(toc.get("chapters", []))
    for part in toc.get("parts", []):
        walk(part.get("chapters", []))
    return pages


def image_outputs(page: str) -> int:
    """How many image outputs the executed notebook behind ``page`` holds (0 for Markdown pages)."""
    nb = BOOK / f"{page}.ipynb"
    if not nb.exists():
        return 0
    cells = json.loads(nb.read_text())["cells"]
    return sum(any(k.startswith("image/") for k in out.get("data", {}))
               for cell in cells for out in cell.get("outputs", []))


def chromium_path() -> str:
    path = os.environ.get("GNGAN_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        pytest.fail("no Chromium found: install Debian's `chromium` package (apt-get install chromium) "
                    "or set GNGAN_CHROMIUM to a Chromium binary", pytrace=False)
    return path


@pytest.fixture(scope="module")
def browser():
    if not (HTML / "index.html").exists():
        pytest.fail(f"no built book at {HTML}: run `make book` (or `make test`) first", pytrace=False)
    from playwright.sync_api import sync_playwright

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium_path(), args=["--no-sandbox"])
        yield b
        b.close()


# MathJax typesets asynchronously after load; this resolves once every formula on the page is done.
# Sphinx loads MathJax only on pages with formulas.
WAIT_FOR_MATHJAX = """async () => {
  if (document.querySelectorAll('.math').length === 0) return true;
  const t0 = Date.now();
  while (!(window.MathJax && MathJax.startup && MathJax.startup.promise)) {
    if (Date.now() - t0 > 20000) return false;
    await new Promise(r => setTimeout(r, 50));
  }
  await MathJax.startup.promise;
  return true;
}"""

PAGE_FACTS = """() => ({
  images: Array.from(document.images).map(i => ({src: i.getAttribute('src'), ok: i.complete && i.naturalWidth > 0})),
  math: document.querySelectorAll('.math').length,
  rendered: document.querySelectorAll('mjx-container').length,
  raw_tex: Array.from(document.querySelectorAll('.math')).filter(e => !e.querySelector('mjx-container')
             && !e.closest('mjx-container')).map(e => e.textContent.slice(0, 60)),
  errors: document.querySelectorAll('mjx-merror').length,
  links: Array.from(document.querySelectorAll('a[href]')).map(a => a.href).filter(h => h.startsWith('file:')),
  title: document.title,
  reprs: document.body.innerText.match(/<[\\w.]+ object( at 0x[0-9a-f]+)?>/g) || [],
  // sideways: the page scrolls horizontally, or something shown in the main column scrolls or is cut off
  // sideways, or reaches past the column's right edge (a full-width cell or block may use the margin)
  wide: (() => {
    const main = document.querySelector('.bd-article') || document.querySelector('main');
    if (!main) return ['no main column found'];
    const out = [];
    if (document.documentElement.scrollWidth > window.innerWidth + 1)
      out.push(`the page: ${document.documentElement.scrollWidth} > ${window.innerWidth} px`);
    const edge = main.getBoundingClientRect().right;
    for (const e of main.querySelectorAll('*')) {
      if (!e.checkVisibility() || e.closest('mjx-container, .math')) continue;
      const clips = ['auto', 'scroll', 'hidden', 'clip'].includes(getComputedStyle(e).overflowX);
      const past = !e.closest('.tag_full-width, .full-width') && e.getBoundingClientRect().right > edge + 1;
      if ((clips && e.scrollWidth > e.clientWidth + 1) || past)
        out.push(`${e.tagName.toLowerCase()}.${e.className}: ${e.innerText.trim().slice(0, 50)}`);
    }
    return out;
  })(),
  // a code cell shown (not folded) that sets the notebook's parameters: papermill's "# Parameters" or ours
  raw_parameters: Array.from(document.querySelectorAll('.cell_input, div.highlight'))
    .filter(e => e.checkVisibility() && /^# Parameters|^budget = /m.test(e.innerText.trim()))
    .map(e => e.innerText.trim().slice(0, 40)),
  // the verdict column of the verdict table: the words of each cell
  verdict_words: Array.from(document.querySelectorAll('table')).flatMap(t => {
    const head = Array.from(t.querySelectorAll('thead th')).map(th => th.innerText.trim());
    const col = head.indexOf('verdict');
    if (col < 0) return [];
    return Array.from(t.querySelectorAll('tbody tr')).map(tr => tr.children[col].innerText.trim())
      .map(v => ({text: v.slice(0, 80), words: v.split(/\\s+/).length}));
  }),
})"""


@pytest.mark.parametrize("page", toc_pages())
def test_page_renders(browser, page):
    path = HTML / f"{page}.html"
    assert path.exists(), f"{page} is in book/_toc.yml but {path} was not built"
    tab = browser.new_page(viewport={"width": 1280, "height": 900})
    outside, failed, js_errors = [], [], []
    tab.on("request", lambda r: outside.append(r.url) if not r.url.startswith(("file:", "data:", "blob:")) else None)
    tab.on("requestfailed", lambda r: failed.append(r.url))
    tab.on("pageerror", lambda e: js_errors.append(str(e)))
    tab.goto(path.as_uri(), wait_until="load")
    mathjax_ready = tab.evaluate(WAIT_FOR_MATHJAX)
    tab.evaluate("document.fonts.ready.then(() => true)")  # widths are measured in the page's own fonts
    facts = tab.evaluate(PAGE_FACTS)
    tab.screenshot(path=str(SCREENSHOTS / f"{page.replace('/', '__')}.png"), full_page=True)
    tab.close()

    assert not outside, f"{page} requests outside the book (it must work offline): {outside[:3]}"
    assert not failed, f"{page}: requests failed: {failed[:3]}"
    assert not js_errors, f"{page}: JavaScript errors: {js_errors[:3]}"
    assert mathjax_ready, f"{page}: has formulas but MathJax did not start within 20 s"
    broken = [i["src"] for i in facts["images"] if not i["ok"]]
    assert not broken, f"{page}: broken images {broken[:3]}"
    expected = image_outputs(page)
    assert len(facts["images"]) >= expected, (
        f"{page}: {len(facts['images'])} images on the page, {expected} image outputs in the notebook")
    assert not facts["raw_tex"], f"{page}: formulas left as raw TeX: {facts['raw_tex'][:3]}"
    assert facts["rendered"] >= facts["math"], f"{page}: {facts['math']} formulas, {facts['rendered']} rendered"
    assert facts["errors"] == 0, f"{page}: {facts['errors']} MathJax errors"
    assert not facts["reprs"], f"{page}: an output shows a Python object's repr instead of its content: {facts['reprs'][:3]}"
    dead = [h for h in facts["links"] if not Path(unquote(urlparse(h).path)).exists()]
    assert not dead, f"{page}: links to pages that were not built: {dead[:3]}"
    assert not facts["wide"], f"{page}: wider than the main column (scrolls sideways or is cut off): {facts['wide'][:3]}"
    assert not facts["raw_parameters"], f"{page}: shows a raw parameters cell: {facts['raw_parameters'][:2]}"
    long = [v for v in facts["verdict_words"] if v["words"] > VERDICT_WORDS]
    assert not long, f"{page}: verdicts longer than {VERDICT_WORDS} words: {long[:2]}"


def test_book_has_formulas_and_figures(browser):
    """The checks above must be able to fail: the book does contain formulas and figures to check."""
    pages = toc_pages()
    assert any(image_outputs(p) for p in pages), "no executed notebook with figures behind the book"
    text = (HTML / "reading-the-paper.html").read_text()
    assert 'class="math' in text, "reading-the-paper.html has no formulas: the MathJax check would be vacuous"
    verdicts = (HTML / "chapters" / "00_verdicts.html").read_text()
    assert 'href="01_1d.html#verdict-1d"' in verdicts, "the verdict table does not link to its chapters' sections"
    tab = browser.new_page(viewport={"width": 1280, "height": 900})
    tab.goto((HTML / "chapters" / "00_verdicts.html").as_uri(), wait_until="load")
    facts = tab.evaluate(PAGE_FACTS)
    tab.close()
    assert len(facts["verdict_words"]) >= 10, "the verdict page's table has no verdict column to check"
