"""A design as the flat list the block editor shows and reorders, and back.

The editor lists a design top to bottom: each section, then each of its columns, then that
column's blocks. Dragging an entry anywhere in that list is a reorder of the design: a block
belongs to the column above it, a column to the section above it. :func:`design` reads a list
back and refuses one that is no design (a block above every section, a fifth column).
"""

from __future__ import annotations

import copy
from dataclasses import replace

from mailfleet.desktop.services.blocks.model import (
    MAX_COLUMNS,
    Block,
    Column,
    Design,
    DesignError,
    Section,
)

Entry = Section | Column | Block


def entries(d: Design) -> list[Entry]:
    """The design's sections, columns and blocks in reading order (sections and columns
    without their content: it follows them in the list)."""
    out: list[Entry] = []
    for section in d.sections:
        out.append(replace(section, columns=[]))
        for column in section.columns:
            out.append(replace(column, blocks=[]))
            out.extend(column.blocks)
    return out


def design(listed: list[Entry], settings: Design) -> Design:
    """The design ``listed`` describes, with the message settings of ``settings``;
    :class:`DesignError` when the order is not a design."""
    sections: list[Section] = []
    for entry in listed:
        entry = copy.copy(entry)
        if isinstance(entry, Section):
            sections.append(replace(entry, columns=[]))
        elif not sections:
            raise DesignError("Everything in a message belongs to a section: put a section first.")
        elif isinstance(entry, Column):
            if len(sections[-1].columns) == MAX_COLUMNS:
                raise DesignError(f"A section has at most {MAX_COLUMNS} columns.")
            sections[-1].columns.append(replace(entry, blocks=[]))
        else:
            if not sections[-1].columns:
                sections[-1].columns.append(Column())
            sections[-1].columns[-1].blocks.append(entry)
    for section in sections:
        if not section.columns:
            section.columns.append(Column())
    return replace(settings, sections=sections)
