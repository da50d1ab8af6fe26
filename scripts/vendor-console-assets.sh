#!/usr/bin/env bash
# Vendor the console's browser libraries from the npm registry into the package,
# so `opsdb console` works offline. Run at development time (needs npm); the
# result is committed. Each file gets a one-line license header, and each
# library's LICENSE is copied beside it.
set -euo pipefail

HTMX_VERSION=2.0.11   # the stable 2.x line: hx-* attributes, no eval needed with allowEval off
UPLOT_VERSION=1.6.32  # ~50 KB time-series charts drawn on canvas (no inline styles in markup)

here="$(cd "$(dirname "$0")/.." && pwd)"
dest="$here/harness/console/static/vendor"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

cd "$work"
npm pack --silent "htmx.org@$HTMX_VERSION" "uplot@$UPLOT_VERSION" >/dev/null
mkdir htmx uplot
tar xzf "htmx.org-$HTMX_VERSION.tgz" -C htmx
tar xzf "uplot-$UPLOT_VERSION.tgz" -C uplot

mkdir -p "$dest"
{
    echo "/*! htmx.org $HTMX_VERSION | (c) Big Sky Software | Zero-Clause BSD license, see htmx.LICENSE */"
    cat htmx/package/dist/htmx.min.js
} >"$dest/htmx.min.js"
cp htmx/package/LICENSE "$dest/htmx.LICENSE"
{
    echo "/*! uPlot $UPLOT_VERSION | (c) Leon Sorokin | MIT license, see uPlot.LICENSE */"
    cat uplot/package/dist/uPlot.iife.min.js
} >"$dest/uPlot.iife.min.js"
{
    echo "/*! uPlot $UPLOT_VERSION | (c) Leon Sorokin | MIT license, see uPlot.LICENSE */"
    cat uplot/package/dist/uPlot.min.css
} >"$dest/uPlot.min.css"
cp uplot/package/LICENSE "$dest/uPlot.LICENSE"
echo "vendored htmx.org $HTMX_VERSION and uplot $UPLOT_VERSION into ${dest#"$here"/}"
