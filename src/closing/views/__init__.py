"""What the user sees, from domain values only: the Rich text board and record listings
(`board_text`, `board_table`, `board_cells`, `record_text`), the JSON documents
(`status_document`, `record_documents`), the web page's values (`board_page`), the Jinja2
templates (`templates/`) and the web page's CSS, scripts and icon (`static/`).
"""
