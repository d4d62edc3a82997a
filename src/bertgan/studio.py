"""bertgan studio: a local web page with one tab per concept of the two texts — WordPiece, fill-mask, attention,
the fine-tuned tasks, the GAN (samples, latent walk, D's 0.5 threshold, mode coverage), text → image, and a live
training monitor.

Everything runs on this machine. The page binds 127.0.0.1 unless told otherwise; Gradio's front end is served from
the installed package, analytics are off and the theme uses the system's fonts, so the page requests nothing from
the internet (tests/test_studio.py watches the browser's requests). The only files read are the packaged models
and what lies under ``--runs``: every run a field names is looked up among the runs found there, never opened by a
path the page sends (``../../etc/passwd`` is refused). Pictures go to a temporary folder; text inputs are cut to
``MAX_TEXT`` characters.

The handlers are plain functions of plain values (``Studio.wordpiece``, ``Studio.fill_mask``, …), so they are
tested without a browser; ``build`` lays them out with Gradio (``pip install -e ".[studio]"``).
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import tempfile
from pathlib import Path

from bertgan.errors import UsageError

MAX_TEXT = 2000
SEED_WORD = "감사합니다"
SEED_SENTENCE = "나는 [MASK]에 가서 사과와 [MASK]를 샀다"
INSTALL_HINT = "the studio needs Gradio: pip install -e '.[studio]'  (or pip install 'gradio>=6,<7')"


def _cut(text: str | None) -> str:
    return (text or "")[:MAX_TEXT]


class Studio:
    """What the page shows: the models and runs it may read, and a handler per interaction."""

    def __init__(self, runs: str | Path | None = None, device: str = "cpu"):
        self.runs = Path(runs).resolve() if runs else None
        if self.runs is not None and not self.runs.is_dir():
            raise UsageError(f"--runs {runs}: no such folder")
        self.device = device
        self._tmp: Path | None = None
        self._cache: dict = {}

    @property
    def tmp(self) -> Path:
        """The one folder the studio writes into (pictures), made on first use and removed at exit."""
        if self._tmp is None:
            self._tmp = Path(tempfile.mkdtemp(prefix="bertgan-studio-"))
            atexit.register(shutil.rmtree, self._tmp, True)
        return self._tmp

    # ------------------------------------------------------------------------------------------ what exists
    def _run_folders(self, marker: str) -> dict[str, Path]:
        """Folders under --runs (up to three levels down) holding ``marker``, by their path relative to --runs."""
        if self.runs is None:
            return {}
        found = {}
        for depth in ("*", "*/*", "*/*/*"):
            for p in sorted(self.runs.glob(f"{depth}/{marker}")):
                folder = p.parent
                found[str(folder.relative_to(self.runs))] = folder
        return found

    def bert_models(self, need: str | None = None) -> dict[str, Path]:
        """name → folder of the BERTs: the packaged ones, then runs' final/ and best/ folders. ``need``: 'mlm'
        keeps those with a masked-LM head, a head class name those with that head."""
        from bertgan.bert.hub import is_extension, packaged_models, tensor_names

        out = {f"packaged: {n}": p for n, p in packaged_models().items()}
        out.update({f"run: {n}": p for n, p in self._run_folders("config.json").items()
                    if (p / "vocab.txt").is_file() or (p / "tokenizer.json").is_file()})
        if need:  # a vocabulary-extension model (ko-en-mini) is a sentence encoder: no MLM or task head
            out = {n: p for n, p in out.items() if not is_extension(p)}
        if need == "mlm":
            out = {n: p for n, p in out.items() if any(k.startswith("cls.predictions") for k in tensor_names(p))}
        elif need:
            out = {n: p for n, p in out.items() if need in (json.loads((p / "config.json").read_text())
                                                             .get("architectures") or [])}
        return out

    def vocabularies(self) -> dict[str, Path]:
        """name → folder of every WordPiece vocabulary: the BERTs', then tokenizer folders under --runs."""
        out = self.bert_models()
        out.update({f"tokenizer: {n}": p for n, p in self._run_folders("vocab.txt").items()
                    if f"run: {n}" not in out})
        return out

    def generators(self) -> dict[str, Path]:
        from bertgan.gan.trainer import list_pretrained

        out = {f"shipped: {n}": p for n, p in list_pretrained().items()}
        out.update({f"run: {n}": p for n, p in self._run_folders("checkpoint.safetensors").items()
                    if _is_gan_run(p)})
        return out

    def text2image_runs(self) -> dict[str, Path]:
        return {n: p for n, p in self._run_folders("generator.safetensors").items()
                if json.loads((p / "config.json").read_text()).get("app") == "text2image"}

    def monitored_runs(self) -> dict[str, Path]:
        return self._run_folders("metrics.jsonl")

    def _pick(self, found: dict[str, Path], name: str | None, what: str) -> Path:
        """The folder behind a name the page sent — only ever one of those found, so a forged value such as
        '../../etc/passwd' reads nothing."""
        if not name or name not in found:
            raise UsageError(f"{what} {name!r}: not one of the {what}s this studio offers; pick one from the list")
        path = found[name].resolve()
        allowed = [self.runs] if self.runs else []
        from bertgan.bert.hub import PACKAGED_DIR
        from bertgan.gan.trainer import PRETRAINED_DIR

        allowed += [PACKAGED_DIR.resolve(), PRETRAINED_DIR.resolve()]
        if not any(path == root or root in path.parents for root in allowed) and not name.startswith("packaged: "):
            raise UsageError(f"{what} {name!r}: outside the folders the studio may read")
        return path

    def _loaded(self, kind: str, folder: Path, load):
        """``load()`` once per (kind, folder): models and tokenizers stay in memory between interactions."""
        if (kind, folder) not in self._cache:
            self._cache[(kind, folder)] = load()
        return self._cache[(kind, folder)]

    def _pipeline(self, kind: str, folder: Path):
        import bertgan

        return self._loaded(kind, folder, lambda: bertgan.pipeline(kind, model=folder, device=self.device))

    def _tokenizer(self, folder: Path):
        from bertgan.bert.tokenizer import WordPieceTokenizer

        return self._loaded("tok", folder, lambda: WordPieceTokenizer.from_dir(folder))

    # ------------------------------------------------------------------------------------------ BERT tabs
    def wordpiece(self, text: str, model: str) -> tuple[list[tuple[str, str | None]], str]:
        """(pieces for a HighlightedText — a word's first piece, its continuations '##…', [UNK] — , the ids)."""
        folder = self._pick(self.vocabularies(), model, "vocabulary")
        tok = self._tokenizer(folder)
        enc = tok.encode(_cut(text) or " ", truncation=None)
        pieces = []
        for t in enc.tokens[1:-1]:
            kind = "[UNK]" if t == tok.special_tokens["unk"] else ("continuation" if t.startswith("##") else "word")
            pieces.append((t, kind))
        return pieces, " ".join(str(i) for i in enc.ids)

    def fill_mask(self, text: str, model: str, top_k: int = 5, whole_word: int = 0) -> list[dict[str, float]]:
        """One {answer: probability} per [MASK]."""
        folder = self._pick(self.bert_models("mlm"), model, "model")
        pipe = self._pipeline("fill-mask", folder)
        masks = pipe(_cut(text), top_k=int(top_k), whole_word=int(whole_word))
        key = "word" if whole_word else "token"
        return [{p[key]: float(p["score"]) for p in preds} for preds in masks]

    def attention(self, text: str, model: str, layer: int = 0, head: int = 0) -> tuple[str, str, dict]:
        """(the layer × head grid PNG, one map enlarged PNG, the shape) of the attention probabilities."""
        import torch

        from bertgan.bert.hub import from_pretrained
        from bertgan.report.plots import plot_attention

        folder = self._pick(self.bert_models(), model, "model")
        bert = self._loaded("bert", folder, lambda: from_pretrained(folder, "BertModel", device=self.device))
        enc = self._tokenizer(folder).encode(_cut(text) or " ", max_length=64)
        device = next(bert.parameters()).device
        ids = torch.tensor([enc.ids], device=device)
        with torch.no_grad():
            out = bert(ids, torch.ones_like(ids), torch.tensor([enc.token_type_ids], device=device),
                       output_attentions=True)
        maps = torch.stack([a[0] for a in out.attentions]).float().cpu().numpy()  # (layers, heads, L, L)
        layer = min(max(int(layer), 0), maps.shape[0] - 1)
        head = min(max(int(head), 0), maps.shape[1] - 1)
        grid = plot_attention(self.tmp / "attention-grid.png", maps, enc.tokens)
        one = plot_attention(self.tmp / "attention-one.png", maps[layer:layer + 1, head:head + 1], enc.tokens,
                             title=f"layer {layer}, head {head}: row = query, column = key (both directions)")
        return str(grid), str(one), {"layers": maps.shape[0], "heads": maps.shape[1], "tokens": maps.shape[2]}

    def classify(self, text: str, run: str) -> dict[str, float]:
        folder = self._pick(self.bert_models("BertForSequenceClassification"), run, "model")
        pipe = self._pipeline("text-classification", folder)
        return {r["label"]: float(r["score"]) for r in pipe(_cut(text) or " ", top_k=None)}

    def tag(self, text: str, run: str) -> list[tuple[str, str | None]]:
        folder = self._pick(self.bert_models("BertForTokenClassification"), run, "model")
        pipe = self._pipeline("token-classification", folder)
        text = _cut(text) or " "
        spans, at = [], 0
        for e in pipe(text, aggregate=True):
            spans.append((text[at:e["start"]], None))
            spans.append((text[e["start"]:e["end"]], e["entity_group"]))
            at = e["end"]
        spans.append((text[at:], None))
        return [s for s in spans if s[0]]

    def answer(self, question: str, context: str, run: str) -> list[tuple[str, str | None]]:
        folder = self._pick(self.bert_models("BertForQuestionAnswering"), run, "model")
        pipe = self._pipeline("question-answering", folder)
        context = _cut(context) or " "
        a = pipe(question=_cut(question) or "?", context=context)
        return [s for s in ((context[:a["start"]], None), (context[a["start"]:a["end"]], f"answer {a['score']:.2f}"),
                            (context[a["end"]:], None)) if s[0]]

    # ------------------------------------------------------------------------------------------ GAN tabs
    def _generator(self, name: str):
        import torch

        from bertgan.gan.trainer import load_generator

        folder = self._pick(self.generators(), name, "generator")
        return (folder, *self._loaded("G", folder, lambda: load_generator(folder, torch.device(self.device))))

    def _drawing(self):
        """bf16 autocast where the device has fast bf16 units (3.5× faster for the MNIST G on an AVX-512 BF16 core;
        pixels within 0.07 of fp32 on the [−1, 1] scale): for pictures to look at. Measurements (D's verdicts, the
        class histogram) stay fp32."""
        import torch

        from bertgan.train.runtime import autocast, resolve_precision

        device = torch.device(self.device)
        return autocast(device, resolve_precision("auto", device))

    def samples(self, name: str, seed: int = 0, n: int = 64) -> str:
        """A grid of n samples (uint8 PNG path) from a generator, z drawn by ``seed``."""
        import torch

        from bertgan.gan.trainer import generate
        from bertgan.report.plots import save_grid

        _, G, cfg = self._generator(name)
        with self._drawing():
            images, nrow = generate(G, cfg, int(n), int(seed), torch.device(self.device))
        return str(save_grid(self.tmp / f"samples-{abs(hash((name, seed, n)))}.png", images, nrow))

    def walk(self, name: str, seed_a: int, seed_b: int, t: float) -> str:
        """G(slerp(z_a, z_b, t)): one image on the line between two seeds' z."""
        import torch

        from bertgan.gan.models import sample_prior
        from bertgan.gan.trainer import _slerp
        from bertgan.report.plots import save_grid, to_uint8

        _, G, cfg = self._generator(name)
        za, zb = (sample_prior(1, cfg.latent_dim, cfg.prior, generator=torch.Generator().manual_seed(int(s)))
                  for s in (seed_a, seed_b))
        z = _slerp(za, zb, torch.tensor([[float(t)]])) if cfg.prior == "normal" else za + (zb - za) * float(t)
        with torch.no_grad():
            k = getattr(G, "n_classes", 0)
            x = G(z, torch.zeros(1, dtype=torch.long)) if k else G(z)
        return str(save_grid(self.tmp / f"walk-{int(seed_a)}-{int(seed_b)}-{float(t):.3f}.png", to_uint8(x), 1))

    def judge_d(self, name: str, seed: int = 0, n: int = 16) -> tuple[str, str]:
        """D(x) under each of n generated and n real images, with the 0.5 threshold (run folders: the shipped
        generators carry no D)."""
        import torch

        from bertgan.data.images import load_images
        from bertgan.gan.models import sample_prior
        from bertgan.gan.trainer import build_run_models
        from bertgan.report.plots import plot_d_scores
        from bertgan.train.checkpoint import load_checkpoint, restore_module

        folder, G, cfg = self._generator(name)
        ckpt_path = folder / "checkpoint.safetensors"
        if not ckpt_path.is_file():
            return "", "a shipped generator carries G only: pick a run folder to see D judge"
        ckpt = load_checkpoint(ckpt_path)
        _, D = build_run_models(cfg, int(ckpt.meta.get("n_classes", 0)))
        restore_module(D, ckpt, "D", str(ckpt_path))
        D.eval()
        real = load_images(cfg.dataset, cfg.image_size, cfg.channels, cfg.data_dir).images[:int(n)].float()
        real = real.div(127.5).sub(1.0)
        z = sample_prior(int(n), cfg.latent_dim, cfg.prior, generator=torch.Generator().manual_seed(int(seed)))
        with torch.no_grad():
            fake = G(z)
            d_fake, d_real = torch.sigmoid(D(fake)).numpy(), torch.sigmoid(D(real)).numpy()
        path = plot_d_scores(self.tmp / f"d-{int(seed)}.png", fake, real, d_fake, d_real)
        told = int((d_fake < 0.5).sum() + (d_real >= 0.5).sum())
        return str(path), f"D judges {told} of {2 * int(n)} images right at the 0.5 threshold"

    def modes(self, name: str, n: int = 1000) -> tuple[str, str]:
        """The class histogram of n samples (the evaluation classifier) against the real one."""
        import numpy as np
        import torch

        from bertgan.data.images import load_images
        from bertgan.gan.evaluate import CLASSIFIER_DATASET, classify, generate_samples, load_classifier
        from bertgan.metrics.modes import mode_coverage
        from bertgan.report.plots import plot_class_histogram

        _, G, cfg = self._generator(name)
        if cfg.dataset not in CLASSIFIER_DATASET or cfg.dataset == "stacked-mnist":
            return "", f"{cfg.dataset} has no class labels to count"
        model, _ = load_classifier(cfg.dataset, cfg.data_dir, log=lambda s: None)
        fake = generate_samples(G, cfg, int(n), 0, torch.device(self.device))
        labels, _ = classify(model, fake[:, :1])
        train = load_images(cfg.dataset, cfg.image_size, 1, cfg.data_dir, "train")
        score = mode_coverage(labels, train.labels.numpy(), len(train.class_names))
        real = np.asarray(score["real_histogram"], dtype=float)
        path = plot_class_histogram(self.tmp / "modes.png", np.asarray(score["histogram"]) / len(labels),
                                    real / real.sum(), train.class_names,
                                    f"{score['modes_covered']}/{score['n_modes']} classes, KL {score['kl']:.3f}")
        return str(path), f"{score['modes_covered']} of {score['n_modes']} classes covered; KL(gen‖real) " \
                          f"{score['kl']:.3f}"

    def text_to_image(self, run: str, text: str, n: int = 8, seed: int = 0) -> str:
        from bertgan.apps.text2image import generate_from_text
        from bertgan.report.plots import save_grid

        folder = self._pick(self.text2image_runs(), run, "text2image run")
        images = generate_from_text(folder, [_cut(text) or "a sneaker"], int(n), int(seed), self.device)
        return str(save_grid(self.tmp / f"t2i-{abs(hash((run, text, n, seed)))}.png", images, int(n)))

    # ------------------------------------------------------------------------------------------ monitor
    def monitor(self, run: str) -> tuple[str, str, str]:
        """(curves PNG, the latest sample grid, a status line) of a run folder, read afresh each call."""
        from bertgan.report.plots import plot_bert_curves, plot_gan_curves

        folder = self._pick(self.monitored_runs(), run, "run")
        rows = []
        for line in (folder / "metrics.jsonl").read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                continue  # the line being written
        if not rows:
            return "", "", "no metrics yet"
        path = self.tmp / f"curves-{abs(hash(str(folder)))}.png"
        if "loss_d" in rows[-1]:
            plot_gan_curves(path, rows, folder.name)
        else:
            plot_bert_curves(path, rows)
        grid = folder / "samples.png"
        last = rows[-1]
        shown = ", ".join(f"{k} {v:.4g}" for k, v in last.items() if isinstance(v, float))
        return str(path), str(grid) if grid.is_file() else "", f"step {last.get('step')}: {shown}"


