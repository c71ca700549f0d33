"""Resuming from a checkpoint continues the run exactly: the same weights as a run that never stopped."""

import torch

from ganserve.training.loop import Trainer


def run_steps(trainer: Trainer, steps: int) -> None:
    for _ in range(steps):
        trainer.train_step()


def test_resume_continues_bit_for_bit(tmp_path, tiny_dataset, tiny_options):
    torch.set_num_threads(1)  # one thread: sums in a fixed order, so two runs agree to the bit
    straight = Trainer(tiny_options, tiny_dataset, tmp_path / "straight")
    run_steps(straight, 6)

    first = Trainer(tiny_options, tiny_dataset, tmp_path / "resumed")
    run_steps(first, 3)
    first.checkpoint()
    resumed = Trainer(tiny_options, tiny_dataset, tmp_path / "resumed")
    assert resumed.nimg == 3 * tiny_options.batch and resumed.step == 3
    run_steps(resumed, 3)

    for name in ("G", "D", "G_ema"):
        a, b = straight.nets.modules()[name].state_dict(), resumed.nets.modules()[name].state_dict()
        assert all(torch.equal(a[k], b[k]) for k in a), name
    assert straight.augment.p == resumed.augment.p


def test_resume_refuses_other_options(tmp_path, tiny_dataset, tiny_options):
    trainer = Trainer(tiny_options, tiny_dataset, tmp_path / "run")
    trainer.checkpoint()
    other = tiny_options.model_copy(update={"r1_gamma": 1.0})
    try:
        Trainer(other, tiny_dataset, tmp_path / "run")
    except ValueError as exc:
        assert "other options" in str(exc)
    else:
        raise AssertionError("a resume with other options was accepted")


def test_checkpoint_holds_no_pickle(tmp_path, tiny_dataset, tiny_options):
    trainer = Trainer(tiny_options, tiny_dataset, tmp_path / "run")
    run_steps(trainer, 2)
    trainer.checkpoint()
    files = sorted(p.name for p in (tmp_path / "run").iterdir())
    assert files == ["options.json", "resume.json", "resume.safetensors", "samples", "snapshots"]
    header = (tmp_path / "run" / "resume.safetensors").read_bytes()[:8]
    assert header[:2] != b"\x80\x04" and not header.startswith(b"PK")  # neither a pickle nor torch.save's zip
