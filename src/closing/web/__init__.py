"""The live board in a browser (`closing serve`): the server and its routes (`app`) and the poller
that keeps one status document current for every page and stream (`live`).

What a page shows is a view: `closing.views.board_page` (from the status document), the HTML in
`closing/views/templates/` and the CSS, scripts and icon in `closing/views/static/`. Only
`closing serve` imports this package.
"""