def _is_gan_run(folder: Path) -> bool:
    try:
        cfg = json.loads((folder / "config.json").read_text())
    except (OSError, json.JSONDecodeError):
        return False
    return "latent_dim" in cfg and "arch" in cfg and "app" not in cfg


# ---------------------------------------------------------------------------------------------- the page

def build(studio: Studio):
    """The Gradio Blocks of the studio (one tab per concept)."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    try:
        import gradio as gr
    except ImportError as e:
        raise UsageError(INSTALL_HINT) from e

    models = list(studio.bert_models())
    vocabs = list(studio.vocabularies())
    mlm = list(studio.bert_models("mlm"))
    gens = list(studio.generators())
    first = lambda xs: xs[0] if xs else None

    def safe(fn):
        def run(*args):
            try:
                return fn(*args)
            except UsageError as e:
                raise gr.Error(str(e)) from None
        run.__name__ = fn.__name__
        return run

    with gr.Blocks(title="bertgan studio", analytics_enabled=False) as page:
        gr.Markdown("# bertgan studio\nThe two texts' concepts, live: BERT (WordPiece, fill-mask, attention, "
                    "tasks) and the GAN (samples, the latent space, D's 0.5 threshold, mode collapse).")
        found = gr.Markdown("", elem_id="studio-found")
        with gr.Tab("WordPiece", elem_id="tab-wordpiece"):
            gr.Markdown("WordPiece cuts a word into known pieces: '감사합니다' → '감사' + '##합니다'. Two vocabularies "
                        "side by side; [UNK] marks what a vocabulary cannot spell.")
            wp_text = gr.Textbox(SEED_WORD, label="text", max_length=MAX_TEXT, elem_id="wp-text")
            with gr.Row():
                wp_a = gr.Dropdown(vocabs, value=first(vocabs), label="vocabulary A", elem_id="wp-model-a")
                wp_b = gr.Dropdown(vocabs, value=vocabs[1] if len(vocabs) > 1 else first(vocabs),
                                   label="vocabulary B", elem_id="wp-model-b")
            wp_go = gr.Button("cut", elem_id="wp-go")
            with gr.Row():
                colors = {"word": "#9ecae1", "continuation": "#fdae6b", "[UNK]": "#e6550d"}
                out_a = gr.HighlightedText(label="pieces (A)", color_map=colors, show_legend=True, elem_id="wp-out-a")
                out_b = gr.HighlightedText(label="pieces (B)", color_map=colors, show_legend=True, elem_id="wp-out-b")
            with gr.Row():
                ids_a, ids_b = gr.Textbox(label="ids (A)"), gr.Textbox(label="ids (B)")
            wp_go.click(safe(lambda t, a, b: (*studio.wordpiece(t, a), *studio.wordpiece(t, b))),
                        [wp_text, wp_a, wp_b], [out_a, ids_a, out_b, ids_b], api_name="wordpiece")
        with gr.Tab("Fill-mask", elem_id="tab-fill"):
            gr.Markdown("The masked language model guesses the words behind [MASK] from both sides.")
            fm_text = gr.Textbox(SEED_SENTENCE, label="text with [MASK]", max_length=MAX_TEXT, elem_id="fm-text")
            with gr.Row():
                fm_model = gr.Dropdown(mlm, value=first(mlm), label="model (with an MLM head)", elem_id="fm-model")
                fm_k = gr.Slider(1, 10, 5, step=1, label="top-k")
                fm_ww = gr.Slider(0, 4, 0, step=1, label="whole word: up to K pieces (0: one piece)")
            fm_go = gr.Button("fill", elem_id="fm-go")
            fm_outs = [gr.Label(label=f"[MASK] {i + 1}", elem_id=f"fm-out-{i}") for i in range(4)]

            def fill(text, model, k, ww):
                got = studio.fill_mask(text, model, k, ww)
                return [got[i] if i < len(got) else None for i in range(4)]

            fm_go.click(safe(fill), [fm_text, fm_model, fm_k, fm_ww], fm_outs, api_name="fill_mask")
        with gr.Tab("Attention", elem_id="tab-attention"):
            gr.Markdown("Every token attends to every other, left and right: BERT is bidirectional.")
            at_text = gr.Textbox("나는 슈퍼에 가서 사과를 샀다", label="sentence", max_length=MAX_TEXT)
            with gr.Row():
                at_model = gr.Dropdown(models, value=first(models), label="model", elem_id="at-model")
                at_layer = gr.Number(0, label="layer", precision=0)
                at_head = gr.Number(0, label="head", precision=0)
            at_go = gr.Button("show", elem_id="at-go")
            with gr.Row():
                at_grid = gr.Image(label="layers × heads", type="filepath", elem_id="at-grid")
                at_one = gr.Image(label="one head", type="filepath", elem_id="at-one")
            at_shape = gr.JSON(label="shape")
            at_go.click(safe(studio.attention), [at_text, at_model, at_layer, at_head],
                        [at_grid, at_one, at_shape], api_name="attention")
        with gr.Tab("Tasks", elem_id="tab-tasks"):
            gr.Markdown("Fine-tuned models from --runs: [CLS] classification, tagging, question answering.")
            cls_runs = list(studio.bert_models("BertForSequenceClassification"))
            tag_runs = list(studio.bert_models("BertForTokenClassification"))
            qa_runs = list(studio.bert_models("BertForQuestionAnswering"))
            with gr.Row():
                c_text = gr.Textbox("a gorgeous, witty, seductive movie", label="text", max_length=MAX_TEXT)
                c_run = gr.Dropdown(cls_runs, value=first(cls_runs), label="classifier")
            c_go, c_out = gr.Button("classify", elem_id="cls-go"), gr.Label(label="labels", elem_id="cls-out")
            c_go.click(safe(studio.classify), [c_text, c_run], c_out, api_name="classify")
            with gr.Row():
                t_text = gr.Textbox("John lives in Paris", label="text", max_length=MAX_TEXT)
                t_run = gr.Dropdown(tag_runs, value=first(tag_runs), label="tagger")
            t_go = gr.Button("tag", elem_id="tag-go")
            t_out = gr.HighlightedText(label="entities", elem_id="tag-out")
            t_go.click(safe(studio.tag), [t_text, t_run], t_out, api_name="tag")
            with gr.Row():
                q_q = gr.Textbox("Where is the museum?", label="question", max_length=MAX_TEXT)
                q_run = gr.Dropdown(qa_runs, value=first(qa_runs), label="reader")
            q_c = gr.Textbox("The museum is in Paris, beside the river.", label="context", max_length=MAX_TEXT)
            q_go, q_out = gr.Button("answer", elem_id="qa-go"), gr.HighlightedText(label="answer", elem_id="qa-out")
            q_go.click(safe(studio.answer), [q_q, q_c, q_run], q_out, api_name="answer")
        with gr.Tab("GAN", elem_id="tab-gan"):
            gr.Markdown("G(z; θ) turns noise into images; D(x; η) ≥ 0.5 says 'real'. Walk between two z; count "
                        "the classes G draws (mode collapse at a glance).")
            with gr.Row():
                g_name = gr.Dropdown(gens, value=first(gens), label="generator", elem_id="gan-model")
                g_seed = gr.Number(0, label="seed", precision=0, elem_id="gan-seed")
            g_go = gr.Button("draw 64", elem_id="gan-go")
            g_grid = gr.Image(label="samples", type="filepath", elem_id="gan-grid")
            g_go.click(safe(studio.samples), [g_name, g_seed], g_grid, api_name="samples")
            with gr.Row():
                w_a, w_b = gr.Number(1, label="seed A", precision=0), gr.Number(2, label="seed B", precision=0)
                w_t = gr.Slider(0, 1, 0, step=0.05, label="from A to B", elem_id="gan-walk")
            w_img = gr.Image(label="G(z) on the line", type="filepath", elem_id="gan-walk-img", height=160)
            w_t.change(safe(studio.walk), [g_name, w_a, w_b, w_t], w_img, api_name="walk")
            d_go = gr.Button("D's verdicts", elem_id="gan-d-go")
            d_img = gr.Image(label="D(x)", type="filepath")
            d_txt = gr.Textbox(label="threshold 0.5", elem_id="gan-d-txt")
            d_go.click(safe(studio.judge_d), [g_name, g_seed], [d_img, d_txt], api_name="judge_d")
            m_go = gr.Button("class histogram", elem_id="gan-modes-go")
            m_img, m_txt = gr.Image(label="classes", type="filepath", elem_id="gan-modes"), gr.Textbox(label="modes")
            m_go.click(safe(studio.modes), [g_name], [m_img, m_txt], api_name="modes")
        with gr.Tab("Text → image", elem_id="tab-t2i"):
            t2i = list(studio.text2image_runs())
            with gr.Row():
                x_run = gr.Dropdown(t2i, value=first(t2i), label="text2image run")
                x_text = gr.Textbox("a pair of jeans", label="description (English or Korean)", max_length=MAX_TEXT)
            x_go = gr.Button("draw", elem_id="t2i-go")
            x_img = gr.Image(label="images", type="filepath", elem_id="t2i-img")
            x_go.click(safe(studio.text_to_image), [x_run, x_text], x_img, api_name="text_to_image")
        with gr.Tab("Training monitor", elem_id="tab-monitor"):
            runs = list(studio.monitored_runs())
            mon_run = gr.Dropdown(runs, value=first(runs), label="run folder under --runs", elem_id="mon-run")
            with gr.Row():
                mon_curves = gr.Image(label="curves", type="filepath", elem_id="mon-curves")
                mon_grid = gr.Image(label="latest samples", type="filepath")
            mon_status = gr.Textbox(label="latest row", elem_id="mon-status")
            timer = gr.Timer(2.0)
            timer.tick(safe(lambda r: studio.monitor(r) if r else ("", "", "pick a run")), [mon_run],
                       [mon_curves, mon_grid, mon_status], api_name="monitor")

        # Runs that appear after the studio started (a training that began later) show up when the page is
        # opened or reloaded: every list is read again, a value still offered stays chosen.
        lists = [(wp_a, studio.vocabularies), (wp_b, studio.vocabularies),
                 (fm_model, lambda: studio.bert_models("mlm")), (at_model, studio.bert_models),
                 (c_run, lambda: studio.bert_models("BertForSequenceClassification")),
                 (t_run, lambda: studio.bert_models("BertForTokenClassification")),
                 (q_run, lambda: studio.bert_models("BertForQuestionAnswering")), (g_name, studio.generators),
                 (x_run, studio.text2image_runs), (mon_run, studio.monitored_runs)]

        def refresh(*chosen):
            out = []
            for (_, offered), value in zip(lists, chosen):
                names = list(offered())
                out.append(gr.Dropdown(choices=names, value=value if value in names else first(names)))
            where = f"under {studio.runs}" if studio.runs else "(no --runs: the packaged ones only)"
            n_runs = len(studio.monitored_runs())
            out.append(f"Found {len(studio.bert_models())} BERTs, {len(studio.generators())} generators and "
                       f"{n_runs} run{'s' * (n_runs != 1)} {where}; reload the page to look again.")
            return out

        page.load(refresh, [d for d, _ in lists], [d for d, _ in lists] + [found], api_name="refresh",
                  show_progress="hidden")
    return page


def launch(studio: Studio, host: str = "127.0.0.1", port: int = 7860, block: bool = True):
    """Build and serve the studio; returns the Blocks (with ``block=False`` the server runs in a thread)."""
    os.environ.setdefault("GRADIO_TEMP_DIR", str(studio.tmp))
    page = build(studio)
    import gradio as gr

    theme = gr.themes.Default(font=["ui-sans-serif", "system-ui", "sans-serif"],
                              font_mono=["ui-monospace", "monospace"])  # system fonts: nothing fetched
    page.launch(server_name=host, server_port=port, prevent_thread_lock=not block, quiet=True, theme=theme,
                footer_links=[], allowed_paths=[str(studio.tmp)], show_error=True)
    return page

