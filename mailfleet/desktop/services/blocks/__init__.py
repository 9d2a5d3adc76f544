"""The block editor's design: a message made of sections, columns and blocks (Qt-free).

``model`` holds the blocks and their JSON form, ``merge_text`` keeps merge tags intact through
escaping and Markdown, ``to_mjml`` writes the design as MJML, ``to_html`` renders that to
inlined HTML with MRML (the ``mjml-python`` package, in-process) and ``to_text`` writes the
plain-text part from the same blocks.
"""
