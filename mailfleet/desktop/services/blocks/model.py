"""The blocks of a designed message, their editable properties and their JSON form.

A design is sections (rows) of one to four columns, each column a list of content blocks. Every
property is a dataclass field whose metadata says how the editor shows it (``kind``) and what
to call it (``label``), so the properties panel is drawn from the model and never disagrees
with it. Values are checked when a design is read (:func:`from_json`): colours, alignments and
numbers that reach the MJML must be what MJML expects, whoever wrote the JSON.
"""

from __future__ import annotations

import json
import re
from dataclasses import MISSING, asdict, dataclass, field, fields
from typing import Any, ClassVar, TypeVar

FORMAT_VERSION = 1
ALIGNMENTS = ("left", "center", "right")
SOCIAL_NETWORKS = (
    "facebook",
    "twitter",
    "x",
    "instagram",
    "linkedin",
    "youtube",
    "pinterest",
    "github",
    "web",
)
MAX_COLUMNS = 4
_T = TypeVar("_T")
_COLOUR = re.compile(r"^(#[0-9a-fA-F]{3}|#[0-9a-fA-F]{6})?$")
_PADDING = re.compile(r"^\d{1,3}px( \d{1,3}px){0,3}$")


class DesignError(ValueError):
    """A design that cannot be read; the message says which value is wrong."""


def prop(label: str, kind: str, default: Any) -> Any:
    """A block property: ``kind`` is how the editor shows it (line, text, url, color, align,
    int, lines, level)."""
    return field(default=default, metadata={"label": label, "kind": kind})


@dataclass
class Block:
    """A content block; subclasses name their ``type`` in the JSON."""

    type: ClassVar[str] = ""
    title: ClassVar[str] = ""


@dataclass
class Heading(Block):
    """A title line."""

    type: ClassVar[str] = "heading"
    title: ClassVar[str] = "Heading"
    text: str = prop("Text", "line", "A heading")
    level: int = prop("Size (1 largest)", "level", 1)
    color: str = prop("Colour", "color", "")
    align: str = prop("Alignment", "align", "left")
    padding: str = prop("Padding", "line", "10px 25px")


@dataclass
class Text(Block):
    """Paragraphs in Markdown (bold, italics, links, lists) with merge tags."""

    type: ClassVar[str] = "text"
    title: ClassVar[str] = "Text"
    text: str = prop("Text", "text", "Write something, {{ first_name }}.")
    color: str = prop("Colour", "color", "")
    font_size: int = prop("Font size (px)", "int", 16)
    align: str = prop("Alignment", "align", "left")
    padding: str = prop("Padding", "line", "10px 25px")


@dataclass
class Image(Block):
    """A picture, optionally a link."""

    type: ClassVar[str] = "image"
    title: ClassVar[str] = "Image"
    src: str = prop("Image address", "url", "https://placehold.co/600x300/png")
    alt: str = prop("Alt text", "line", "")
    href: str = prop("Link", "url", "")
    width: int = prop("Width (px, 0 = full)", "int", 0)
    align: str = prop("Alignment", "align", "center")
    padding: str = prop("Padding", "line", "10px 25px")


@dataclass
class Button(Block):
    """A call to action."""

    type: ClassVar[str] = "button"
    title: ClassVar[str] = "Button"
    label: str = prop("Label", "line", "Read more")
    href: str = prop("Link", "url", "https://example.com")
    background_color: str = prop("Button colour", "color", "#2563eb")
    color: str = prop("Text colour", "color", "#ffffff")
    border_radius: int = prop("Corner radius (px)", "int", 6)
    align: str = prop("Alignment", "align", "center")
    padding: str = prop("Padding", "line", "10px 25px")


@dataclass
class Divider(Block):
    """A horizontal rule."""

    type: ClassVar[str] = "divider"
    title: ClassVar[str] = "Divider"
    color: str = prop("Colour", "color", "#e5e7eb")
    thickness: int = prop("Thickness (px)", "int", 1)
    padding: str = prop("Padding", "line", "10px 25px")


@dataclass
class Spacer(Block):
    """Empty vertical space."""

    type: ClassVar[str] = "spacer"
    title: ClassVar[str] = "Spacer"
    height: int = prop("Height (px)", "int", 24)


@dataclass
class Social(Block):
    """Links to social profiles, one ``network address`` per line."""

    type: ClassVar[str] = "social"
    title: ClassVar[str] = "Social links"
    links: str = prop(
        "Links (network address, one a line)",
        "lines",
        "facebook https://facebook.com/\ninstagram https://instagram.com/",
    )
    align: str = prop("Alignment", "align", "center")
    padding: str = prop("Padding", "line", "10px 25px")

    def networks(self) -> list[tuple[str, str]]:
        """(network, address) of each line naming a known network."""
        found = []
        for line in self.links.splitlines():
            name, _, href = line.strip().partition(" ")
            if name.lower() in SOCIAL_NETWORKS and href.strip():
                found.append((name.lower(), href.strip()))
        return found


