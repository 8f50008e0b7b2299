"""The benchmark's tables: medians of the rounds, ratios to the book's loop and to the
hand-fused bounds, and new / against when another checkout is compared."""

from __future__ import annotations

import statistics

import recipe

AGAINST = " (against)"  # a row run with the package of the checkout compared with
LIMIT = 1.1  # the slowdown against it that the table flags


def summarize(results: dict) -> dict:
    """{key: row of medians}: whole calls (cold and as a fresh cell), first epoch,
    steady epoch (median of epochs 2-10), and the last run's metrics."""
    rows = {}
    for key, runs in results.items():
        rows[key] = {
            "whole": statistics.median(r["whole"][0] for r in runs),
            "cell": statistics.median(r["whole"][-1] for r in runs),
            "first": statistics.median(r["epochs"][0][0] for r in runs),
            "steady": statistics.median(statistics.median(r["epochs"][0][1:]) for r in runs),
            "metrics": runs[-1]["metrics"],
            # the fastest round: what this machine was seen to do (see `beaten`)
            "best": {
                "whole": min(r["whole"][0] for r in runs),
                "steady": min(statistics.median(r["epochs"][0][1:]) for r in runs),
            },
        }
    return rows


def bounds(rows: dict, *, best_round: bool = False) -> dict:
    """{family: {column: the fastest bound's value}}: the bound is whichever hand-fused
    way was fastest on this machine, column by column. ``best_round`` takes each
    bound's fastest round instead of its median (whole and steady columns only)."""
    import ways  # TensorFlow, only once the tables are made

    columns = ("whole", "steady") if best_round else ("whole", "cell", "steady")
    out = {}
    for family in {f for f, _ in rows}:
        found = [rows[family, b] for b in ways.BOUNDS if (family, b) in rows]
        if best_round:
            found = [r.get("best", r) for r in found]
        if found:
            out[family] = {c: min(r[c] for r in found) for c in columns}
    return out


def beaten(rows: dict) -> list:
    """The rows whose median beats the fastest round of their family's bound, as
    "row: column" (none, or the bound is not the fastest way and must be fixed).

    The rounds of one way differ by up to 10% on a shared machine, so a way that
    matches its bound can come out a little ahead of the bound's median: it beats
    the bound only when it is faster than anything the bound was seen to do.
    """
    import ways  # TensorFlow, only once the tables are made

    best = bounds(rows, best_round=True)
    return [
        f"{family}: {name}: {c}"
        for (family, name), row in rows.items()
        if name not in ways.BOUNDS and family in best
        for c in ("whole", "steady")
        if row[c] < best[family][c]
    ]


def payback(graph: dict, xla: dict) -> str:
    """What XLA's extra compile time buys, from a default (plain graph) row and an XLA row."""
    steps = -(-60_000 // recipe.BATCH)  # batches in one pass over the training set
    extra = (xla["first"] - xla["steady"]) - (graph["first"] - graph["steady"])
    saved = graph["steady"] - xla["steady"]
    if saved <= 0:
        return f"XLA compiles {extra:.2f} s longer and its epochs are no faster"
    return (
        f"XLA compiles {extra:.2f} s longer and saves {saved:.4f} s an epoch: it pays "
        f"back after {extra / saved:.0f} epochs "
        f"({extra / saved * steps:.0f} steps of batch {recipe.BATCH})"
    )


def book_row(rows: dict, family: str, name: str):
    """The book's eager loop row for the same net as row ``name``, if any."""
    import ways  # TensorFlow, only once the tables are made

    name = name.removesuffix(AGAINST)
    net = name.split(", ", 1)[1] if ", " in name else None
    key = (family, f"book's eager loop, {ways.BOOK_OF.get(net, net)}")
    return rows.get(key)


def table(rows: dict) -> str:
    lines = [
        "| way | whole call, cold s | fresh cell s | first epoch s | steady epoch s "
        "| test acc | book / this, whole | this / bound, whole | book / this, steady "
        "| this / bound, steady |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    best = bounds(rows)
    for (family, name), row in rows.items():
        book, bound = book_row(rows, family, name), best.get(family)
        ratio = lambda a, b: f"{a / b:.2f}" if a and b else ""
        lines.append(
            f"| {family}: {name} | {row['whole']:.2f} | {row['cell']:.2f} | {row['first']:.3f} "
            f"| {row['steady']:.4f} | {row['metrics'][2]:.4f} "
            f"| {ratio(book and book['whole'], row['whole'])} "
            f"| {ratio(row['whole'], bound and bound['whole'])} "
            f"| {ratio(book and book['steady'], row['steady'])} "
            f"| {ratio(row['steady'], bound and bound['steady'])} |"
        )
    return "\n".join(lines)


def against_table(rows: dict) -> str:
    """New / against, column by column, for each row measured both ways; then the
    columns slower than LIMIT times the checkout compared with."""
    columns = {
        "whole": "whole call, cold",
        "cell": "fresh cell",
        "first": "first epoch",
        "steady": "steady epoch",
    }
    lines = [
        "| way, new / against | " + " | ".join(columns.values()) + " |",
        "|---|" + "---|" * len(columns),
    ]
    over = []
    for (family, name), old in rows.items():
        if not name.endswith(AGAINST):
            continue
        name = name.removesuffix(AGAINST)
        new = rows[family, name]
        ratios = {c: new[c] / old[c] for c in columns}
        lines.append(
            f"| {family}: {name} | " + " | ".join(f"{ratios[c]:.2f}" for c in columns) + " |"
        )
        over += [f"{family}: {name}: {columns[c]} {r:.2f}" for c, r in ratios.items() if r > LIMIT]
    lines.append(
        f"\nAll within {LIMIT}x of the checkout compared with."
        if not over
        else f"\nSLOWER THAN {LIMIT}x THE CHECKOUT COMPARED WITH: " + "; ".join(over)
    )
    return "\n".join(lines)
