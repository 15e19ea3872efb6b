"""Every relative link in the README and docs/ leads somewhere: to a file of the repository, and, with a ``#anchor``,
to a heading of the markdown file it names (the README's reference text moved to docs/, and links into it must not
rot as headings are renamed).

Anchors are the ones GitHub gives headings: the heading's text (code spans and links as their text), lower-cased,
with everything but letters, digits, spaces, ``-`` and ``_`` removed (CJK characters are letters) and spaces made
``-``; a repeated heading gets ``-1``, ``-2`` …"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCUMENTS = sorted([ROOT / "README.md", *(ROOT / "docs").rglob("*.md")])

_FENCE = re.compile(r"^(`{3,}|~{3,}).*?^\1[ \t]*$", flags=re.M | re.S)
_CODE_SPAN = re.compile(r"(`+)(?!`).*?(?<!`)\1(?!`)", flags=re.S)
_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\[\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_HEADING = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.+?)[ \t#]*$", flags=re.M)
_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")


def slug(heading: str) -> str:
    """The anchor GitHub gives a heading (before ``-1`` for a repeated one)."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link: its text
    text = text.replace("`", "").replace("*", "")
    text = re.sub(r"[^\w\- ]", "", text.strip().lower())
    return text.replace(" ", "-")


def anchors(document: Path) -> set[str]:
    found: set[str] = set()
    seen: dict[str, int] = {}
    for match in _HEADING.finditer(_FENCE.sub("", document.read_text(encoding="utf-8"))):
        base = slug(match.group(2))
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return found


def links(document: Path) -> list[str]:
    """The link targets of a markdown file, outside code blocks and code spans."""
    text = _CODE_SPAN.sub("", _FENCE.sub("", document.read_text(encoding="utf-8")))
    return [match.group(1) for match in _LINK.finditer(text)]


def broken_links(document: Path, root: Path = ROOT) -> list[str]:
    """What is wrong with each relative link of ``document`` that does not lead to a file under ``root`` (and to a
    heading of it, for an anchor in a markdown file)."""
    broken = []
    for target in links(document):
        if _SCHEME.match(target):
            continue  # https:, mailto: …: not this repository's
        path, _, anchor = target.partition("#")
        linked = (document.parent / unquote(path)).resolve() if path else document
        if not linked.exists() or not linked.is_relative_to(root):
            broken.append(f"{target}: no such file")
        elif anchor and linked.suffix == ".md" and unquote(anchor) not in anchors(linked):
            broken.append(f"{target}: no heading #{anchor} in {linked.relative_to(root)}")
    return broken


@pytest.mark.parametrize(
    ("heading", "anchor"),
    [
        ("A tour of the API", "a-tour-of-the-api"),
        ("Deployment beyond one machine", "deployment-beyond-one-machine"),
        ("The clerk's console (窗口核验)", "the-clerks-console-窗口核验"),
        ("`ZZGW_MODE`", "zzgw_mode"),
        ("Workers that die, and `zzgw serve`'s exit status", "workers-that-die-and-zzgw-serves-exit-status"),
        ("查验回执: a receipt handed over", "查验回执-a-receipt-handed-over"),
        ("The catalog file (`ZZGW_CATALOG`)", "the-catalog-file-zzgw_catalog"),
    ],
)
def test_slug_is_githubs(heading: str, anchor: str) -> None:
    assert slug(heading) == anchor


def test_a_repeated_heading_is_numbered(tmp_path: Path) -> None:
    document = tmp_path / "doc.md"
    document.write_text("# Errors\n\n## Errors\n\n```\n# Errors\n```\n\n### Errors\n", encoding="utf-8")
    assert anchors(document) == {"errors", "errors-1", "errors-2"}


def test_links_in_code_are_not_links(tmp_path: Path) -> None:
    document = tmp_path / "doc.md"
    document.write_text(
        '[a](a.md) `[b](b.md)`\n\n```\n[c](c.md)\n```\n[d\n`x`](d.md#e "title") ![f](f.png) <https://g.example>\n',
        encoding="utf-8",
    )
    assert links(document) == ["a.md", "d.md#e", "f.png"]


def test_a_broken_link_is_found(tmp_path: Path) -> None:
    (tmp_path / "other.md").write_text("# Other\n\n## A heading\n", encoding="utf-8")
    document = tmp_path / "doc.md"
    document.write_text(
        "# Doc\n\n[ok](other.md#a-heading) [here](#doc) [web](https://example.org/x.md#y)\n"
        "[gone](missing.md) [no heading](other.md#another-heading) [not here](#nowhere)\n",
        encoding="utf-8",
    )
    assert broken_links(document, tmp_path) == [
        "missing.md: no such file",
        "other.md#another-heading: no heading #another-heading in other.md",
        "#nowhere: no heading #nowhere in doc.md",
    ]


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda path: str(path.relative_to(ROOT)))
def test_relative_links_lead_to_a_file_and_a_heading(document: Path) -> None:
    broken = broken_links(document)
    assert not broken, "\n".join(broken)


def test_the_readme_and_the_reference_documents_are_checked() -> None:
    names = {str(path.relative_to(ROOT)) for path in DOCUMENTS}
    assert {"README.md", "docs/api.md", "docs/import.md", "docs/console.md", "docs/demo.md"} <= names
