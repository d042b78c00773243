"""Render the autoencoder and GAN section of BENCHMARKS.md (issue 6) from the results files:
each recipe's use figures beside their baselines (benchmarks/results/NAME.json), the compression
curve and the augmentation experiment (benchmarks/results/generative/*.json). Prints the tables;
`--write` replaces the block between the markers in BENCHMARKS.md."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

HERE = Path(__file__).resolve().parent
BEGIN, END = "<!-- generative:begin -->", "<!-- generative:end -->"

# recipe -> (figure, its baseline or companion figure, what the baseline is)
FIGURES = {
    "ae-digits": [("knn_accuracy", "pca_knn_accuracy", "PCA, 2 components"),
                  ("probe_accuracy", "pca_probe_accuracy", "PCA, 2 components")],
    "ae-mnist": [("probe_accuracy", "pca_probe_accuracy", "PCA, 32 components"),
                 ("knn_accuracy", "pca_knn_accuracy", "PCA, 32 components")],
    "dae-mnist": [("psnr", "psnr_input", "the noisy input")],
    "ae-anomaly-breast-cancer": [("auroc", None, "")],
    "ae-anomaly-mnist": [("auroc", None, "")],
    "vae-mnist": [("nelbo", "kl", "of which KL")],
    "vae-mnist-mlp": [("nelbo", "kl", "of which KL")],
    "dcgan-digits": [("confidence", "classes_present", "classes present"),
                     ("fd_classifier", "fd_classifier_real", "real val vs test")],
    "dcgan-mnist": [("confidence", "classes_present", "classes present"),
                    ("fd_classifier", "fd_classifier_real", "real val vs test")],
    "dcgan-mnist-conv-only": [("confidence", "classes_present", "classes present"),
                              ("fd_classifier", "fd_classifier_real", "real val vs test")],
    "dcgan-mnist-hinge": [("confidence", "classes_present", "classes present"),
                          ("fd_classifier", "fd_classifier_real", "real val vs test")],
    "dcgan-mnist-hinge-conv-only": [("confidence", "classes_present", "classes present"),
                                    ("fd_classifier", "fd_classifier_real", "real val vs test")],
    "dcgan-fashion": [("confidence", "classes_present", "classes present"),
                      ("fd_classifier", "fd_classifier_real", "real val vs test")],
    "dcgan-fashion-conv-only": [("confidence", "classes_present", "classes present"),
                                ("fd_classifier", "fd_classifier_real", "real val vs test")],
    "cgan-mnist": [("label_accuracy", "confidence", "confidence"),
                   ("fd_classifier", "fd_classifier_real", "real val vs test")],
    "ddpm-digits": [("fd_classifier", "fd_classifier_real", "real val vs test"),
                    ("label_accuracy", "confidence", "confidence")],
    "srgan-mnist": [("psnr", "psnr_bicubic", "bicubic"), ("ssim", "ssim_bicubic", "bicubic")],
    "srgan-mnist-pixel": [("psnr", "psnr_bicubic", "bicubic"),
                          ("ssim", "ssim_bicubic", "bicubic")],
    "cyclegan-digits": [("psnr", "psnr_identity", "doing nothing")],
    "cyclegan-mnist": [("psnr", "psnr_identity", "doing nothing")],
}


def _num(v) -> str:
    return f"{v:.4f}" if isinstance(v, float) else str(v)


def uses_table() -> str:
    rows = ["| recipe | figure (test) | value | beside | target | reached | train time | command |",
            "|---|---|---|---|---|---|---|---|"]
    for name, figures in FIGURES.items():
        path = HERE / "results" / f"{name}.json"
        if not path.exists():
            rows.append(f"| `{name}` | not measured yet | | | | | | |")
            continue
        r = json.loads(path.read_text())
        run = r["runs"][0]
        for i, (key, other, label) in enumerate(figures):
            beside = f"{_num(run['test'][other])} ({label})" if other in run["test"] else ""
            main = i == 0
            rows.append(f"| `{name}` | {key} | {_num(run['test'].get(key, float('nan')))} | "
                        f"{beside} | {r['target'] if main else ''} | "
                        f"{('yes' if r['reached'] else 'no') if main else ''} | "
                        f"{round(run['train_time_s'])} s | {'`' + r['command'] + '`' if main else ''} |")
    return "\n".join(rows)


def extra_tables() -> str:
    out = []
    for path in sorted((HERE / "results" / "generative").glob("compression-*.json")):
        c = json.loads(path.read_text())
        out += [f"Compression, `{c['recipe']}` (`{c['command']}`, {c['wall_time_s']} s): test "
                "PSNR (dB) and MSE per pixel against the code size, PCA with as many components.",
                "", "| code size | autoencoder PSNR | PCA PSNR | autoencoder MSE | PCA MSE |",
                "|---|---|---|---|---|"]
        out += [f"| {s} | {a:.2f} | {p:.2f} | {am:.4f} | {pm:.4f} |" for s, a, p, am, pm in
                zip(c["sizes"], c["ae_psnr"], c["pca_psnr"], c["ae_mse"], c["pca_mse"])]
        out.append("")
    aug = HERE / "results" / "generative" / "gan-augment.json"
    if aug.exists():
        a = json.loads(aug.read_text())
        out.append(f"Augmentation (`{a['command']}`, {a['wall_time_s']} s): LeNet-5 trained on "
                   f"{a['n_real']} labelled MNIST images reaches {100 * a['accuracy_real']:.2f}% "
                   f"test accuracy; with {a['n_fake']} cgan-mnist samples added, "
                   f"{100 * a['accuracy_real_plus_gan']:.2f}% (mean of seeds {a['seeds']}; "
                   f"{a['steps']} steps each).")
    return "\n".join(out)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--write", action="store_true")
    text = uses_table() + "\n\n" + extra_tables()
    if not p.parse_args().write:
        print(text)
        return
    doc_path = HERE.parent / "BENCHMARKS.md"
    doc = doc_path.read_text()
    start, end = doc.index(BEGIN) + len(BEGIN), doc.index(END)
    doc_path.write_text(doc[:start] + "\n" + text + "\n" + doc[end:])


if __name__ == "__main__":
    main()
