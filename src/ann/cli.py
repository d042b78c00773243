"""The `ann` command: parse, call the API, print. No logic here that the API lacks."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import textwrap
from types import SimpleNamespace

from . import cli_cache
from .errors import AnnError

EXAMPLES = {
    "list": """examples:
  ann list                     the recipes: family, dataset, parameters, metric, target
  ann list --models            registered models and their presets
  ann list --datasets          registered datasets and whether they are embedded""",
    "train": """examples:
  ann train cnn-digits                         the demo: seconds on a laptop CPU
  ann train cnn-mnist train.epochs=3 --out runs/m3
  ann train cnn-digits epochs=5 lr=1e-3        short keys work when unambiguous
  ann train cnn-digits --show-config           every key, its value and meaning
  ann train --resume runs/m3                   continue a killed or interrupted run
  torchrun --nproc_per_node=2 -m ann train cnn-mnist   data parallel, same command""",
    "eval": """examples:
  ann eval runs/cnn-digits-20260101-120000
  ann eval runs/m3 --split val --json
  ann eval runs/transformer-multi30k-... --beam 5 --length-penalty 0.6   seq2seq: beam search
  ann eval runs/captioner-shapes-... --beam 3     also captioning, T5 and seq2seq-attn runs
  ann --import my_sources eval runs/...           a run on a source my_sources.py registers""",
    "predict": """examples:
  ann predict runs/m3 seven.png             a 28x28 grayscale PNG for an MNIST model
  ann predict runs/cnn-digits-... x.npy     an array on the dataset's raw scale (0-16 for digits)
  ann predict runs/tdnn-fsdd-... 7_theo_3.wav   a WAV recording for an audio model (8 kHz)
  ann predict runs/bert-sst2-... --text "a gorgeous film" --text "a dull mess"   text classifiers
  ann predict runs/pnn-iris-... plants.csv --out predictions.csv   rows of a table: every class's probability
  ann predict runs/grnn-diabetes-... houses.csv --json             regression: a number per row
  ann predict runs/ae-anomaly-breast-cancer-... rows.csv           anomaly scores (autoencoders)
  ann predict runs/lstm-sunspots-... history.csv --steps 10        the next 10 values of a series
  ann predict runs/gcn-custom-...                                  the class of each unlabelled node""",
    "fill": """examples:
  ann fill runs/bert-pydoc-... "the [MASK] statement raises an exception"
  ann fill runs/bert-sst2-.../pretrain "a [MASK] film" --top 10 --json""",
    "generate": """examples:
  ann generate runs/gpt-shakespeare-... --prompt "ROMEO:" --max-new-tokens 300
  ann generate runs/g --prompt "The list" --temperature 0.7 --top-k 40 --seed 1
  ann generate runs/gpt-shakespeare-... --max-new-tokens 2000 --slide
  ann generate runs/dcgan-mnist-... --n 64 --out grid.png          image generators (VAE, GAN)
  ann generate runs/cgan-mnist-... --n 16 --label 3 --out threes.png
  ann generate runs/captioner-shapes-... --image scene.png [--beam 3]   caption a 32x32 picture
  ann generate runs/t5-tasks-... --prompt "sort: 5 2 9 1" [--beam 4]     text-to-text (T5)""",
    "info": """examples:
  ann info runs/m3                          config, results and the layer table""",
    "experiment": """examples:
  ann experiment long-range                 RNN vs LSTM vs GRU vs Transformer on long memory
  ann experiment long-range --lengths 10,50,100 --steps 200 --out runs/lr""",
    "tour": """examples:
  ann tour                                  every family, about 10 minutes; open tour/report.html
  ann tour --only cnn,gpt,vae --budget 120  three families, shorter training
  ann tour --list                           the families and their recipes""",
    "scratch": """examples:
  ann scratch digits                         the NumPy MLP, trained by hand-written gradients
  ann scratch digits --model cnn --epochs 20 the NumPy CNN (conv, batch norm, max pooling)
  ann scratch words                          a tiny word model: watch its embeddings learn""",
    "explain": """examples:
  ann explain                                every term in the glossary
  ann explain backpropagation
  ann explain bias term                      several words need no quotes""",
    "import": """examples:
  ann import ./gpt2 --out runs/gpt2      a folder save_pretrained wrote: weights and tokenizer
  ann generate runs/gpt2 --prompt "Hello" --temperature 0
  ann train gpt-pydoc train.init_from=runs/gpt2    fine-tune it on Python's documentation""",
    "export": """examples:
  ann export runs/cnn-digits-... --format onnx              writes RUN_DIR/model.onnx
  ann export runs/gpt-pydoc-... --format onnx --out gpt.onnx
  ann export runs/gpt-pydoc-... --format hf --out gpt-hf    a folder transformers' from_pretrained reads""",
    "bench": """examples:
  ann bench --list                           the benchmarks and what each runs
  ann bench --only cnn-digits,mlp-digits     run these, then regenerate BENCHMARKS.md
  ann bench --render                         only regenerate the tables from stored results""",
    "serve": """examples:
  ann serve runs/cnn-digits-... runs/gpt-pydoc-...     http://127.0.0.1:8000/ and the JSON API
  ann serve runs/m3 --host 0.0.0.0 --port 9000 --token s3cret   reachable from other machines""",
    "translate": """examples:
  ann translate runs/transformer-multi30k-... "Ein Mann fährt Fahrrad."
  ann translate runs/t "Zwei Hunde spielen im Schnee." --beam 5 --length-penalty 0.6
  ann translate runs/transformer-numbers-... 4721""",
}


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors (usage is one `-h` away)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} -h`)\n")


def _parser(cache: bool = False) -> Parser:
    """The whole command line. The verb commands and ``ann eval``'s options are read from the
    registered tasks, which imports torch; ``cache``: read them from the cli_cache instead, once
    computed for this version of ann (what `ann` does unless given ``--import``: a module that
    may register more tasks)."""
    table = cli_cache.cached("commands", _command_table, use=cache)
    # --debug works before or after the command; SUPPRESS keeps a subcommand's default from
    # overwriting a value given before it.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                        help="show tracebacks on errors")
    common.add_argument("--no-verify", action="store_true", default=argparse.SUPPRESS,
                        help="load weights even when they differ from their recorded sha256 "
                        "(weights edited on purpose)")
    common.add_argument("--import", dest="imports", action="append", metavar="MODULE",
                        default=argparse.SUPPRESS, help="import MODULE first (repeatable): a "
                        "module of yours that registers datasets (ann.register_dataset)")
    p = Parser(prog="ann", parents=[common], description="Every family of neural network: "
               "train, evaluate and use them with one command.")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)

    def cmd(name, help_):
        return sub.add_parser(name, parents=[common], help=help_, description=help_,
                              epilog=EXAMPLES.get(name), formatter_class=argparse.RawDescriptionHelpFormatter)

    s = cmd("list", "list recipes, models or datasets")
    s.add_argument("--models", action="store_true", help="list registered models")
    s.add_argument("--datasets", action="store_true", help="list registered datasets")
    s.set_defaults(func=cmd_list)

    s = cmd("train", "train a recipe, or resume a run")
    s.add_argument("recipe", nargs="?", help="recipe name (see `ann list`)")
    s.add_argument("overrides", nargs="*", metavar="key=value", help="e.g. train.lr=0.01")
    s.add_argument("--out", help="run directory (default runs/RECIPE-DATE-TIME)")
    s.add_argument("--resume", metavar="RUN_DIR", help="continue this run from its last checkpoint")
    s.add_argument("--device", choices=("auto", "cpu", "cuda", "mps"), help="where to train")
    s.add_argument("--config", metavar="FILE", help="settings from a JSON (or YAML) file: recipe "
                   "and model/data/train sections; a run's config.json is one")
    s.add_argument("--show-config", action="store_true", help="print every key and exit")
    s.add_argument("--quiet", action="store_true", help="print only the result")
    s.set_defaults(func=cmd_train)

    s = cmd("eval", "evaluate a trained run on a split")
    s.add_argument("run_dir")
    s.add_argument("--split", default="test", help="train, val or test (default test)")
    s.add_argument("--json", action="store_true", help="print JSON")
    for opt, help_ in table["evaluate"]:
        _add_option(s, SimpleNamespace(**opt), help_)
    s.set_defaults(func=cmd_eval)

    # ann predict | fill | generate | translate | ...: one command per verb some task offers,
    # with the options the tasks declare (ann.tasks.base.Option); see verb_commands.
    for name, (summary, description, options) in table["verbs"].items():
        s = sub.add_parser(name, parents=[common], help=summary,
                           description=f"{summary}\n\n{description}", epilog=EXAMPLES.get(name),
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        s.add_argument("run_dir")
        for opt, help_ in options:
            _add_option(s, SimpleNamespace(**opt), help_)
        s.add_argument("--json", action="store_true", help="print JSON")
        s.set_defaults(func=cmd_verb, verb=name)

    s = cmd("info", "describe a run: config, results, layer table")
    s.add_argument("run_dir")
    s.set_defaults(func=cmd_info)

    s = cmd("experiment", "run a study that compares models (tables and plots)")
    s.add_argument("name", help="experiment name: long-range")
    s.add_argument("--out", help="output folder (default runs/experiment-NAME-DATE-TIME)")
    s.add_argument("--lengths", help="comma-separated sequence lengths (default 10,20,50,100,200)")
    s.add_argument("--steps", type=int, help="training steps per model and length (default 200)")
    s.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    s.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    s.set_defaults(func=cmd_experiment)

    s = cmd("scratch", "train a NumPy network by hand-written backpropagation (ann.apps.scratch)")
    s.add_argument("dataset", help="digits (an MLP or a CNN) or words (a word model whose "
                   "embeddings are updated by backpropagation)")
    s.add_argument("--model", default=None, help="for digits: mlp or cnn (default mlp)")
    s.add_argument("--epochs", type=int, default=None,
                   help="epochs (default: the full budget, 40 for digits, 20 for words)")
    s.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    s.set_defaults(func=cmd_scratch)

    s = cmd("explain", "explain a term of the field, with the ann code that embodies it")
    s.add_argument("term", nargs="*", help="the term (default: list every term)")
    s.set_defaults(func=cmd_explain)

    s = cmd("serve", "serve trained runs over HTTP: a JSON endpoint per verb, the OpenAI API "
            "for text models, and a web page to try them (needs ann-nets[serve])")
    s.add_argument("run_dirs", nargs="+", metavar="RUN_DIR", help="the runs to serve, each under "
                   "its folder's name")
    s.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    s.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    s.add_argument("--token", default=None, help="require Authorization: Bearer TOKEN on every "
                   "request (default $ANN_SERVE_TOKEN; none: no check)")
    s.add_argument("--no-batching", action="store_true",
                   help="answer each classifier request on its own (no micro-batching)")
    s.set_defaults(func=cmd_serve)

    s = cmd("import", "turn a Hugging Face model folder (config.json, weights, tokenizer) into "
            "an ann run")
    s.add_argument("folder", help="the folder save_pretrained wrote (or a Hub download)")
    s.add_argument("--out", help="run directory (default runs/import-TYPE-DATE-TIME)")
    s.set_defaults(func=cmd_import)

    s = cmd("export", "export a trained run's model to another format (ONNX, Hugging Face)")
    s.add_argument("run_dir")
    s.add_argument("--format", default="onnx", choices=("onnx", "hf"),
                   help="the format (default onnx; hf: a Hugging Face model folder)")
    s.add_argument("--out", default=None, help="the file to write (default RUN_DIR/model.onnx); "
                   "for hf the new or empty folder")
    s.set_defaults(func=cmd_export)

    s = cmd("bench", "run the long benchmarks and regenerate the tables of BENCHMARKS.md "
            "(from a checkout of the repository)")
    s.add_argument("--only", default=None, help="comma-separated benchmark names (see --list)")
    s.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    s.add_argument("--render", action="store_true",
                   help="run nothing: only regenerate the tables from the stored results")
    s.add_argument("--dry-run", action="store_true",
                   help="print the commands that would run, run nothing, write nothing")
    s.set_defaults(func=cmd_bench)

    s = cmd("tour", "train one small network of every family on embedded data and write an "
            "HTML report of what each learned")
    s.add_argument("--budget", type=float, default=None,
                   help="training time to aim at for the families chosen, in seconds on 2 cores "
                        "(default: their measured times, about 10 minutes for the whole tour); "
                        "their training budgets scale with it")
    s.add_argument("--only", default=None, help="comma-separated families (default: all; see --list)")
    s.add_argument("--out", default="tour", help="folder for the runs and report.html (default tour)")
    s.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    s.add_argument("--list", action="store_true", help="list the tour's families and recipes")
    s.set_defaults(func=cmd_tour)
    return p


def _table(rows: list[list], header: list[str], group: int | None = None) -> str:
    """Aligned columns under ``header``; a blank line wherever column ``group`` changes value."""
    rows = [[str(c) for c in r] for r in rows]
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h)
              for i, h in enumerate(header)]
    line = lambda r: "  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip()  # noqa: E731
    body = []
    for i, r in enumerate(rows):
        if group is not None and i and r[group] != rows[i - 1][group]:
            body.append("")
        body.append(line(r))
    return "\n".join([line(header), line(["-" * w for w in widths])] + body)


def cmd_list(args):
    if args.models and args.datasets:
        raise AnnError("--models and --datasets list different tables; give one of them")
    kind = "models" if args.models else "datasets" if args.datasets else "recipes"

    def catalogue():
        from . import api

        return api.catalogue(kind)

    rows = cli_cache.cached(f"list-{kind}", catalogue, use=getattr(args, "cache", False))
    cell = lambda v: f"{v:,}" if isinstance(v, int) else v    # noqa: E731  (parameter counts)
    print(_table([[cell(v) for v in r.values()] for r in rows], list(rows[0]),
                 group=1 if kind == "recipes" else None))     # recipes grouped by family


def cmd_train(args):
    if args.recipe is not None and "=" in args.recipe:   # `--resume DIR key=value`: no recipe given
        args.overrides, args.recipe = [args.recipe, *args.overrides], None
    if args.recipe is not None:
        from .recipes import get_recipe

        get_recipe(args.recipe)         # a misspelt name answers before torch is imported
    from . import api

    if args.show_config:
        recipe, settings = api.with_config_file(args.recipe, args.config)
        if recipe is None:
            raise AnnError("name a recipe: ann train RECIPE --show-config")
        rows = api.config_rows(api.build_config(recipe, {**settings, **api.normalise(args.overrides)}))
        print(_table([list(r) for r in rows], ["key", "value", "meaning"]))
        return
    if args.resume is not None and args.out is not None:
        raise AnnError(f"--resume {args.resume} continues the run in its own folder, so --out "
                       "does not apply; drop --out (or copy the folder first and resume the copy)")
    run = api.train(args.recipe, args.overrides, out=args.out, resume=args.resume,
                    device=args.device, quiet=args.quiet, config=args.config)
    if args.quiet and run.summary:
        print(api.result_line(run))


def cmd_eval(args):
    from . import api

    run = api.load(args.run_dir)
    options = {k: v for k, v in vars(args).items() if k not in (*COMMON_ARGS, "split")}
    metrics = run.evaluate(args.split, **options)
    if args.json:
        print(json.dumps({"split": args.split, **metrics}))
    else:
        print(" ".join(f"{args.split} {k} {v:.4f}" if isinstance(v, float) else
                       f"{args.split} {k} {v}" for k, v in metrics.items()))


# What every verb command's namespace holds besides the verb's own options.
COMMON_ARGS = ("command", "func", "debug", "no_verify", "imports", "run_dir", "json", "verb", "cache")


def _merge(offers) -> list[tuple[object, str]]:
    """The options of one command, each once, from the (task, options) pairs that offer it: an
    option several tasks declare must agree on its kind; their help texts are joined."""
    merged: dict[str, list] = {}
    for task, options in offers:
        for o in options:
            if o.name in merged:
                first = merged[o.name][0]
                if (o.type, o.many, o.positional) != (first.type, first.many, first.positional):
                    raise TypeError(f"option {o.name!r} of task {task!r} disagrees with another "
                                    "task's option of that name (type, many or positional)")
            merged.setdefault(o.name, []).append(o)
    out = []
    for same in merged.values():
        helps = list(dict.fromkeys(o.help for o in same if o.help))
        out.append((same[0], "; ".join(helps)))
    return out


def verb_commands() -> dict[str, tuple[str, str, list]]:
    """Each verb some registered task offers, by name: its one-line summary, a description
    listing what each task's runs do with it, and its merged options."""
    from .registry import list_tasks, task_class

    offers: dict[str, list] = {}
    for name in list_tasks():
        for verb in task_class(name).verbs.values():
            offers.setdefault(verb.name, []).append((name, verb))
    out = {}
    for verb, pairs in sorted(offers.items()):
        names = [t for t, _ in pairs]
        tasks = names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"
        summary = f"with a trained {tasks} run"
        lines = "\n".join(textwrap.fill(f"{t}: {v.help}", 88, initial_indent="  ",
                                         subsequent_indent="    ") for t, v in pairs)
        out[verb] = (summary, "what each kind of run does:\n" + lines,
                     _merge([(t, v.options) for t, v in pairs]))
    return out


def evaluate_options() -> list:
    """The options ``ann eval`` takes: those some task's evaluation takes (merged)."""
    from .registry import list_tasks, task_class

    return _merge([(t, task_class(t).evaluate_options) for t in list_tasks()])


_TYPES = {t.__name__: t for t in (str, int, float, bool)}


def _option_json(opt) -> dict:
    """An ann.tasks.base.Option as the JSON the cli_cache keeps (its type by name)."""
    return {"name": opt.name, "type": opt.type.__name__, "many": opt.many,
            "positional": opt.positional, "required": opt.required, "flag": opt.flag,
            "metavar": opt.metavar}


def _command_table() -> dict:
    """The verb commands and eval's options as JSON: what _parser builds the command line of."""
    return {"verbs": {verb: [summary, description, [[_option_json(o), h] for o, h in options]]
                      for verb, (summary, description, options) in verb_commands().items()},
            "evaluate": [[_option_json(o), h] for o, h in evaluate_options()]}


def _add_option(parser, opt, help_: str):
    """One declared option as an argparse argument. Options the user leaves out stay out of the
    namespace (SUPPRESS), so the task's own defaults apply."""
    if opt.positional:
        if opt.many:
            parser.add_argument(opt.name, nargs="*", metavar="FILE" if opt.name == "files"
                                else opt.name.upper(), help=help_)
        else:
            parser.add_argument(opt.name, nargs=None if opt.required else "?", help=help_,
                                **({} if opt.required else {"default": argparse.SUPPRESS}))
        return
    flag = "--" + (opt.flag or opt.name).replace("_", "-")
    kw = {"dest": opt.name, "default": argparse.SUPPRESS, "help": help_}
    if opt.type == "bool":
        parser.add_argument(flag, action="store_true", **kw)
        return
    kw["metavar"] = opt.metavar or (opt.flag or opt.name).upper()
    parser.add_argument(flag, action="append" if opt.many else "store", type=_TYPES[opt.type], **kw)


def cmd_verb(args):
    """``ann VERB RUN_DIR ...``: the options the user gave, handed to the run's verb; each answer
    printed as text, or as JSON with ``--json``."""
    from . import api

    options = {k: v for k, v in vars(args).items()
               if k not in COMMON_ARGS and v != []}     # no FILE given: as if left out
    run = api.load(args.run_dir)
    for answer in api.use(run, args.verb, **options):
        if args.json and answer.data is not None:
            print(json.dumps(answer.data), flush=True)
        elif not args.json:
            print(answer.text, end=answer.end, flush=True)


def cmd_experiment(args):
    from . import runs
    from .apps.experiments import check_experiment, experiment_module, run_experiment

    experiment_module(args.name)                 # an unknown name fails before any folder is made
    if args.threads < 0:
        raise AnnError(f"--threads must be 0 (torch's default) or a positive number of threads, "
                       f"got {args.threads}")
    options = {}
    if args.lengths:
        try:
            options["lengths"] = tuple(int(n) for n in args.lengths.split(","))
        except ValueError:
            raise AnnError(f"--lengths takes comma-separated integers, got {args.lengths!r}") from None
    if args.steps is not None:
        if args.steps < 1:
            raise AnnError(f"--steps must be at least 1, got {args.steps}")
        options["steps"] = args.steps
    options["seed"] = args.seed
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    check_experiment(args.name, **options)       # before the folder is made
    out = runs.new_run_dir(f"experiment-{args.name}", args.out)
    try:
        run_experiment(args.name, out, **options)
    finally:
        runs.release_run(out)
    print(f"ann: experiment {args.name} done; table, plots and results.json in {out}")


def cmd_tour(args):
    from .apps import tour

    if args.list:
        print(_table([[st.family, st.recipe, f"{st.seconds:g} s"] for st in tour.STOPS],
                     ["family", "recipe", "time (2 cores)"]))
        return
    legs, report = tour.run_tour(args.only, args.budget, args.out, args.threads, debug=args.debug)
    failed = [leg.stop.family for leg in legs if leg.error]
    print(f"ann: tour report in {report}" + (f" ({len(failed)} families failed: "
                                             f"{', '.join(failed)})" if failed else ""))
    if failed:
        raise SystemExit(1)


def cmd_scratch(args):
    if args.dataset == "words":
        return _scratch_words(args)
    from .apps.scratch.digits import check_options, train_digits

    if args.dataset != "digits":
        raise AnnError(f"ann scratch trains on 'words' or 'digits' only, not {args.dataset!r}: "
                       "ann scratch digits [--model mlp|cnn], ann scratch words")
    model = args.model or "mlp"
    check_options(model, args.epochs, args.seed)     # before the table's header
    print(f"{'epoch':>5}  {'loss':>8}  {'train acc':>9}  {'val acc':>7}  {'seconds':>7}")
    result = train_digits(model, args.epochs, args.seed, on_epoch=lambda r: print(
        f"{r['epoch']:>5}  {r['loss']:>8.4f}  {r['train_accuracy']:>9.2%}  "
        f"{r['val_accuracy']:>7.2%}  {r['seconds']:>7.2f}", flush=True))
    print(f"test accuracy {result.test_accuracy:.2%} (weights of epoch {result.best_epoch}, the best "
          f"on validation), {result.wall_time_s:.1f} s")


def _scratch_words(args):
    from .apps.scratch import words

    if args.model is not None:
        raise AnnError("ann scratch words has one model (embeddings and a linear layer); drop --model")
    words.check_options(args.epochs, args.seed)
    print(f"{'epoch':>5}  {'loss':>7}  {'accuracy':>8}  {'same kind':>9}  {'other kind':>10}  "
          f"{'moved':>6}")
    result = words.train_words(args.epochs, args.seed, on_epoch=lambda r: print(
        f"{r['epoch']:>5}  {r['loss']:>7.4f}  {r['accuracy']:>8.2%}  {r['same_kind']:>9.3f}  "
        f"{r['other_kind']:>10.3f}  {r['moved']:>6.3f}", flush=True))
    print(f"held-out next-word accuracy {result.test_accuracy:.2%} (the grammar allows at most "
          f"{result.best_possible:.2%}), {result.wall_time_s:.1f} s")
    print("same kind: mean cosine similarity of the embeddings of two animals (or two vehicles);\n"
          "other kind: of an animal and a vehicle; moved: how far SGD moved the embedding table")


def cmd_explain(args):
    from .apps import glossary

    if not args.term:
        print(glossary.listing())
        return
    print(glossary.explain(" ".join(args.term)))


def cmd_serve(args):
    from .apps.serve import serve

    serve(args.run_dirs, host=args.host, port=args.port, token=args.token,
          batching=not args.no_batching)


def cmd_import(args):
    from .apps.hf_import import import_folder

    import_folder(args.folder, args.out)


def cmd_export(args):
    from .apps.export import export_run

    path, inputs = export_run(args.run_dir, args.format, args.out)
    if args.format == "hf":
        print(f"ann: wrote {path} ({inputs})")
    else:
        print(f"ann: wrote {path} (inputs: {inputs}; output: output)")


def cmd_bench(args):
    from .apps import bench

    if args.list:
        print(bench.listing())
        return
    bench.run(args.only, render_only=args.render, dry_run=args.dry_run)


def cmd_info(args):
    from . import api

    print(api.describe(api.load(args.run_dir)))


def _imports(argv: list[str]) -> list[str]:
    """The modules ``--import MODULE`` (or ``--import=MODULE``) names, anywhere in ``argv``:
    imported before the parser is built, since what they register may add to it."""
    out = []
    for i, arg in enumerate(argv):
        if arg == "--import" and i + 1 < len(argv):
            out.append(argv[i + 1])
        elif arg.startswith("--import="):
            out.append(arg.split("=", 1)[1])
    return out


def import_modules(names: list[str]):
    """Import each module of ``--import`` (the current folder on the path first, as
    ``python -m`` has it); one line when one cannot be imported."""
    import importlib

    if "" not in sys.path and os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    for name in names:
        try:
            importlib.import_module(name)
        except ImportError as e:
            raise AnnError(f"--import {name}: cannot import it ({e}); give a module on the "
                           "Python path (a file NAME.py in the current folder, or an installed "
                           "package)") from None


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    imports = _imports(argv)
    try:
        import_modules(imports)
    except AnnError as e:
        print(f"ann: error: {e}", file=sys.stderr)
        return e.exit_code
    parser = _parser(cache=not imports)
    # Overrides may come after options (`ann train R --out D train.lr=0.1`): argparse stops
    # collecting positionals at the first option, so gather the key=value leftovers here.
    args, rest = parser.parse_known_args(argv)
    extra = [r for r in rest if "=" in r and not r.startswith("-")]
    if extra and getattr(args, "command", None) == "train":
        args.overrides = [*args.overrides, *extra]
        rest = [r for r in rest if r not in extra]
    if rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    args.debug = getattr(args, "debug", False)
    args.cache = not imports
    if getattr(args, "no_verify", False):
        os.environ["ANN_NO_VERIFY"] = "1"      # read by ann.train.checkpoint, here and in workers
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        args.func(args)
        return 0
    except AnnError as e:
        if args.debug:
            raise
        if e.exit_code == 130:      # stopped by Ctrl-C: another press must not cut the exit short
            signal.signal(signal.SIGINT, signal.SIG_IGN)
        print(f"ann: error: {e}", file=sys.stderr)
        return e.exit_code
    except BrokenPipeError:     # `ann list | head`: the reader has what it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())   # no error at exit
        return 0
    except OSError as e:
        if args.debug:
            raise
        where = f": {e.filename}" if e.filename else ""
        print(f"ann: error: {e.strerror or e}{where}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        print("ann: interrupted", file=sys.stderr)
        return 130
    except Exception as e:  # a bug, not a user mistake: say so plainly
        if args.debug:
            raise
        msg = textwrap.shorten(f"{type(e).__name__}: {e}", 300)
        print(f"ann: internal error: {msg} (rerun with --debug for the traceback and please "
              "report it)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
