"""Verbs and their options are declared by tasks (ann.tasks.base.Verb, Option); the command line
builds its verb commands from those declarations, so a task that brings a verb touches no CLI."""

import pytest

import ann
from ann import api, cli
from ann.errors import AnnError
from ann.registry import TASKS, register_task
from ann.tasks.base import FILES, Answer, Option, Task, Verb


class Echo(Task):
    """A task as a new family would bring it: one new verb with its own options."""

    name = "echo-test"
    verbs = {"shout": Verb("shout", "shout", (
        Option("words", positional=True, required=True, help="what to say"),
        Option("times", int, "how often (default 1)"),
        Option("loud", bool, "in capitals")), "say it again")}

    def shout(self, run, words, times=1, loud=False):
        text = " ".join([words.upper() if loud else words] * times)
        return [Answer(text, {"text": text})]


@pytest.fixture
def echo_task():
    register_task(Echo)
    yield Echo
    del TASKS[Echo.name]


def test_a_new_tasks_verb_becomes_a_command_with_its_options(echo_task):
    args = cli._parser().parse_args(["shout", "runs/x", "hello", "--times", "2", "--loud"])
    assert args.verb == "shout" and args.run_dir == "runs/x"
    assert (args.words, args.times, args.loud) == ("hello", 2, True)
    left_out = cli._parser().parse_args(["shout", "runs/x", "hi"])
    assert not hasattr(left_out, "times") and not hasattr(left_out, "loud")   # the task's defaults
    summary, description, _ = cli.verb_commands()["shout"]
    assert "echo-test" in summary and "say it again" in description


def test_the_builtin_verbs_and_their_flags():
    commands = cli.verb_commands()
    assert {"predict", "generate", "translate", "fill"} <= set(commands)
    generate = {o.name for o, _ in commands["generate"][2]}
    assert {"prompt", "beam", "max_len", "n", "label", "seed", "out", "image", "input",
            "temperature", "top_k", "top_p", "slide", "max_new_tokens", "steps", "guidance"} == generate
    # one --beam for generate, translate and eval alike
    parser = cli._parser()
    assert parser.parse_args(["translate", "r", "Hallo", "--beam", "4"]).beam == 4
    assert parser.parse_args(["generate", "r", "--beam", "3"]).beam == 3
    assert parser.parse_args(["eval", "r", "--beam", "5"]).beam_size == 5


def test_options_of_one_name_must_agree_across_tasks():
    a = Verb("v", "m", (Option("k", int),))
    b = Verb("v", "m", (Option("k", str),))
    with pytest.raises(TypeError, match="option 'k' of task 'b'"):
        cli._merge([("a", a.options), ("b", b.options)])
    merged = cli._merge([("a", (Option("k", int, "first"),)), ("b", (Option("k", int, "second"),))])
    assert [(o.name, h) for o, h in merged] == [("k", "first; second")]


def test_use_checks_the_options_before_the_task_runs(tmp_path):
    rc = api.build_config("hopfield-digits")
    run = api.Run(rc, ann.create_model("hopfield"), tmp_path)
    with pytest.raises(AnnError, match=r"needs FILE arguments: input files"):
        api.use(run, "predict")
    with pytest.raises(AnnError, match=r"--beam does not apply to `ann predict`.*it takes FILE "
                       r"arguments, --out"):
        api.use(run, "predict", files=["x.png"], beam=3)
    with pytest.raises(AnnError, match=r"does not translate; what its runs offer: ann predict"):
        api.use(run, "translate", text="Hallo")
    assert FILES.cli == "FILE arguments" and Option("top_k", int).cli == "--top-k"