@dataclass
class Footer(Block):
    """The sender's address and the unsubscribe and preferences links every bulk message needs."""

    type: ClassVar[str] = "footer"
    title: ClassVar[str] = "Footer"
    text: str = prop("Text", "text", "You receive this because you signed up.")
    unsubscribe_label: str = prop("Unsubscribe link text", "line", "Unsubscribe")
    preferences_label: str = prop("Preferences link text", "line", "Manage preferences")
    color: str = prop("Colour", "color", "#6b7280")
    align: str = prop("Alignment", "align", "center")
    padding: str = prop("Padding", "line", "10px 25px")


BLOCK_TYPES: dict[str, type[Block]] = {
    cls.type: cls for cls in (Heading, Text, Image, Button, Divider, Spacer, Social, Footer)
}


@dataclass
class Column:
    """One column of a section."""

    blocks: list[Block] = field(default_factory=list)
    background_color: str = prop("Background", "color", "")


@dataclass
class Section:
    """A row of the message: one to four columns side by side (stacked on a phone)."""

    columns: list[Column] = field(default_factory=lambda: [Column()])
    background_color: str = prop("Background", "color", "#ffffff")
    padding: str = prop("Padding", "line", "16px 0px")


@dataclass
class Design:
    """A whole message."""

    sections: list[Section] = field(default_factory=list)
    preheader: str = prop("Preview text (shown after the subject)", "line", "")
    background_color: str = prop("Page background", "color", "#f3f4f6")
    text_color: str = prop("Text colour", "color", "#111827")
    link_color: str = prop("Link colour", "color", "#2563eb")
    font_family: str = prop("Font", "line", "Helvetica, Arial, sans-serif")
    width: int = prop("Width (px)", "int", 600)


def editable(obj: object) -> list[tuple[str, str, str]]:
    """(field name, label, kind) of each property the editor shows for ``obj``."""
    return [
        (f.name, f.metadata["label"], f.metadata["kind"])
        for f in fields(obj)  # type: ignore[arg-type]
        if "kind" in f.metadata
    ]


def parts(design: Design) -> list[object]:
    """The design itself and every section, column and block in it (what has properties)."""
    found: list[object] = [design]
    for section in design.sections:
        found.append(section)
        for column in section.columns:
            found.append(column)
            found.extend(column.blocks)
    return found


def to_json(design: Design) -> str:
    """The design as JSON, what a template stores."""
    data = asdict(design)
    for s_out, section in zip(data["sections"], design.sections, strict=True):
        for c_out, column in zip(s_out["columns"], section.columns, strict=True):
            c_out["blocks"] = [{"type": b.type, **asdict(b)} for b in column.blocks]
    return json.dumps({"version": FORMAT_VERSION, **data}, ensure_ascii=False, sort_keys=True)


def from_json(source: str) -> Design:
    """The design stored as ``source``; :class:`DesignError` says what is wrong."""
    try:
        data = json.loads(source)
    except json.JSONDecodeError as exc:
        raise DesignError("The design is not readable JSON.") from exc
    if not isinstance(data, dict) or data.get("version") != FORMAT_VERSION:
        raise DesignError("The design was saved in a format this version cannot read.")
    sections = [_section(s) for s in _items(data.get("sections", []), "sections")]
    return _filled(Design, data, sections=sections)


def _items(value: Any, what: str) -> list[dict[str, Any]]:
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise DesignError(f"The design's {what} are not a list.")
    return value


def _section(data: dict[str, Any]) -> Section:
    columns = [
        _filled(Column, c, blocks=[_block(b) for b in _items(c.get("blocks", []), "blocks")])
        for c in _items(data.get("columns", []), "columns")
    ]
    if not 1 <= len(columns) <= MAX_COLUMNS:
        raise DesignError(f"A section has one to {MAX_COLUMNS} columns.")
    return _filled(Section, data, columns=columns)


def _block(data: dict[str, Any]) -> Block:
    cls = BLOCK_TYPES.get(str(data.get("type")))
    if cls is None:
        raise DesignError(f"There is no {data.get('type')!r} block.")
    return _filled(cls, data)


def _filled(cls: type[_T], data: dict[str, Any], **given: Any) -> _T:
    """``cls`` from the known keys of ``data`` (others are ignored: a newer editor's extras),
    each property checked against its kind."""
    values: dict[str, Any] = dict(given)
    for f in fields(cls):  # type: ignore[arg-type]
        if f.name in given or f.name not in data:
            continue
        default = f.default if f.default is not MISSING else None
        values[f.name] = check(f.metadata.get("kind", ""), f.name, data[f.name], default)
    return cls(**values)


def check(kind: str, name: str, value: Any, default: Any = None) -> Any:
    """``value`` for a property of ``kind``, or :class:`DesignError` naming ``name``."""
    if kind in ("int", "level"):
        if isinstance(value, bool) or not isinstance(value, int):
            raise DesignError(f"{name} must be a whole number.")
        top = 3 if kind == "level" else 2000
        return min(max(value, 1 if kind == "level" else 0), top)
    if not isinstance(value, str):
        raise DesignError(f"{name} must be text.")
    if kind == "color" and not _COLOUR.match(value.strip()):
        raise DesignError(f"{name} must be a colour such as #1a73e8.")
    if kind == "align" and value not in ALIGNMENTS:
        raise DesignError(f"{name} must be left, center or right.")
    if name == "padding" and not _PADDING.match(value.strip()):
        raise DesignError("Padding must be one to four sizes in px, such as 10px 25px.")
    return value.strip() if kind in ("color", "url") or name == "padding" else value
