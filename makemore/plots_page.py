"""The page template that makes `dvc plots show` work offline.

DVC's default page loads vega, vega-lite and vega-embed from a CDN, so it is blank without internet. This
template inlines the three libraries instead, from the pinned vl-convert-python package; the stage
`plots_page` writes it (a DVC output: 0.9 MB of a pinned package is not committed) and `.dvc/config`
points `plots.html_template` at it. The page has no `{scripts}` placeholder, so DVC adds no CDN tags.
"""

import vl_convert

VEGA_LITE = "v5.21"  # the version the specs in .dvc/plots and DVC's own templates are written for

PAGE = """<!DOCTYPE html>
<html>
<head>
    <meta charset="utf-8">
    {refresh_tag}
    <title>makemore pipeline: plots</title>
    <script>{bundle}</script>
    <script>
        // SVG rather than canvas: sharp at any zoom, and every mark is an element (the browser test counts them)
        const embed = window.vegaEmbed;
        window.vegaEmbed = (element, spec, options) => embed(element, spec, {renderer: "svg", ...options});
    </script>
    <style>
        body { font-family: sans-serif; }
        table { border-spacing: 15px; }
    </style>
</head>
<body>
    {plot_divs}
</body>
</html>
"""


def page() -> str:
    # vega-embed, vega-lite and vega set as globals (window.vegaEmbed, ...), which DVC's plot divs call
    bundle = vl_convert.javascript_bundle(vl_version=VEGA_LITE).replace("</script", "<\\/script")
    return PAGE.replace("{bundle}", bundle)
