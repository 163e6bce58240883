"""`plan.html`: a self-contained page (inline SVG and CSS, no scripts, no network fetches) with a
map of stores and regions and each store's assignments."""

from __future__ import annotations

from html import escape
from typing import Any

_W, _H, _PAD = 900.0, 480.0, 40.0


def _projector(points: list[tuple[float, float]]) -> Any:
    lats = [p[0] for p in points]
    lons = [p[1] for p in points]
    lat0, lat1 = min(lats) - 1, max(lats) + 1
    lon0, lon1 = min(lons) - 1, max(lons) + 1

    def project(lat: float, lon: float) -> tuple[float, float]:
        x = _PAD + (lon - lon0) / (lon1 - lon0) * (_W - 2 * _PAD)
        y = _PAD + (lat1 - lat) / (lat1 - lat0) * (_H - 2 * _PAD)
        return round(x, 1), round(y, 1)

    return project


def map_svg(doc: dict[str, Any], locations: dict[str, tuple[float, float]]) -> str:
    project = _projector(list(locations.values()))
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {_W:g} {_H:g}" '
             f'role="img" aria-label="map of stores and regions">',
             f'<rect width="{_W:g}" height="{_H:g}" fill="#f4f7fb"/>']
    for st in doc["stores"]:
        x, y = project(*locations[st["name"]])
        cloud = [a for a in st["assignments"] if a["site_kind"] == "cloud"]
        if cloud:
            hx, hy = project(*locations[st["home_region"]])
            parts.append(f'<line x1="{x}" y1="{y}" x2="{hx}" y2="{hy}" stroke="#9aa9bd" '
                         f'stroke-width="0.7" stroke-dasharray="3 2"/>')
    for st in doc["stores"]:
        x, y = project(*locations[st["name"]])
        n = len(st["assignments"])
        local = sum(a["site_kind"] == "edge" for a in st["assignments"])
        green = int(80 + 150 * local / max(n, 1))
        tip = escape(f"{st['name']}: {local}/{n} services local, home {st['home_region']}, "
                     f"${st['cost_usd_per_hour']:.4f}/h")
        parts.append(f'<circle cx="{x}" cy="{y}" r="5" fill="rgb(30,{green},90)" '
                     f'stroke="#123"><title>{tip}</title></circle>')
    for region in doc["regions"]:
        x, y = project(*locations[region])
        parts.append(f'<rect x="{x - 8}" y="{y - 8}" width="16" height="16" fill="#2b6cb0">'
                     f'<title>{escape(region)}</title></rect>'
                     f'<text x="{x + 11}" y="{y + 4}" font-size="12">{escape(region)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _table(doc: dict[str, Any]) -> str:
    rows = ["<tr><th>store</th><th>home</th><th>local</th><th>cloud</th><th>$/h</th></tr>"]
    for st in doc["stores"]:
        local = ", ".join(a["service"] for a in st["assignments"] if a["site_kind"] == "edge")
        cloud = ", ".join(a["service"] for a in st["assignments"] if a["site_kind"] == "cloud")
        rows.append(f"<tr><td>{escape(st['name'])}</td><td>{escape(st['home_region'])}</td>"
                    f"<td>{escape(local)}</td><td>{escape(cloud)}</td>"
                    f"<td>{st['cost_usd_per_hour']:.4f}</td></tr>")
    return "<table>" + "".join(rows) + "</table>"


def render_html(doc: dict[str, Any], locations: dict[str, tuple[float, float]]) -> str:
    """`locations`: store and region name -> (lat, lon)."""
    title = escape(f"Edgewise placement: {doc['app']} on {doc['topology']}")
    gap = "" if doc["gap"] is None else f", gap {100 * doc['gap']:.2f}%"
    return (
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>{title}</title><style>body{{font-family:sans-serif;margin:1.5em}}"
        "table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ccd;"
        "padding:3px 6px;text-align:left}svg{max-width:100%;height:auto}</style></head><body>"
        f"<h1>{title}</h1><p>solver {escape(doc['solver'])}: "
        f"${doc['objective_usd_per_hour']:.4f}/h{gap}. Circles are stores (greener = more "
        "services local), squares are regions, dashed lines lead to each store's home region."
        f"</p>{map_svg(doc, locations)}{_table(doc)}</body></html>\n"
    )
