"""roc: one-vs-rest ROC curves on the test set of each run or probe (replicate 0; its title names
it and gives the macro AUC of every replicate)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cvrepro.report.figures.kind import METRICS, FigureKind, metrics_on_test, read_metrics
from cvrepro.report.grouping import Manifest

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def draw(spec: dict, inputs: Manifest, out_png) -> None:
    from cvrepro.report.plot_axes import save_figure

    save_figure(figure(read_metrics(inputs)), out_png, spec["caption"])


def figure(metrics: dict[str, list[dict]]) -> Figure:
    """One-vs-rest ROC curve per class of each row's replicate 0 (curves of several replicates
    do not average into a curve), one panel per row, AUC in the legend beside it; the title
    names the replicate and gives the macro AUC of every replicate as mean ± sd."""
    from cvrepro.report.plot_axes import legend_beside, one_replicate, panel_row, replicate_note, seed_of
    from cvrepro.report.stats import estimate

    fig, axes = panel_row(len(metrics), panel_width=6.5)
    for ax, (row, replicates) in zip(axes, metrics.items(), strict=True):
        m = replicates[0]
        for name, curve in m["roc"]["per_class"].items():
            ax.plot(curve["fpr"], curve["tpr"], linewidth=1, label=f"{name} ({curve['auc']:.2f})")
        ax.plot([0, 1], [0, 1], "k:", linewidth=0.8)
        note = replicate_note(0, len(replicates), seed_of(m)) or one_replicate(m)
        aucs = estimate([float(r["roc"]["macro_auc"]) for r in replicates])
        over = f"; all {aucs.n}: {aucs.mean:.3f} ± {aucs.sd:.3f}" if aucs.n > 1 else ""
        ax.set(xlabel="false positive rate", ylabel="true positive rate", xlim=(0, 1), ylim=(0, 1.01))
        ax.set_title(f"{row} ({note})\nmacro AUC {m['roc']['macro_auc']:.3f}{over}", fontsize=9)
        legend_beside(ax, fontsize=6)
    return fig


KIND = FigureKind(("runs",), metrics_on_test, draw, rows=METRICS)
