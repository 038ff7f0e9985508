"""``studio train draw`` and ``studio sketch``: DRAW on binarized MNIST, and watching it draw (``studio.sketch``)."""

from __future__ import annotations

import argparse
import sys

from studio.cli.common import add_block_options, block_settings


def add_parsers(sub: argparse._SubParsersAction, train_sub: argparse._SubParsersAction) -> None:
    """``studio train draw`` and ``studio sketch`` with their options (each with its valid range)."""
    p = train_sub.add_parser("draw", help="train DRAW (recurrent VAE with attention, Gregor et al. 2015) on "
                             "binarized MNIST")
    p.add_argument("--data", required=True, help="binarized MNIST as packed bits, e.g. "
                   "../shared/corpora/binarized-mnist/binarized_mnist.npz")
    p.add_argument("--out", default="runs/draw", help="run folder (default runs/draw)")
    p.add_argument("--glimpses", type=int, default=64, help="read-write steps T, 1..1000 (default 64, the paper's)")
    p.add_argument("--no-attention", action="store_true", help="read whole images and write whole canvases")
    p.add_argument("--hidden", type=int, default=256, help="units of the encoder and decoder LSTMs, 1..65536 "
                   "(default 256)")
    p.add_argument("--latent", type=int, default=100, help="latent width a glimpse, 1..65536 (default 100)")
    p.add_argument("--read-size", type=int, default=2, help="read glimpse N x N, 1..28 (default 2)")
    p.add_argument("--write-size", type=int, default=5, help="written patch N x N, 1..28 (default 5)")
    add_block_options(p, what="images", batch_size=100, grad_clip=100.0, max_steps=100_000, eval_every=500)
    p.add_argument("--eval-images", type=int, default=0, help="validation images an evaluation, >= 0 (0: all)")
    p.add_argument("--max-images", type=int, default=0, help="train on this many images, >= 0 (0: all)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or mps (default auto)")
    p.add_argument("--save-dtype", default="float32", help="float32, float16 or bfloat16 (default float32)")

    s = sub.add_parser("sketch", help="watch a DRAW model draw digits: the canvas after each glimpse as PNG frames "
                       "and an animated GIF")
    s.add_argument("--model", default="draw", help="a DRAW model: shipped name or model folder (default draw)")
    s.add_argument("--out", required=True, help="folder for frame-*.png, sketch.gif and sketch.json")
    s.add_argument("--count", type=int, default=16, help="digits drawn at once, in a grid, 1..64 (default 16)")
    s.add_argument("--scale", type=int, default=4, help="screen pixels a pixel, 1..16 (default 4)")
    s.add_argument("--seed", type=int, default=None, help="seed of the latents (default: drawn, and reported)")
    s.add_argument("--no-boxes", action="store_true", help="leave out the red box of each write")
    s.add_argument("--frame-ms", type=int, default=80, help="GIF milliseconds a glimpse, 10..10000 (default 80)")


def cmd_train_draw(args: argparse.Namespace) -> int:
    from studio.loading import pick_device
    from studio.models.draw import DrawConfig
    from studio.sketch.training import DrawTrainConfig, train_draw

    model = DrawConfig(glimpses=args.glimpses, attention=not args.no_attention, encoder_size=args.hidden,
                       decoder_size=args.hidden, latent_size=args.latent, read_size=args.read_size,
                       write_size=args.write_size)
    config = DrawTrainConfig(**block_settings(args), eval_images=args.eval_images, max_images=args.max_images)
    device = pick_device(args.device)

    def show(row: dict) -> None:
        mark = " *best*" if row["improved"] else ""
        print(f"step {row['step']}: train {row['train_nats_per_image']:.2f} nats/image, valid bound "
              f"{row['valid_nats_per_image']:.2f} (reconstruction {row['valid_recon']:.2f} + KL "
              f"{row['valid_kl']:.2f}){mark} ({row['elapsed_s']:.0f} s)", flush=True)

    best = train_draw(args.data, args.out, model, config, resume=args.resume, save_dtype=args.save_dtype,
                      on_eval=show, device=device)
    from studio.checkpoint import read_card

    metrics = read_card(best).get("metrics", {})
    if "test_nats_per_image" in metrics:
        print(f"test bound: {metrics['test_nats_per_image']:.2f} nats per image "
              f"({metrics['test_images']} images)")
    print(f"done. Model: {best}")
    return 0


def cmd_sketch(args: argparse.Namespace) -> int:
    from studio.sketch.drawing import write_sketch
    from studio.sketch.training import load_draw

    model, _ = load_draw(args.model)
    record = write_sketch(model, args.out, count=args.count, seed=args.seed, scale=args.scale,
                          boxes=not args.no_boxes, frame_ms=args.frame_ms, model_name=str(args.model))
    print(f"wrote {len(record['frames'])} frames and {record['gif_path']} (seed {record['seed']})", file=sys.stderr)
    return 0
